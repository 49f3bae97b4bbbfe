/**
 * Contract of {@link TwoLevelCache}: `layerMemory` and `layerRedis` must both pass it unchanged.
 *
 * Clock: the suite runs on the live clock (`excludeTestServices`) because the Redis tier's timeouts and
 * reconnects are real-time; lifetimes are therefore short (tens of milliseconds). Isolation: every test
 * uses fresh keys, and the Redis layer a key prefix unique to the run.
 */
import { expect, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, type Layer, Option } from "effect"
import { TwoLevelCache } from "../src/index.ts"
import { freshKey, Source } from "./Fixtures.ts"

/** Registers the contract suite for `cacheLayer`. */
export const cacheContract = <E>(name: string, cacheLayer: Layer.Layer<TwoLevelCache.TwoLevelCache, E>): void =>
  layer(cacheLayer, { excludeTestServices: true, timeout: "60 seconds" })(`TwoLevelCache contract (${name})`, (it) => {
    it.effect("a miss runs the factory once; later reads are hits", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("basic")
        const source = new Source({ title: "v1" })
        expect(yield* cache.getOrSet(key, source.load)).toEqual({ title: "v1" })
        expect(yield* cache.getOrSet(key, source.load)).toEqual({ title: "v1" })
        expect(yield* cache.get(key)).toEqual(Option.some({ title: "v1" }))
        expect(source.loads).toBe(1)
        expect(yield* cache.get(freshKey("absent"))).toEqual(Option.none())
      }))

    it.effect("stampede: 1,000 concurrent cold reads of one key run the factory once", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("stampede")
        const source = new Source(42, { delay: "20 millis" })
        const values = yield* Effect.forEach(
          Array.from({ length: 1_000 }),
          () => cache.getOrSet(key, source.load, { category: "counts" }),
          { concurrency: "unbounded" }
        )
        expect(new Set(values)).toEqual(new Set([42]))
        expect(source.loads).toBe(1)
      }))

    it.effect("interrupting the reader that leads a flight does not fail the readers that joined it", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("leader")
        const started = yield* Deferred.make<void>()
        const source = new Source("v")
        const slowLoad = Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.sleep("50 millis")),
          Effect.andThen(source.load)
        )
        const leader = yield* Effect.forkChild(cache.getOrSet(key, slowLoad))
        yield* Deferred.await(started)
        const follower = yield* Effect.forkChild(cache.getOrSet(key, slowLoad))
        yield* Effect.sleep("10 millis") // the follower has joined the leader's flight
        yield* Fiber.interrupt(leader)
        expect(yield* Fiber.join(follower)).toBe("v")
        expect(source.loads).toBe(1) // the leader's load never completed; the follower led a new one
      }))

    it.effect("invalidate: the next read loads the new value", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("invalidate")
        const source = new Source("v1")
        expect(yield* cache.getOrSet(key, source.load)).toBe("v1")
        source.value = "v2"
        yield* cache.invalidate(key)
        expect(yield* cache.get(key)).toEqual(Option.none())
        expect(yield* cache.getOrSet(key, source.load)).toBe("v2")
        expect(source.loads).toBe(2)
      }))

    it.effect("invalidateTag drops the entries written with the tag, and only those", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const tag = freshKey("event")
        const [a, b, other] = [freshKey("a"), freshKey("b"), freshKey("other")]
        const source = new Source(1)
        yield* cache.getOrSet(a, source.load, { tags: [tag] })
        yield* cache.getOrSet(b, source.load, { tags: [tag, freshKey("unrelated")] })
        yield* cache.getOrSet(other, source.load, { tags: [freshKey("unrelated")] })
        expect(source.loads).toBe(3)
        yield* cache.invalidateTag(tag)
        source.value = 2
        expect(yield* cache.getOrSet(a, source.load, { tags: [tag] })).toBe(2)
        expect(yield* cache.getOrSet(b, source.load, { tags: [tag] })).toBe(2)
        expect(yield* cache.getOrSet(other, source.load)).toBe(1)
        expect(source.loads).toBe(5)
        // Entries written after the invalidation are valid.
        expect(yield* cache.getOrSet(a, source.load, { tags: [tag] })).toBe(2)
        expect(source.loads).toBe(5)
      }))

    it.effect("invalidateAll drops the keys and the entries written with the tags, and only those", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const tag = freshKey("event")
        const [key, tagged, other] = [freshKey("key"), freshKey("tagged"), freshKey("other")]
        const source = new Source(1)
        yield* cache.getOrSet(key, source.load)
        yield* cache.getOrSet(tagged, source.load, { tags: [tag] })
        yield* cache.getOrSet(other, source.load, { tags: [freshKey("unrelated")] })
        yield* cache.invalidateAll(new Set([key]), new Set([tag]))
        source.value = 2
        expect(yield* cache.get(key)).toEqual(Option.none())
        expect(yield* cache.getOrSet(tagged, source.load, { tags: [tag] })).toBe(2)
        expect(yield* cache.getOrSet(other, source.load)).toBe(1)
        expect(source.loads).toBe(4)
        // A tag a cache cannot carry is a defect, as for `invalidateTag`.
        const exit = yield* Effect.exit(cache.invalidateAll([], ["bad\ttag"]))
        expect(exit._tag === "Failure" && exit.cause.reasons.some((reason) => reason._tag === "Die")).toBe(true)
      }))

    it.effect("a failing factory is not cached and its typed error reaches the caller", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("failing")
        const error = yield* Effect.flip(cache.getOrSet(key, Effect.fail("database down" as const)))
        expect(error).toBe("database down")
        expect(yield* cache.getOrSet(key, Effect.succeed("ok"))).toBe("ok")
      }))

    it.effect("entries expire after their time to live", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("ttl")
        const source = new Source("v1")
        const options = { ttl: "40 millis", grace: 0 } as const
        yield* cache.getOrSet(key, source.load, options)
        yield* cache.getOrSet(key, source.load, options)
        expect(source.loads).toBe(1)
        yield* Effect.sleep("80 millis")
        source.value = "v2"
        expect(yield* cache.getOrSet(key, source.load, options)).toBe("v2")
        expect(source.loads).toBe(2)
      }))

    it.effect("set replaces the value everywhere", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("set")
        const source = new Source("v1")
        yield* cache.getOrSet(key, source.load)
        yield* cache.set(key, "v2")
        expect(yield* cache.getOrSet(key, source.load)).toBe("v2")
        expect(yield* cache.get(key)).toEqual(Option.some("v2"))
        expect(source.loads).toBe(1)
      }))

    it.effect("racing reader: a value fetched before an invalidation is never stored after it", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("race")
        const database = new Source("old")
        const fetched = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        // The reader fetches "old", then stalls before the cache stores it.
        const slowLoad = Effect.gen(function*() {
          const value = yield* database.load
          yield* Deferred.succeed(fetched, undefined)
          yield* Deferred.await(gate)
          return value
        })
        const reader = yield* Effect.forkChild(cache.getOrSet(key, slowLoad))
        yield* Deferred.await(fetched)
        // The writer commits and invalidates while the reader holds the old value.
        database.value = "new"
        yield* cache.invalidate(key)
        // A reader arriving after the write does not join the stale fill: it sees the write.
        expect(yield* cache.getOrSet(key, database.load)).toBe("new")
        yield* Deferred.succeed(gate, undefined)
        // The racing reader gets what it fetched (its read began before the write) ...
        expect(yield* Fiber.join(reader)).toBe("old")
        // ... but nothing stale was left behind in any tier.
        expect(yield* cache.get(key)).toEqual(Option.some("new"))
        yield* cache.clearLocal
        expect(yield* cache.getOrSet(key, database.load)).toBe("new")
      }))

    it.effect("racing reader on a tag: a fill that started before invalidateTag is not stored", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        const key = freshKey("race-tag")
        const tag = freshKey("tag")
        const database = new Source("old")
        const fetched = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        const slowLoad = Effect.gen(function*() {
          const value = yield* database.load
          yield* Deferred.succeed(fetched, undefined)
          yield* Deferred.await(gate)
          return value
        })
        const reader = yield* Effect.forkChild(cache.getOrSet(key, slowLoad, { tags: [tag] }))
        yield* Deferred.await(fetched)
        database.value = "new"
        yield* cache.invalidateTag(tag)
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(reader)).toBe("old")
        expect(yield* cache.get(key)).toEqual(Option.none())
        expect(yield* cache.getOrSet(key, database.load, { tags: [tag] })).toBe("new")
      }))

    it.effect("health reports the tiers", () =>
      Effect.gen(function*() {
        const cache = yield* TwoLevelCache.TwoLevelCache
        // On a loaded machine a ping can miss the command timeout (the cache is then rightly "degraded"
        // for a moment): poll briefly instead of sampling once.
        let health = yield* cache.health
        for (let attempt = 0; attempt < 50 && health.status !== "up"; attempt++) {
          yield* Effect.sleep("20 millis")
          health = yield* cache.health
        }
        expect(health.status, JSON.stringify(health)).toBe("up")
        expect(health.l1.capacity).toBeGreaterThan(0)
        expect(health.pendingInvalidations).toBe(0)
      }))
  })
