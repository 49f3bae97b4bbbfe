/**
 * Starting, probing and killing server processes. Both the benchmark runner and the chaos harness
 * start servers through here so they run with the same Node binary, flags and environment.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { loopback, repoRoot, sleep } from "./env.ts"

/** Which implementation to start. */
export type ServerKind = "ours" | "baseline" | "raw" | "embedded" | "unsealed" | "previous"

/** Entry points, relative to the repository root. */
const entryPoints: Record<ServerKind, string> = {
  ours: "packages/server/src/main.ts",
  // Ours on its embedded default: PGlite in a data directory of its own, no DATABASE_URL.
  embedded: "packages/server/src/main.ts",
  // Ours with personal data written in plain text (PERSONAL_DATA_SEALING=off): what sealing costs.
  unsealed: "packages/server/src/main.ts",
  // Ours from another checkout (BENCH_PREVIOUS): an earlier version measured in the same run.
  previous: "packages/server/src/main.ts",
  baseline: "bench/baseline/server.ts",
  raw: "bench/baseline/raw.ts"
}

/** The Node 24 binary of the repository (the machine's node may be older). */
export const nodeBinary = process.env.BENCH_NODE ?? join(repoRoot, "node_modules/.bin/node")

/** Options for one server process. */
export interface ServerOptions {
  readonly kind: ServerKind
  readonly port: number
  /** The checkout to run the entry point from (default: this repository). */
  readonly root?: string | undefined
  readonly databaseUrl: string
  readonly secret: string
  /** Where stdout/stderr go; defaults to a file under the OS temp dir. */
  readonly logDir: string
  /** Extra environment (e.g. switches that relax rate limits for load tests). */
  readonly env?: Readonly<Record<string, string>>
}

/**
 * CPU time (user + system) the process has used so far, in milliseconds (Linux `/proc`; NaN elsewhere).
 */
export const cpuMillis = (pid: number | undefined): number => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    // utime and stime are fields 14 and 15 of the line (12 and 13 after the command name).
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return Number.NaN
  }
}

/** A running (or exited) server process. */
export interface ServerProcess {
  readonly kind: ServerKind
  readonly port: number
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  readonly isAlive: () => boolean
  /** Marks an exit as intended (no "exited unexpectedly" line). */
  readonly markStopping: () => void
  readonly isStopping: () => boolean
}

let launchCounter = 0

/** Spawns a server; resolves immediately (use {@link waitReady}). */
export const startServer = (options: ServerOptions): ServerProcess => {
  mkdirSync(options.logDir, { recursive: true })
  launchCounter += 1
  // The child writes its log straight to the file: piping it through this process would make the
  // load generator pay for the server's logging.
  const log = openSync(join(options.logDir, `${options.kind}-${options.port}-${launchCounter}.log`), "a")
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: "production",
    DATABASE_URL: options.databaseUrl,
    PORT: String(options.port),
    HOST: loopback,
    AUTH_DEV_SECRET: options.secret,
    // Load tests send thousands of requests a minute from one address: our per-IP limit is off
    // unless a run asks for it (BENCH_OURS_ENV / CHAOS_SERVER_ENV="RATE_LIMIT_ENABLED=true").
    RATE_LIMIT_ENABLED: "false",
    ...options.env
  }
  if (options.kind === "embedded") {
    delete env.DATABASE_URL
    env.DATA_DIR = join(options.logDir, `embedded-${options.port}`)
  }
  // BENCH_PROFILE=1: our server writes a V8 CPU profile into the log directory when it stops.
  const profile = process.env.BENCH_PROFILE === "1" && options.kind !== "baseline" && options.kind !== "raw"
    ? ["--cpu-prof", `--cpu-prof-dir=${options.logDir}`]
    : []
  // BENCH_NODE_FLAGS: V8/Node flags for our servers (e.g. "--trace-gc"), which NODE_OPTIONS refuses;
  // BENCH_PREVIOUS_NODE_FLAGS for the previous checkout's server instead.
  const flagsVariable = options.kind === "previous" ? "BENCH_PREVIOUS_NODE_FLAGS" : "BENCH_NODE_FLAGS"
  const flags = options.kind !== "baseline" && options.kind !== "raw"
    ? (process.env[flagsVariable] ?? "").split(" ").filter((flag) => flag !== "")
    : []
  const child = spawn(nodeBinary, [...profile, ...flags, "--conditions=@live-events/source", entryPoints[options.kind]], {
    cwd: options.root ?? repoRoot,
    env,
    stdio: ["ignore", log, log]
  })
  closeSync(log)
  let alive = true
  let stopping = false
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      alive = false
      if (!stopping) console.log(`  [${options.kind} on port ${options.port} exited unexpectedly: code ${code}, signal ${signal}]`)
      resolve(code)
    })
  })
  return {
    kind: options.kind,
    port: options.port,
    child,
    exited,
    isAlive: () => alive,
    markStopping: () => {
      stopping = true
    },
    isStopping: () => stopping
  }
}

/** Polls `GET /health/ready` until 200, the process exits, or the timeout passes. */
export const waitReady = async (server: ServerProcess, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!server.isAlive()) throw new Error(`${server.kind} on port ${server.port} exited before it was ready`)
    try {
      const response = await fetch(`http://${loopback}:${server.port}/health/ready`, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.status === 200) return
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  throw new Error(`${server.kind} on port ${server.port} not ready after ${timeoutMs} ms`)
}

/** Sends a signal and waits (bounded) for the exit; escalates to SIGKILL. */
export const stopServer = async (server: ServerProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<void> => {
  server.markStopping()
  if (!server.isAlive()) return
  server.child.kill(signal)
  const timedOut = await Promise.race([server.exited.then(() => false), sleep(graceMs).then(() => true)])
  if (timedOut && server.isAlive()) {
    server.child.kill("SIGKILL")
    await Promise.race([server.exited, sleep(graceMs)])
  }
}

/** A port the OS reports free on the loopback interface right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, loopback, () => {
      const address = probe.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
