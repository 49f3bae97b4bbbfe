/**
 * bench:pipeline — server CPU per request, stage by stage, beside a budget per stage, so the cost of
 * any middleware shows at once.
 *
 * One server process serves every configuration at once, each on its own port: our real server
 * (`Server.make` over the in-memory store, so no database noise) with some pipeline stages switched
 * off. A fixed load (autocannon, in this process) hits one port at a time for a fixed time, and the
 * server process's CPU time (`/proc/<pid>/stat`, user + system) is divided by the requests answered.
 * Configurations are measured in rounds, alternating the order, each measurement paired with one of
 * raw `node:http` taken right before it; a figure is the median of its multiples of raw × the median raw
 * cost, so that drift on a shared machine cancels out. A stage's cost is the difference between
 * everything on and everything but that stage:
 *
 *   raw             `node:http` answering the same event JSON: the floor of Node's HTTP per request
 *   routing         a bare Effect `HttpRouter` route answering fixed JSON: minus raw = routing
 *   all             every stage on, cached anonymous `GET /v1/events/{id}`
 *   -<stage>        the same without one stage (telemetry, security, bodyLimit, timeout, rateLimit,
 *                   problems)
 *   authenticated   `all` with a (repeated) bearer token: minus `all` = authentication
 *   registrations   the authenticated reads of `read-auth` (`bench/run.ts`) alternately: the caller's
 *                   registration (`GET /v1/registrations/{id}`) and their own list
 *                   (`GET /v1/me/registrations`), every stage on, a repeated token
 *   httpApi         `all` with the endpoint served by HttpApi instead of its lean handler
 *   handler         `all` minus the same pipeline answering a fixed body from a bare route
 *
 *   node --conditions=@live-events/source bench/pipeline.ts
 *   BENCH_SECONDS (3) BENCH_WARMUP (2) BENCH_CONNECTIONS (32) BENCH_REPEAT (3 rounds)
 *   BENCH_CONFIGS (a comma-separated subset: prints those, no table) BENCH_PROFILE (1: the server
 *   writes a CPU profile into the log directory)
 *
 * `node bench/pipeline.ts serve` is the server entry this script spawns (PIPELINE_PORTS).
 */
import { readFileSync } from "node:fs"

/** Budgets in µs of server CPU per request (2-core machine, in-process load generator). */
const budgets: Record<string, number> = {
  routing: 20,
  "telemetry + log line": 8,
  "security headers + CORS": 3,
  "body limit": 1,
  timeout: 1,
  "rate limit": 3,
  authentication: 6,
  "problem mapping": 2,
  handler: 25
}

type Config = "raw" | "routing" | "all" | "bare" | "authenticated" | "registrations" | "httpApi" | `-${Stage}`
type Stage = "telemetry" | "security" | "bodyLimit" | "timeout" | "rateLimit" | "problems"
const stages: ReadonlyArray<Stage> = ["telemetry", "security", "bodyLimit", "timeout", "rateLimit", "problems"]
const stageNames: Record<Stage, string> = {
  telemetry: "telemetry + log line",
  security: "security headers + CORS",
  bodyLimit: "body limit",
  timeout: "timeout",
  rateLimit: "rate limit",
  problems: "problem mapping"
}

const eventJson = (id: string) =>
  JSON.stringify({
    id,
    organizerId: "0193a1c4-5a6b-7c8d-9e0f-123456789abc",
    title: "Benchmark event",
    description: "",
    startsAt: "2030-01-01T10:00:00.000Z",
    endsAt: "2030-01-01T12:00:00.000Z",
    timeZone: "Europe/Berlin",
    location: "Hall 1",
    capacity: 100,
    waitlist: { enabled: true, limit: null },
    registrationClosesAt: "2030-01-01T10:00:00.000Z",
    status: "published",
    confirmedCount: 10,
    waitlistCount: 0,
    availableSeats: 90
  })

