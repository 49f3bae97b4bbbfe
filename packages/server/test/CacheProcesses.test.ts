/**
 * The read cache, server side, with real processes: two servers sharing PostgreSQL and Redis (a
 * write through A is never served stale by B once B has the invalidation), and one server whose private
 * Redis is killed during a read load (every read still succeeds, a write is still read back, readiness
 * stays 200 and reports the cache degraded). Redis at 127.0.0.1:6379 is used under a key prefix unique to
 * this run; the killed Redis is a private `redis-server` started here.
 */
import { Effect, Redacted, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import { cacheHits, call, converges, devSecret, mintToken, type ServerProcess, startServer } from "./ServerProcesses.ts"

const run = `${process.pid}-${Date.now().toString(36)}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })

const eventBody = (capacity: number) => ({
  title: "Cached event",
  startsAt: "2099-01-01T18:00:00Z",
  endsAt: "2099-01-01T22:00:00Z",
  timeZone: "Europe/Berlin",
  location: "Main hall",
  capacity
})

const createPublished = async (url: string, token: string, capacity = 10): Promise<string> => {
  const created = await call(url, "POST", "/v1/events", { token, json: eventBody(capacity) })
  expect(created.status).toBe(201)
  expect((await call(url, "POST", `/v1/events/${created.body.id}/publish`, { token })).status).toBe(200)
  return created.body.id
}

/** `cache_hits_total` of event details (both tiers) from a server's `/metrics`. */
const eventDetailHits = (url: string) => cacheHits(url, "eventDetails")

describe("two server processes sharing PostgreSQL and Redis", () => {
  const scope = Effect.runSync(Scope.make())
  const secret = devSecret()
  let a: ServerProcess
  let b: ServerProcess

  beforeAll(async () => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_cache"), scope))
    const env = {
      DATABASE_URL: Redacted.value(url),
      AUTH_MODE: "development",
      AUTH_DEV_SECRET: secret,
      REDIS_URL: "redis://127.0.0.1:6379",
      CACHE_KEY_PREFIX: `lec-test:procs-${run}`,
      RATE_LIMIT_ENABLED: "false"
    }
    a = await startServer(env)
    b = await startServer(env)
  }, 90_000)

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any))
  }, 30_000)

  it("an update through A is never served stale by B once B has the invalidation", async () => {
    const organizer = await mintToken(secret, "proc-organizer", ["organizer"])
    const id = await createPublished(a.url, organizer)
    // B caches the event (L1 and Redis).
    for (let i = 0; i < 5; i++) expect((await call(b.url, "GET", `/v1/events/${id}`)).body.title).toBe("Cached event")

    for (let round = 1; round <= 5; round++) {
      const title = `Renamed ${round}`
      const patched = await call(a.url, "PATCH", `/v1/events/${id}`, { token: organizer, json: { title } })
      expect(patched.status).toBe(200)
      // A reads its own write at once.
      expect((await call(a.url, "GET", `/v1/events/${id}`)).body.title).toBe(title)
      const elapsed = await converges(b.url, `/v1/events/${id}`, (body) => body.title === title)
      expect(elapsed).toBeLessThan(1_000)
    }
    // B really answered from its cache (and then refilled after each invalidation).
    expect(await eventDetailHits(b.url)).toBeGreaterThan(100)
  })

  it("counts: a registration through A reaches B's cached event, and A reads it at once", async () => {
    const organizer = await mintToken(secret, "proc-organizer", ["organizer"])
    const id = await createPublished(a.url, organizer, 2)
    expect((await call(b.url, "GET", `/v1/events/${id}`)).body.confirmedCount).toBe(0)
    expect((await call(a.url, "GET", `/v1/events/${id}`)).body.confirmedCount).toBe(0)
    for (let i = 1; i <= 3; i++) {
      const token = await mintToken(secret, `proc-attendee-${run}-${i}`, [])
      expect((await call(a.url, "POST", `/v1/events/${id}/registrations`, { token, json: {} })).status).toBe(201)
      const own = await call(a.url, "GET", `/v1/events/${id}`)
      expect([own.body.confirmedCount, own.body.waitlistCount]).toEqual([Math.min(i, 2), Math.max(0, i - 2)])
      await converges(b.url, `/v1/events/${id}`, (body) => body.version === own.body.version)
    }
  })
})

describe("Redis killed during a read load", () => {
  const scope = Effect.runSync(Scope.make())
  const secret = devSecret()
  let redis: ChildProcess | undefined
  let redisPort: number
  let server: ServerProcess

  const startRedis = async () => {
    const child = spawn("redis-server", [
      "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"
    ], { stdio: "ignore" })
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const probe = spawn("redis-cli", ["-p", String(redisPort), "ping"], { stdio: ["ignore", "pipe", "ignore"] })
        let out = ""
        probe.stdout!.on("data", (chunk) => (out += chunk))
        probe.once("exit", () => resolve(out.trim() === "PONG"))
      })
      if (up) return child
      await sleep(50)
    }
    child.kill("SIGKILL")
    throw new Error(`private redis-server on ${redisPort} did not start`)
  }

  beforeAll(async () => {
    redisPort = await freePort()
    redis = await startRedis()
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_cache_kill"), scope))
    server = await startServer({
      DATABASE_URL: Redacted.value(url),
      AUTH_MODE: "development",
      AUTH_DEV_SECRET: secret,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      CACHE_KEY_PREFIX: `lec-test:kill-${run}`,
      RATE_LIMIT_ENABLED: "false"
    })
  }, 90_000)

  afterAll(async () => {
    await server?.stop()
    if (redis !== undefined && redis.exitCode === null) redis.kill("SIGKILL")
    await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any))
  }, 30_000)

  it("every read succeeds, a write is read back, readiness stays up and reports the cache degraded", async () => {
    const organizer = await mintToken(secret, "kill-organizer", ["organizer"])
    const ids = await Promise.all(Array.from({ length: 20 }, () => createPublished(server.url, organizer)))
    expect((await call(server.url, "GET", "/health/ready")).body.checks.cache).toBe("ok")

    let stop = false
    const outcomes: Record<string, number> = {}
    const loops = Array.from({ length: 8 }, async (_, loop) => {
      let i = loop
      while (!stop) {
        const id = ids[i++ % ids.length]!
        try {
          const read = await call(server.url, "GET", `/v1/events/${id}`)
          const outcome = read.status === 200 && read.body.id === id ? "ok" : `status ${read.status}`
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
        } catch (error) {
          outcomes[String(error)] = (outcomes[String(error)] ?? 0) + 1
        }
      }
    })
    await sleep(500)
    redis!.kill("SIGKILL")
    await new Promise((resolve) => redis!.once("exit", resolve))
    await sleep(1_500)
    // A write while Redis is down: this process reads it back at once.
    const patched = await call(server.url, "PATCH", `/v1/events/${ids[0]}`, { token: organizer, json: { title: "While Redis is down" } })
    expect(patched.status).toBe(200)
    expect((await call(server.url, "GET", `/v1/events/${ids[0]}`)).body.title).toBe("While Redis is down")
    await sleep(500)
    stop = true
    await Promise.all(loops)

    expect(Object.keys(outcomes)).toEqual(["ok"])
    expect(outcomes.ok).toBeGreaterThan(100)
    const ready = await call(server.url, "GET", "/health/ready")
    expect(ready.status).toBe(200)
    expect(ready.body.checks.cache).toBe("degraded")

    // Redis back (empty): the cache recovers and reads stay right.
    redis = await startRedis()
    const started = Date.now()
    while ((await call(server.url, "GET", "/health/ready")).body.checks.cache !== "ok") {
      if (Date.now() - started > 10_000) throw new Error("cache still degraded 10 s after Redis came back")
      await sleep(100)
    }
    expect((await call(server.url, "GET", `/v1/events/${ids[0]}`)).body.title).toBe("While Redis is down")
  }, 60_000)
})
