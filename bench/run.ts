/**
 * The benchmark runner: starts the naive baseline and our server (and, for reads, a raw
 * `node:http` server) against one scratch PostgreSQL database, runs each scenario on every server,
 * alternating the order between rounds, and prints throughput, p50, p99, errors and the ratio
 * ours/baseline. Ends with a pgbench run of the registration transaction (the database's ceiling).
 *
 *   node bench/run.ts                       every scenario, then pgbench
 *   node bench/run.ts register-low read     only those scenarios (no pgbench unless --pgbench)
 *   node bench/run.ts register-one          one sequential client: what a registration costs when idle
 *   node bench/run.ts register-low --embedded   also ours on embedded PGlite (no DATABASE_URL)
 *   node bench/run.ts register-low --unsealed   also ours with PERSONAL_DATA_SEALING=off (plain-text
 *                                               personal data, benchmarks only): the price of sealing
 *   BENCH_PREVIOUS=../old node bench/run.ts register-one
 *                                           also ours from another checkout (its own `npm ci` done, its
 *                                           own scratch database) in every scenario: before/after figures
 *                                           from one run
 *
 * Environment (defaults in brackets): BENCH_DURATION [10] s per measurement, BENCH_WARMUP [2] s,
 * BENCH_ROUNDS [1] (each round runs every server once; the order alternates per round),
 * BENCH_CONNECTIONS [64], BENCH_HOT_CONNECTIONS [64], BENCH_EVENTS [1000], BENCH_WAITLIST [5000],
 * BENCH_CANCELS [3000], BENCH_READERS [100] (users of read-auth), BENCH_SERVERS [baseline,ours],
 * BENCH_PREVIOUS_ENV ["K=V" extra env for the previous server only, over BENCH_OURS_ENV],
 * BENCH_OURS_ENV ["K=V K2=V2" extra env for our server; by default it runs with DATABASE_POOL_SIZE=10
 * like the baseline's pool, and rate limiting ON with limits raised to 100,000,000 (general and register)
 * so one load-generating address is never limited but every request pays for the check], BENCH_JSON [path to write the raw results],
 * BENCH_KEEP_DB [0], BENCH_ZIPF_S_PERCENT [100] (Zipf exponent of read-zipf, in hundredths),
 * BENCH_ZIPF_WRITES_PER_MILLE [10] (registrations mixed into read-zipf), BENCH_PROFILE [0] (1: our servers write a
 * V8 CPU profile into the log directory when they stop), BENCH_NODE_FLAGS / BENCH_PREVIOUS_NODE_FLAGS
 * [V8 and Node flags for our servers / the previous server, e.g. "--trace-gc-nvp"]. Our server runs with its read
 * cache on (in-process; Redis too when REDIS_URL is set; BENCH_OURS_ENV="CACHE_ENABLED=false" turns it
 * off). pgbench knobs: see bench/pgbench.ts.
 */
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { join, resolve } from "node:path"
import { checkpoint, createScratchDatabase, serverVersion } from "./lib/db.ts"
import { boolEnv, intEnv, loopback, sleep, strEnv } from "./lib/env.ts"
import { requestJson } from "./lib/http.ts"
import { type LoadResult, runLoad } from "./lib/load.ts"
import { cpuMillis, freePort, nodeBinary, type ServerKind, type ServerProcess, startServer, stopServer, waitReady } from "./lib/process.ts"
import { runPgbench } from "./pgbench.ts"
import { type Scenario, scenarios, type Target } from "./scenarios.ts"

