/**
 * The chaos harness: N server processes on one scratch PostgreSQL database, concurrent
 * registrations and cancels through all of them, faults injected while they run, then the
 * invariant checker over the final rows and every answer received. Exits non-zero on any
 * violation. Traffic goes to 127.0.0.1 only; every loop is bounded in count and in time.
 *
 * Each process reaches PostgreSQL, Redis and NATS through fault proxies of its own (chaos/proxy.ts);
 * Redis and NATS are instances of the run's own (chaos/dependencies.ts), never the machine's shared ones.
 *
 *   node chaos/run.ts                      3 processes, 60 s of traffic, SIGKILL faults
 *   node chaos/run.ts --ci                 the short variant (20 s of traffic, SIGKILL, NATS check)
 *   node chaos/run.ts --faults pg-blackhole         one fault, repeated while the traffic runs
 *   node chaos/run.ts --faults all                  every fault in turn (seeded order) plus SIGKILLs
 *   node chaos/run.ts --server baseline    the same harness against the naive baseline
 *
 * Faults (chaos/faults.ts): kill, pg-restart, pg-blackhole, pg-reset, pg-slow, redis-restart,
 * redis-partition, nats-restart. With any fault list, outbox messages go to the run's NATS JetStream
 * and, once the relays drain, the stream must hold every committed outbox message once and nothing else.
 * Besides the invariants, every answer must be a success, a 4xx or a 503 with Retry-After (no other
 * 5xx, no silence until the request timeout), and each fault's processes must serve again within
 * CHAOS_RECOVERY_BOUND_MS (5000) of the dependency's return.
 *
 * Flags (environment in brackets): --processes [CHAOS_PROCESSES=3], --duration seconds
 * [CHAOS_DURATION=60, 20 with --ci], --concurrency [CHAOS_CONCURRENCY=16], --users [CHAOS_USERS=40],
 * --seed [CHAOS_SEED], --faults list|all [CHAOS_FAULTS=kill], --pg-restart (adds pg-restart),
 * --no-kill [CHAOS_KILL=1], --nats [CHAOS_NATS=0], --server ours|baseline [CHAOS_SERVER=ours],
 * --out folder [CHAOS_OUT=.tmp/chaos/<time>-<faults>] (logs, result.json), CHAOS_REQUEST_TIMEOUT_MS
 * [15000, the server's REQUEST_TIMEOUT], CHAOS_SERVER_ENV ("K=V ...": extra environment for the server
 * processes; e.g. BASELINE_UNSAFE_NO_LOCK=1 breaks the baseline on purpose, to watch the checker
 * catch it end to end).
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import pg from "pg"
import { createScratchDatabase } from "../bench/lib/db.ts"
import { boolEnv, intEnv, repoRoot, sleep, strEnv } from "../bench/lib/env.ts"
import { eventBody, expectJson, requestJson } from "../bench/lib/http.ts"
import { freePort, type ServerProcess, startServer, stopServer, waitReady } from "../bench/lib/process.ts"
import { mintToken } from "../bench/lib/token.ts"
import { check, checkSnapshot, type RegistrationStatus, type RequestRecord, type Violation } from "./checker.ts"
import * as Dependencies from "./dependencies.ts"
import * as Faults from "./faults.ts"
import * as Nats from "./nats.ts"
import * as Promises from "./promises.ts"
import * as Report from "./report.ts"
import * as Soak from "./soak.ts"
import { readApiViews, readState } from "./state.ts"

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    ci: { type: "boolean", default: false },
    processes: { type: "string" },
    duration: { type: "string" },
    concurrency: { type: "string" },
    users: { type: "string" },
    seed: { type: "string" },
    faults: { type: "string" },
    "pg-restart": { type: "boolean", default: false },
    "no-kill": { type: "boolean", default: false },
    server: { type: "string" },
    nats: { type: "boolean", default: false },
    out: { type: "string" },
    soak: { type: "string" }
  }
})
const num = (flag: string | undefined, env: string, fallback: number) => (flag !== undefined ? Number(flag) : intEnv(env, fallback))
// Soak: every dependency fault in turn, a minute apart, and no SIGKILL (each process's series must be
// continuous for the leak check).
const soakMinutes = flags.soak !== undefined ? Number(flags.soak) : undefined
const faultList = (() => {
  const raw = flags.faults ?? strEnv("CHAOS_FAULTS", soakMinutes !== undefined ? "all" : "kill")
  const list = raw === "all" ? [...Faults.kinds] : raw.split(",").map((k) => k.trim()).filter((k) => k.length > 0)
  for (const kind of list) if (!(Faults.kinds as ReadonlyArray<string>).includes(kind)) throw new Error(`unknown fault ${kind} (known: ${Faults.kinds.join(", ")}, all)`)
  if (flags["pg-restart"] || boolEnv("CHAOS_PG_RESTART", false)) list.push("pg-restart")
  if (flags["no-kill"] || !boolEnv("CHAOS_KILL", true) || soakMinutes !== undefined) return list.filter((k) => k !== "kill") as Array<Faults.FaultKind>
  return [...new Set(list)] as Array<Faults.FaultKind>
})()
const dependencyFaults = faultList.filter((k): k is Exclude<Faults.FaultKind, "kill"> => k !== "kill")
const options = {
  processes: Math.max(1, num(flags.processes, "CHAOS_PROCESSES", 3)),
  durationMs: soakMinutes !== undefined ? soakMinutes * 60_000 : num(flags.duration, "CHAOS_DURATION", flags.ci ? 20 : 60) * 1000,
  // A soak runs for half an hour on a shared machine: modest traffic.
  concurrency: Math.max(1, num(flags.concurrency, "CHAOS_CONCURRENCY", soakMinutes !== undefined ? 4 : 16)),
  users: Math.max(2, num(flags.users, "CHAOS_USERS", 40)),
  seed: num(flags.seed, "CHAOS_SEED", Date.now() % 1_000_000),
  kill: faultList.includes("kill"),
  server: (flags.server ?? strEnv("CHAOS_SERVER", "ours")) as "ours" | "baseline",
  // The CI variant checks the broker too: it costs a few seconds.
  nats: flags.nats || flags.ci || boolEnv("CHAOS_NATS", false) || flags.faults !== undefined || soakMinutes !== undefined,
  faultMinMs: intEnv("CHAOS_FAULT_MIN_MS", 1500),
  faultMaxMs: intEnv("CHAOS_FAULT_MAX_MS", 5000),
  requestTimeoutMs: intEnv("CHAOS_REQUEST_TIMEOUT_MS", 15_000),
  recoveryBoundMs: intEnv("CHAOS_RECOVERY_BOUND_MS", 5000),
  faultGapMs: intEnv("CHAOS_FAULT_GAP_MS", soakMinutes !== undefined ? 60_000 : 4000),
  readyTimeoutMs: intEnv("CHAOS_READY_TIMEOUT_MS", 120_000)
}
if (options.server !== "ours" && options.server !== "baseline") throw new Error(`--server must be ours or baseline`)
if (options.server === "baseline" && dependencyFaults.length > 0) throw new Error("dependency faults need --server ours")
const serverEnv = Object.fromEntries(
  strEnv("CHAOS_SERVER_ENV", "").split(/\s+/).filter((pair) => pair.includes("=")).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
)
const runFolder = flags.out ?? strEnv("CHAOS_OUT", join(repoRoot, ".tmp/chaos", `${new Date().toISOString().replace(/[:.]/g, "-")}-${faultList.join("+") || "none"}`))
mkdirSync(runFolder, { recursive: true })

// Seeded PRNG (mulberry32), so a failing run can be replayed with the same choices (timings differ).
let prngState = options.seed >>> 0
const random = () => {
  prngState = (prngState + 0x6d2b79f5) >>> 0
  let t = prngState
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))

// Hard stop: whatever happens, the harness ends.
const hardLimitMs = options.durationMs + options.readyTimeoutMs * 2 + 180_000
const watchdog = setTimeout(() => {
  console.error(`chaos: hard time limit (${hardLimitMs} ms) reached, aborting`)
  process.exit(3)
}, hardLimitMs)
watchdog.unref()

// ---------------------------------------------------------------------------------------------
// Servers

const secret = `chaos-secret-${process.pid}-${Date.now()}`

interface Slot extends Faults.ChaosSlot {
  readonly port: number
  process: ServerProcess
  /** Bumped at every SIGKILL: an exchange whose epoch changed in flight lost its process. */
  epoch: number
}

