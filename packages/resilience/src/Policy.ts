/**
 * Named resilience policies per kind of operation: `database-read`, `database-write`,
 * `broker-publish`, `webhook`. `Policy.run(name, effect)` wraps a call in, from the outside in:
 *
 * 1. **total timeout** — the caller's whole budget, retries and backoff included (`PolicyTimeout` "total");
 * 2. **retry** — transient failures only, jittered exponential backoff, never sooner than `Retry-After`;
 * 3. **circuit breaker** — sees every attempt, so once it opens the retry loop stops at the next
 *    attempt with `CircuitOpen` (not retryable): fast failure, no retry storm against a dead dependency;
 * 4. **bulkhead** — concurrency limit with a bounded queue (`BulkheadRejected`); inside the breaker so an
 *    open circuit rejects before queueing, and its rejections count for nothing in the breaker;
 * 5. **attempt timeout** — one try (`PolicyTimeout` "attempt", retryable), innermost so time spent
 *    queueing in the bulkhead is not charged to the dependency and a hung call counts as a failure.
 *
 * Settings come from {@link config} (environment, `RESILIENCE_<POLICY>_<FIELD>` and
 * `RESILIENCE_CIRCUIT_<CIRCUIT>_<FIELD>`) with {@link defaults} for every field. Every call is a
 * `Policy.run` span and is counted in `resilience_calls_total` by outcome.
 *
 * @since 0.1.0
 */
import { Config, Context, Duration, Effect, Exit, Layer, Metric, Option } from "effect"
import type { CircuitBreaker } from "effect/persistence"
import type * as Redis from "effect/persistence/Redis"
import * as Breaker from "./Breaker.ts"
import * as Bulkhead from "./Bulkhead.ts"
import * as Metrics from "./Metrics.ts"
import * as Retry from "./Retry.ts"
import * as Timeout from "./Timeout.ts"

/** The operation kinds the service knows. @since 0.1.0 */
export type PolicyName = "database-read" | "database-write" | "broker-publish" | "webhook"

/** @since 0.1.0 */
export const policyNames: ReadonlyArray<PolicyName> = ["database-read", "database-write", "broker-publish", "webhook"]

/** @since 0.1.0 */
export interface PolicySettings {
  /** Budget of the whole call, retries and backoff included. */
  readonly timeout: Duration.Input
  /** Budget of one attempt. */
  readonly attemptTimeout: Duration.Input
  readonly retry: Retry.RetrySettings
  /** HTTP statuses from a peer worth retrying (`webhook`). */
  readonly retryableStatuses: ReadonlyArray<number>
  /** Name of the circuit guarding the dependency (shared by the policies that call it). */
  readonly circuit: string
  readonly bulkhead: Bulkhead.BulkheadSettings
}

/** @since 0.1.0 */
export interface Settings {
  readonly policies: Readonly<Record<string, PolicySettings>>
  readonly circuits: Readonly<Record<string, Breaker.CircuitSettings>>
}

/**
 * Defaults, sized for a small pool (5–10 connections: small pools measured best here) and the promise "503 within 1 s, back
 * within 5 s": a dead database trips the circuit after 5 consecutive transient failures, each
 * attempt is bounded by 1 s, and the circuit probes again after 1 s, then 2 s, capped at 4 s.
 *
 * @since 0.1.0
 */