const durationSeconds = intEnv("BENCH_DURATION", 10)
const warmupSeconds = intEnv("BENCH_WARMUP", 2)
const rounds = Math.max(1, intEnv("BENCH_ROUNDS", 1))
const servers = strEnv("BENCH_SERVERS", "baseline,ours").split(",").map((s) => s.trim()) as Array<"baseline" | "ours" | "embedded" | "unsealed" | "previous">
const previousRoot = strEnv("BENCH_PREVIOUS", "")
const envPairs = (name: string) => Object.fromEntries(
  strEnv(name, "").split(/\s+/).filter((pair) => pair.includes("=")).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
)
const oursEnv = envPairs("BENCH_OURS_ENV")
/** Extra environment for the `previous` server only, over BENCH_OURS_ENV (A/B runs of one setting). */
const previousEnv = envPairs("BENCH_PREVIOUS_ENV")
/**
 * Ours runs as in production — request logs at info, metrics, security headers, rate limiting — but
 * with limits no load from one address reaches (raised, not off: the limiter's cost is measured).
 */
const oursDefaults: Record<string, string> = {
  DATABASE_POOL_SIZE: "10",
  RATE_LIMIT_ENABLED: "true",
  RATE_LIMIT_GENERAL_LIMIT: "100000000",
  RATE_LIMIT_REGISTER_LIMIT: "100000000"
}
const config = {
  connections: intEnv("BENCH_CONNECTIONS", 64),
  hotConnections: intEnv("BENCH_HOT_CONNECTIONS", 64),
  events: intEnv("BENCH_EVENTS", 1000),
  eventCapacity: intEnv("BENCH_EVENT_CAPACITY", 1000),
  hotCapacity: intEnv("BENCH_HOT_CAPACITY", 1000),
  cancelCapacity: intEnv("BENCH_CANCEL_CAPACITY", 100),
  waitlistLength: intEnv("BENCH_WAITLIST", 5000),
  cancels: intEnv("BENCH_CANCELS", 3000),
  setupParallelism: intEnv("BENCH_SETUP_PARALLELISM", 16),
  zipfExponentPercent: intEnv("BENCH_ZIPF_S_PERCENT", 100),
  zipfWritesPerMille: intEnv("BENCH_ZIPF_WRITES_PER_MILLE", 10),
  readers: intEnv("BENCH_READERS", 100)
}

const args = process.argv.slice(2)
// `--embedded`: also ours on embedded PGlite, for the scenarios that have a goal for it.
if (args.includes("--embedded") && !servers.includes("embedded")) servers.push("embedded")
if (args.includes("--unsealed") && !servers.includes("unsealed")) servers.push("unsealed")
if (previousRoot !== "" && !servers.includes("previous")) servers.push("previous")
const all = scenarios(config)
const selectedNames = args.filter((arg) => !arg.startsWith("--"))
for (const name of selectedNames) {
  if (!all.some((s) => s.name === name)) throw new Error(`unknown scenario ${name}; known: ${all.map((s) => s.name).join(", ")}`)
}
const selected = selectedNames.length === 0 ? all : all.filter((s) => selectedNames.includes(s.name))
const withPgbench = args.includes("--pgbench") || (selectedNames.length === 0 && !args.includes("--no-pgbench"))

const secret = `bench-secret-${process.pid}-${Date.now()}`
const logDir = join(tmpdir(), `live-events-bench-${process.pid}`)

/** A build of our server (whatever its settings), which has a `/metrics` to read. */
const isOurs = (target: Target) => target.kind !== "baseline" && target.kind !== "raw"

/**
 * Our server's SQL statements so far, by operation (`db_client_operation_duration_seconds_count` of
 * its `/metrics`); undefined for the other servers or when `/metrics` does not answer.
 */
const sqlStatements = async (target: Target): Promise<Map<string, number> | undefined> => {
  if (!isOurs(target)) return undefined
  try {
    const response = await fetch(`http://${loopback}:${target.port}/metrics`)
    const counts = new Map<string, number>()
    for (const line of (await response.text()).split("\n")) {
      const match = /^db_client_operation_duration_seconds_count\{([^}]*)\}\s+(\S+)/.exec(line)
      if (match === null) continue
      const operation = /operation="([^"]*)"/.exec(match[1]!)?.[1] ?? "?"
      counts.set(operation, (counts.get(operation) ?? 0) + Number(match[2]))
    }
    return counts
  } catch {
    return undefined
  }
}