const natsTarget = options.nats ? Nats.streamFor(options.seed) : undefined
let ownRedis: Dependencies.OwnServer | undefined
let ownNats: Dependencies.OwnServer | undefined

const launch = (slot: { readonly port: number; readonly network: Dependencies.ProcessNetwork }, databaseUrl: string) =>
  startServer({
    kind: options.server,
    port: slot.port,
    databaseUrl: Dependencies.throughProxy(databaseUrl, slot.network.postgres),
    secret,
    logDir: runFolder,
    env: {
      DATABASE_POOL_SIZE: "10",
      // Several processes share a Redis, as the README asks of any multi-process deployment: it carries
      // the read cache's cross-process invalidations.
      REDIS_URL: `redis://127.0.0.1:${slot.network.redis.port}`,
      CACHE_KEY_PREFIX: `lec-chaos-${options.seed}-${process.pid}`,
      ...(natsTarget === undefined ? {} : Nats.serverEnv(natsTarget, `127.0.0.1:${slot.network.nats.port}`)),
      // The soak's in-process sampler (event-loop delay, handles): see chaos/runtime-probe.ts.
      ...(soakMinutes === undefined ? {} : { NODE_OPTIONS: `--import ${join(repoRoot, "chaos/runtime-probe.ts")}`, CHAOS_PROBE_DIR: runFolder, DB_POOL_SAMPLE_SECONDS: "5" }),
      ...serverEnv
    }
  })

