/**
 * Named circuit breakers ("database", "broker", "webhook"…) with metrics, spans and a readable state.
 *
 * Built on `effect/persistence` `CircuitBreaker`, which already has both trip modes (consecutive
 * failures; failure rate over the last `windowSize` recorded calls, a count-based window), half-open
 * probing with a single probe, growing open durations, and a memory or Redis store (Redis state is
 * shared by every process, times come from Redis `TIME`). What it lacks and this module adds:
 *
 * - an outcome classifier: only failures that say the dependency is unavailable (`Retry.classify`
 *   `unavailable`: connection errors, timeouts, 503/429) and defects count against it; contention
 *   (deadlock, serialization, a "conflict"), constraint violations and business errors prove it is
 *   up; bulkhead rejections and interruptions count for nothing;
 * - a typed rejection, {@link CircuitOpen}, with the time the circuit stays open (for `Retry-After`);
 * - `resilience_circuit_transitions_total`, `resilience_circuit_state`, `resilience_rejections_total`,
 *   a log line and a span per state change;
 * - {@link Breakers} `state(circuit)` with `openUntil`, for `/health/ready` and 503 responses;
 * - a timeout on every store operation (a Redis that hangs must not hang calls). When the store fails,
 *   the call runs unrecorded (Effect's `onStoreError: "allow"`), so a Redis outage never blocks traffic.
 *
 * Several policies may share a circuit (database-read and database-write both use "database"): one
 * dependency, one circuit, one trip policy.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  Layer,
  Metric,
  Schedule,
  Schema,
  Stream
} from "effect"
import { CircuitBreaker } from "effect/persistence"
import type * as Redis from "effect/persistence/Redis"
import * as Metrics from "./Metrics.ts"
import * as Retry from "./Retry.ts"

/** @since 0.1.0 */
export interface CircuitSettings {
  /** `consecutive`: open after `failures` failures in a row; `rate`: open on a failure rate over a window. */
  readonly mode: "consecutive" | "rate"
  readonly failures: number
  /** Fraction in [0, 1] of failed calls among the last `windowSize` that opens the circuit (`rate`). */
  readonly failureRate: number
  readonly windowSize: number
  /** Calls recorded before the rate is judged (`rate`). */
  readonly minimumCalls: number
  /** First opening; later consecutive openings double up to `maxOpenDuration`. */
  readonly openDuration: Duration.Input
  readonly maxOpenDuration: Duration.Input
}

/**
 * The circuit is open (or half-open with its probe running): the call was not attempted.
 * `retryAfterMillis` is how long it stays open, `openUntil` the epoch millis it will let a probe through.
 *
 * @since 0.1.0
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  circuit: Schema.String,
  policy: Schema.String,
  state: Schema.Literals(["open", "half-open"]),
  retryAfterMillis: Schema.Number,
  openUntil: Schema.Number
}, { httpApiStatus: 503 }) {
  readonly code = "service-unavailable"
  get isRetryable(): boolean {
    return false
  }
  get retryAfter(): Duration.Duration {
    return Duration.millis(this.retryAfterMillis)
  }
  override get message() {
    return `${this.circuit} circuit is ${this.state}`
  }
}

/** @since 0.1.0 */
export interface CircuitState {
  readonly circuit: string
  readonly state: "closed" | "open" | "half-open"
  /** Time left open; zero when not open. */
  readonly retryAfter: Duration.Duration
  /** Epoch millis when an open circuit lets a probe through. */
  readonly openUntil: number | undefined
  /** A half-open circuit whose probe is running. */
  readonly probing: boolean
  /** Openings since the backoff last reset. */
  readonly consecutiveOpenings: number
  /** `store` when read from the (possibly shared) store, `local` when the store failed and this process's view is used. */
  readonly source: "store" | "local"
}