/** "3.2 (apply 0.5, lock 0.5, …)": statements per answered request, the busiest operations first. */
const statementsPerOk = (
  before: Map<string, number> | undefined,
  after: Map<string, number> | undefined,
  ok: number
): string | undefined => {
  if (before === undefined || after === undefined || ok === 0) return undefined
  const deltas = [...after].map(([operation, count]) => [operation, (count - (before.get(operation) ?? 0)) / ok] as const)
    .filter(([, perOk]) => perOk > 0.005)
    .sort((a, b) => b[1] - a[1])
  const total = deltas.reduce((sum, [, perOk]) => sum + perOk, 0)
  return `${fmt(total, 2)} (${deltas.slice(0, 8).map(([operation, perOk]) => `${operation} ${fmt(perOk, 2)}`).join(", ")})`
}

/** Our server's committed batches so far, per command: count, commands, seconds (its `/metrics`). */
const batchTotals = async (target: Target): Promise<Map<string, { count: number; size: number; seconds: number }> | undefined> => {
  if (!isOurs(target)) return undefined
  try {
    const response = await fetch(`http://${loopback}:${target.port}/metrics`)
    const totals = new Map<string, { count: number; size: number; seconds: number }>()
    for (const line of (await response.text()).split("\n")) {
      const match = /^command_batch_(size|duration_seconds)_(sum|count)\{[^}]*command="([^"]*)"[^}]*\}\s+(\S+)/.exec(line)
      if (match === null) continue
      const entry = totals.get(match[3]!) ?? { count: 0, size: 0, seconds: 0 }
      if (match[2] === "count" && match[1] === "size") entry.count = Number(match[4])
      else if (match[2] === "sum") entry[match[1] === "size" ? "size" : "seconds"] = Number(match[4])
      totals.set(match[3]!, entry)
    }
    return totals
  } catch {
    return undefined
  }
}

/** "register 301 batches of 31.6 in 36.4 ms": the batches committed during a measurement. */
const batchesDuring = (
  before: Map<string, { count: number; size: number; seconds: number }> | undefined,
  after: Map<string, { count: number; size: number; seconds: number }> | undefined
): string | undefined => {
  if (before === undefined || after === undefined) return undefined
  const parts = [...after].flatMap(([command, total]) => {
    const earlier = before.get(command) ?? { count: 0, size: 0, seconds: 0 }
    const count = total.count - earlier.count
    if (count <= 0) return []
    return [`${command} ${fmt(count)} batches of ${fmt((total.size - earlier.size) / count, 1)} in ${fmt(1000 * (total.seconds - earlier.seconds) / count, 1)} ms`]
  })
  return parts.length === 0 ? undefined : parts.join("; ")
}

