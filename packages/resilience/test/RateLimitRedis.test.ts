/**
 * The Redis store on a real Redis (127.0.0.1:6379 or REDIS_URL; these tests fail, never skip, when it
 * is unavailable): two limiter instances with their own connections share one count for every
 * algorithm, a fixed window resets on Redis time, a bucket refills; and a Redis that is stopped
 * mid-run (a dedicated redis-server on a spare port) switches decisions to the fallback without an
 * error, then back to the store when Redis returns.
 */
import { describe, expect, it } from "@effect/vitest"
import { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Layer, References, Schedule } from "effect"
import * as Redis from "effect/persistence/Redis"
import { type ChildProcess, spawn } from "node:child_process"
import * as RateLimit from "../src/RateLimit.ts"
import * as RateLimitStore from "../src/RateLimitStore.ts"
import { redisLayer, runPrefix } from "./support/redis.ts"

/** One limiter with its own Redis connection: what one server process has. */
const limiterProcess = (prefix: string, options?: Partial<RateLimit.LimiterOptions>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(RateLimit.layerRedis({ ...options, prefix }).pipe(Layer.provide(redisLayer())))
    return Context.get(context, RateLimit.RateLimiter)
  })

const redisTimeMillis = Effect.gen(function*() {
  const redis = yield* Redis.Redis
  const [seconds, micros] = yield* redis.send<[string, string]>("TIME")
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
})

describe("Redis store", () => {
  it.live("two limiter instances share one count, for every algorithm", () =>
    Effect.gen(function*() {
      const prefix = runPrefix("ratelimit")
      const a = yield* limiterProcess(prefix)
      const b = yield* limiterProcess(prefix)
      for (const algorithm of ["fixed-window", "sliding-window", "token-bucket"] as const) {
        const policy: RateLimit.RateLimitPolicy = { name: "shared", algorithm, limit: 5, window: "1 hour" }
        const decisions: Array<RateLimit.Decision> = []
        for (let i = 0; i < 10; i++) decisions.push(yield* (i % 2 === 0 ? a : b).consume(policy, "203.0.113.0/64"))
        expect(decisions.map((d) => d.allowed), algorithm).toEqual([true, true, true, true, true, false, false, false, false, false])
        expect(decisions.map((d) => d.remaining).slice(0, 5), algorithm).toEqual([4, 3, 2, 1, 0])
        expect(decisions.every((d) => d.degraded === undefined), algorithm).toBe(true)
        expect(decisions[5]!.retryAfterSeconds, algorithm).toBeGreaterThan(0)
      }
    }))

  it.live("a fixed window resets at the window boundary on Redis time", () =>
    Effect.gen(function*() {
      const prefix = runPrefix("boundary")
      const limiter = yield* limiterProcess(prefix)
      const policy: RateLimit.RateLimitPolicy = { name: "second", algorithm: "fixed-window", limit: 3, window: "1 second" }
      // Start early in a second, so the first three requests share a window.
      const inSecond = yield* redisTimeMillis.pipe(Effect.map((now) => now % 1000), Effect.provide(redisLayer()))
      yield* Effect.sleep(1000 - inSecond + 20)
      const first = [yield* limiter.consume(policy, "k"), yield* limiter.consume(policy, "k"), yield* limiter.consume(policy, "k")]
      expect(first.map((d) => d.allowed)).toEqual([true, true, true])
      const rejected = yield* limiter.consume(policy, "k")
      expect(rejected).toMatchObject({ allowed: false, retryAfterSeconds: 1, resetSeconds: 1 })
      const untilBoundary = 1000 - ((yield* redisTimeMillis.pipe(Effect.provide(redisLayer()))) % 1000)
      yield* Effect.sleep(untilBoundary + 20)
      expect(yield* limiter.consume(policy, "k")).toMatchObject({ allowed: true, remaining: 2 })
    }))

  it.live("a token bucket refills on Redis time", () =>
    Effect.gen(function*() {
      const limiter = yield* limiterProcess(runPrefix("bucket"))
      const policy: RateLimit.RateLimitPolicy = { name: "bucket", algorithm: "token-bucket", limit: 2, window: "1 second" }
      expect((yield* limiter.consume(policy, "k")).allowed).toBe(true)
      expect((yield* limiter.consume(policy, "k")).allowed).toBe(true)
      const empty = yield* limiter.consume(policy, "k")
      expect(empty).toMatchObject({ allowed: false, retryAfterSeconds: 1 })
      yield* Effect.sleep("550 millis") // one token per 500 ms
      expect(yield* limiter.consume(policy, "k")).toMatchObject({ allowed: true, remaining: 0 })
      expect((yield* limiter.consume(policy, "k")).allowed).toBe(false)
    }))

  it.live("the store gives the same answers as the memory algorithms", () =>
    Effect.gen(function*() {
      const redis = yield* Layer.build(redisLayer())
      const store = yield* RateLimitStore.makeRedis({ prefix: runPrefix("contract") }).pipe(Effect.provideContext(redis))
      const request = { algorithm: "sliding-window", key: "k", limit: 3, windowMillis: 3_600_000, cost: 1 } as const
      const results = []
      for (let i = 0; i < 4; i++) results.push(yield* store.consume(request))
      expect(results.map((r) => [r.allowed, r.remaining])).toEqual([[true, 2], [true, 1], [true, 0], [false, 0]])
      expect(results[3]!.retryAfterMillis).toBe(results[3]!.resetMillis)
      const costly = yield* store.consume({ ...request, algorithm: "token-bucket", key: "t", cost: 4 })
      expect(costly.allowed).toBe(false)
    }))
})