export const defaults: Settings = {
  policies: {
    "database-read": {
      timeout: "3 seconds",
      attemptTimeout: "1 second",
      retry: {
        maxRetries: 2,
        baseDelay: "25 millis",
        factor: 2,
        maxDelay: "250 millis",
        jitter: 0.2,
        maxRetryAfter: "1 second"
      },
      retryableStatuses: [429, 503],
      circuit: "database",
      bulkhead: { maxConcurrent: 32, maxQueue: 256, queueTimeout: "1 second" }
    },
    "database-write": {
      timeout: "5 seconds",
      attemptTimeout: "2 seconds",
      retry: {
        maxRetries: 2,
        baseDelay: "50 millis",
        factor: 2,
        maxDelay: "500 millis",
        jitter: 0.2,
        maxRetryAfter: "1 second"
      },
      retryableStatuses: [429, 503],
      circuit: "database",
      bulkhead: { maxConcurrent: 16, maxQueue: 256, queueTimeout: "2 seconds" }
    },
    "broker-publish": {
      timeout: "10 seconds",
      attemptTimeout: "3 seconds",
      retry: {
        maxRetries: 4,
        baseDelay: "100 millis",
        factor: 2,
        maxDelay: "2 seconds",
        jitter: 0.2,
        maxRetryAfter: "5 seconds"
      },
      retryableStatuses: [429, 503],
      circuit: "broker",
      bulkhead: { maxConcurrent: 16, maxQueue: 512, queueTimeout: "5 seconds" }
    },
    webhook: {
      timeout: "30 seconds",
      attemptTimeout: "10 seconds",
      retry: {
        maxRetries: 3,
        baseDelay: "500 millis",
        factor: 2,
        maxDelay: "10 seconds",
        jitter: 0.2,
        maxRetryAfter: "20 seconds"
      },
      retryableStatuses: [429, 503],
      circuit: "webhook",
      bulkhead: { maxConcurrent: 8, maxQueue: 64, queueTimeout: "10 seconds" }
    }
  },
  circuits: {
    database: {
      mode: "consecutive",
      failures: 5,
      failureRate: 0.5,
      windowSize: 20,
      minimumCalls: 10,
      openDuration: "1 second",
      maxOpenDuration: "4 seconds"
    },
    broker: {
      mode: "rate",
      failures: 5,
      failureRate: 0.5,
      windowSize: 20,
      minimumCalls: 10,
      openDuration: "5 seconds",
      maxOpenDuration: "1 minute"
    },
    webhook: {
      mode: "rate",
      failures: 5,
      failureRate: 0.5,
      windowSize: 20,
      minimumCalls: 10,
      openDuration: "30 seconds",
      maxOpenDuration: "5 minutes"
    }
  }
}

const envName = (...parts: ReadonlyArray<string>) =>
  ["RESILIENCE", ...parts].join("_").replace(/-/g, "_").toUpperCase()

const durationConfig = (name: string, fallback: Duration.Input) =>
  Config.Duration(name).pipe(Config.withDefault(Duration.fromInputUnsafe(fallback)))
const intConfig = (name: string, fallback: number) => Config.Int(name).pipe(Config.withDefault(fallback))
const numberConfig = (name: string, fallback: number) => Config.Finite(name).pipe(Config.withDefault(fallback))

const policyConfig = (name: string, base: PolicySettings): Config.Config<PolicySettings> =>
  Config.all({
    timeout: durationConfig(envName(name, "TIMEOUT"), base.timeout),
    attemptTimeout: durationConfig(envName(name, "ATTEMPT_TIMEOUT"), base.attemptTimeout),
    retry: Config.all({
      maxRetries: intConfig(envName(name, "RETRY_MAX_RETRIES"), base.retry.maxRetries),
      baseDelay: durationConfig(envName(name, "RETRY_BASE_DELAY"), base.retry.baseDelay),
      factor: numberConfig(envName(name, "RETRY_FACTOR"), base.retry.factor),
      maxDelay: durationConfig(envName(name, "RETRY_MAX_DELAY"), base.retry.maxDelay),
      jitter: numberConfig(envName(name, "RETRY_JITTER"), base.retry.jitter),
      maxRetryAfter: durationConfig(envName(name, "RETRY_MAX_RETRY_AFTER"), base.retry.maxRetryAfter)
    }),
    retryableStatuses: Config.succeed(base.retryableStatuses),
    circuit: Config.String(envName(name, "CIRCUIT")).pipe(Config.withDefault(base.circuit)),
    bulkhead: Config.all({
      maxConcurrent: intConfig(envName(name, "BULKHEAD_MAX_CONCURRENT"), base.bulkhead.maxConcurrent),
      maxQueue: intConfig(envName(name, "BULKHEAD_MAX_QUEUE"), base.bulkhead.maxQueue),
      queueTimeout: durationConfig(envName(name, "BULKHEAD_QUEUE_TIMEOUT"), base.bulkhead.queueTimeout)
    })
  })

const circuitConfig = (name: string, base: Breaker.CircuitSettings): Config.Config<Breaker.CircuitSettings> =>
  Config.all({
    mode: Config.Literals(["consecutive", "rate"], envName("CIRCUIT", name, "MODE")).pipe(
      Config.withDefault(base.mode)
    ),
    failures: intConfig(envName("CIRCUIT", name, "FAILURES"), base.failures),
    failureRate: numberConfig(envName("CIRCUIT", name, "FAILURE_RATE"), base.failureRate),
    windowSize: intConfig(envName("CIRCUIT", name, "WINDOW_SIZE"), base.windowSize),
    minimumCalls: intConfig(envName("CIRCUIT", name, "MINIMUM_CALLS"), base.minimumCalls),
    openDuration: durationConfig(envName("CIRCUIT", name, "OPEN_DURATION"), base.openDuration),
    maxOpenDuration: durationConfig(envName("CIRCUIT", name, "MAX_OPEN_DURATION"), base.maxOpenDuration)
  })

