/**
 * The contract on `layerRedis`, then what only a shared tier can show: two processes (two cache instances,
 * each with its own L1 and its own Redis connections), the bus reconnect flush, cross-process races and
 * leases, and reads that survive Redis dying. Redis at 127.0.0.1:6379 is required: without it every test
 * here fails.
 */
import { createConnection, createServer, type Socket } from "node:net"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Schema } from "effect"
import { TwoLevelCache } from "../src/index.ts"
import { cacheContract } from "./CacheContract.ts"
import { freshKey, run, runPrefix, Source } from "./Fixtures.ts"
import { deleteRunKeys, killClients, REDIS_URL, redisRequired } from "./TestRedis.ts"

afterAll(() => Effect.runPromise(Effect.ignore(deleteRunKeys(run))))

cacheContract(
  "redis",
  TwoLevelCache.layerRedis({ url: REDIS_URL, prefix: runPrefix("contract") }).pipe(Layer.provide(redisRequired))
)

/** One "process": a cache instance with its own L1 and connections, named for CLIENT KILL. */
const instance = (prefix: string, name: string, settings?: Parameters<typeof TwoLevelCache.layerRedis>[1]) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      TwoLevelCache.layerRedis({ url: REDIS_URL, prefix, clientName: name }, settings).pipe(Layer.provide(redisRequired))
    )
    const cache = Context.get(context, TwoLevelCache.TwoLevelCache)
    yield* waitUntil(Effect.map(cache.health, (health) => health.bus === "up"), "bus up")
    return cache
  })

