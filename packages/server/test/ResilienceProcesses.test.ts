/**
 * Resilience, with real server processes:
 *
 * - PostgreSQL goes away (a TCP proxy between one server and its own database is cut, so the shared
 *   PostgreSQL other tests use stays up): within 1 s requests get 503 + `Retry-After`, none hangs,
 *   no other 5xx; within 5 s of the database's return traffic succeeds again.
 * - Three processes sharing a private Redis: a 100/min policy admits 100 ± 5 % across all of them;
 *   Redis killed mid-run → the local fallback decides and no request gets a 5xx.
 */
import { Effect, Redacted, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, type Server, Socket as NetSocket, type Socket } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import { devSecret, mintToken, type ServerProcess, startServer } from "./ServerProcesses.ts"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })

/** A TCP proxy on 127.0.0.1 that can be cut (listener closed, connections reset) and restored. */
const tcpProxy = async (target: { host: string; port: number }) => {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = new NetSocket()
        upstream.connect(target.port, target.host)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {})
        }
        client.pipe(upstream).pipe(client)
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
      })
      server.listen(port, "127.0.0.1", () => resolve())
    })
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.resetAndDestroy()
      sockets.clear()
      server!.close(() => resolve())
    })
  await open()
  return { port, cut, restore: open }
}

interface Answer {
  readonly kind: "read" | "register"
  readonly status: number
  readonly retryAfter: string | null
  readonly at: number
  readonly ms: number
}

