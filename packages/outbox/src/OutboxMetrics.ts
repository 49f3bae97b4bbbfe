/**
 * The outbox's metrics (Effect `Metric`, exported by whatever metrics layer the host installs, e.g.
 * `PrometheusMetrics.layerHttp`). Counters are incremental so OpenTelemetry exports them as sums.
 *
 * | name | kind | meaning |
 * |---|---|---|
 * | `outbox_pending` | gauge | messages neither published nor dead-lettered |
 * | `outbox_lag_seconds` | gauge | age of the oldest pending message (0 when none) |
 * | `outbox_dead_letters` | gauge | messages currently dead-lettered |
 * | `outbox_published_total` | counter | messages delivered by this process's relays |
 * | `outbox_retried_total` | counter | failed attempts scheduled for a retry |
 * | `outbox_dead_lettered_total` | counter | messages this process dead-lettered |
 * | `outbox_delivery_seconds` | histogram | `occurredAt` → delivered |
 *
 * The gauges reflect the whole table (every process's view is the same); the counters count this
 * process's work: sum them across processes.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

/** @since 0.1.0 */
export const pending = Metric.gauge("outbox_pending", {
  description: "Outbox messages neither published nor dead-lettered"
})

/** @since 0.1.0 */
export const lagSeconds = Metric.gauge("outbox_lag_seconds", {
  description: "Age in seconds of the oldest pending outbox message (0 when none)"
})

/** @since 0.1.0 */
export const deadLetters = Metric.gauge("outbox_dead_letters", {
  description: "Outbox messages currently dead-lettered"
})

/** @since 0.1.0 */
export const published = Metric.counter("outbox_published_total", {
  description: "Outbox messages delivered by this process",
  incremental: true
})

/** @since 0.1.0 */
export const retried = Metric.counter("outbox_retried_total", {
  description: "Failed outbox deliveries scheduled for a retry",
  incremental: true
})

/** @since 0.1.0 */
export const deadLettered = Metric.counter("outbox_dead_lettered_total", {
  description: "Outbox messages dead-lettered by this process",
  incremental: true
})

/** @since 0.1.0 */
export const deliverySeconds = Metric.histogram("outbox_delivery_seconds", {
  description: "Seconds from a message's occurredAt to its delivery",
  boundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
})
