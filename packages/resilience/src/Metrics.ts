/**
 * The metrics every resilience policy reports, all prefixed `resilience_`.
 *
 * Labels are bounded on purpose: policy, circuit and rate-limit policy names come from configuration,
 * reasons and outcomes are small enums. Keys (client IPs, user ids) never become labels.
 * Counters are `incremental` so OpenTelemetry exports them as counters, not gauges (OpenTelemetry reads a non-incremental Effect counter as a gauge).
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

/** Calls through `Policy.run`, by `policy` and `outcome` (success, failure, rejected, timeout). @since 0.1.0 */
export const calls = Metric.counter("resilience_calls_total", {
  description: "Calls through a resilience policy, by outcome",
  incremental: true
})

/** Retries scheduled, by `policy` and the `error` tag that caused them. @since 0.1.0 */
export const retries = Metric.counter("resilience_retries_total", {
  description: "Retries scheduled after a retryable failure",
  incremental: true
})

/** Timeouts, by `policy` and `kind` (attempt or total). @since 0.1.0 */
export const timeouts = Metric.counter("resilience_timeouts_total", {
  description: "Attempts or whole calls that ran out of time",
  incremental: true
})

/** Calls rejected without running, by `policy` and `reason`. @since 0.1.0 */
export const rejections = Metric.counter("resilience_rejections_total", {
  description: "Calls rejected by an open circuit or a full bulkhead",
  incremental: true
})

/** Circuit state changes made by this process, by `circuit`, `from` and `to`. @since 0.1.0 */
export const circuitTransitions = Metric.counter("resilience_circuit_transitions_total", {
  description: "Circuit breaker state changes",
  incremental: true
})

/** Last known circuit state by `circuit`: 0 closed, 1 half-open, 2 open. @since 0.1.0 */
export const circuitState = Metric.gauge("resilience_circuit_state", {
  description: "Circuit breaker state (0 closed, 1 half-open, 2 open)"
})

/** Calls running inside a bulkhead, by `policy`. @since 0.1.0 */
export const bulkheadInFlight = Metric.gauge("resilience_bulkhead_in_flight", {
  description: "Calls running inside the bulkhead"
})

/** Calls waiting in a bulkhead queue, by `policy`. @since 0.1.0 */
export const bulkheadQueued = Metric.gauge("resilience_bulkhead_queued", {
  description: "Calls waiting in the bulkhead queue"
})

/** Rate-limit decisions, by `policy` and `decision` (allowed, limited). @since 0.1.0 */
export const rateLimitDecisions = Metric.counter("resilience_ratelimit_decisions_total", {
  description: "Rate-limit decisions",
  incremental: true
})

/** Rate-limit store failures, by `policy` and the `fallback` applied (fail-open, local-fallback). @since 0.1.0 */
export const rateLimitStoreFailures = Metric.counter("resilience_ratelimit_store_failures_total", {
  description: "Rate-limit decisions taken without the shared store",
  incremental: true
})

/**
 * The series of one of the counters above with these attributes, as a counter of its own (same name,
 * description and attributes, hence the same series in the registry). Hot paths hold one per label set:
 * `Metric.withAttributes` over the shared counter re-derives the series key whenever consecutive
 * updates name different series.
 *
 * @since 0.1.0
 */
export const counterSeries = (metric: Metric.Metric<number, unknown>, attributes: Metric.Metric.Attributes) =>
  Metric.counter(metric.id, { description: metric.description, incremental: true, attributes })

/**
 * The series of one of the gauges above with these attributes (see {@link counterSeries}).
 *
 * @since 0.1.0
 */
export const gaugeSeries = (metric: Metric.Metric<number, unknown>, attributes: Metric.Metric.Attributes) =>
  Metric.gauge(metric.id, { description: metric.description, attributes })