/**
 * Settings from the environment over {@link defaults}, e.g. `RESILIENCE_DATABASE_READ_TIMEOUT=2 seconds`,
 * `RESILIENCE_DATABASE_WRITE_RETRY_MAX_RETRIES=0`, `RESILIENCE_WEBHOOK_BULKHEAD_MAX_CONCURRENT=4`,
 * `RESILIENCE_CIRCUIT_DATABASE_MODE=rate`, `RESILIENCE_CIRCUIT_DATABASE_OPEN_DURATION=2 seconds`.
 *
 * @since 0.1.0
 */
export const config = (base: Settings = defaults): Config.Config<Settings> =>
  Config.all({
    policies: Config.all(
      Object.fromEntries(Object.entries(base.policies).map(([name, settings]) => [name, policyConfig(name, settings)]))
    ),
    circuits: Config.all(
      Object.fromEntries(
        Object.entries(base.circuits).map(([name, settings]) => [name, circuitConfig(name, settings)])
      )
    )
  })

/** Every error a policy adds to the call's own errors. @since 0.1.0 */
export type PolicyError = Timeout.PolicyTimeout | Breaker.CircuitOpen | Bulkhead.BulkheadRejected

/** @since 0.1.0 */
export class Policies extends Context.Service<Policies, {
  readonly run: <A, E, R>(name: string, self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PolicyError, R>
  readonly circuitState: (circuit: string) => Effect.Effect<Breaker.CircuitState>
  readonly circuitStates: Effect.Effect<ReadonlyArray<Breaker.CircuitState>>
  readonly bulkhead: (name: string) => Bulkhead.Bulkhead
  readonly settings: Settings
}>()("@live-events/resilience/Policies") {}

type Outcome = "success" | "failure" | "rejected" | "timeout" | "interrupted"

const outcomeOf = <A, E>(exit: Exit.Exit<A, E>): Outcome => {
  if (Exit.isSuccess(exit)) return "success"
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined) {
    return exit.cause.reasons.every((reason) => reason._tag === "Interrupt") ? "interrupted" : "failure"
  }
  const tag = (error.error as { readonly _tag?: unknown } | undefined)?._tag
  return tag === "PolicyTimeout" ? "timeout" : tag === "CircuitOpen" || tag === "BulkheadRejected" ? "rejected" : "failure"
}

/**
 * Builds the policies over `Breakers` built from the same settings.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(settings: Settings) {
  const breakers = yield* Breaker.make(settings.circuits)
  const compiled = new Map<
    string,
    <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PolicyError, R>
  >()
  const bulkheads = new Map<string, Bulkhead.Bulkhead>()
  for (const [name, policy] of Object.entries(settings.policies)) {
    if (!breakers.circuits.includes(policy.circuit)) {
      return yield* Effect.die(new Error(`Policy "${name}" uses an unknown circuit "${policy.circuit}"`))
    }
    const attemptTimeout = Timeout.timeout({ policy: name, kind: "attempt", duration: policy.attemptTimeout })
    const totalTimeout = Timeout.timeout({ policy: name, kind: "total", duration: policy.timeout })
    const bulkhead = Bulkhead.make({ ...policy.bulkhead, policy: name })
    const classify = { retryableStatuses: policy.retryableStatuses }
    const retry = Retry.retry(policy.retry, { ...classify, policy: name })
    const counters = Object.fromEntries(
      (["success", "failure", "rejected", "timeout", "interrupted"] as const).map((outcome) => [
        outcome,
        Metrics.counterSeries(Metrics.calls, { policy: name, outcome })
      ])
    ) as Record<Outcome, Metric.Metric<number, unknown>>
    // No stack capture per call: it costs more than the rest of the span.
    const spanOptions = { attributes: { "resilience.policy": name, "resilience.circuit": policy.circuit } }
    bulkheads.set(name, bulkhead)
    compiled.set(
      name,
      <A, E, R>(self: Effect.Effect<A, E, R>) =>
        self.pipe(
          attemptTimeout,
          bulkhead.run,
          (attempt) => breakers.execute(attempt, { circuit: policy.circuit, policy: name, classify }),
          retry,
          totalTimeout,
          Effect.onExit((exit) => Metric.update(counters[outcomeOf(exit)], 1)),
          Effect.withSpan("Policy.run", spanOptions, { captureStackTrace: false })
        )
    )
  }
  const lookup = <T>(map: Map<string, T>, name: string): T => {
    const found = map.get(name)
    if (found === undefined) throw new Error(`No resilience policy named "${name}" (known: ${[...map.keys()].join(", ")})`)
    return found
  }
  return Policies.of({
    // An unknown name is a programming error: a defect, raised inside the effect.
    run: (name, self) => {
      const policy = compiled.get(name)
      return policy === undefined ? Effect.suspend(() => lookup(compiled, name)(self)) : policy(self)
    },
    circuitState: breakers.state,
    circuitStates: breakers.states,
    bulkhead: (name) => lookup(bulkheads, name),
    settings
  })
})

/**
 * Runs `self` through the named policy.
 *
 * @example
 * ```ts
 * const event = yield* Policy.run("database-read", repository.findById(id))
 * // or, data-last
 * repository.findById(id).pipe(Policy.run("database-read"))
 * ```
 *
 * @since 0.1.0
 */