describe("Redis stopped mid-run", () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const start = Effect.acquireRelease(
    Effect.sync(() =>
      spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
        stdio: "ignore"
      })
    ),
    (server) => Effect.sync(() => server.kill("SIGKILL"))
  )
  const stop = (server: ChildProcess) =>
    Effect.callback<void>((resume) => {
      server.once("exit", () => resume(Effect.void))
      server.kill("SIGTERM")
    })

  it.live("decisions fall back without an error while Redis is down, and use Redis again once it is back", () =>
    Effect.gen(function*() {
      const server = yield* start
      // node-redis reconnects and queues commands while Redis is away: the limiter's timeout must cut in.
      const client = yield* Layer.build(NodeRedis.layer({ url: `redis://127.0.0.1:${port}` })).pipe(
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 30 })))
      )
      const limiter = yield* RateLimit.make({
        onStoreFailure: "local-fallback",
        storeTimeout: "100 millis",
        storeRetryInterval: "300 millis"
      }).pipe(Effect.provide(RateLimitStore.layerRedis({ prefix: runPrefix("outage") })), Effect.provideContext(client))
      const policy: RateLimit.RateLimitPolicy = { name: "general", algorithm: "sliding-window", limit: 100, window: "1 minute" }

      expect(yield* limiter.consume(policy, "ip")).toMatchObject({ allowed: true, degraded: undefined, remaining: 99 })

      yield* stop(server)
      const started = Date.now()
      const during = yield* limiter.consume(policy, "ip")
      expect(during).toMatchObject({ allowed: true, degraded: "local-fallback", remaining: 99 })
      expect(Date.now() - started).toBeLessThan(1000)
      for (let i = 0; i < 5; i++) expect((yield* limiter.consume(policy, "ip")).degraded).toBe("local-fallback")

      const restarted = yield* start
      // Once the client has reconnected and the retry interval has passed, decisions come from Redis again.
      const back = yield* limiter.consume(policy, "ip").pipe(
        Effect.tap(() => Effect.sleep("100 millis")),
        Effect.repeat({ until: (decision) => decision.degraded === undefined, schedule: Schedule.recurs(60) })
      )
      expect(back).toMatchObject({ allowed: true, degraded: undefined }) // a fresh Redis: the count starts over
      yield* stop(restarted)
    }).pipe(Effect.provideService(References.MinimumLogLevel, "Error")), 30_000)
})