/** One configuration, served on its own port by the one server process. */
const serveOne = async (config: Config, port: number) => {
  const { createServer } = await import("node:http")
  if (config === "raw") {
    createServer((request, response) => {
      const body = request.url === "/health/ready" ? `{"status":"ok"}` : eventJson((request.url ?? "/").slice(11))
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      response.end(body)
    }).listen(port, "127.0.0.1")
    return
  }
  const { NodeHttpServer } = await import("@effect/platform-node")
  const { Effect, Layer } = await import("effect")
  const { HttpRouter, HttpServerResponse } = await import("effect/http")
  const fixed = (path: "/v1/events/:id" | "/health/ready") =>
    HttpRouter.add("GET", path, Effect.sync(() => HttpServerResponse.text(eventJson("x"), { contentType: "application/json" })))
  const launch = (layer: import("effect").Layer.Layer<never, unknown>) => {
    Effect.runFork(Layer.launch(layer))
  }
  if (config === "routing") {
    const app = Layer.mergeAll(fixed("/v1/events/:id"), fixed("/health/ready"))
    launch(HttpRouter.serve(app, { disableLogger: true }).pipe(
      Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" }))
    ))
    return
  }
  const { Server, Telemetry, TokenVerifier } = await import("@live-events/server")
  const HttpRateLimit = await import("../packages/server/src/RateLimit/HttpRateLimit.ts")
  const off = new Set(config.startsWith("-") ? [config.slice(1)] : [])
  const server = Server.make({
    store: Server.storeMemory,
    auth: TokenVerifier.TokenVerifier.layerConfig,
    telemetry: off.has("telemetry") ? Telemetry.layerDisabled() : Telemetry.layerConfig(),
    rateLimit: off.has("rateLimit")
      ? HttpRateLimit.layerDisabled
      : HttpRateLimit.layerMemory({
        general: { ...HttpRateLimit.defaultSettings.general, limit: 100_000_000 },
        register: { ...HttpRateLimit.defaultSettings.register, limit: 100_000_000 }
      }),
    pipeline: {
      security: !off.has("security"),
      bodyLimit: !off.has("bodyLimit"),
      timeout: !off.has("timeout"),
      problems: !off.has("problems"),
      hotPaths: config !== "httpApi"
    },
    routes: config === "bare" ? Layer.mergeAll(fixed("/v1/events/:id"), fixed("/health/ready")) : undefined,
    port,
    host: "127.0.0.1"
  })
  launch(server as import("effect").Layer.Layer<never, unknown>)
}

/**
 * Every configuration in ONE process, each on its own port (PIPELINE_PORTS: config → port): a
 * measurement loads one port at a time, so the process's CPU is that configuration's, with no
 * start-up per configuration and the same JIT state for the code they share.
 */
const serve = async () => {
  // A clean exit, so that `--cpu-prof` writes its profile.
  process.once("SIGTERM", () => process.exit(0))
  const ports = JSON.parse(process.env.PIPELINE_PORTS ?? "{}") as Record<Config, number>
  for (const [config, port] of Object.entries(ports)) await serveOne(config as Config, port)
}

const processCpuMicros = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
  // The command name (field 2) may contain spaces: count from the closing parenthesis.
  const rest = fields.slice(fields.lastIndexOf(")") + 2).split(" ")
  return (Number(rest[11]) + Number(rest[12])) * 10_000
}

