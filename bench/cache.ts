/**
 * bench:cache — tiered get / getOrSet throughput of @live-events/cache beside bentocache, in the same run
 * (goal: ours ≥ 1.0× bentocache).
 *
 * Both caches are tiered: an in-process LRU in front of the same Redis, through the same driver
 * (node-redis; bentocache gets a small L2 driver over it, below, because its own Redis driver needs
 * ioredis). Ours also keeps its invalidation bus subscribed; bentocache runs without a bus. Both bound the
 * factory with a 5 s hard timeout (ours by default, bentocache's `hardTimeout` option). Each workload
 * runs both libraries alternately for `BENCH_ROUNDS` rounds and reports the best round of each:
 *
 *   l1-get        get of 1,000 warm keys (L1 hits), one caller after another
 *   l1-getOrSet   getOrSet of 1,000 warm keys (L1 hits), one caller after another
 *   l1-getOrSet×64  the same with 64 concurrent callers
 *   l2-getOrSet   getOrSet with an L1 of 1 entry over 1,000 keys: every read goes to Redis, 64 callers
 *   cold-getOrSet getOrSet of fresh keys: factory + Redis write, 64 callers
 *
 * Ours runs inside one Effect program (as a server handler would); bentocache awaits a promise per call
 * (as its users do).
 *
 *   npm run bench:cache   # env: BENCH_REDIS_URL (default redis://127.0.0.1:6379), BENCH_OPS (default 200000),
 *                         # BENCH_ROUNDS (default 5), BENCH_ONLY (workload name prefix)
 */
import { TwoLevelCache } from "@live-events/cache"
import { BentoCache, bentostore } from "bentocache"
import { memoryDriver } from "bentocache/drivers/memory"
import { Context, Effect, Layer } from "effect"
import { createClient } from "redis"

const REDIS_URL = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379"
const OPS = Number(process.env.BENCH_OPS ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const KEYS = 1_000
const CONCURRENCY = 64
const run = `bench-cache-${Date.now().toString(36)}`

const connectRedis = () => createClient({ url: REDIS_URL })
type RedisClient = ReturnType<typeof connectRedis>

/** A bentocache L2 driver over node-redis (the CacheDriver contract: strings in, strings out). */
class NodeRedisDriver {
  readonly type = "l2" as const
  private readonly client: RedisClient
  private readonly prefix: string
  constructor(client: RedisClient, prefix: string) {
    this.client = client
    this.prefix = prefix
  }
  private key(key: string) {
    return `${this.prefix}:${key}`
  }
  namespace(namespace: string) {
    return new NodeRedisDriver(this.client, `${this.prefix}:${namespace}`)
  }
  async get(key: string) {
    return (await this.client.get(this.key(key))) ?? undefined
  }
  async pull(key: string) {
    return (await this.client.getDel(this.key(key))) ?? undefined
  }
  async set(key: string, value: string, ttl?: number) {
    await (ttl === undefined
      ? this.client.set(this.key(key), value)
      : this.client.set(this.key(key), value, { PX: Math.max(1, Math.ceil(ttl)) }))
    return true
  }
  async clear() {
    for await (const keys of this.client.scanIterator({ MATCH: `${this.prefix}:*`, COUNT: 1000 })) {
      if (keys.length > 0) await this.client.del(keys)
    }
  }
  async delete(key: string) {
    return (await this.client.del(this.key(key))) > 0
  }
  async deleteMany(keys: Array<string>) {
    if (keys.length > 0) await this.client.del(keys.map((key) => this.key(key)))
    return true
  }
  async disconnect() {}
}

const eventDetails = (i: number) => ({
  id: `0193a0c4-7b1e-7c3a-9d2f-${String(i).padStart(12, "0")}`,
  title: `Event number ${i}`,
  description: "A description of moderate length, as event details have. ".repeat(3),
  startsAt: "2027-03-01T18:00:00.000Z",
  endsAt: "2027-03-01T21:00:00.000Z",
  timeZone: "Europe/Berlin",
  location: "Main hall",
  capacity: 200,
  confirmedCount: 120 + (i % 50),
  waitlistCount: 0,
  status: "published"
})

const keyOf = (i: number) => `event:${i % KEYS}`

const timed = async (ops: number, body: () => Promise<void>) => {
  const start = performance.now()
  await body()
  const seconds = (performance.now() - start) / 1000
  return ops / seconds
}

/** `workers` async loops sharing `ops` iterations. */
const inParallel = async (ops: number, workers: number, op: (i: number) => Promise<unknown>) => {
  let next = 0
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < ops) await op(next++)
  }))
}