// ---------------------------------------------------------------------------------------------
// Traffic

interface Actor {
  readonly sub: string
  readonly token: string
}

/** What the harness believes each (event, user) holds, from 2xx answers (may be stale: that is the point). */
const known = new Map<string, { id: string; cancelled: boolean }>()
const requests: Array<RequestRecord> = []
const exchanges: Array<Promises.Exchange> = []
const liveViolations: Array<Violation> = []
const reads = { sent: 0, ok: 0, failed: 0 }

/** One request to `slot`, recorded as an exchange; resolves with the answer or null. */
const exchange = async (slot: Slot, route: Promises.Exchange["route"], method: string, path: string, token: string, body?: unknown) => {
  const epoch = slot.epoch
  const sentAt = performance.now()
  let answer: Awaited<ReturnType<typeof requestJson>> | null = null
  try {
    answer = await requestJson(slot.port, method, path, { token, ...(body === undefined ? {} : { body }), timeoutMs: options.requestTimeoutMs })
  } catch {
    // Connection refused/reset or timeout: the outcome is unknown, and recorded as such.
  }
  exchanges.push({
    slot: slot.index,
    route,
    sentAt,
    answeredAt: answer === null ? null : performance.now(),
    status: answer?.status ?? null,
    retryAfter: answer?.retryAfter !== undefined,
    killed: slot.epoch !== epoch || !slot.up
  })
  return { answer, sentAt }
}

const sendTracked = async (slots: ReadonlyArray<Slot>, route: "register" | "cancel", eventId: string, actor: Actor, registrationId: string | null): Promise<void> => {
  const alive = slots.filter((s) => s.up)
  if (alive.length === 0) {
    await sleep(50)
    return
  }
  const { answer, sentAt } = route === "register"
    ? await exchange(pick(alive), route, "POST", `/v1/events/${eventId}/registrations`, actor.token, { notes: "chaos" })
    : await exchange(pick(alive), route, "POST", `/v1/registrations/${registrationId}/cancel`, actor.token, {})
  const httpStatus = answer?.status ?? null
  const body = answer?.body
  const ok = httpStatus !== null && httpStatus >= 200 && httpStatus < 300
  const answeredId = route === "register" ? (ok && typeof body?.id === "string" ? body.id : null) : registrationId
  requests.push({
    route,
    eventId,
    userKey: actor.sub,
    registrationId: answeredId,
    sentAt,
    answeredAt: httpStatus === null ? null : performance.now(),
    httpStatus,
    answeredStatus: ok && typeof body?.status === "string" ? (body.status as RegistrationStatus) : null,
    answeredPosition: ok && typeof body?.waitlistPosition === "number" ? body.waitlistPosition : null
  })
  const key = `${eventId}|${actor.sub}`
  if (ok && route === "register" && answeredId !== null) known.set(key, { id: answeredId, cancelled: false })
  if (ok && route === "cancel") {
    const entry = known.get(key)
    if (entry !== undefined && entry.id === registrationId) entry.cancelled = true
  }
  // 409 already-registered names the existing registration: learn it, so it can be cancelled later.
  if (httpStatus === 409 && route === "register" && typeof body?.registrationId === "string") {
    known.set(key, { id: body.registrationId, cancelled: false })
  }
}

