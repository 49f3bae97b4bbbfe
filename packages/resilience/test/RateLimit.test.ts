/**
 * Rate-limit algorithms at window boundaries (memory store, TestClock starting at 0, so windows are
 * aligned on multiples of the window), and the limiter's behaviour when its store fails: local
 * fallback or fail-open, never an error, and the store left alone for the retry interval.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Metric, Ref } from "effect"
import { TestClock } from "effect/testing"
import * as Metrics from "../src/Metrics.ts"
import * as RateLimit from "../src/RateLimit.ts"
import * as RateLimitStore from "../src/RateLimitStore.ts"
import { redisHanging, redisRefusing } from "./support/redis.ts"

const policy = (algorithm: RateLimitStore.Algorithm, limit: number, window: string): RateLimit.RateLimitPolicy => ({
  name: algorithm,
  algorithm,
  limit,
  window: window as RateLimit.RateLimitPolicy["window"]
})

const at = (millis: number) => TestClock.setTime(millis)

const consumeWith = (limiter: RateLimit.RateLimiter["Service"], p: RateLimit.RateLimitPolicy, key = "client") =>
  limiter.consume(p, key)

const summary = (decision: RateLimit.Decision) => ({
  allowed: decision.allowed,
  remaining: decision.remaining,
  reset: decision.resetSeconds,
  retryAfter: decision.retryAfterSeconds
})

describe("fixed window", () => {
  it.effect("admits `limit` per window and resets exactly at the window end", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimit.RateLimiter
      const fixed = policy("fixed-window", 3, "10 seconds")
      yield* at(0)
      expect(summary(yield* consumeWith(limiter, fixed))).toEqual({ allowed: true, remaining: 2, reset: 10, retryAfter: 0 })
      yield* consumeWith(limiter, fixed)
      yield* at(4_000)
      expect(summary(yield* consumeWith(limiter, fixed))).toEqual({ allowed: true, remaining: 0, reset: 6, retryAfter: 0 })
      expect(summary(yield* consumeWith(limiter, fixed))).toEqual({ allowed: false, remaining: 0, reset: 6, retryAfter: 6 })
      yield* at(9_999)
      expect(summary(yield* consumeWith(limiter, fixed))).toEqual({ allowed: false, remaining: 0, reset: 1, retryAfter: 1 })
      yield* at(10_000)
      expect(summary(yield* consumeWith(limiter, fixed))).toEqual({ allowed: true, remaining: 2, reset: 10, retryAfter: 0 })
      // other keys and other policies count separately
      expect((yield* consumeWith(limiter, fixed, "someone-else")).remaining).toBe(2)
      expect((yield* limiter.consume({ ...fixed, name: "other" }, "client")).remaining).toBe(2)
    }).pipe(Effect.provide(RateLimit.layerMemory())))

  it("computes store results in milliseconds", () => {
    const request = { algorithm: "fixed-window", key: "k", limit: 1, windowMillis: 1000, cost: 1 } as const
    const first = RateLimitStore.fixedWindow(undefined, request, 1_250)
    expect(first.result).toEqual({ allowed: true, remaining: 0, resetMillis: 750, retryAfterMillis: 0 })
    const second = RateLimitStore.fixedWindow(first.state, request, 1_999)
    expect(second.result).toEqual({ allowed: false, remaining: 0, resetMillis: 1, retryAfterMillis: 1 })
    expect(RateLimitStore.fixedWindow(second.state, request, 2_000).result.allowed).toBe(true)
  })
})

describe("sliding window (counter approximation)", () => {
  it.effect("weights the previous window, so no double burst at the edge", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimit.RateLimiter
      const sliding = policy("sliding-window", 10, "10 seconds")
      yield* at(9_900)
      for (let i = 0; i < 10; i++) expect((yield* consumeWith(limiter, sliding)).allowed).toBe(true)
      // A fixed window would admit 10 more at 10.0 s; the sliding estimate is still 10 × 1.0.
      yield* at(10_000)
      const edge = yield* consumeWith(limiter, sliding)
      expect(edge.allowed).toBe(false)
      // One request fits once the previous window's weight drops to 0.9: at 11 s.
      expect(edge.retryAfterSeconds).toBe(1)
      expect(edge.resetSeconds).toBe(1)
      yield* at(10_999)
      expect((yield* consumeWith(limiter, sliding)).allowed).toBe(false)
      yield* at(11_000)
      expect(summary(yield* consumeWith(limiter, sliding))).toEqual({ allowed: true, remaining: 0, reset: 9, retryAfter: 0 })
      // Half-way through the window, half of the previous count still weighs.
      yield* at(15_000)
      const halfway = yield* consumeWith(limiter, sliding)
      expect(halfway).toMatchObject({ allowed: true, remaining: 3 }) // 10 × 0.5 + 1 + 1 = 7 used
      // Two windows later nothing weighs any more.
      yield* at(30_000)
      expect((yield* consumeWith(limiter, sliding)).remaining).toBe(9)
    }).pipe(Effect.provide(RateLimit.layerMemory())))

  it("computes the exact wait, inside the window and into the next one", () => {
    // previous 10, current 1, 1 s into a 10 s window, limit 10: fits when 10 × w + 1 + 1 ≤ 10, w = 0.8, at 2 s.
    expect(RateLimitStore.slidingRetryAfter(10, 1, 1_000, 10_000, 10, 1)).toBe(1_000)
    // current window full: wait until its count, decaying in the next window, leaves room for 1.
    expect(RateLimitStore.slidingRetryAfter(0, 10, 0, 10_000, 10, 1)).toBe(11_000)
    // a cost above the limit never fits: the longest sensible wait
    expect(RateLimitStore.slidingRetryAfter(0, 0, 0, 10_000, 1, 2)).toBe(20_000)
  })
})

describe("token bucket", () => {
  it.effect("allows a burst of `limit`, then one token per window / limit", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimit.RateLimiter
      const bucket = policy("token-bucket", 5, "5 seconds") // 1 token per second
      yield* at(0)
      expect(summary(yield* consumeWith(limiter, bucket))).toEqual({ allowed: true, remaining: 4, reset: 1, retryAfter: 0 })
      for (let i = 0; i < 4; i++) yield* consumeWith(limiter, bucket)
      expect(summary(yield* consumeWith(limiter, bucket))).toEqual({ allowed: false, remaining: 0, reset: 1, retryAfter: 1 })
      yield* at(999)
      expect((yield* consumeWith(limiter, bucket)).allowed).toBe(false)
      yield* at(1_000)
      expect(summary(yield* consumeWith(limiter, bucket))).toEqual({ allowed: true, remaining: 0, reset: 1, retryAfter: 0 })
      expect((yield* consumeWith(limiter, bucket)).allowed).toBe(false)
      yield* at(2_500)
      expect(summary(yield* consumeWith(limiter, bucket))).toEqual({ allowed: true, remaining: 0, reset: 1, retryAfter: 0 })
      // a long pause refills to `limit`, never above
      yield* at(60_000)
      expect((yield* consumeWith(limiter, bucket)).remaining).toBe(4)
    }).pipe(Effect.provide(RateLimit.layerMemory())))

  it("reports the wait for a costly request", () => {
    const request = { algorithm: "token-bucket", key: "k", limit: 10, windowMillis: 10_000, cost: 4 } as const
    const drained = RateLimitStore.tokenBucket({ tokens: 1.5, updatedAt: 0 }, request, 0)
    expect(drained.result).toEqual({ allowed: false, remaining: 1, resetMillis: 2_500, retryAfterMillis: 2_500 })
  })
})

describe("RateLimiter when the store fails", () => {
  const countingStore = (inner: Layer.Layer<RateLimitStore.RateLimitStore>) =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const context = yield* Layer.build(inner)
      const store = Context.get(context, RateLimitStore.RateLimitStore)
      const layer = Layer.succeed(RateLimitStore.RateLimitStore, {
        consume: (request) => Effect.andThen(Ref.update(calls, (n) => n + 1), store.consume(request))
      })
      return { calls, layer }
    })

  const refusing = RateLimitStore.layerRedis().pipe(Layer.provide(redisRefusing))
  const hanging = RateLimitStore.layerRedis().pipe(Layer.provide(redisHanging))
  const fixed = policy("fixed-window", 2, "1 minute")

  it.effect("local-fallback counts in memory and says so; the store is skipped for the retry interval", () =>
    Effect.gen(function*() {
      const store = yield* countingStore(refusing)
      const limiter = yield* RateLimit.make({ onStoreFailure: "local-fallback", storeRetryInterval: "1 second" }).pipe(
        Effect.provide(store.layer)
      )
      const decisions = [
        yield* limiter.consume(fixed, "ip"),
        yield* limiter.consume(fixed, "ip"),
        yield* limiter.consume(fixed, "ip")
      ]
      expect(decisions.map((d) => [d.allowed, d.degraded])).toEqual([
        [true, "local-fallback"],
        [true, "local-fallback"],
        [false, "local-fallback"]
      ])
      expect(decisions[2]!.retryAfterSeconds).toBe(60)
      expect(yield* Ref.get(store.calls)).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* limiter.consume(fixed, "ip")
      expect(yield* Ref.get(store.calls)).toBe(2)
      const failures = yield* Metric.value(
        Metric.withAttributes(Metrics.rateLimitStoreFailures, { policy: "fixed-window", fallback: "local-fallback" })
      )
      expect(failures.count).toBe(4)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("fail-open admits everything while the store is down", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimit.make({ onStoreFailure: "fail-open" }).pipe(Effect.provide(refusing))
      for (let i = 0; i < 5; i++) {
        expect(yield* limiter.consume(fixed, "ip")).toMatchObject({ allowed: true, degraded: "fail-open", limit: 2 })
      }
    }))

  it.effect("a store that hangs costs at most storeTimeout, once per retry interval", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimit.make({ storeTimeout: "100 millis", storeRetryInterval: "5 seconds" }).pipe(
        Effect.provide(hanging)
      )
      const first = yield* Effect.forkChild(limiter.consume(fixed, "ip"))
      yield* TestClock.adjust("100 millis")
      expect((yield* Fiber.join(first)).degraded).toBe("local-fallback")
      // no more waiting while the store is skipped
      expect((yield* limiter.consume(fixed, "ip")).degraded).toBe("local-fallback")
    }))

  it.effect("a store that throws is a fallback too, and a recovered store is used again", () =>
    Effect.gen(function*() {
      const healthy = yield* Ref.make(false)
      const memory = RateLimitStore.makeMemory()
      const flaky = Layer.succeed(RateLimitStore.RateLimitStore, {
        consume: (request) =>
          Effect.flatMap(Ref.get(healthy), (ok) => ok ? memory.consume(request) : Effect.die(new TypeError("bad reply")))
      })
      const limiter = yield* RateLimit.make({ storeRetryInterval: "1 second" }).pipe(Effect.provide(flaky))
      expect((yield* limiter.consume(fixed, "ip")).degraded).toBe("local-fallback")
      yield* Ref.set(healthy, true)
      yield* TestClock.adjust("1 second")
      expect(yield* limiter.consume(fixed, "ip")).toMatchObject({ allowed: true, degraded: undefined, remaining: 1 })
    }))
})

describe("the in-process store's sweep", () => {
  it("drops expired keys and keeps every key still counting, whatever order they were used in", () => {
    const consume = RateLimitStore.memoryConsumerNow()
    const request = (algorithm: RateLimitStore.Algorithm, key: string, windowMillis: number) =>
      ({ algorithm, key, limit: 1, windowMillis, cost: 1 }) as const
    const algorithms: ReadonlyArray<RateLimitStore.Algorithm> = ["fixed-window", "sliding-window", "token-bucket"]
    for (const algorithm of algorithms) {
      const long = request(algorithm, `long-${algorithm}`, 60_000)
      const short = request(algorithm, `short-${algorithm}`, 1_000)
      expect(consume(long, 10_000).allowed).toBe(true)
      expect(consume(short, 10_000).allowed).toBe(true)
      // Used again after the long key: the short key now sits behind it in the order of use.
      expect(consume(long, 10_500).allowed).toBe(false)
      // Sweeps run at 20 s and 40 s: the short key has long expired there, the long one still counts.
      expect(consume(short, 20_000).allowed).toBe(true)
      expect(consume(long, 40_000).allowed).toBe(false)
      // Two windows later, the long key counts nothing any more.
      expect(consume(long, 200_000).allowed).toBe(true)
    }
  })
})
