/**
 * Rate limiting, framework-agnostic: a named {@link RateLimitPolicy} (algorithm, limit, window), a
 * {@link RateLimiter} that takes a {@link Decision} for a key, and enough in each decision to emit the
 * draft-10 `RateLimit-Policy` / `RateLimit` fields and `Retry-After` (see `RateLimitHeaders`).
 *
 * `consume` never fails. When the store (Redis) fails or does not answer within `storeTimeout`, the
 * configured fallback decides instead — `fail-open` admits the request, `local-fallback` counts it in
 * this process's memory (each process then admits up to the limit on its own) — and the store is left
 * alone for `storeRetryInterval` so an outage costs one timeout per interval, not one per request.
 * The decision says it was `degraded`; a warning is logged when the store goes away and when it is back.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Config, Context, Duration, Effect, Layer, Metric } from "effect"
import type * as Redis from "effect/persistence/Redis"
import * as Metrics from "./Metrics.ts"
import * as RateLimitStore from "./RateLimitStore.ts"

/** @since 0.1.0 */
export interface RateLimitPolicy {
  /** Appears in the `RateLimit-Policy` and `RateLimit` fields and in metrics; keep it short and stable. */
  readonly name: string
  readonly algorithm: RateLimitStore.Algorithm
  readonly limit: number
  readonly window: Duration.Input
}

/** @since 0.1.0 */
export type OnStoreFailure = "fail-open" | "local-fallback"

/** @since 0.1.0 */
export interface Decision {
  readonly allowed: boolean
  /** The policy's quota (`q`). */
  readonly limit: number
  /** Whole units left (`r`). */
  readonly remaining: number
  /** Seconds until more quota is available (`t`); equals `retryAfterSeconds` on a rejection. */
  readonly resetSeconds: number
  /** Seconds to wait before retrying (`Retry-After`), at least 1 on a rejection; 0 when allowed. */
  readonly retryAfterSeconds: number
  readonly policy: RateLimitPolicy
  /** The window in whole seconds (`w`). */
  readonly windowSeconds: number
  /** Set when the decision was taken without the store. */
  readonly degraded: OnStoreFailure | undefined
}

/** @since 0.1.0 */
export interface LimiterOptions {
  readonly onStoreFailure: OnStoreFailure
  /** Longest wait for the store before the fallback decides. */
  readonly storeTimeout: Duration.Input
  /** After a store failure, decide without it for this long. */
  readonly storeRetryInterval: Duration.Input
}

/** @since 0.1.0 */
export const defaultOptions: LimiterOptions = {
  onStoreFailure: "local-fallback",
  storeTimeout: "100 millis",
  storeRetryInterval: "1 second"
}

/**
 * Defaults: 100 requests per minute per client IP overall, 5 registrations per minute per user.
 *
 * @since 0.1.0
 */
export const defaultPolicies = {
  general: { name: "general", algorithm: "sliding-window", limit: 100, window: "1 minute" },
  register: { name: "register", algorithm: "sliding-window", limit: 5, window: "1 minute" }
} as const satisfies Record<string, RateLimitPolicy>

/** @since 0.1.0 */
export class RateLimiter extends Context.Service<RateLimiter, {
  /** Consumes `cost` (default 1) units of `policy` for `key` (an IP prefix, a user id…). Never fails. */
  readonly consume: (
    policy: RateLimitPolicy,
    key: string,
    options?: { readonly cost?: number | undefined }
  ) => Effect.Effect<Decision>
}>()("@live-events/resilience/RateLimiter") {}

// Parsing "1 minute" on every request shows in profiles: policies are long-lived objects, cache per object.
const windowMillisCache = new WeakMap<RateLimitPolicy, number>()
const windowMillisOf = (policy: RateLimitPolicy) => {
  let millis = windowMillisCache.get(policy)
  if (millis === undefined) {
    millis = Math.max(1, Math.round(Duration.toMillis(Duration.fromInputUnsafe(policy.window))))
    windowMillisCache.set(policy, millis)
  }
  return millis
}

/**
 * Turns a store result into a decision (whole seconds, rounded up).
 *
 * @since 0.1.0
 */
export const toDecision = (
  policy: RateLimitPolicy,
  result: RateLimitStore.ConsumeResult,
  degraded: OnStoreFailure | undefined
): Decision => {
  const retryAfterSeconds = result.allowed ? 0 : Math.max(1, Math.ceil(result.retryAfterMillis / 1000))
  return {
    allowed: result.allowed,
    limit: policy.limit,
    remaining: result.remaining,
    resetSeconds: result.allowed ? Math.max(0, Math.ceil(result.resetMillis / 1000)) : retryAfterSeconds,
    retryAfterSeconds,
    policy,
    windowSeconds: Math.max(1, Math.ceil(windowMillisOf(policy) / 1000)),
    degraded
  }
}

