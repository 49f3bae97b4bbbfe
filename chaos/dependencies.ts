/**
 * The dependencies a chaos run may break, kept apart from the machine's shared services (other
 * people's tests use those, so they are never stopped): a Redis and a NATS server (JetStream) of the
 * run's own, on free ports, which the harness kills and restarts; and one fault proxy per server process
 * and dependency, so that a fault hits every process or cuts one off. PostgreSQL stays the shared server:
 * its restart is emulated at the proxies (every connection cut, new ones refused while "restarting"),
 * which is what a server process sees of a restart, without disturbing anybody else's database.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { createConnection } from "node:net"
import { join } from "node:path"
import { loopback, pgPort, sleep } from "../bench/lib/env.ts"
import { freePort } from "../bench/lib/process.ts"
import * as Proxy from "./proxy.ts"

/** A server of the run's own that can be SIGKILLed and started again on the same port and data. */
export interface OwnServer {
  readonly name: string
  readonly port: number
  readonly kill: () => Promise<void>
  readonly start: () => Promise<void>
  readonly stop: () => Promise<void>
}

const listening = async (port: number, timeoutMs: number) => {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: loopback, port })
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
    if (open) return
    await sleep(50)
  }
  throw new Error(`nothing listens on ${loopback}:${port} after ${timeoutMs} ms`)
}

const ownServer = (name: string, port: number, command: string, args: ReadonlyArray<string>, logDir: string): OwnServer => {
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  const start = async () => {
    const log = join(logDir, `${name}-${port}.log`)
    child = spawn("sh", ["-c", `exec "$0" "$@" >> '${log}' 2>&1`, command, ...args], { stdio: "ignore" })
    const current = child
    exited = new Promise((resolve) => current.once("exit", () => resolve()))
    await listening(port, 15_000)
  }
  const signal = async (which: NodeJS.Signals) => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    child.kill(which)
    await Promise.race([exited, sleep(5000)])
  }
  return { name, port, start, kill: () => signal("SIGKILL"), stop: () => signal("SIGTERM") }
}

/** A Redis without persistence: a restart loses every key, as a cache's Redis may. */
export const startRedis = async (logDir: string): Promise<OwnServer> => {
  const port = await freePort()
  const server = ownServer("redis", port, "redis-server", ["--bind", loopback, "--port", String(port), "--save", "", "--appendonly", "no"], logDir)
  await server.start()
  return server
}

/** A NATS server with JetStream storing in the run's folder, so a restart keeps the stream. */
export const startNats = async (logDir: string): Promise<OwnServer> => {
  const port = await freePort()
  const store = join(logDir, "jetstream")
  mkdirSync(store, { recursive: true })
  const server = ownServer("nats", port, "nats-server", ["-a", loopback, "-p", String(port), "-js", "-sd", store], logDir)
  await server.start()
  return server
}

/** The dependencies a server process reaches, each through a proxy of its own. */
export interface ProcessNetwork {
  readonly postgres: Proxy.FaultProxy
  readonly redis: Proxy.FaultProxy
  readonly nats: Proxy.FaultProxy
}

export const startNetwork = async (index: number, targets: { readonly redis: number; readonly nats: number }, random: () => number): Promise<ProcessNetwork> => ({
  postgres: await Proxy.start({ name: `postgres/${index}`, targetPort: pgPort, random }),
  redis: await Proxy.start({ name: `redis/${index}`, targetPort: targets.redis, random }),
  nats: await Proxy.start({ name: `nats/${index}`, targetPort: targets.nats, random })
})

export const closeNetwork = async (network: ProcessNetwork) => {
  await Promise.all([network.postgres.close(), network.redis.close(), network.nats.close()])
}

/** `databaseUrl` with its host and port replaced by the proxy's. */
export const throughProxy = (databaseUrl: string, proxy: Proxy.FaultProxy) => {
  const url = new URL(databaseUrl)
  url.hostname = loopback
  url.port = String(proxy.port)
  return url.toString()
}
