/**
 * Bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueue` more wait (each no longer
 * than `queueTimeout`), and anything beyond is rejected at once with {@link BulkheadRejected}.
 *
 * It keeps a slow dependency from taking every fiber and connection of the process: a full bulkhead
 * answers "busy" in microseconds instead of piling up waiters. Built on Effect's `Semaphore`; the
 * bounded queue is a counter checked before waiting, which the semaphore alone does not offer.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit, Metric, Option, Schema, Semaphore } from "effect"
import * as Metrics from "./Metrics.ts"

/** @since 0.1.0 */
export interface BulkheadSettings {
  readonly maxConcurrent: number
  /** Calls allowed to wait for a slot; 0 rejects as soon as every slot is taken. */
  readonly maxQueue: number
  /** Longest wait for a slot; an infinite duration waits as long as it takes. */
  readonly queueTimeout: Duration.Input
}

/**
 * The bulkhead was full (`queue-full`) or the wait for a slot ran out (`queue-timeout`). Local
 * overload: not retried, answered as 503 with a short `Retry-After`.
 *
 * @since 0.1.0
 */
export class BulkheadRejected extends Schema.TaggedError<BulkheadRejected>()("BulkheadRejected", {
  policy: Schema.String,
  reason: Schema.Literals(["queue-full", "queue-timeout"]),
  maxConcurrent: Schema.Number,
  maxQueue: Schema.Number
}, { httpApiStatus: 503 }) {
  readonly code = "service-unavailable"
  get isRetryable(): boolean {
    return false
  }
  /** A hint for a `Retry-After`: a bulkhead drains quickly. */
  get retryAfter(): Duration.Duration {
    return Duration.seconds(1)
  }
  override get message() {
    return this.reason === "queue-full"
      ? `${this.policy}: ${this.maxConcurrent} calls running and ${this.maxQueue} waiting`
      : `${this.policy}: no slot became free in time`
  }
}

/** @since 0.1.0 */
export interface Bulkhead {
  readonly run: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  /** Calls running now. */
  readonly inFlight: () => number
  /** Calls waiting for a slot now. */
  readonly queued: () => number
}

/**
 * Creates a bulkhead. Gauges `resilience_bulkhead_in_flight` and `resilience_bulkhead_queued` follow it,
 * rejections are counted in `resilience_rejections_total`.
 *
 * @since 0.1.0
 */
export const make = (settings: BulkheadSettings & { readonly policy: string }): Bulkhead => {
  const semaphore = Semaphore.makeUnsafe(settings.maxConcurrent)
  const capacity = settings.maxConcurrent + settings.maxQueue
  const queueTimeout = Duration.fromInputUnsafe(settings.queueTimeout)
  const attributes = { policy: settings.policy }
  const inFlightGauge = Metrics.gaugeSeries(Metrics.bulkheadInFlight, attributes)
  const queuedGauge = Metrics.gaugeSeries(Metrics.bulkheadQueued, attributes)
  const rejectedFull = Metrics.counterSeries(Metrics.rejections, { ...attributes, reason: "bulkhead-full" })
  const rejectedTimeout = Metrics.counterSeries(Metrics.rejections, { ...attributes, reason: "bulkhead-timeout" })
  let running = 0
  let waiting = 0

  const gauges = Effect.suspend(() =>
    Effect.andThen(Metric.update(inFlightGauge, running), Metric.update(queuedGauge, waiting))
  )
  const reject = (reason: "queue-full" | "queue-timeout") =>
    Effect.andThen(
      Metric.update(reason === "queue-full" ? rejectedFull : rejectedTimeout, 1),
      Effect.fail(
        new BulkheadRejected({
          policy: settings.policy,
          reason,
          maxConcurrent: settings.maxConcurrent,
          maxQueue: settings.maxQueue
        })
      )
    )
  const take = semaphore.take(1)
  const waitForSlot = Duration.isFinite(queueTimeout)
    ? Effect.map(Effect.timeoutOption(take, queueTimeout), Option.isSome)
    : Effect.as(take, true)
  const inFlightChanged = Effect.suspend(() => Metric.update(inFlightGauge, running))
  // The permit goes back before `running` drops, so the fast path never sees a free slot the
  // semaphore has not released yet.
  const release = Effect.andThen(
    semaphore.release(1),
    Effect.suspend(() => {
      running--
      return inFlightChanged
    })
  )
  const runInSlot = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>
  ) =>
    Effect.suspend(() => {
      running++
      return Effect.andThen(inFlightChanged, Effect.ensuring(restore(self), release))
    })

  const run = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejected, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend((): Effect.Effect<A, E | BulkheadRejected, R> => {
        // Fast path: a free slot and nobody waiting for one (so no overtaking).
        if (waiting === 0 && running < settings.maxConcurrent) {
          return Effect.andThen(take, runInSlot(self, restore))
        }
        if (running + waiting >= capacity) return reject("queue-full")
        waiting++
        return Effect.flatMap(
          Effect.andThen(gauges, Effect.exit(restore(waitForSlot))),
          (acquired): Effect.Effect<A, E | BulkheadRejected, R> => {
            waiting--
            if (Exit.isFailure(acquired)) return Effect.andThen(gauges, Effect.failCause(acquired.cause))
            if (!acquired.value) return Effect.andThen(gauges, reject("queue-timeout"))
            return Effect.andThen(gauges, runInSlot(self, restore))
          }
        )
      })
    )

  return { run, inFlight: () => running, queued: () => waiting }
}