/** @since 0.1.0 */
export interface ExecuteOptions {
  readonly circuit: string
  /** Labels metrics and errors. */
  readonly policy: string
  readonly classify?: Retry.ClassifyOptions | undefined
}

/** @since 0.1.0 */
export class Breakers extends Context.Service<Breakers, {
  readonly execute: <A, E, R>(self: Effect.Effect<A, E, R>, options: ExecuteOptions) => Effect.Effect<A, E | CircuitOpen, R>
  /** The circuit's current state; never fails (falls back to this process's view). */
  readonly state: (circuit: string) => Effect.Effect<CircuitState>
  readonly states: Effect.Effect<ReadonlyArray<CircuitState>>
  readonly circuits: ReadonlyArray<string>
}>()("@live-events/resilience/Breakers") {}

const stateValue = { closed: 0, "half-open": 1, open: 2 } as const
const toLower = (tag: "Closed" | "Open" | "HalfOpen") =>
  tag === "Closed" ? "closed" as const : tag === "Open" ? "open" as const : "half-open" as const

/** The trip policy Effect's breaker understands. @since 0.1.0 */
export const tripPolicy = (settings: CircuitSettings): CircuitBreaker.TripPolicy =>
  settings.mode === "consecutive"
    ? CircuitBreaker.consecutive(settings.failures)
    : CircuitBreaker.rate({
      threshold: settings.failureRate,
      size: settings.windowSize,
      minimumCalls: Math.min(settings.minimumCalls, settings.windowSize)
    })

/** Open durations: `openDuration`, doubling on each consecutive opening, capped at `maxOpenDuration`. @since 0.1.0 */
export const openDurations = (settings: CircuitSettings): Duration.Input | Schedule.Schedule<unknown, number> => {
  const first = Duration.fromInputUnsafe(settings.openDuration)
  const max = Duration.fromInputUnsafe(settings.maxOpenDuration)
  if (Duration.isLessThanOrEqualTo(max, first)) return first
  return Schedule.exponential(first).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, max)))
  )
}

interface LocalView {
  state: "closed" | "open" | "half-open"
  openUntil: number
  consecutiveOpenings: number
}

