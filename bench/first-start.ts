/**
 * How long `npm start` takes on a fresh clone to answer `GET /health/ready` with 200: the embedded
 * default (no `DATABASE_URL`), a data directory that does not exist yet (first start: the database is
 * prepared), then the same directory again (second start). Each run gets a scratch data directory of
 * its own; the figures are wall-clock from spawning `npm start` to the first 200.
 *
 *   node bench/first-start.ts                 3 runs of this checkout, then the medians
 *   node bench/first-start.ts --runs 5
 *   node bench/first-start.ts --repo ../other another checkout (with its node_modules), e.g. to compare
 *
 * The machine may be shared: repeat (`--runs`) and read the medians. Next to the wall-clock time, the
 * CPU time (user + system) that `npm start`'s processes had used when the first 200 came back (Linux
 * `/proc`): on a busy machine it says what the start costs, where the wall clock also says how long it
 * waited for a core.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { loopback, repoRoot, sleep } from "./lib/env.ts"
import { freePort } from "./lib/process.ts"

const { values } = parseArgs({
  options: { runs: { type: "string", default: "3" }, repo: { type: "string", default: repoRoot } }
})
const runs = Number(values.runs)
const repo = resolve(values.repo)
const timeoutMs = 120_000

interface Started {
  readonly child: ChildProcess
  readonly exited: Promise<void>
}

/** `npm start` in its own process group, so that stopping it stops the server npm runs too. */
const start = (dataDir: string, port: number, logFile: string): Started => {
  const env: Record<string, string | undefined> = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: loopback }
  delete env.DATABASE_URL
  const log = openSync(logFile, "a")
  const child = spawn("npm", ["start"], { cwd: repo, env, stdio: ["ignore", log, log], detached: true })
  closeSync(log)
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return { child, exited }
}

const stop = async (started: Started) => {
  if (started.child.exitCode !== null || started.child.pid === undefined) return
  process.kill(-started.child.pid, "SIGTERM")
  const done = await Promise.race([started.exited.then(() => true), sleep(10_000).then(() => false)])
  if (!done) process.kill(-started.child.pid, "SIGKILL")
  await started.exited
}

/** CPU milliseconds used so far by the processes of a process group (Linux; NaN elsewhere). */
const groupCpuMillis = (groupId: number): number => {
  let total = 0
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue
      try {
        // Fields after the command name: state ppid pgrp … utime (12th) stime (13th), in clock ticks.
        const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")
        if (Number(fields[2]) === groupId) total += (Number(fields[11]) + Number(fields[12])) * 10
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    return Number.NaN
  }
  return total
}

interface Measurement {
  /** Wall clock from spawning `npm start` to the first 200 from `/health/ready`. */
  readonly millis: number
  readonly cpuMillis: number
}

const timeToReady = async (dataDir: string, logFile: string): Promise<Measurement> => {
  const port = await freePort()
  const began = performance.now()
  const started = start(dataDir, port, logFile)
  let exited = false
  void started.exited.then(() => {
    exited = true
  })
  try {
    while (performance.now() - began < timeoutMs) {
      if (exited) throw new Error(`npm start exited before it was ready (log: ${logFile})`)
      try {
        const response = await fetch(`http://${loopback}:${port}/health/ready`, { signal: AbortSignal.timeout(1000) })
        await response.arrayBuffer()
        if (response.status === 200) {
          return { millis: performance.now() - began, cpuMillis: groupCpuMillis(started.child.pid!) }
        }
      } catch {
        // not listening yet
      }
      await sleep(25)
    }
    throw new Error(`not ready after ${timeoutMs} ms (log: ${logFile})`)
  } finally {
    await stop(started)
  }
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
const seconds = (millis: number) => `${(millis / 1000).toFixed(2)} s`

console.log(`first start of \`npm start\` in ${repo} (embedded database, fresh data directory), ${runs} runs`)
const first: Array<Measurement> = []
const second: Array<Measurement> = []
const describe = (measurement: Measurement) => `${seconds(measurement.millis)} (CPU ${seconds(measurement.cpuMillis)})`
for (let run = 1; run <= runs; run++) {
  const scratch = mkdtempSync(join(tmpdir(), "live-events-first-start-"))
  const dataDir = join(scratch, ".data")
  const logFile = join(scratch, "server.log")
  try {
    first.push(await timeToReady(dataDir, logFile))
    second.push(await timeToReady(dataDir, logFile))
    console.log(`  run ${run}: first start ${describe(first.at(-1)!)}, second start ${describe(second.at(-1)!)}`)
  } catch (error) {
    console.error(`  run ${run} failed: ${String(error)}`)
    process.exitCode = 1
    break
  } finally {
    if (process.exitCode !== 1) rmSync(scratch, { recursive: true, force: true })
  }
}
if (first.length > 0) {
  const medianOf = (measurements: ReadonlyArray<Measurement>) => ({
    millis: median(measurements.map((m) => m.millis)),
    cpuMillis: median(measurements.map((m) => m.cpuMillis))
  })
  console.log(`median: first start ${describe(medianOf(first))}, second start ${describe(medianOf(second))}`)
}