const worker = async (slots: ReadonlyArray<Slot>, events: ReadonlyArray<string>, actors: ReadonlyArray<Actor>, deadline: number) => {
  for (let iteration = 0; iteration < 1_000_000 && performance.now() < deadline; iteration++) {
    const eventId = pick(events)
    const actor = pick(actors)
    const mine = known.get(`${eventId}|${actor.sub}`)
    if (mine !== undefined && !mine.cancelled && random() < 0.7) await sendTracked(slots, "cancel", eventId, actor, mine.id)
    else if (mine !== undefined && mine.cancelled && random() < 0.05) await sendTracked(slots, "cancel", eventId, actor, mine.id) // idempotent re-cancel
    else await sendTracked(slots, "register", eventId, actor, null)
  }
}

/** Reads counts and waitlists through the API while the chaos runs: gaps must never be visible. */
const reader = async (slots: ReadonlyArray<Slot>, events: ReadonlyArray<string>, organizer: string, deadline: number) => {
  for (let iteration = 0; iteration < 100_000 && performance.now() < deadline; iteration++) {
    await sleep(100)
    const alive = slots.filter((s) => s.up)
    if (alive.length === 0) continue
    const slot = pick(alive)
    const eventId = pick(events)
    reads.sent += 2
    const [details, waitlist] = await Promise.all([
      exchange(slot, "read", "GET", `/v1/events/${eventId}`, organizer),
      exchange(slot, "read", "GET", `/v1/events/${eventId}/waitlist?limit=100`, organizer)
    ])
    for (const { answer } of [details, waitlist]) answer?.status === 200 ? reads.ok++ : reads.failed++
    if (liveViolations.length < 1000 && details.answer !== null && waitlist.answer !== null) {
      liveViolations.push(...checkSnapshot(eventId, details.answer.status === 200 ? details.answer.body : null, waitlist.answer.status === 200 ? waitlist.answer.body : null))
    }
  }
}

/**
 * A process that exits without the harness asking (a crash, or a signal from outside the run) is
 * marked down like a SIGKILLed one and started again; the run reports it as a fault of its own.
 */
const watchExit = (slot: Slot, databaseUrl: string, faults: Array<Report.FaultLine>) => {
  const current = slot.process
  void current.exited.then(async () => {
    if (current.isStopping() || slot.process !== current) return
    const at = performance.now()
    slot.up = false
    slot.epoch += 1
    slot.process = launch(slot, databaseUrl)
    watchExit(slot, databaseUrl, faults)
    await waitReady(slot.process, options.readyTimeoutMs).then(() => (slot.up = true), () => undefined)
    faults.push({ kind: "unexpected exit", target: `process ${slot.index} (port ${slot.port})`, startedAt: at, heldMs: performance.now() - at })
  })
}

const killer = async (slots: Array<Slot>, databaseUrl: string, deadline: number, faults: Array<Report.FaultLine>) => {
  for (let iteration = 0; iteration < 10_000 && performance.now() < deadline; iteration++) {
    await sleep(between(options.faultMinMs, options.faultMaxMs))
    if (performance.now() >= deadline) break
    const slot = pick(slots)
    if (!slot.up) continue
    const at = performance.now()
    slot.up = false
    slot.epoch += 1
    slot.process.markStopping()
    slot.process.child.kill("SIGKILL")
    await slot.process.exited
    await sleep(between(100, 1500))
    slot.process = launch(slot, databaseUrl)
    watchExit(slot, databaseUrl, faults)
    try {
      await waitReady(slot.process, options.readyTimeoutMs)
    } catch (error) {
      console.log(`  process ${slot.index} did not come back: ${(error as Error).message}`)
      faults.push({ kind: "kill", target: `process ${slot.index} (port ${slot.port}), did not restart`, startedAt: at, heldMs: performance.now() - at })
      continue
    }
    slot.up = true
    faults.push({ kind: "kill", target: `process ${slot.index} (port ${slot.port})`, startedAt: at, heldMs: performance.now() - at })
  }
}

