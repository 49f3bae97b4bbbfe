/**
 * The contract on `layerMemory`, plus the time-dependent behaviour (category lifetimes, grace, soft and
 * hard timeouts) on a TestClock, where it is deterministic.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Fiber, Layer, Metric, Option } from "effect"
import { TestClock } from "effect/testing"
import { CacheMetrics, CacheSettings, TwoLevelCache } from "../src/index.ts"
import { cacheContract } from "./CacheContract.ts"
import { freshKey, Source } from "./Fixtures.ts"

cacheContract("memory", TwoLevelCache.layerMemory())

const withCache = <A, E>(
  body: (cache: TwoLevelCache.Service) => Effect.Effect<A, E>,
  settings?: Parameters<typeof TwoLevelCache.layerMemory>[0]
) => Effect.flatMap(TwoLevelCache.TwoLevelCache, body).pipe(Effect.provide(TwoLevelCache.layerMemory(settings)))

describe("TwoLevelCache (memory, TestClock)", () => {
  it.effect("per-category lifetimes follow the specification's defaults", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const lifetimes = [
          ["eventDetails", 5],
          ["users", 10],
          ["waitlistPositions", 1],
          ["counts", 2]
        ] as const
        for (const [category, minutes] of lifetimes) {
          const key = freshKey(category)
          const source = new Source(1)
          const read = cache.getOrSet(key, source.load, { category, softTimeout: "1 hour" })
          yield* read
          yield* TestClock.adjust(`${minutes * 60 - 1} seconds`)
          yield* read
          expect(source.loads).toBe(1)
          yield* TestClock.adjust("2 seconds")
          yield* read
          expect(source.loads, category).toBe(2)
        }
      })
    ))

  it.effect("grace: an expired value is served while the factory fails, until grace ends", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const key = freshKey("grace")
        const options = { ttl: "1 minute", grace: "10 minutes" } as const
        yield* cache.getOrSet(key, Effect.succeed("cached"), options)
        yield* TestClock.adjust("5 minutes")
        expect(yield* cache.getOrSet(key, Effect.fail("database down"), options)).toBe("cached")
        yield* TestClock.adjust("7 minutes")
        expect(yield* Effect.flip(cache.getOrSet(key, Effect.fail("database down"), options))).toBe("database down")
      })
    ))

  it.effect("stale-while-revalidate: with softTimeout 0 the stale value comes back at once and is refreshed", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const key = freshKey("swr")
        const source = new Source("v1", { delay: "1 second" })
        const options = { ttl: "1 minute", softTimeout: 0 } as const
        const first = yield* Effect.forkChild(cache.getOrSet(key, source.load, options))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(first)).toBe("v1")
        yield* TestClock.adjust("2 minutes")
        source.value = "v2"
        expect(yield* cache.getOrSet(key, source.load, options)).toBe("v1")
        yield* TestClock.adjust("1 second")
        yield* Effect.yieldNow
        expect(yield* cache.getOrSet(key, source.load, options)).toBe("v2")
        expect(source.loads).toBe(2)
      })
    ))

  it.effect("soft timeout: a slow refresh is awaited only that long; a fast one is awaited", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const key = freshKey("soft")
        const source = new Source("v1")
        const options = { ttl: "1 minute", softTimeout: "100 millis" } as const
        yield* cache.getOrSet(key, source.load, options)
        yield* TestClock.adjust("2 minutes")
        // Fast refresh: the fresh value arrives within the soft timeout.
        source.value = "v2"
        expect(yield* cache.getOrSet(key, source.load, options)).toBe("v2")
        yield* TestClock.adjust("2 minutes")
        // Slow refresh: the stale value answers after 100 ms; the refresh completes in the background.
        const slow = new Source("v3", { delay: "5 seconds" })
        const reader = yield* Effect.forkChild(cache.getOrSet(key, slow.load, options))
        yield* TestClock.adjust("100 millis")
        expect(yield* Fiber.join(reader)).toBe("v2")
        yield* TestClock.adjust("5 seconds")
        expect(yield* cache.getOrSet(key, slow.load, options)).toBe("v3")
        expect(slow.loads).toBe(1)
      })
    ))

  it.effect("hard timeout: the factory is interrupted; CacheTimeout without a stale value, stale with one", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const key = freshKey("hard")
        const reader = yield* Effect.forkChild(Effect.flip(cache.getOrSet(key, Effect.never, { hardTimeout: "2 seconds" })))
        yield* TestClock.adjust("2 seconds")
        const error = yield* Fiber.join(reader)
        expect(error).toBeInstanceOf(TwoLevelCache.CacheTimeout)
        expect((error as TwoLevelCache.CacheTimeout).code).toBe("cache-timeout")

        const options = { ttl: "1 minute", softTimeout: "1 hour", hardTimeout: "2 seconds" } as const
        yield* cache.getOrSet(key, Effect.succeed("cached"), options)
        yield* TestClock.adjust("2 minutes")
        const stale = yield* Effect.forkChild(cache.getOrSet(key, Effect.never, options))
        yield* TestClock.adjust("2 seconds")
        expect(yield* Fiber.join(stale)).toBe("cached")
      })
    ))

  it.effect("peek answers what getOrSet would without loading: fresh copies only, counted as hits", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const now = () => Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
        const [key, tagged] = [freshKey("peek"), freshKey("peek-tagged")]
        expect(cache.peek(key, yield* now())).toBeUndefined()
        yield* cache.getOrSet(key, Effect.succeed("v1"), { ttl: "1 minute" })
        yield* cache.getOrSet(tagged, Effect.succeed("t1"), { ttl: "1 minute", tags: ["peek-tag"] })
        const before = (yield* cache.health).hitRatio
        expect(cache.peek(key, yield* now())).toBe("v1")
        expect(cache.peek(tagged, yield* now())).toBe("t1")
        expect((yield* cache.health).hitRatio).toBeGreaterThan(before)
        // Gone once invalidated, by key or by tag.
        yield* cache.invalidateTag("peek-tag")
        expect(cache.peek(tagged, yield* now())).toBeUndefined()
        yield* cache.invalidate(key)
        expect(cache.peek(key, yield* now())).toBeUndefined()
        // Past its time to live a copy is not fresh, even though getOrSet could still serve it from grace.
        yield* cache.getOrSet(key, Effect.succeed("v2"), { ttl: "1 minute", grace: "10 minutes" })
        expect(cache.peek(key, yield* now())).toBe("v2")
        yield* TestClock.adjust("61 seconds")
        expect(cache.peek(key, yield* now())).toBeUndefined()
      })
    ))

  it.effect("invalidated values are never served from grace", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const key = freshKey("no-grace-after-invalidate")
        yield* cache.getOrSet(key, Effect.succeed("old"), { ttl: "1 minute" })
        yield* cache.invalidate(key)
        expect(yield* Effect.flip(cache.getOrSet(key, Effect.fail("database down")))).toBe("database down")
      })
    ))

  it.effect("L1 is bounded: the least recently used entry is evicted and counted", () =>
    withCache(
      (cache) =>
        Effect.gen(function*() {
          const evictions = yield* Metric.value(CacheMetrics.evictions)
          const [a, b, c] = [freshKey("a"), freshKey("b"), freshKey("c")]
          const source = new Source(0)
          yield* cache.getOrSet(a, source.load)
          yield* cache.getOrSet(b, source.load)
          yield* cache.getOrSet(a, source.load) // a is now the most recently used
          yield* cache.getOrSet(c, source.load) // evicts b
          expect(yield* cache.get(a)).toEqual(Option.some(0))
          expect(yield* cache.get(b)).toEqual(Option.none())
          expect((yield* cache.health).l1.entries).toBe(2)
          expect((yield* Metric.value(CacheMetrics.evictions)).count).toBe(Number(evictions.count) + 1)
        }),
      { l1Capacity: 2 }
    ))

  it.effect("metrics count hits and misses per tier and category; health reports the ratio", () =>
    withCache((cache) =>
      Effect.gen(function*() {
        const l1Hits = Metric.withAttributes(CacheMetrics.hits, { tier: "l1", category: "users" })
        const l1Misses = Metric.withAttributes(CacheMetrics.misses, { tier: "l1", category: "users" })
        // The registry is global to the test file: compare deltas.
        const hitsBefore = Number((yield* Metric.value(l1Hits)).count)
        const missesBefore = Number((yield* Metric.value(l1Misses)).count)
        const key = freshKey("metrics")
        for (let i = 0; i < 4; i++) yield* cache.getOrSet(key, Effect.succeed(i), { category: "users" })
        expect(Number((yield* Metric.value(l1Hits)).count) - hitsBefore).toBe(3)
        expect(Number((yield* Metric.value(l1Misses)).count) - missesBefore).toBe(1)
        expect((yield* cache.health).hitRatio).toBe(0.75)
      })
    ))

  it.effect("settings come from the environment; without REDIS_URL the cache is in-process", () =>
    Effect.gen(function*() {
      const settings = yield* CacheSettings.config
      expect(Duration.toMillis(settings.ttl.eventDetails)).toBe(60_000)
      expect(Duration.toMillis(settings.ttl.users)).toBe(10 * 60_000)
      expect(settings.l1Capacity).toBe(5)
      const cache = yield* TwoLevelCache.TwoLevelCache
      const health = yield* cache.health
      expect([health.l2, health.bus, health.l1.capacity]).toEqual(["disabled", "disabled", 5])
    }).pipe(
      Effect.provide(
        TwoLevelCache.layerConfig.pipe(
          Layer.provideMerge(
            ConfigProvider.layer(
              ConfigProvider.fromUnknown({ CACHE_TTL_EVENT_DETAILS: "1 minute", CACHE_L1_CAPACITY: "5" })
            )
          )
        )
      )
    ))

  it.effect("CACHE_BUS_HEARTBEAT takes a duration or the documented bare 0, and refuses anything else", () =>
    Effect.gen(function*() {
      const build = (heartbeat: string) =>
        Effect.exit(Effect.scoped(Layer.build(TwoLevelCache.layerConfig.pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ CACHE_BUS_HEARTBEAT: heartbeat })))
        ))))
      expect((yield* build("0"))._tag).toBe("Success")
      expect((yield* build("250 millis"))._tag).toBe("Success")
      expect((yield* build("often"))._tag).toBe("Failure")
    }))
})
