/**
 * Timeouts that fail with a typed, classifiable error.
 *
 * Two kinds exist in a policy: the `attempt` timeout bounds one try (so a hung connection counts as a
 * failure for the circuit breaker and is retried), the `total` timeout bounds the whole call with its
 * retries and backoff (so nothing waits past the caller's budget). The interrupted effect is
 * interrupted, not left running.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Metric, Schema } from "effect"
import * as Metrics from "./Metrics.ts"

/**
 * A call ran out of time. An `attempt` timeout is transient (retryable); a `total` timeout is the end
 * of the caller's budget and is not.
 *
 * @since 0.1.0
 */
export class PolicyTimeout extends Schema.TaggedError<PolicyTimeout>()("PolicyTimeout", {
  policy: Schema.String,
  kind: Schema.Literals(["attempt", "total"]),
  timeoutMillis: Schema.Number
}, { httpApiStatus: 503 }) {
  readonly code = "service-unavailable"
  get isRetryable(): boolean {
    return this.kind === "attempt"
  }
  override get message() {
    return `${this.policy}: ${this.kind === "attempt" ? "attempt" : "call"} timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * Fails `self` with {@link PolicyTimeout} when it takes longer than `duration`; counts it in
 * `resilience_timeouts_total`. An infinite duration disables the timeout.
 *
 * @since 0.1.0
 */
export const timeout = (options: {
  readonly policy: string
  readonly kind: "attempt" | "total"
  readonly duration: Duration.Input
}) => {
  const duration = Duration.fromInputUnsafe(options.duration)
  if (!Duration.isFinite(duration)) return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => self
  const timeoutMillis = Duration.toMillis(duration)
  const counter = Metric.withAttributes(Metrics.timeouts, { policy: options.policy, kind: options.kind })
  const fail = Effect.suspend(() =>
    Effect.andThen(
      Metric.update(counter, 1),
      Effect.fail(new PolicyTimeout({ policy: options.policy, kind: options.kind, timeoutMillis }))
    )
  )
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | PolicyTimeout, R> =>
    Effect.timeoutOrElse(self, { duration, orElse: () => fail })
}