export const run: {
  (name: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PolicyError, R | Policies>
  <A, E, R>(name: string, self: Effect.Effect<A, E, R>): Effect.Effect<A, E | PolicyError, R | Policies>
} = function(name: string, self?: Effect.Effect<any, any, any>): any {
  if (self === undefined) {
    return (effect: Effect.Effect<any, any, any>) => Policies.use((policies) => policies.run(name, effect))
  }
  return Policies.use((policies) => policies.run(name, self))
}

/**
 * How long a caller should wait before trying again after `error`, when it is a policy rejection or
 * timeout (or any error carrying a `retryAfter` duration): for a 503 `Retry-After`. Whole seconds,
 * rounded up, at least 1.
 *
 * @since 0.1.0
 */
export const retryAfterSeconds = (error: unknown): Option.Option<number> => {
  if (typeof error !== "object" || error === null) return Option.none()
  const tagged = error as { readonly _tag?: unknown; readonly retryAfter?: unknown }
  if (tagged._tag === "PolicyTimeout") return Option.some(1)
  if (Duration.isDuration(tagged.retryAfter)) {
    return Option.some(Math.max(1, Math.ceil(Duration.toMillis(tagged.retryAfter) / 1000)))
  }
  return Option.none()
}

/**
 * `true` for the errors a policy raises without the dependency answering (open circuit, full bulkhead,
 * timeout): the HTTP layer answers them with 503 and `Retry-After`.
 *
 * @since 0.1.0
 */
export const isPolicyError = (error: unknown): error is PolicyError =>
  typeof error === "object" && error !== null && "_tag" in error &&
  (error._tag === "PolicyTimeout" || error._tag === "CircuitOpen" || error._tag === "BulkheadRejected")

/**
 * Policies over the current circuit store (`Breaker.layerStoreMemory` or `Breaker.layerStoreRedis`).
 *
 * @since 0.1.0
 */
export const layer = (
  settings: Settings = defaults
): Layer.Layer<Policies, never, CircuitBreaker.CircuitBreakerStore> => Layer.effect(Policies, make(settings))

/**
 * Policies from {@link config}, over the current circuit store.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  base: Settings = defaults
): Layer.Layer<Policies, Config.ConfigError, CircuitBreaker.CircuitBreakerStore> =>
  Layer.effect(
    Policies,
    Effect.gen(function*() {
      return yield* make(yield* config(base))
    })
  )

/**
 * Policies with circuit state in this process (embedded mode, tests).
 *
 * @since 0.1.0
 */
export const layerMemory = (settings: Settings = defaults): Layer.Layer<Policies> =>
  layer(settings).pipe(Layer.provide(Breaker.layerStoreMemory))

/**
 * Policies from {@link config} with circuit state shared by every process through Redis.
 *
 * @since 0.1.0
 */
export const layerRedisConfig = (options?: {
  readonly base?: Settings | undefined
  readonly prefix?: string | undefined
  readonly storeTimeout?: Duration.Input | undefined
}): Layer.Layer<Policies, Config.ConfigError, Redis.Redis> =>
  layerConfig(options?.base).pipe(
    Layer.provide(Breaker.layerStoreRedis({ prefix: options?.prefix, storeTimeout: options?.storeTimeout }))
  )