const bench = async () => {
  const { intEnv, loopback, sleep } = await import("./lib/env.ts")
  const { eventBody, expectJson } = await import("./lib/http.ts")
  const { runLoad } = await import("./lib/load.ts")
  const { freePort, nodeBinary, waitReady } = await import("./lib/process.ts")
  const { mintToken } = await import("./lib/token.ts")
  const { spawn } = await import("node:child_process")
  const { tmpdir } = await import("node:os")
  const { join } = await import("node:path")
  const { closeSync, mkdirSync, openSync } = await import("node:fs")

  const seconds = intEnv("BENCH_SECONDS", 3)
  const warmup = intEnv("BENCH_WARMUP", 2)
  const connections = intEnv("BENCH_CONNECTIONS", 32)
  const repeat = Math.max(1, intEnv("BENCH_REPEAT", 3))
  const secret = "pipeline-bench-secret"
  const logDir = join(tmpdir(), `live-events-pipeline-bench-${process.pid}`)
  mkdirSync(logDir, { recursive: true })
  const organizer = mintToken(secret, { sub: "pipeline-bench-organizer", roles: ["organizer"] }, 3600)
  const reader = mintToken(secret, { sub: "pipeline-bench-reader", roles: ["attendee"] }, 3600)

  const every: ReadonlyArray<Config> = ["raw", "routing", "bare", "all", "authenticated", "registrations", "httpApi", ...stages.map((s) => `-${s}` as const)]
  const only = (process.env.BENCH_CONFIGS ?? "").split(",").filter((name) => name !== "")
  const configs = only.length === 0 ? every : every.filter((config) => only.includes(config))
  const ports = {} as Record<Config, number>
  for (const config of configs) ports[config] = await freePort()

  const profile = process.env.BENCH_PROFILE === "1" ? ["--cpu-prof", `--cpu-prof-dir=${logDir}`] : []
  const log = openSync(join(logDir, "servers.log"), "a")
  const child = spawn(nodeBinary, [...profile, "--conditions=@live-events/source", "bench/pipeline.ts", "serve"], {
    cwd: new URL("../", import.meta.url).pathname,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_"))),
      NODE_ENV: "production",
      PIPELINE_PORTS: JSON.stringify(ports),
      AUTH_DEV_SECRET: secret,
      // Request logs at info, JSON, to a file — as a container's stdout would be.
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      CORS_ORIGINS: "https://app.example"
    },
    stdio: ["ignore", log, log]
  })
  closeSync(log)
  let alive = true
  const exited = new Promise<null>((resolve) => child.once("exit", () => resolve(null)))
  void exited.then(() => {
    alive = false
  })
  const paths = new Map<Config, ReadonlyArray<string>>()
  try {
    for (const config of configs) {
      const port = ports[config]
      await waitReady({ kind: "ours", port, child, exited, isAlive: () => alive, markStopping: () => {}, isStopping: () => false }, 120_000)
      let path = `/v1/events/00000000-0000-4000-8000-000000000001`
      if (config !== "raw" && config !== "routing" && config !== "bare") {
        const event = await expectJson([201], port, "POST", "/v1/events", { token: organizer, body: eventBody("pipeline", 100) })
        await expectJson([200], port, "POST", `/v1/events/${event.id}/publish`, { token: organizer })
        path = `/v1/events/${event.id}`
      }
      if (config === "registrations") {
        const registration = await expectJson([201], port, "POST", `${path}/registrations`, { token: reader, body: {} })
        paths.set(config, [`/v1/registrations/${registration.id}`, "/v1/me/registrations"])
        continue
      }
      paths.set(config, [path])
    }

    const measureOnce = async (config: Config, durationSeconds: number): Promise<{ readonly micros: number; readonly load: string }> => {
      const port = ports[config]
      const own = paths.get(config)!
      const token = config === "authenticated" || config === "registrations" ? reader : undefined
      let i = 0
      const next = () => ({ method: "GET" as const, path: own[i++ % own.length]!, ...(token !== undefined ? { token } : {}) })
      const before = processCpuMicros(child.pid!)
      const result = await runLoad({ port, connections, durationSeconds, next })
      const cpu = processCpuMicros(child.pid!) - before
      if (result.non2xx > 0 || result.errors > 0) {
        console.log(`  ${config}: ${result.non2xx} non-2xx ${JSON.stringify(result.statusCounts)}, ${result.errors} errors`)
      }
      // Throughput and latency beside the CPU: under one saturated core, p50 is about connections ÷
      // throughput (Little's law), so the latency a configuration can reach follows from its CPU.
      return {
        micros: cpu / Math.max(1, result.ok),
        load: `${Math.round(result.throughput).toLocaleString("en-US")}/s p50 ${result.p50} p99 ${result.p99} ms`
      }
    }

    // Warm every configuration (JIT, caches) before measuring any.
    for (const config of configs) await measureOnce(config, warmup)
    // The machine is shared: how much CPU a request takes moves with what else runs (cache misses,
    // preemption). Each measurement is therefore paired with one of raw `node:http` taken right before
    // it, and kept as a multiple of that; a configuration's figure is the median multiple × the median
    // raw cost. Drift between measurements then cancels out instead of landing on one stage.
    const multiples = new Map<Config, Array<number>>()
    const raws: Array<number> = []
    const measured = configs.filter((config) => config !== "raw")
    console.log(
      `bench:pipeline — server CPU per request, ${connections} connections, ${repeat} rounds of ${seconds} s per configuration, ` +
        `each paired with raw node:http (median); loopback ${loopback}`
    )
    for (let round = 0; round < repeat; round++) {
      const order = round % 2 === 0 ? measured : [...measured].reverse()
      const line: Array<string> = []
      for (const config of order) {
        const raw = configs.includes("raw") ? await measureOnce("raw", Math.max(1, Math.ceil(seconds / 2))) : undefined
        const { load, micros } = await measureOnce(config, seconds)
        raws.push(raw?.micros ?? 1)
        multiples.set(config, [...(multiples.get(config) ?? []), micros / (raw?.micros ?? 1)])
        line.push(`${config} ${micros.toFixed(0)} µs, ${load}${raw === undefined ? "" : ` (raw ${raw.micros.toFixed(0)} µs, ${raw.load})`}`)
      }
      console.log(`  round ${round + 1}: ${line.join("; ")}`)
    }
    const rawMicros = configs.includes("raw") ? median(raws) : 1
    const best = new Map<Config, number>([...multiples].map(([config, values]) => [config, median(values) * rawMicros]))
    best.set("raw", rawMicros)
    console.log(`  medians: ${[...best].map(([config, micros]) => `${config} ${micros.toFixed(1)}`).join(", ")} µs`)
    if (configs !== every) return
    const all = best.get("all")!
    const rows: Array<[string, number]> = [
      ["routing", best.get("routing")! - best.get("raw")!],
      ...stages.map((stage): [string, number] => [stageNames[stage], all - best.get(`-${stage}`)!]),
      ["authentication", best.get("authenticated")! - all],
      ["handler", all - best.get("bare")!]
    ]
    console.log(`\n| stage | µs CPU / request | budget | within |`)
    console.log(`|---|---:|---:|---|`)
    for (const [name, micros] of rows) {
      const budget = budgets[name]!
      console.log(`| ${name} | ${micros.toFixed(1)} | ${budget} | ${micros <= budget ? "yes" : "NO"} |`)
    }
    console.log(`| raw node:http (floor) | ${best.get("raw")!.toFixed(1)} | | |`)
    console.log(`| cached GET /v1/events/{id}, everything on | ${all.toFixed(1)} | | |`)
    console.log(`| the same, authenticated (repeated token) | ${best.get("authenticated")!.toFixed(1)} | | |`)
    console.log(`| the same, served by HttpApi instead of its lean handler | ${best.get("httpApi")!.toFixed(1)} | | |`)
    console.log(`| cached GET /v1/registrations/{id} and GET /v1/me/registrations alternately, authenticated | ${best.get("registrations")!.toFixed(1)} | | |`)
    console.log(`\nStages are differences of noisy medians (the machine is shared): one under ~3 µs reads as 0 ± 3. Logs: ${logDir}`)
  } finally {
    child.kill("SIGTERM")
    await Promise.race([exited, sleep(5000)])
    if (alive) child.kill("SIGKILL")
  }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

if (process.argv[2] === "serve") await serve()
else await bench()