const consumeRequest = (policy: RateLimitPolicy, key: string, cost: number): RateLimitStore.ConsumeRequest => ({
  algorithm: policy.algorithm,
  key: `${policy.name}:${key}`,
  limit: policy.limit,
  windowMillis: windowMillisOf(policy),
  cost
})

/**
 * A limiter over the current `RateLimitStore`, with its own memory store for `local-fallback`.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Partial<LimiterOptions> = {}) {
  const store = yield* RateLimitStore.RateLimitStore
  const settings = { ...defaultOptions, ...options }
  const storeTimeout = Duration.fromInputUnsafe(settings.storeTimeout)
  const retryIntervalMillis = Duration.toMillis(Duration.fromInputUnsafe(settings.storeRetryInterval))
  const local = RateLimitStore.memoryConsumer()
  let skipStoreUntil = 0
  let storeDown = false

  const counters = new Map<string, Metric.Counter<number>>()
  const counterFor = (id: string, make: () => Metric.Counter<number>) => {
    let counter = counters.get(id)
    if (counter === undefined) {
      counter = make()
      counters.set(id, counter)
    }
    return counter
  }
  // By policy name, then allowed / limited: no key built per decision. Each a series of its own
  // (`Metrics.counterSeries`): `Metric.withAttributes` would add its attributes to the fiber's context on
  // every update, and a request's context is deep enough that Effect then copies all of it.
  const decisionCounters = new Map<string, readonly [Metric.Counter<number>, Metric.Counter<number>]>()
  const decisionCounter = (policy: string, allowed: boolean): Metric.Counter<number> => {
    let pair = decisionCounters.get(policy)
    if (pair === undefined) {
      pair = [
        Metrics.counterSeries(Metrics.rateLimitDecisions, { policy, decision: "allowed" }),
        Metrics.counterSeries(Metrics.rateLimitDecisions, { policy, decision: "limited" })
      ]
      decisionCounters.set(policy, pair)
    }
    return allowed ? pair[0] : pair[1]
  }
  const countDecision = (policy: string, allowed: boolean) => Metric.update(decisionCounter(policy, allowed), 1)
  const countStoreFailure = (policy: string) =>
    Metric.update(
      counterFor(`f:${policy}`, () =>
        Metric.withAttributes(Metrics.rateLimitStoreFailures, { policy, fallback: settings.onStoreFailure })),
      1
    )

  const fallback = (policy: RateLimitPolicy, request: RateLimitStore.ConsumeRequest): Effect.Effect<Decision> =>
    Effect.andThen(
      countStoreFailure(policy.name),
      settings.onStoreFailure === "fail-open"
        ? Effect.succeed(toDecision(policy, {
          allowed: true,
          remaining: Math.max(0, request.limit - request.cost),
          resetMillis: request.windowMillis,
          retryAfterMillis: 0
        }, "fail-open"))
        : Effect.map(local(request), (result) => toDecision(policy, result, "local-fallback"))
    )

  const storeFailed = (policy: RateLimitPolicy, request: RateLimitStore.ConsumeRequest, cause: Cause.Cause<unknown>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      skipStoreUntil = now + retryIntervalMillis
      const warn = storeDown ? Effect.void : Effect.logWarning(
        `Rate-limit store unavailable, deciding with ${settings.onStoreFailure}`,
        cause
      )
      storeDown = true
      return Effect.andThen(warn, fallback(policy, request))
    })

  // The request of a (policy, key) pair at cost 1, kept: a client's key repeats on every request, and
  // the store then looks up the same string each time. Bounded per policy.
  const requests = new Map<RateLimitPolicy, Map<string, RateLimitStore.ConsumeRequest>>()
  const requestOf = (policy: RateLimitPolicy, key: string, cost: number): RateLimitStore.ConsumeRequest => {
    if (cost !== 1) return consumeRequest(policy, key, cost)
    let byKey = requests.get(policy)
    if (byKey === undefined) {
      // Policies are configuration (a handful); one built per call still stays bounded.
      if (requests.size >= 64) requests.clear()
      requests.set(policy, byKey = new Map())
    }
    let request = byKey.get(key)
    if (request === undefined) {
      if (byKey.size >= 10_000) byKey.clear()
      byKey.set(key, request = consumeRequest(policy, key, 1))
    }
    return request
  }

  const consume = (
    policy: RateLimitPolicy,
    key: string,
    options?: { readonly cost?: number | undefined }
  ): Effect.Effect<Decision> => {
    const request = requestOf(policy, key, Math.max(1, Math.round(options?.cost ?? 1)))
    const consumeNow = store.consumeNow
    if (consumeNow !== undefined) {
      // An in-process store: no timeout, no fallback, no span — a few map operations.
      return Effect.withFiber((fiber) => {
        const decision = toDecision(policy, consumeNow(request, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()), undefined)
        decisionCounter(policy.name, decision.allowed).updateUnsafe(1, fiber.context)
        return Effect.succeed(decision)
      })
    }
    return Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Decision> => {
      if (now < skipStoreUntil) return fallback(policy, request)
      return store.consume(request).pipe(
        Effect.timeoutOrElse({
          duration: storeTimeout,
          orElse: () => Effect.fail(new RateLimitStore.RateLimitStoreError({ message: "Rate-limit store timed out" }))
        }),
        Effect.map((result) => toDecision(policy, result, undefined)),
        Effect.tap(() => {
          if (!storeDown) return Effect.void
          storeDown = false
          return Effect.logWarning("Rate-limit store is back")
        }),
        // Any failure of the store, defects included, becomes the configured fallback: a rate limiter
        // must never turn an outage of its store into a 5xx. Interruption still propagates.
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.interrupt : storeFailed(policy, request, cause)
        )
      )
    }).pipe(
      Effect.tap((decision) => countDecision(policy.name, decision.allowed)),
      // No stack capture: it was a quarter of the cost of a decision.
      Effect.withSpan(
        "RateLimiter.consume",
        { attributes: { "resilience.ratelimit.policy": policy.name } },
        { captureStackTrace: false }
      )
    )
  }

  return RateLimiter.of({ consume })
})

/** A limiter over the current `RateLimitStore`. @since 0.1.0 */
export const layer = (
  options?: Partial<LimiterOptions>
): Layer.Layer<RateLimiter, never, RateLimitStore.RateLimitStore> => Layer.effect(RateLimiter, make(options))