/**
 * Builds one Effect `CircuitBreaker` per circuit over the current `CircuitBreakerStore`, and watches
 * their transitions for the lifetime of the scope.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(circuits: Readonly<Record<string, CircuitSettings>>) {
  const breakers = new Map<string, CircuitBreaker.CircuitBreaker>()
  const local = new Map<string, LocalView>()
  for (const [circuit, settings] of Object.entries(circuits)) {
    const breaker = yield* CircuitBreaker.make({
      tripPolicy: tripPolicy(settings),
      openDuration: openDurations(settings),
      maxOpenDuration: settings.maxOpenDuration,
      onStoreError: "allow"
    })
    breakers.set(circuit, breaker)
    local.set(circuit, { state: "closed", openUntil: 0, consecutiveOpenings: 0 })
    yield* Metric.update(Metric.withAttributes(Metrics.circuitState, { circuit }), 0)
    yield* breaker.transitions.pipe(
      Stream.runForEach((transition) => onTransition(circuit, transition, local.get(circuit)!)),
      Effect.forkScoped({ startImmediately: true })
    )
  }

  const unknownCircuit = (circuit: string) =>
    new Error(`No circuit named "${circuit}" (known: ${[...breakers.keys()].join(", ")})`)
  const breakerFor = (circuit: string) => {
    const breaker = breakers.get(circuit)
    if (breaker === undefined) throw unknownCircuit(circuit)
    return breaker
  }

  const rejectionCounters = new Map<string, Metric.Counter<number>>()
  const rejected = (policy: string, reason: string) => {
    const id = `${policy}\u0000${reason}`
    let counter = rejectionCounters.get(id)
    if (counter === undefined) {
      counter = Metric.withAttributes(Metrics.rejections, { policy, reason })
      rejectionCounters.set(id, counter)
    }
    return Metric.update(counter, 1)
  }

  const execute = <A, E, R>(self: Effect.Effect<A, E, R>, options: ExecuteOptions): Effect.Effect<A, E | CircuitOpen, R> => {
    if (!breakers.has(options.circuit)) return Effect.die(unknownCircuit(options.circuit))
    const breaker = breakerFor(options.circuit)
    return breaker.execute(self, {
      key: options.circuit,
      classify: (exit) => Effect.map(Clock.currentTimeMillis, (now) => outcome(exit, now, options.classify))
    }).pipe(
      Effect.catchIf(
        (error): error is CircuitBreaker.CircuitBreakerError => error instanceof CircuitBreaker.CircuitBreakerError,
        (error) => {
          const reason = error.reason
          // onStoreError "allow" runs the call when the store fails, so only rejections arrive here.
          if (reason._tag === "CircuitBreakerStoreError") return Effect.die(error)
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const retryAfterMillis = reason._tag === "CircuitOpen" ? Duration.toMillis(reason.retryAfter) : 1000
            const view = local.get(options.circuit)!
            if (reason._tag === "CircuitOpen") {
              view.state = "open"
              view.openUntil = now + retryAfterMillis
            }
            return Effect.andThen(
              rejected(options.policy, reason._tag === "CircuitOpen" ? "circuit-open" : "circuit-half-open"),
              Effect.fail(
                new CircuitOpen({
                  circuit: options.circuit,
                  policy: options.policy,
                  state: reason._tag === "CircuitOpen" ? "open" : "half-open",
                  retryAfterMillis,
                  openUntil: now + retryAfterMillis
                })
              )
            )
          })
        }
      )
    ) as Effect.Effect<A, E | CircuitOpen, R>
  }

  const state = (circuit: string): Effect.Effect<CircuitState> =>
    // breakerFor throws inside the callback: a defect for an unknown circuit.
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      breakerFor(circuit).state(circuit).pipe(
        Effect.map((state): CircuitState => {
          const lower = toLower(state._tag)
          const retryAfter = state._tag === "Open" ? state.retryAfter : Duration.zero
          return {
            circuit,
            state: lower,
            retryAfter,
            openUntil: state._tag === "Open" ? now + Duration.toMillis(retryAfter) : undefined,
            probing: state._tag === "HalfOpen" && state.probing,
            consecutiveOpenings: state._tag === "Closed" ? 0 : state.consecutiveOpenings,
            source: "store"
          }
        }),
        Effect.catch(() => {
          const view = local.get(circuit)!
          const open = view.state === "open"
          return Effect.succeed<CircuitState>({
            circuit,
            state: view.state,
            retryAfter: open ? Duration.millis(Math.max(0, view.openUntil - now)) : Duration.zero,
            openUntil: open ? view.openUntil : undefined,
            probing: false,
            consecutiveOpenings: view.consecutiveOpenings,
            source: "local"
          })
        }),
        Effect.tap((state) =>
          Metric.update(Metric.withAttributes(Metrics.circuitState, { circuit }), stateValue[state.state])
        )
      ))

  return Breakers.of({
    execute,
    state,
    states: Effect.forEach([...breakers.keys()], state),
    circuits: [...breakers.keys()]
  })
})

/**
 * What a finished call says about the dependency's health.
 *
 * @since 0.1.0
 */
export const outcome = <A, E>(
  exit: Exit.Exit<A, E>,
  nowMillis: number,
  options?: Retry.ClassifyOptions
): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") {
    return Cause.hasInterruptsOnly(exit.cause) ? CircuitBreaker.ignored : CircuitBreaker.failure()
  }
  const value: unknown = error.value
  if (typeof value === "object" && value !== null && "_tag" in value && value._tag === "BulkheadRejected") {
    return CircuitBreaker.ignored
  }
  const classification = Retry.classify(value, nowMillis, options)
  return classification.unavailable
    ? CircuitBreaker.failure({ retryAfter: classification.retryAfter })
    : CircuitBreaker.success
}