const waitUntil = <E>(condition: Effect.Effect<boolean, E>, what: string, timeoutMillis = 5_000) =>
  Effect.gen(function*() {
    for (let waited = 0; waited < timeoutMillis; waited += 10) {
      if (yield* condition) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

const twoProcesses = (settings?: Parameters<typeof TwoLevelCache.layerRedis>[1]) =>
  Effect.gen(function*() {
    const prefix = runPrefix(freshKey("pair"))
    const names = { a: `${prefix}:A`, b: `${prefix}:B` }
    const a = yield* instance(prefix, names.a, settings)
    const b = yield* instance(prefix, names.b, settings)
    return { a, b, names }
  })

describe("TwoLevelCache across processes (Redis)", () => {
  it.live("an update through A is never served stale by B once B received the invalidation", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoProcesses()
      const key = freshKey("event")
      const database = new Source({ title: "before" })
      expect(yield* b.getOrSet(key, database.load)).toEqual({ title: "before" })
      expect(yield* a.getOrSet(key, database.load)).toEqual({ title: "before" }) // from L2
      expect(database.loads).toBe(1)

      database.value = { title: "after" }
      yield* a.invalidate(key)
      // A reads its own write at once.
      expect(yield* a.getOrSet(key, database.load)).toEqual({ title: "after" })
      // B sees it as soon as the message arrived, and never the old value afterwards.
      yield* waitUntil(
        Effect.map(b.getOrSet(key, database.load), (value) => value.title === "after"),
        "B to see the update",
        2_000
      )
      const reads = yield* Effect.forEach(Array.from({ length: 200 }), () => b.getOrSet(key, database.load), {
        concurrency: 20
      })
      expect(reads.every((value) => value.title === "after")).toBe(true)
    }))

  it.live("tag and set invalidations reach the other process", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoProcesses()
      const [key, other] = [freshKey("details"), freshKey("set")]
      const tag = freshKey("event-tag")
      yield* b.getOrSet(key, Effect.succeed("v1"), { tags: [tag] })
      yield* b.getOrSet(other, Effect.succeed("v1"))
      yield* a.invalidateTag(tag)
      yield* a.set(other, "v2")
      yield* waitUntil(
        Effect.map(b.getOrSet(key, Effect.succeed("v2"), { tags: [tag] }), (value) => value === "v2"),
        "tag invalidation at B"
      )
      yield* waitUntil(Effect.map(b.get(other), (value) => Option.getOrUndefined(value) === "v2"), "set at B")
    }))

  it.live("after the bus reconnects, B's L1 was flushed (invalidations may have been missed)", () =>
    Effect.gen(function*() {
      const { a, b, names } = yield* twoProcesses()
      const [untouched, changed] = [freshKey("untouched"), freshKey("changed")]
      const database = new Source("old")
      yield* b.getOrSet(untouched, database.load)
      yield* b.getOrSet(changed, database.load)
      expect((yield* b.health).l1.entries).toBe(2)

      // Cut B's subscription, and invalidate while it is down: B cannot receive that message.
      expect(yield* killClients(`${names.b}:sub`)).toBe(1)
      database.value = "new"
      yield* a.invalidate(changed)

      yield* waitUntil(Effect.map(b.health, (health) => health.bus === "up" && health.l1.entries === 0), "flush")
      expect(yield* b.getOrSet(changed, database.load)).toBe("new")
      // The untouched key comes back from L2, not from the factory.
      expect(yield* b.getOrSet(untouched, database.load)).toBe("old")
      expect(database.loads).toBe(3)
    }))

  it.live("racing reader across processes: B's fill that fetched before A's write is never served again", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoProcesses()
      const key = freshKey("race")
      const database = new Source("old")
      const fetched = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const slowLoad = Effect.gen(function*() {
        const value = yield* database.load
        yield* Deferred.succeed(fetched, undefined)
        yield* Deferred.await(gate)
        return value
      })
      const reader = yield* Effect.forkChild(b.getOrSet(key, slowLoad))
      yield* Deferred.await(fetched)
      database.value = "new"
      yield* a.invalidate(key)
      // Let B's fill finish, whether or not B has processed the bus message yet: either B skips the write,
      // or Redis' generation (read back with the write) keeps the value out of B's L1 and readers reject
      // the copy in Redis.
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(reader)).toBe("old")
      expect(yield* a.get(key)).toEqual(Option.none())
      expect(yield* b.get(key)).toEqual(Option.none())
      expect(yield* b.getOrSet(key, database.load)).toBe("new")
      expect(yield* a.getOrSet(key, database.load)).toBe("new")
    }))

  it.live("stampede: 1,000 concurrent cold reads per process run the factory once per process", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoProcesses()
      const key = freshKey("stampede")
      const loadsA = new Source(7, { delay: "30 millis" })
      const loadsB = new Source(7, { delay: "30 millis" })
      const reads = (cache: TwoLevelCache.Service, source: Source<number>) =>
        Effect.forEach(Array.from({ length: 1_000 }), () => cache.getOrSet(key, source.load), {
          concurrency: "unbounded"
        })
      const [fromA, fromB] = yield* Effect.all([reads(a, loadsA), reads(b, loadsB)], { concurrency: 2 })
      expect(new Set([...fromA, ...fromB])).toEqual(new Set([7]))
      expect(loadsA.loads).toBeLessThanOrEqual(1)
      expect(loadsB.loads).toBeLessThanOrEqual(1)
    }))

  it.live("lease: concurrent cold reads in two processes run the factory once in total", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoProcesses({ lease: true, leaseTimeout: "2 seconds" })
      const key = freshKey("lease")
      const database = new Source(7, { delay: "100 millis" })
      const reads = (cache: TwoLevelCache.Service) =>
        Effect.forEach(Array.from({ length: 100 }), () => cache.getOrSet(key, database.load), {
          concurrency: "unbounded"
        })
      const [fromA, fromB] = yield* Effect.all([reads(a), reads(b)], { concurrency: 2 })
      expect(new Set([...fromA, ...fromB])).toEqual(new Set([7]))
      expect(database.loads).toBe(1)
    }))

  it.live("values cross processes through their Schema codec", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoProcesses()
      const Profile = Schema.Struct({ name: Schema.String, joinedAt: Schema.Date })
      const key = freshKey("codec")
      const profile = { name: "Ada", joinedAt: new Date("2026-01-02T03:04:05.000Z") }
      yield* a.getOrSet(key, Effect.succeed(profile), { codec: Profile })
      const fromB = yield* b.getOrSet(key, Effect.die("B must read L2"), { codec: Profile })
      expect(fromB.joinedAt).toBeInstanceOf(Date)
      expect(fromB).toEqual(profile)
    }))
})