/** A limiter counting in this process only (embedded mode, tests). @since 0.1.0 */
export const layerMemory = (options?: Partial<LimiterOptions>): Layer.Layer<RateLimiter> =>
  layer(options).pipe(Layer.provide(RateLimitStore.layerMemory))

/** A limiter shared by every process through Redis. @since 0.1.0 */
export const layerRedis = (
  options?: Partial<LimiterOptions> & { readonly prefix?: string | undefined }
): Layer.Layer<RateLimiter, never, Redis.Redis> =>
  layer(options).pipe(Layer.provide(RateLimitStore.layerRedis({ prefix: options?.prefix })))

/**
 * Limiter options from the environment: `RATE_LIMIT_ON_STORE_FAILURE` (`fail-open` | `local-fallback`),
 * `RATE_LIMIT_STORE_TIMEOUT`, `RATE_LIMIT_STORE_RETRY_INTERVAL`.
 *
 * @since 0.1.0
 */
export const optionsConfig: Config.Config<LimiterOptions> = Config.all({
  onStoreFailure: Config.Literals(["fail-open", "local-fallback"], "RATE_LIMIT_ON_STORE_FAILURE").pipe(
    Config.withDefault(defaultOptions.onStoreFailure)
  ),
  storeTimeout: Config.Duration("RATE_LIMIT_STORE_TIMEOUT").pipe(
    Config.withDefault(Duration.fromInputUnsafe(defaultOptions.storeTimeout))
  ),
  storeRetryInterval: Config.Duration("RATE_LIMIT_STORE_RETRY_INTERVAL").pipe(
    Config.withDefault(Duration.fromInputUnsafe(defaultOptions.storeRetryInterval))
  )
})

/**
 * A policy from the environment over a default: `RATE_LIMIT_<NAME>_LIMIT`, `RATE_LIMIT_<NAME>_WINDOW`,
 * `RATE_LIMIT_<NAME>_ALGORITHM`, e.g. `RATE_LIMIT_REGISTER_LIMIT=5`.
 *
 * @since 0.1.0
 */
export const policyConfig = (base: RateLimitPolicy): Config.Config<RateLimitPolicy> => {
  const prefix = `RATE_LIMIT_${base.name.replace(/-/g, "_").toUpperCase()}`
  return Config.all({
    name: Config.succeed(base.name),
    algorithm: Config.Literals(["fixed-window", "sliding-window", "token-bucket"], `${prefix}_ALGORITHM`).pipe(
      Config.withDefault(base.algorithm)
    ),
    limit: Config.Int(`${prefix}_LIMIT`).pipe(Config.withDefault(base.limit)),
    window: Config.Duration(`${prefix}_WINDOW`).pipe(Config.withDefault(Duration.fromInputUnsafe(base.window)))
  })
}

/** A limiter with {@link optionsConfig} over the current store. @since 0.1.0 */
export const layerConfig: Layer.Layer<RateLimiter, Config.ConfigError, RateLimitStore.RateLimitStore> = Layer.effect(
  RateLimiter,
  Effect.gen(function*() {
    return yield* make(yield* optionsConfig)
  })
)