describe("PostgreSQL goes away and comes back", () => {
  const scope = Effect.runSync(Scope.make())
  let server: ServerProcess | undefined
  afterAll(async () => {
    await server?.stop()
    await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any))
  }, 60_000)

  it("503 + Retry-After within 1 s, no other 5xx, recovery within 5 s", async () => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_dbdown"), scope))
    const target = new URL(Redacted.value(url))
    const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    const viaProxy = new URL(target)
    viaProxy.hostname = "127.0.0.1"
    viaProxy.port = String(proxy.port)
    const secret = devSecret()
    server = await startServer({
      DATABASE_URL: viaProxy.toString(),
      AUTH_MODE: "development",
      AUTH_DEV_SECRET: secret,
      DB_POOL_SAMPLE_SECONDS: "0",
      REQUEST_TIMEOUT: "10 seconds"
    })
    const base = server.url
    const organizer = await mintToken(secret, "dbdown-org", ["organizer"])
    const created = await fetch(`${base}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${organizer}`, "content-type": "application/json" },
      body: JSON.stringify({
        title: "Down",
        startsAt: "2099-01-01T18:00:00Z",
        endsAt: "2099-01-01T22:00:00Z",
        timeZone: "Europe/Berlin",
        location: "Hall",
        capacity: 100000
      })
    })
    expect(created.status).toBe(201)
    const event = await created.json() as { id: string }
    expect((await fetch(`${base}/v1/events/${event.id}/publish`, { method: "POST", headers: { authorization: `Bearer ${organizer}` } })).status).toBe(200)

    const answers: Array<Answer> = []
    let stop = false
    let userCounter = 0
    const client = async (kind: "read" | "register") => {
      while (!stop) {
        const started = Date.now()
        let status = 0
        let retryAfter: string | null = null
        try {
          const response = kind === "read"
            ? await fetch(`${base}/v1/events/${event.id}`, { signal: AbortSignal.timeout(15_000) })
            : await fetch(`${base}/v1/events/${event.id}/registrations`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${await mintToken(secret, `dbdown-${userCounter++}`, [])}`,
                "content-type": "application/json"
              },
              body: "{}",
              signal: AbortSignal.timeout(15_000)
            })
          status = response.status
          retryAfter = response.headers.get("retry-after")
          await response.arrayBuffer()
        } catch {
          status = -1 // no answer within 15 s
        }
        answers.push({ kind, status, retryAfter, at: started, ms: Date.now() - started })
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    const clients = [client("read"), client("read"), client("register"), client("register")]
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const cutAt = Date.now()
    await proxy.cut()
    await new Promise((resolve) => setTimeout(resolve, 4_000))
    const restoredAt = Date.now()
    await proxy.restore()
    // Wait until a few successes in a row after the return (bounded).
    while (Date.now() - restoredAt < 10_000) {
      const recent = answers.filter((a) => a.kind === "register" && a.at > restoredAt).slice(-4)
      if (recent.length === 4 && recent.every((a) => a.status < 300)) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
    stop = true
    await Promise.all(clients)

    const before = answers.filter((a) => a.at + a.ms < cutAt)
    expect(before.length).toBeGreaterThan(5)
    expect(before.every((a) => a.status === 200 || a.status === 201)).toBe(true)
    // Nothing but successes and 503-with-Retry-After, and every request answered.
    const unexpected = answers.filter((a) => !(a.status === 200 || a.status === 201 || (a.status === 503 && a.retryAfter !== null)))
    if (unexpected.length > 0) (await import("node:fs")).writeFileSync("/tmp/dbdown-server.log", server.output())
    expect(unexpected).toEqual([])
    // Within 1 s of the cut requests are answered 503, each in under 1 s.
    const down = answers.filter((a) => a.at >= cutAt + 1_000 && a.at + a.ms < restoredAt)
    expect(down.length).toBeGreaterThan(5)
    // Writes need the database: all refused at once. Reads may still be served from the cache (200).
    expect(down.filter((a) => a.kind === "register").length).toBeGreaterThan(5)
    expect(down.filter((a) => a.kind === "register").every((a) => a.status === 503)).toBe(true)
    expect(down.every((a) => a.ms < 1_000)).toBe(true)
    const first503 = answers.find((a) => a.status === 503 && a.at >= cutAt)!
    const firstFailFast = first503.at + first503.ms - cutAt
    // Back within 5 s of the database's return.
    const firstSuccessAfter = answers.find((a) => a.kind === "register" && a.at > restoredAt && a.status < 300)!
    const recovery = firstSuccessAfter.at + firstSuccessAfter.ms - restoredAt
    const lastFailure = answers.filter((a) => a.status === 503).at(-1)!
    const steady = lastFailure.at + lastFailure.ms - restoredAt
    console.log(JSON.stringify({
      requests: answers.length,
      firstFailFastMs: firstFailFast,
      maxDownLatencyMs: Math.max(...down.map((a) => a.ms)),
      recoveryFirstSuccessMs: recovery,
      lastFailureAfterRestoreMs: steady,
      retryAfters: [...new Set(answers.filter((a) => a.status === 503).map((a) => a.retryAfter))]
    }))
    expect(firstFailFast).toBeLessThan(1_000)
    expect(recovery).toBeLessThan(5_000)
    expect(steady).toBeLessThan(5_000)
  }, 90_000)
})

const startRedis = async () => {
  const port = await freePort()
  const child: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore"
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = new NetSocket()
      socket.once("connect", () => (socket.destroy(), resolve(true)))
      socket.once("error", () => resolve(false))
      socket.connect(port, "127.0.0.1")
    })
    if (up) break
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("redis-server did not start on 127.0.0.1")
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGKILL")
    })
  return { url: `redis://127.0.0.1:${port}`, stop }
}

describe("three processes share the rate limits through Redis", () => {
  const scope = Effect.runSync(Scope.make())
  const servers: Array<ServerProcess> = []
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await redis?.stop()
    await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any))
  }, 90_000)

  it("100/min admits 100 ± 5 % across processes; Redis gone → local fallback, no 5xx", async () => {
    redis = await startRedis()
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_ratelimit"), scope))
    const env = {
      DATABASE_URL: Redacted.value(url),
      AUTH_MODE: "development",
      AUTH_DEV_SECRET: devSecret(),
      REDIS_URL: redis.url,
      RATE_LIMIT_ENABLED: "true",
      RATE_LIMIT_REDIS_PREFIX: `test-${process.pid}-${Date.now()}:`,
      RATE_LIMIT_GENERAL_LIMIT: "100",
      RATE_LIMIT_GENERAL_WINDOW: "1 minute",
      RATE_LIMIT_ON_STORE_FAILURE: "local-fallback",
      // The shared count is what this test checks: on a loaded machine a Redis answer can take longer
      // than the default 100 ms, and a decision taken by the local fallback then admits beyond the
      // shared limit. With Redis stopped the fallback still decides (a refused connection fails at once).
      RATE_LIMIT_STORE_TIMEOUT: "1 second",
      DB_POOL_SAMPLE_SECONDS: "0"
    }
    servers.push(await startServer(env))
    servers.push(...await Promise.all([startServer(env), startServer(env)]))

    const hit = async (i: number) => {
      const response = await fetch(`${servers[i % 3]!.url}/v1/events?limit=1`)
      await response.arrayBuffer()
      return { status: response.status, ratelimit: response.headers.get("ratelimit"), process: i % 3 }
    }
    // The fixed window is aligned to the clock: start right after a minute boundary when less than 30 s
    // of the current window remain, so the 160 requests cannot straddle two windows on a slow machine.
    const leftInWindow = 60_000 - (Date.now() % 60_000)
    if (leftInWindow < 30_000) await new Promise((resolve) => setTimeout(resolve, leftInWindow + 200))
    // 160 requests from one client, concurrently in batches, spread round-robin over the processes.
    const first: Array<Awaited<ReturnType<typeof hit>>> = []
    for (let batch = 0; batch < 8; batch++) {
      first.push(...await Promise.all(Array.from({ length: 20 }, (_, j) => hit(batch * 20 + j))))
    }
    const admitted = first.filter((a) => a.status === 200).length
    const limited = first.filter((a) => a.status === 429).length
    console.log(JSON.stringify({ phase: "shared", admitted, limited, byProcess: [0, 1, 2].map((p) => first.filter((a) => a.process === p && a.status === 200).length) }))
    expect(admitted + limited).toBe(first.length)
    expect(admitted).toBeGreaterThanOrEqual(95)
    expect(admitted).toBeLessThanOrEqual(105)
    // Every process admitted some: the count really is shared, not per process.
    for (const p of [0, 1, 2]) expect(first.some((a) => a.process === p && a.status === 200)).toBe(true)
    expect(first.every((a) => a.ratelimit !== null)).toBe(true)

    await redis.stop()
    const after: Array<Awaited<ReturnType<typeof hit>>> = []
    for (let batch = 0; batch < 3; batch++) {
      after.push(...await Promise.all(Array.from({ length: 20 }, (_, j) => hit(batch * 20 + j))))
    }
    const statuses = after.map((a) => a.status)
    console.log(JSON.stringify({ phase: "redis-down", admitted: statuses.filter((s) => s === 200).length, limited: statuses.filter((s) => s === 429).length, other: statuses.filter((s) => s !== 200 && s !== 429) }))
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([])
    // The Redis count was spent; admissions now come from each process's local fallback count.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0)
    expect(after.every((a) => a.ratelimit !== null)).toBe(true)
  }, 150_000)
})