/** One measured phase. */
interface Measurement {
  readonly scenario: string
  readonly server: ServerKind
  readonly round: number
  readonly result: LoadResult
  /** Server CPU (user + system) per 2xx answer, in milliseconds. */
  readonly cpuPerOk: number
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

const printMachine = async () => {
  const nodeVersion = execFileSync(nodeBinary, ["--version"]).toString().trim()
  const cpu = cpus()
  console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? "cpu"}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM; node ${nodeVersion}; PostgreSQL ${await serverVersion()}`)
  console.log(`config: duration ${durationSeconds}s, warm-up ${warmupSeconds}s, rounds ${rounds}, ${JSON.stringify(config)}`)
}

const describe = (m: LoadResult) =>
  `${fmt(m.throughput).padStart(8)} ok/s  p50 ${fmt(m.p50).padStart(5)} ms  p99 ${fmt(m.p99).padStart(6)} ms  errors ${m.errors}  non-2xx ${m.non2xx}` +
  (m.non2xx > 0 ? ` ${JSON.stringify(Object.fromEntries(Object.entries(m.statusCounts).filter(([code]) => !code.startsWith("2"))))}` : "")

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * Waits until the server has worked off what the load generator left behind: a measurement cut at
 * its duration abandons up to `connections` requests the server still executes (on a slow server,
 * seconds of lock waits), which would otherwise land in the next phase.
 */
const drain = async (target: Target) => {
  const deadline = Date.now() + 180_000
  while (Date.now() < deadline && target.isAlive()) {
    const started = Date.now()
    try {
      const probe = await requestJson(target.port, "GET", "/health/ready", { timeoutMs: 60_000 })
      if (probe.status === 200 && Date.now() - started < 1000) return
    } catch {
      // still busy or restarting
    }
    await sleep(200)
  }
  console.log(`  ${target.kind} still busy after 180 s`)
}

const runScenario = async (
  scenario: Scenario,
  targets: ReadonlyArray<Target>,
  earlier: ReadonlyArray<Measurement>
): Promise<Array<Measurement>> => {
  console.log(`\n== ${scenario.name}: ${scenario.description}; ${scenario.connections} connections`)
  const measurements: Array<Measurement> = []
  const runnable = targets.filter((t) =>
    (t.kind !== "raw" || scenario.alsoRaw === true) && (t.kind !== "baseline" || scenario.withoutBaseline !== true) &&
      (t.kind !== "embedded" || scenario.embeddedGoal !== undefined) &&
      (t.kind !== "unsealed" || (scenario.goals ?? []).some((goal) => goal.against === "unsealed"))
  )
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? runnable : [...runnable].reverse()
    for (const target of order) {
      if (!target.isAlive()) {
        console.log(`  round ${round} ${target.kind.padEnd(8)} skipped: the process has exited (see ${logDir})`)
        continue
      }
      const prepared = await scenario.prepare(target)
      if (prepared.warmup !== undefined) {
        let w = 0
        await runLoad({ port: target.port, connections: scenario.connections, durationSeconds: 0, amount: prepared.warmup.length, next: () => prepared.warmup![w++ % prepared.warmup!.length]! })
      } else if (prepared.amount === undefined && warmupSeconds > 0) {
        await runLoad({ port: target.port, connections: scenario.connections, durationSeconds: warmupSeconds, next: prepared.next })
      }
      await checkpoint()
      const cpuBefore = cpuMillis(target.pid)
      const statementsBefore = await sqlStatements(target)
      const batchesBefore = await batchTotals(target)
      const result = await runLoad({
        port: target.port,
        connections: scenario.connections,
        durationSeconds,
        ...(prepared.amount !== undefined ? { amount: prepared.amount } : {}),
        next: prepared.next
      })
      const cpuPerOk = (cpuMillis(target.pid) - cpuBefore) / Math.max(1, result.ok)
      measurements.push({ scenario: scenario.name, server: target.kind, round, result, cpuPerOk })
      console.log(`  round ${round} ${target.kind.padEnd(8)} ${describe(result)}  server CPU ${fmt(cpuPerOk, 3)} ms/ok`)
      const statements = statementsPerOk(statementsBefore, await sqlStatements(target), result.ok)
      if (statements !== undefined) console.log(`    SQL statements per ok: ${statements}`)
      const batches = batchesDuring(batchesBefore, await batchTotals(target))
      if (batches !== undefined) console.log(`    committed: ${batches}`)
      if (prepared.report !== undefined) console.log(`    ${await prepared.report()}`)
      await drain(target)
    }
  }
  const summary = (kind: ServerKind, scenarioName = scenario.name) => {
    const own = [...earlier, ...measurements].filter((m) => m.server === kind && m.scenario === scenarioName)
    return own.length === 0 ? null : {
      throughput: median(own.map((m) => m.result.throughput)),
      cpuPerOk: median(own.map((m) => m.cpuPerOk)),
      p50: median(own.map((m) => m.result.p50)),
      p99: median(own.map((m) => m.result.p99))
    }
  }
  const ours = summary("ours")
  const baseline = summary("baseline")
  if (ours !== null && baseline !== null) {
    console.log(`  ratio ours/baseline: throughput ${fmt(ours.throughput / baseline.throughput, 2)}×, p99 ${fmt(ours.p99 / baseline.p99, 2)}×`)
  }
  const previous = summary("previous")
  if (ours !== null && previous !== null) {
    console.log(`  ratio ours/previous: throughput ${fmt(ours.throughput / previous.throughput, 2)}×, p50 ${fmt(ours.p50 / previous.p50, 2)}×, p99 ${fmt(ours.p99 / previous.p99, 2)}×`)
  }
  const cpu = median(measurements.filter((m) => m.server === "ours").map((m) => m.cpuPerOk))
  if (scenario.cpuGoalMs !== undefined && !Number.isNaN(cpu)) {
    console.log(`  goal: server CPU ≤ ${scenario.cpuGoalMs} ms per request → ${fmt(cpu, 2)} ms: ${cpu <= scenario.cpuGoalMs ? "MET" : "NOT MET"}`)
  }
  const embedded = summary("embedded")
  if (scenario.embeddedGoal !== undefined && embedded !== null) {
    console.log(
      `  goal (embedded PGlite): ≥ ${scenario.embeddedGoal} ok/s → ${fmt(embedded.throughput)}: ${embedded.throughput >= scenario.embeddedGoal ? "MET" : "NOT MET"}`
    )
  }
  for (const goal of scenario.goals ?? []) {
    const reference = summary(goal.against, goal.scenario)
    const name = `${goal.against}${goal.scenario !== undefined ? ` ${goal.scenario}` : ""}`
    if (ours === null || reference === null) {
      console.log(`  goal against ${name}: no reference measured`)
      continue
    }
    if (goal.ratio !== undefined) {
      const ratio = ours.throughput / reference.throughput
      const p99Ok = goal.p99Ms === undefined || ours.p99 <= goal.p99Ms
      const met = ratio >= goal.ratio && p99Ok
      // Against another scenario on the same server, the server CPU per answer says the same with less
      // noise from the machine (medians of the rounds).
      const cpu = goal.scenario !== undefined && !Number.isNaN(ours.cpuPerOk) && !Number.isNaN(reference.cpuPerOk)
        ? ` (server CPU per answer ${fmt(ours.cpuPerOk, 3)} vs ${fmt(reference.cpuPerOk, 3)} ms, ${fmt(ours.cpuPerOk / reference.cpuPerOk, 2)}×)`
        : ""
      console.log(
        `  goal: ≥ ${goal.ratio}× ${name}` + (goal.p99Ms !== undefined ? ` and p99 ≤ ${goal.p99Ms} ms` : "") +
          ` → ${fmt(ratio, 2)}×${goal.p99Ms !== undefined ? `, p99 ${fmt(ours.p99)} ms` : ""}: ${met ? "MET" : "NOT MET"}${cpu}`
      )
    }
    if (goal.p50AtMost !== undefined) {
      const ratio = ours.p50 / reference.p50
      console.log(
        `  goal: p50 ≤ ${goal.p50AtMost}× ${name} → ${fmt(ours.p50, 1)} vs ${fmt(reference.p50, 1)} ms (${fmt(ratio, 2)}×): ${ratio <= goal.p50AtMost ? "MET" : "NOT MET"}`
      )
    }
  }
  return measurements
}

const markdownTable = (measurements: ReadonlyArray<Measurement>, scenarioList: ReadonlyArray<Scenario>) => {
  const lines = ["| scenario | server | conns | ok/s | p50 ms | p99 ms | errors | non-2xx | CPU ms/ok | ours/baseline |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for (const scenario of scenarioList) {
    const rows = measurements.filter((m) => m.scenario === scenario.name)
    const base = median(rows.filter((m) => m.server === "baseline").map((m) => m.result.throughput))
    for (const kind of ["baseline", "ours", "unsealed", "embedded", "raw", "previous"] as const) {
      const own = rows.filter((m) => m.server === kind)
      if (own.length === 0) continue
      const throughput = median(own.map((m) => m.result.throughput))
      const ratio = kind === "ours" && !Number.isNaN(base) ? `${fmt(throughput / base, 2)}×` : ""
      lines.push(
        `| ${scenario.name} | ${kind} | ${scenario.connections} | ${fmt(throughput)} | ${fmt(median(own.map((m) => m.result.p50)))} | ${fmt(median(own.map((m) => m.result.p99)))} | ${own.reduce((n, m) => n + m.result.errors, 0)} | ${own.reduce((n, m) => n + m.result.non2xx, 0)} | ${fmt(median(own.map((m) => m.cpuPerOk)), 3)} | ${ratio} |`
      )
    }
  }
  return lines.join("\n")
}

const main = async () => {
  await printMachine()
  const started: Array<ServerProcess> = []
  const database = await createScratchDatabase("bench")
  // The unsealed and previous servers get databases of their own: in a shared one, each server's outbox
  // relay would wake on (and publish) the other's messages, and the tables would hold both loads.
  const ownDatabases = new Map<ServerKind, Awaited<ReturnType<typeof createScratchDatabase>>>()
  console.log(`database: ${database.name}; server logs: ${logDir}`)
  let exitCode = 0
  const cleanup = async () => {
    await Promise.all(started.map((server) => stopServer(server)))
    if (!boolEnv("BENCH_KEEP_DB", false)) await Promise.all([database.drop(), ...[...ownDatabases.values()].map((own) => own.drop())])
  }
  process.once("SIGINT", () => {
    cleanup().finally(() => process.exit(130))
  })
  try {
    const targets: Array<Target> = []
    const kinds: Array<ServerKind> = [...servers]
    if (selected.some((s) => s.alsoRaw === true)) kinds.push("raw")
    for (const kind of kinds) {
      const port = await freePort()
      const ourKind = kind === "ours" || kind === "embedded" || kind === "unsealed" || kind === "previous"
      const env = {
        ...oursDefaults,
        ...oursEnv,
        ...(kind === "unsealed" ? { PERSONAL_DATA_SEALING: "off" } : {}),
        ...(kind === "previous" ? previousEnv : {})
      }
      let databaseUrl = database.url
      if (kind === "previous" || kind === "unsealed") {
        if (!ownDatabases.has(kind)) ownDatabases.set(kind, await createScratchDatabase(`bench_${kind}`))
        databaseUrl = ownDatabases.get(kind)!.url
      }
      const root = kind === "previous" ? resolve(previousRoot) : undefined
      const server = startServer({ kind, port, databaseUrl, root, secret, logDir, ...(ourKind ? { env } : {}) })
      started.push(server)
      try {
        await waitReady(server, ourKind ? 120_000 : 30_000)
        targets.push({ kind, port, pid: server.child.pid, secret, tag: `${kind}${process.pid}`, shared: new Map(), isAlive: server.isAlive })
        console.log(`${kind} ready on 127.0.0.1:${port}`)
      } catch (error) {
        console.log(`${kind} unavailable: ${(error as Error).message} (see ${logDir}); continuing without it`)
        await stopServer(server)
      }
    }
    const measurements: Array<Measurement> = []
    for (const scenario of selected) {
      try {
        measurements.push(...(await runScenario(scenario, targets, measurements)))
      } catch (error) {
        exitCode = 1
        console.log(`  scenario ${scenario.name} failed: ${(error as Error).message}`)
      }
    }
    console.log(`\n${markdownTable(measurements, selected)}`)
    const pgbench = withPgbench ? await runPgbench(database.url) : []
    const jsonPath = process.env.BENCH_JSON
    if (jsonPath !== undefined && jsonPath !== "") writeFileSync(jsonPath, JSON.stringify({ config, durationSeconds, rounds, measurements, pgbench }, null, 2))
  } finally {
    await cleanup()
  }
  process.exit(exitCode)
}

await main()