describe("TwoLevelCache when Redis fails (reads never fail)", () => {
  it.live("L2 pointed at a closed port: every read, write and invalidation still succeeds", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        TwoLevelCache.layerRedis({ url: "redis://127.0.0.1:1", prefix: runPrefix("closed"), connectTimeoutMillis: 200 })
      )
      const cache = Context.get(context, TwoLevelCache.TwoLevelCache)
      const database = new Source("value")
      const keys = Array.from({ length: 20 }, (_, i) => freshKey(`down-${i}`))
      const reads = yield* Effect.forEach(
        Array.from({ length: 400 }, (_, i) => keys[i % keys.length]!),
        (key) => cache.getOrSet(key, database.load),
        { concurrency: 50 }
      )
      expect(reads.every((value) => value === "value")).toBe(true)
      // The bus never came up, so L1 is not trusted (another process's invalidations would pass this one
      // by): reads go to the factory, and concurrent misses of a key still share one run.
      expect(database.loads).toBeLessThan(reads.length)
      yield* cache.invalidate(keys[0]!)
      yield* cache.invalidateTag("some-tag")
      yield* cache.set(keys[1]!, "set")
      // Not even a value set here is trusted while the bus is down: the source decides.
      expect(yield* cache.getOrSet(keys[1]!, database.load)).toBe("value")
      const health = yield* cache.health
      expect(health.status).toBe("degraded")
      expect(health.l2).toBe("down")
      expect(health.pendingInvalidations).toBe(3)
    }))

  it.live("connections killed during a read load: every read succeeds (L1 / factory)", () =>
    Effect.gen(function*() {
      const { a, names } = yield* twoProcesses()
      const database = new Source("value", { delay: "1 millis" })
      const keys = Array.from({ length: 50 }, (_, i) => freshKey(`load-${i}`))
      let failures = 0
      let reads = 0
      const load = Effect.forEach(
        Array.from({ length: 5_000 }, (_, i) => keys[i % keys.length]!),
        (key, i) =>
          (i % 7 === 0 ? a.invalidate(key) : Effect.void).pipe(
            Effect.andThen(a.getOrSet(key, database.load, { ttl: "20 millis" })),
            Effect.tap(() => Effect.sync(() => reads++)),
            Effect.catchCause(() => Effect.sync(() => failures++))
          ),
        { concurrency: 32, discard: true }
      )
      let killed = 0
      const killer = Effect.gen(function*() {
        for (let round = 0; round < 5; round++) {
          yield* Effect.sleep("30 millis")
          killed += yield* killClients(names.a)
          killed += yield* killClients(`${names.a}:sub`)
        }
      })
      yield* Effect.all([load, killer], { concurrency: 2, discard: true })
      expect(killed).toBeGreaterThan(0)
      expect(failures).toBe(0)
      expect(reads).toBe(5_000)
      // And the cache recovers by itself.
      yield* waitUntil(Effect.map(a.health, (health) => health.status === "up"), "recovery")
    }))
})

/**
 * A black hole between one cache instance and Redis: connections stay open, nothing passes while
 * `cut` is on (as during a network partition), and everything held flows again once it is off.
 */
const silentCut = Effect.acquireRelease(
  Effect.promise(async () => {
    const target = new URL(REDIS_URL)
    const sockets = new Set<Socket>()
    let cut = false
    const server = createServer((client) => {
      const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) })
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        sockets.add(from)
        from.on("data", (chunk) => to.write(chunk))
        from.on("error", () => to.destroy())
        from.on("close", () => to.destroy())
        if (cut) from.pause()
      }
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as { port: number }).port
    const setCut = (on: boolean) => {
      cut = on
      for (const socket of sockets) on ? socket.pause() : socket.resume()
    }
    return { url: `redis://127.0.0.1:${port}`, setCut, server, sockets }
  }),
  ({ server, sockets }) =>
    Effect.promise(() => {
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    })
)

describe("TwoLevelCache cut off from Redis without a disconnect", () => {
  it.live("notices the silent cut and serves nothing another process invalidated meanwhile", () =>
    Effect.gen(function*() {
      const proxy = yield* silentCut
      const prefix = runPrefix(freshKey("cut"))
      const a = Context.get(
        yield* Layer.build(TwoLevelCache.layerRedis({ url: proxy.url, prefix, heartbeatMillis: 200 }).pipe(Layer.provide(redisRequired))),
        TwoLevelCache.TwoLevelCache
      )
      yield* waitUntil(Effect.map(a.health, (health) => health.bus === "up"), "bus up")
      const b = yield* instance(prefix, `${prefix}:B`)
      const key = freshKey("event")
      const database = new Source({ title: "before" })
      expect(yield* a.getOrSet(key, database.load)).toEqual({ title: "before" })

      proxy.setCut(true)
      database.value = { title: "after" }
      yield* b.invalidate(key)
      // Two heartbeats at most: the cut is noticed although no connection closed.
      yield* waitUntil(Effect.map(a.health, (health) => health.bus === "down"), "bus down", 2_000)
      expect(yield* a.getOrSet(key, database.load)).toEqual({ title: "after" })
      expect(yield* a.get(key)).toEqual(Option.none())

      proxy.setCut(false)
      yield* waitUntil(Effect.map(a.health, (health) => health.bus === "up"), "bus back up")
      expect(yield* a.getOrSet(key, database.load)).toEqual({ title: "after" })
    }))
})