// ---------------------------------------------------------------------------------------------
// Dependency faults

/** Writes that showed a process serving a value invalidated while it was cut off from Redis. */
const staleReads: Array<Violation> = []

/**
 * While `slot` is cut off from Redis, an event only the probe touches is renamed through another
 * process; 2.5 s later (the cache notices a silent cut within two 1 s heartbeats) the cut-off process
 * must serve the new title: it missed the invalidation, so it must not answer from its in-process cache.
 */
const makePartitionProbe = (slots: ReadonlyArray<Slot>, probeEvent: string, organizer: string) =>
  async (cutOff: Faults.ChaosSlot, until: Promise<void>) => {
    let healed = false
    void until.then(() => (healed = true))
    const slot = cutOff as Slot
    for (let round = 0; round < 100 && !healed; round++) {
      const other = slots.find((s) => s !== slot && s.up)
      if (other === undefined || !slot.up) return
      // Fill the cut-off process's cache with the current title.
      await exchange(slot, "probe", "GET", `/v1/events/${probeEvent}`, organizer)
      const title = `Probe ${round} ${process.pid}`
      const renamed = await exchange(other, "probe", "PATCH", `/v1/events/${probeEvent}`, organizer, { title })
      if (renamed.answer?.status !== 200) continue
      // Past the cache's cut-off detection (two bus heartbeats of 1 s): from then on, nothing stale.
      await sleep(2500)
      if (healed) return
      const read = await exchange(slot, "probe", "GET", `/v1/events/${probeEvent}`, organizer)
      if (read.answer?.status === 200 && read.answer.body?.title !== title) {
        staleReads.push({
          rule: "stale cache",
          eventId: probeEvent,
          message: `process ${slot.index}, cut off from Redis, served title "${read.answer.body?.title}" 2.5 s after it was changed to "${title}"`
        })
      }
    }
  }

/** Time from `healedAt` until no outbox message that occurred before it is unpublished. */
const outboxCatchUp = async (databaseUrl: string, healedDbTime: Date, healedAt: number): Promise<number | null> => {
  const client = new pg.Client({ connectionString: databaseUrl, options: "-c search_path=live_events" })
  await client.connect()
  try {
    for (let i = 0; i < 600; i++) {
      const { rows } = await client.query<{ pending: number }>(
        "SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL AND occurred_at <= $1",
        [healedDbTime]
      )
      if (rows[0]!.pending === 0) return performance.now() - healedAt
      await sleep(100)
    }
    return null
  } finally {
    await client.end()
  }
}

const dbNow = async (databaseUrl: string) => {
  const client = new pg.Client({ connectionString: databaseUrl, options: "-c search_path=live_events" })
  await client.connect()
  try {
    return (await client.query<{ now: Date }>("SELECT now()")).rows[0]!.now
  } finally {
    await client.end()
  }
}

/** Injects the dependency faults in turn (seeded order), a pause before each, until the deadline. */
const faulter = async (context: Faults.FaultContext, databaseUrl: string, deadline: number, windows: Array<Faults.FaultWindow>, catchUps: Map<Faults.FaultWindow, Promise<number | null>>) => {
  const order = [...dependencyFaults].sort(() => random() - 0.5)
  for (let round = 0; round < 1000; round++) {
    await sleep(between(options.faultGapMs * 0.75, options.faultGapMs * 1.25))
    // A fault must end (and be watched recovering) before the traffic does.
    if (performance.now() + 12_000 + options.recoveryBoundMs > deadline) return
    const window = await Faults.inject(order[round % order.length]!, context)
    windows.push(window)
    if (options.nats && options.server === "ours") {
      const healedDbTime = await dbNow(databaseUrl)
      catchUps.set(window, outboxCatchUp(databaseUrl, healedDbTime, window.healedAt))
    }
    console.log(`  ${window.kind} ${window.target}: held ${((window.healedAt - window.startedAt) / 1000).toFixed(1)} s`)
  }
}

// ---------------------------------------------------------------------------------------------

