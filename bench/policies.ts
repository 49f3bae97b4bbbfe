/**
 * bench:policies — per-call overhead of each resilience policy against a bare effect.
 *
 * Each case runs ITERATIONS sequential calls of a trivial effect (`Effect.sync`) wrapped in one policy,
 * ROUNDS times after a warm-up round; the median round gives the cost per call and the overhead over
 * the bare effect. Memory stores only unless BENCH_REDIS=1 (then the Redis rate-limit store and circuit
 * store at REDIS_URL, default redis://127.0.0.1:6379, are measured too: their cost is the round trip).
 * Bounded: about 10 s with the defaults.
 *
 *   node --conditions=@live-events/source bench/policies.ts
 *   BENCH_ITERATIONS=50000 BENCH_REDIS=1 node --conditions=@live-events/source bench/policies.ts
 */
import { NodeRedis } from "@effect/platform-node"
import { Breaker, Bulkhead, Policy, RateLimit, Retry, Timeout } from "@live-events/resilience"
import { Context, Effect, Layer, Metric } from "effect"

const ITERATIONS = Number(process.env["BENCH_ITERATIONS"] ?? 20_000)
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5)
const REDIS = process.env["BENCH_REDIS"] === "1"
const REDIS_URL = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

let sink = 0
const bare = Effect.sync(() => {
  sink++
  return sink
})

type Case = { readonly name: string; readonly run: Effect.Effect<unknown, unknown>; readonly iterations?: number }

const measure = ({ iterations = ITERATIONS, run }: Case) =>
  Effect.gen(function*() {
    const round = Effect.gen(function*() {
      const start = performance.now()
      for (let i = 0; i < iterations; i++) yield* run
      return ((performance.now() - start) * 1e6) / iterations
    })
    yield* round // warm-up
    const rounds: Array<number> = []
    for (let r = 0; r < ROUNDS; r++) rounds.push(yield* round)
    rounds.sort((a, b) => a - b)
    return rounds[Math.floor(rounds.length / 2)]!
  })

const program = Effect.gen(function*() {
  const retrySettings = Policy.defaults.policies["database-read"]!.retry
  const breakers = yield* Breaker.make(Policy.defaults.circuits).pipe(Effect.provide(Breaker.layerStoreMemory))
  const bulkhead = Bulkhead.make({ policy: "bench", maxConcurrent: 32, maxQueue: 256, queueTimeout: "1 second" })
  const policies = yield* Layer.build(Policy.layerMemory())
  const policiesService = Context.get(policies, Policy.Policies)
  const limiter = Context.get(yield* Layer.build(RateLimit.layerMemory()), RateLimit.RateLimiter)
  const policy = (algorithm: RateLimit.RateLimitPolicy["algorithm"]): RateLimit.RateLimitPolicy => ({
    name: algorithm,
    algorithm,
    limit: 1_000_000_000,
    window: "1 minute"
  })
  let key = 0
  const cases: Array<Case> = [
    { name: "bare effect", run: bare },
    { name: "Timeout.timeout (attempt)", run: bare.pipe(Timeout.timeout({ policy: "bench", kind: "attempt", duration: "1 second" })) },
    { name: "Retry.retry (success path)", run: bare.pipe(Retry.retry(retrySettings, { policy: "bench" })) },
    { name: "Bulkhead.run", run: bulkhead.run(bare) },
    { name: "Breakers.execute (memory store)", run: breakers.execute(bare, { circuit: "database", policy: "bench" }) },
    { name: "Policy.run database-read (memory)", run: policiesService.run("database-read", bare) },
    { name: "RateLimiter fixed-window (memory)", run: Effect.suspend(() => limiter.consume(policy("fixed-window"), `k${key++ % 1000}`)) },
    { name: "RateLimiter sliding-window (memory)", run: Effect.suspend(() => limiter.consume(policy("sliding-window"), `k${key++ % 1000}`)) },
    { name: "RateLimiter token-bucket (memory)", run: Effect.suspend(() => limiter.consume(policy("token-bucket"), `k${key++ % 1000}`)) }
  ]

  if (REDIS) {
    const redis = yield* Layer.build(NodeRedis.layer({ url: REDIS_URL }))
    const prefix = `bench:resilience:${process.pid}:${Date.now()}:`
    const redisLimiter = Context.get(
      yield* Layer.build(RateLimit.layerRedis({ prefix }).pipe(Layer.provide(Layer.succeedContext(redis)))),
      RateLimit.RateLimiter
    )
    const redisPolicies = Context.get(
      yield* Layer.build(
        Policy.layer().pipe(
          Layer.provide(Breaker.layerStoreRedis({ prefix: `${prefix}circuit:` })),
          Layer.provide(Layer.succeedContext(redis))
        )
      ),
      Policy.Policies
    )
    const redisIterations = Math.min(ITERATIONS, 5_000)
    for (const algorithm of ["fixed-window", "sliding-window", "token-bucket"] as const) {
      cases.push({
        name: `RateLimiter ${algorithm} (Redis)`,
        run: Effect.suspend(() => redisLimiter.consume(policy(algorithm), `k${key++ % 1000}`)),
        iterations: redisIterations
      })
    }
    cases.push({ name: "Policy.run database-read (Redis circuit)", run: redisPolicies.run("database-read", bare), iterations: redisIterations })
  }

  const results: Array<{ name: string; nsPerCall: number }> = []
  for (const benchCase of cases) results.push({ name: benchCase.name, nsPerCall: yield* measure(benchCase) })
  const baseline = results[0]!.nsPerCall
  const width = Math.max(...results.map((result) => result.name.length))
  console.log(`bench:policies — ${ITERATIONS} calls × ${ROUNDS} rounds (median), Node ${process.version}`)
  console.log(`${"case".padEnd(width)}  ${"ns/call".padStart(10)}  ${"overhead".padStart(10)}  ${"calls/s".padStart(12)}`)
  for (const { name, nsPerCall } of results) {
    const delta = nsPerCall - baseline
    const overhead = name === "bare effect" ? "—" : `${delta >= 0 ? "+" : "−"}${Math.abs(delta).toFixed(0)} ns`
    console.log(
      `${name.padEnd(width)}  ${nsPerCall.toFixed(0).padStart(10)}  ${overhead.padStart(10)}  ${
        Math.round(1e9 / nsPerCall).toLocaleString("en-US").padStart(12)
      }`
    )
  }
}).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map()))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