const onTransition = (circuit: string, transition: CircuitBreaker.Transition, view: LocalView) =>
  Effect.gen(function*() {
    const from = toLower(transition.from)
    const to = toLower(transition.to)
    const now = yield* Clock.currentTimeMillis
    view.state = to
    if (transition.to === "Open") {
      view.openUntil = now + Duration.toMillis(transition.retryAfter)
      view.consecutiveOpenings = transition.consecutiveOpenings
    }
    yield* Metric.update(Metric.withAttributes(Metrics.circuitTransitions, { circuit, from, to }), 1)
    yield* Metric.update(Metric.withAttributes(Metrics.circuitState, { circuit }), stateValue[to])
    const message = `Circuit ${circuit}: ${from} → ${to}`
    yield* (to === "open" ? Effect.logWarning(message) : Effect.logInfo(message)).pipe(
      Effect.annotateLogs({
        circuit,
        ...(transition.to === "Open" ? { openForMillis: Duration.toMillis(transition.retryAfter) } : {})
      })
    )
  }).pipe(
    Effect.withSpan("resilience.circuit.transition", {
      attributes: {
        "resilience.circuit": circuit,
        "resilience.circuit.from": transition.from,
        "resilience.circuit.to": transition.to
      }
    }, { captureStackTrace: false })
  )

/**
 * `Breakers` for the given circuits over the current `CircuitBreakerStore`.
 *
 * @since 0.1.0
 */
export const layer = (
  circuits: Readonly<Record<string, CircuitSettings>>
): Layer.Layer<Breakers, never, CircuitBreaker.CircuitBreakerStore> => Layer.effect(Breakers, make(circuits))

/**
 * Wraps a store so that every operation fails (as a store error) after `timeout` instead of hanging.
 *
 * @since 0.1.0
 */
export const withStoreTimeout = (
  store: CircuitBreaker.CircuitBreakerStore["Service"],
  timeout: Duration.Input
): CircuitBreaker.CircuitBreakerStore["Service"] => {
  const fail = (operation: string) => () =>
    Effect.fail(
      new CircuitBreaker.CircuitBreakerError({
        reason: new CircuitBreaker.CircuitBreakerStoreError({ message: `Circuit store ${operation} timed out` })
      })
    )
  return {
    admit: (key) => Effect.timeoutOrElse(store.admit(key), { duration: timeout, orElse: fail("admit") }),
    record: (options) => Effect.timeoutOrElse(store.record(options), { duration: timeout, orElse: fail("record") }),
    state: (key) => Effect.timeoutOrElse(store.state(key), { duration: timeout, orElse: fail("state") })
  }
}

/**
 * Circuit state kept in this process.
 *
 * @since 0.1.0
 */
export const layerStoreMemory: Layer.Layer<CircuitBreaker.CircuitBreakerStore> = CircuitBreaker.layerStoreMemory()

/**
 * Circuit state shared through Redis (one hash per circuit under `prefix`), every operation bounded by
 * `storeTimeout` (default 250 ms).
 *
 * @since 0.1.0
 */
export const layerStoreRedis = (options?: {
  readonly prefix?: string | undefined
  readonly storeTimeout?: Duration.Input | undefined
}): Layer.Layer<CircuitBreaker.CircuitBreakerStore, never, Redis.Redis> =>
  Layer.effect(
    CircuitBreaker.CircuitBreakerStore,
    Effect.gen(function*() {
      const context = yield* Layer.build(
        CircuitBreaker.layerStoreRedis({ prefix: options?.prefix ?? "live-events:circuit:" })
      )
      return withStoreTimeout(
        Context.get(context, CircuitBreaker.CircuitBreakerStore),
        options?.storeTimeout ?? "250 millis"
      )
    })
  )