const program = Effect.gen(function*() {
  const redis = connectRedis()
  redis.on("error", () => {})
  yield* Effect.promise(() => redis.connect())

  const bentoWith = (name: string, l1Items: number) =>
    new BentoCache({
      default: "tiered",
      stores: {
        tiered: bentostore()
          .useL1Layer(memoryDriver({ maxItems: l1Items }))
          .useL2Layer({ options: {}, factory: () => new NodeRedisDriver(redis, `${run}:bento:${name}`) })
      },
      ttl: "5m",
      // Ours bounds every factory run (5 s by default); bentocache only when asked: same bound for both.
      hardTimeout: "5s"
    })
  const oursWith = (name: string, l1Capacity: number) =>
    Effect.map(
      Layer.build(TwoLevelCache.layerRedis({ url: REDIS_URL, prefix: `${run}:ours:${name}` }, { l1Capacity })),
      (context) => Context.get(context, TwoLevelCache.TwoLevelCache)
    )

  const bento = bentoWith("warm", 10_000)
  const bentoL2 = bentoWith("l2", 1)
  const ours = yield* oursWith("warm", 10_000)
  const oursL2 = yield* oursWith("l2", 1)
  const options = { category: "eventDetails" } as const

  // Warm both: 1,000 keys in L1 and L2.
  for (let i = 0; i < KEYS; i++) {
    yield* ours.getOrSet(keyOf(i), Effect.succeed(eventDetails(i)), options)
    yield* oursL2.getOrSet(keyOf(i), Effect.succeed(eventDetails(i)), options)
    yield* Effect.promise(() => bento.getOrSet({ key: keyOf(i), factory: () => eventDetails(i) }))
    yield* Effect.promise(() => bentoL2.getOrSet({ key: keyOf(i), factory: () => eventDetails(i) }))
  }

  const oursTimed = (ops: number, body: Effect.Effect<void, TwoLevelCache.CacheTimeout>) =>
    Effect.promise(() => timed(ops, () => Effect.runPromise(body)))

  let cold = 0
  const workloads: ReadonlyArray<{
    readonly name: string
    readonly ops: number
    readonly ours: (ops: number) => Effect.Effect<number>
    readonly bento: (ops: number) => Promise<number>
  }> = [
    {
      name: "l1-get",
      ops: OPS,
      ours: (ops) =>
        oursTimed(ops, Effect.gen(function*() {
          for (let i = 0; i < ops; i++) yield* ours.get(keyOf(i))
        })),
      bento: (ops) =>
        timed(ops, async () => {
          for (let i = 0; i < ops; i++) await bento.get({ key: keyOf(i) })
        })
    },
    {
      name: "l1-getOrSet",
      ops: OPS,
      ours: (ops) =>
        oursTimed(ops, Effect.gen(function*() {
          for (let i = 0; i < ops; i++) yield* ours.getOrSet(keyOf(i), Effect.succeed(eventDetails(i)), options)
        })),
      bento: (ops) =>
        timed(ops, async () => {
          for (let i = 0; i < ops; i++) await bento.getOrSet({ key: keyOf(i), factory: () => eventDetails(i) })
        })
    },
    {
      name: `l1-getOrSet×${CONCURRENCY}`,
      ops: OPS,
      ours: (ops) =>
        oursTimed(
          ops,
          Effect.forEach(
            Array.from({ length: ops }, (_, i) => i),
            (i) => ours.getOrSet(keyOf(i), Effect.succeed(eventDetails(i)), options),
            { concurrency: CONCURRENCY, discard: true }
          )
        ),
      bento: (ops) =>
        timed(ops, () =>
          inParallel(ops, CONCURRENCY, (i) => bento.getOrSet({ key: keyOf(i), factory: () => eventDetails(i) })))
    },
    {
      name: `l2-getOrSet×${CONCURRENCY}`,
      ops: Math.ceil(OPS / 4),
      ours: (ops) =>
        oursTimed(
          ops,
          Effect.forEach(
            Array.from({ length: ops }, (_, i) => i),
            (i) => oursL2.getOrSet(keyOf(i * 7), Effect.succeed(eventDetails(i)), options),
            { concurrency: CONCURRENCY, discard: true }
          )
        ),
      bento: (ops) =>
        timed(ops, () =>
          inParallel(ops, CONCURRENCY, (i) => bentoL2.getOrSet({ key: keyOf(i * 7), factory: () => eventDetails(i) })))
    },
    {
      name: `cold-getOrSet×${CONCURRENCY}`,
      ops: Math.ceil(OPS / 10),
      ours: (ops) =>
        oursTimed(
          ops,
          Effect.forEach(
            Array.from({ length: ops }, () => cold++),
            (i) => ours.getOrSet(`cold:${i}`, Effect.succeed(eventDetails(i)), options),
            { concurrency: CONCURRENCY, discard: true }
          )
        ),
      bento: (ops) =>
        timed(ops, () =>
          inParallel(ops, CONCURRENCY, () => {
            const i = cold++
            return bento.getOrSet({ key: `cold:${i}`, factory: () => eventDetails(i) })
          }))
    }
  ]

  console.log(`bench:cache  ops/workload=${OPS} (l2 ÷4, cold ÷10)  rounds=${ROUNDS}  redis=${REDIS_URL}`)
  console.log(`${"workload".padEnd(20)} ${"ours ops/s".padStart(12)} ${"bentocache ops/s".padStart(17)} ${"ratio".padStart(7)}`)
  const ratios: Array<number> = []
  const only = process.env.BENCH_ONLY
  for (const workload of workloads.filter((w) => only === undefined || w.name.startsWith(only))) {
    let bestOurs = 0
    let bestBento = 0
    // Alternate which library goes first, so neither always pays the other's garbage collection debt.
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        bestOurs = Math.max(bestOurs, yield* workload.ours(workload.ops))
        bestBento = Math.max(bestBento, yield* Effect.promise(() => workload.bento(workload.ops)))
      } else {
        bestBento = Math.max(bestBento, yield* Effect.promise(() => workload.bento(workload.ops)))
        bestOurs = Math.max(bestOurs, yield* workload.ours(workload.ops))
      }
    }
    const ratio = bestOurs / bestBento
    ratios.push(ratio)
    console.log(
      `${workload.name.padEnd(20)} ${Math.round(bestOurs).toLocaleString("en").padStart(12)} ${
        Math.round(bestBento).toLocaleString("en").padStart(17)
      } ${ratio.toFixed(2).padStart(6)}×`
    )
  }
  const health = yield* ours.health
  console.log(`ours: l1 hit ratio ${(health.hitRatio * 100).toFixed(1)} %, l2 ${health.l2}, bus ${health.bus}`)
  console.log(`minimum ratio ${Math.min(...ratios).toFixed(2)}× (goal ≥ 1.00×): ${Math.min(...ratios) >= 1 ? "met" : "NOT met"}`)

  // Clean up this run's keys.
  yield* Effect.promise(async () => {
    for await (const keys of redis.scanIterator({ MATCH: `${run}:*`, COUNT: 1000 })) {
      if (keys.length > 0) await redis.del(keys)
    }
    await Promise.all([bento.disconnect(), bentoL2.disconnect()])
    redis.destroy()
  })
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