const allSlots: Array<Slot> = []
const stopDependencies = async () => {
  await Promise.all(allSlots.map((slot) => Dependencies.closeNetwork(slot.network)))
  await Promise.all([ownRedis?.stop(), ownNats?.stop()])
}
// Interrupted: take the server processes and the run's own Redis and NATS down with the harness.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const slot of allSlots) slot.process.child.kill("SIGKILL")
    void Promise.all([ownRedis?.kill(), ownNats?.kill()]).finally(() => process.exit(130))
  })
}

const main = async (): Promise<number> => {
  console.log(
    `chaos: ${options.processes} × ${options.server}, ${options.durationMs / 1000}s of traffic, ${options.concurrency} writers, ${options.users} users, ` +
      `seed ${options.seed}, faults ${faultList.join(", ") || "none"}, NATS ${options.nats ? "on" : "off"}; run folder ${runFolder}`
  )
  ownRedis = await Dependencies.startRedis(runFolder)
  if (options.nats) {
    ownNats = await Dependencies.startNats(runFolder)
    Nats.useServer(`127.0.0.1:${ownNats.port}`)
  }
  const database = await createScratchDatabase("chaos")
  const slots = allSlots
  const kills: Array<Report.FaultLine> = []
  try {
    // The first process migrates alone; the others start once it is ready.
    for (let index = 0; index < options.processes; index++) {
      const network = await Dependencies.startNetwork(index, { redis: ownRedis.port, nats: ownNats?.port ?? ownRedis.port }, random)
      const slot: Slot = { index, port: await freePort(), network, up: false, epoch: 0, process: undefined as unknown as ServerProcess }
      slot.process = launch(slot, database.url)
      watchExit(slot, database.url, kills)
      slots.push(slot)
      if (index === 0) await waitReady(slot.process, options.readyTimeoutMs)
    }
    await Promise.all(slots.map((slot) => waitReady(slot.process, options.readyTimeoutMs)))
    for (const slot of slots) slot.up = true
    console.log(`servers ready on ports ${slots.map((s) => s.port).join(", ")}`)

    // Events with small capacities so waitlists form, promotions happen, and one waitlist fills up.
    const organizer = mintToken(secret, { sub: `chaos-organizer-${process.pid}`, roles: ["organizer"] }, 86_400)
    const shapes = [
      { capacity: 3, waitlist: { enabled: true, limit: null } },
      { capacity: 5, waitlist: { enabled: true, limit: null } },
      { capacity: 2, waitlist: { enabled: true, limit: 3 } },
      { capacity: 8, waitlist: { enabled: true, limit: null } },
      { capacity: 1, waitlist: { enabled: false, limit: null } }
    ]
    const events: Array<string> = []
    for (const [i, shape] of shapes.entries()) {
      const event = await expectJson([201], slots[i % slots.length]!.port, "POST", "/v1/events", { token: organizer, body: eventBody(`Chaos event ${i}`, shape.capacity, shape.waitlist) })
      await expectJson([200, 201], slots[(i + 1) % slots.length]!.port, "POST", `/v1/events/${event.id}/publish`, { token: organizer })
      events.push(event.id)
    }
    // An event only the partition probe renames (its outbox messages are checked like the others).
    const probeEvent = (await expectJson([201], slots[0]!.port, "POST", "/v1/events", { token: organizer, body: eventBody("Chaos probe", 10, { enabled: false, limit: null }) })).id as string
    const actors: Array<Actor> = Array.from({ length: options.users }, (_, i) => {
      const sub = `chaos-${process.pid}-user-${i}`
      return { sub, token: mintToken(secret, { sub, roles: ["attendee"] }, 86_400) }
    })

    const start = performance.now()
    const deadline = start + options.durationMs
    const windows: Array<Faults.FaultWindow> = []
    const catchUps = new Map<Faults.FaultWindow, Promise<number | null>>()
    const context: Faults.FaultContext = {
      slots,
      redis: ownRedis,
      nats: ownNats,
      random,
      whilePartitioned: makePartitionProbe(slots, probeEvent, organizer)
    }
    const tasks: Array<Promise<void>> = [
      ...Array.from({ length: options.concurrency }, () => worker(slots, events, actors, deadline)),
      reader(slots, events, organizer, deadline)
    ]
    if (options.kill) tasks.push(killer(slots, database.url, deadline, kills))
    if (dependencyFaults.length > 0) tasks.push(faulter(context, database.url, deadline, windows, catchUps))
    const samples: Array<Soak.Sample> = []
    if (soakMinutes !== undefined) {
      tasks.push(Soak.sampler(() => slots.map((slot) => ({ slot: slot.index, port: slot.port, pid: slot.process.child.pid })), start, deadline, runFolder, samples))
    }
    const progress = setInterval(() => {
      console.log(`  t+${((performance.now() - start) / 1000).toFixed(0)}s: ${requests.length} writes, ${kills.length + windows.length} faults, ${slots.filter((s) => s.up).length}/${slots.length} up`)
    }, 10_000)
    try {
      await Promise.all(tasks)
    } finally {
      clearInterval(progress)
    }

    // Traffic has stopped: after a short settle (cross-process caches), what the API serves must
    // match the rows exactly.
    await sleep(1000)
    const apiViews = await readApiViews(slots, events, organizer)
    // With a broker: let the relays (still running) publish everything committed before stopping them.
    const drained = natsTarget === undefined ? undefined : await Nats.waitForDrain(database.url, 60_000)
    // Stop the servers before reading: nothing may change the rows while they are checked.
    await Promise.all(slots.map((slot) => stopServer(slot.process)))
    const state = { ...(await readState(database.url, options.server, requests)), apiViews }
    const violations = [...check(state), ...liveViolations.map((v) => ({ ...v, message: `(live read) ${v.message}` })), ...staleReads]
    console.log(
      `checked ${state.events.length} events, ${state.registrations.length} registrations, ${state.outbox?.length ?? 0} outbox messages, ` +
        `${apiViews.filter((v) => v.waitlist !== null).length}/${apiViews.length} API waitlists`
    )
    let natsFigures: Nats.Comparison | undefined
    if (natsTarget !== undefined && drained !== undefined) {
      const result = await Nats.compare(database.url, natsTarget.stream)
      natsFigures = result
      console.log(
        `NATS JetStream ${natsTarget.stream}: ${result.inStream} messages (after dedup) for ${result.committed} committed outbox rows; ` +
          `missing ${result.missing.length}, extra ${result.extra.length}, duplicates ${result.duplicates.length}; ` +
          `relays drained in ${(drained.waitedMs / 1000).toFixed(1)} s (pending ${drained.pending}, dead letters ${drained.deadLettered})`
      )
      if (result.inStream !== result.committed || result.missing.length + result.extra.length + result.duplicates.length > 0 || drained.pending > 0) {
        violations.push({
          rule: "outbox",
          message: `(NATS) JetStream holds ${result.inStream} messages for ${result.committed} committed; missing ${result.missing.slice(0, 5).join(", ")}; ` +
            `extra ${result.extra.slice(0, 5).join(", ")}; duplicates ${result.duplicates.slice(0, 5).join(", ")}; pending ${drained.pending}`
        })
      }
    }

    // The promises while dependencies fail.
    const bad = Promises.badExchanges(exchanges)
    for (const e of bad.slice(0, 20)) violations.push({ rule: "answer during fault", message: `t+${((e.sentAt - start) / 1000).toFixed(1)}s ${Promises.describeBad(e)}` })
    if (bad.length > 20) violations.push({ rule: "answer during fault", message: `… and ${bad.length - 20} more` })
    const lines: Array<Report.FaultLine> = [...kills]
    const faultStarts = [...kills, ...windows].map((f) => f.startedAt)
    for (const window of windows) {
      const outboxRecoveryMs = catchUps.has(window) ? await catchUps.get(window)! : undefined
      const nextFaultAt = Promises.nextFaultAfter(window, faultStarts)
      const line: Report.FaultLine = { ...Promises.reportWindow(window, exchanges, nextFaultAt), ...(outboxRecoveryMs === undefined ? {} : { outboxRecoveryMs }) }
      lines.push(line)
      const slowest = Math.max(line.recoveryMs ?? Infinity, window.kind === "nats-restart" ? (outboxRecoveryMs ?? Infinity) : 0)
      if (slowest > options.recoveryBoundMs) {
        violations.push({ rule: "recovery", message: `${window.kind} at t+${((window.startedAt - start) / 1000).toFixed(1)}s: served again after ${line.recoveryMs ?? "never"} ms, outbox caught up after ${outboxRecoveryMs ?? "never"} ms (bound ${options.recoveryBoundMs} ms)` })
      }
    }
    if (soakMinutes !== undefined) {
      const verdicts = Soak.leakVerdicts(samples, soakMinutes)
      Soak.write(runFolder, samples, soakMinutes, windows.map((w) => ({ minute: (w.startedAt - start) / 60_000, kind: w.kind })), verdicts)
      console.log(`soak: ${samples.length} samples; plot ${join(runFolder, "soak.svg")}`)
      for (const v of verdicts) {
        const mine = samples.filter((s) => s.slot === v.slot && s.pid === v.pid)
        const peak = (f: (s: Soak.Sample) => number | null) => Math.max(...mine.map(f).filter((n): n is number => n !== null))
        console.log(
          `  process ${v.slot}: RSS slope ${v.rssSlopeMiBPerMinute?.toFixed(3) ?? "?"} MiB/min from minute ${v.fromMinute.toFixed(1)} (${v.samples} samples; bound ${Soak.leakBoundMiBPerMinute}); ` +
            `RSS ${mine[0]?.rssMiB?.toFixed(0)}→${mine[mine.length - 1]?.rssMiB?.toFixed(0)} MiB, loop p99 max ${peak((s) => s.loopP99Ms).toFixed(0)} ms, handles max ${peak((s) => s.handles)}, fds max ${peak((s) => s.fds)}, pool used max ${peak((s) => s.poolUsed)}, outbox lag max ${peak((s) => s.outboxLagSeconds)} s`
        )
        if (!v.ok) violations.push({ rule: "leak", message: `process ${v.slot}: RSS grows ${v.rssSlopeMiBPerMinute?.toFixed(2) ?? "?"} MiB/min over minutes ${v.fromMinute.toFixed(0)}–${soakMinutes} (bound ${Soak.leakBoundMiBPerMinute})` })
      }
    }
    const resets = Promises.resetShare(lines.filter((l): l is Promises.WindowReport => l.sent !== undefined))
    if (resets.share > Promises.resetUnavailableBound) {
      violations.push({ rule: "answer during fault", message: `connection resets not retried: ${resets.unavailable} of ${resets.sent} requests sent during resets answered 503 (bound ${Promises.resetUnavailableBound * 100} %)` })
    }
    console.log(`\n== summary`)
    Report.printTraffic(requests, reads)
    console.log(`exchanges: ${exchanges.length}; 503 with Retry-After ${exchanges.filter((e) => e.status === 503 && e.retryAfter).length}; bad answers ${bad.length}`)
    Report.printFaults(lines, start)
    Report.printViolations(violations)
    Report.writeResult(runFolder, {
      options: { ...options, faults: faultList },
      writes: requests.length,
      exchanges: exchanges.length,
      unavailable: exchanges.filter((e) => e.status === 503 && e.retryAfter).length,
      badAnswers: bad.length,
      faults: lines.map((l) => ({ ...l, startedAt: l.startedAt - start })),
      nats: natsFigures === undefined ? null : { committed: natsFigures.committed, inStream: natsFigures.inStream, missing: natsFigures.missing.length, extra: natsFigures.extra.length, duplicates: natsFigures.duplicates.length, deadLettered: drained?.deadLettered ?? 0 },
      violations: violations.length,
      violationsByRule: violations.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v.rule]: (acc[v.rule] ?? 0) + 1 }), {})
    })
    return violations.length === 0 ? 0 : 1
  } finally {
    await Promise.all(slots.map((slot) => stopServer(slot.process, "SIGKILL", 2000)))
    if (natsTarget !== undefined) await Nats.deleteStream(natsTarget.stream).catch((error) => console.log(`could not delete stream: ${error}`))
    await stopDependencies()
    if (!boolEnv("CHAOS_KEEP_DB", false)) await database.drop()
    else console.log(`kept database ${database.name}`)
  }
}

let exitCode: number
try {
  exitCode = await main()
} catch (error) {
  console.error(`chaos: harness failure: ${(error as Error).stack ?? String(error)}`)
  exitCode = 2
}
process.exit(exitCode)
