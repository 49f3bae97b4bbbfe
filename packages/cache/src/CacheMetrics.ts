/**
 * The cache's metrics, as effect `Metric`s so any exporter (Prometheus, OTLP) sees them.
 *
 * Hits and misses carry `tier` (`l1`, `l2`) and `category` attributes, so the hit ratio per tier and per
 * category is a query away (`cache_hits_total / (cache_hits_total + cache_misses_total)`). Updates happen on
 * the hot path, so the {@link Recorder} applies them synchronously with the context captured when the cache
 * was built, and memoises the attribute combinations.
 *
 * @since 0.1.0
 */
import { type Context, Metric } from "effect"

/** @since 0.1.0 */
export const hits = Metric.counter("cache_hits_total", {
  description: "Reads answered by a tier (attributes: tier, category)",
  incremental: true
})
/** @since 0.1.0 */
export const misses = Metric.counter("cache_misses_total", {
  description: "Reads a tier could not answer (attributes: tier, category)",
  incremental: true
})
/** @since 0.1.0 */
export const staleServed = Metric.counter("cache_stale_served_total", {
  description: "Expired values served within grace (attributes: category, reason)",
  incremental: true
})
/** @since 0.1.0 */
export const factoryCalls = Metric.counter("cache_factory_calls_total", {
  description: "Factory runs (attributes: category, outcome)",
  incremental: true
})
/** @since 0.1.0 */
export const fillsDiscarded = Metric.counter("cache_fills_discarded_total", {
  description: "Fetched values not stored because an invalidation overtook them (attribute: tier)",
  incremental: true
})
/** @since 0.1.0 */
export const evictions = Metric.counter("cache_evictions_total", {
  description: "In-process entries evicted to stay within capacity",
  incremental: true
})
/** @since 0.1.0 */
export const invalidations = Metric.counter("cache_invalidations_total", {
  description: "Invalidations applied to the in-process tier (attributes: kind, source)",
  incremental: true
})
/** @since 0.1.0 */
export const l2Errors = Metric.counter("cache_l2_errors_total", {
  description: "Redis operations that failed or timed out; the read fell back (attribute: operation)",
  incremental: true
})
/** @since 0.1.0 */
export const l1Entries = Metric.gauge("cache_l1_entries", { description: "Entries in the in-process tier" })

/**
 * Synchronous metric updates bound to one context: `counter(metric, attributes)` returns an incrementer
 * prepared once, so the hot path pays no attribute merging.
 *
 * @since 0.1.0
 */
export interface Recorder {
  readonly counter: (
    metric: Metric.Metric<number, unknown>,
    attributes?: Readonly<Record<string, string>>
  ) => (amount?: number) => void
  readonly set: (metric: Metric.Metric<number, unknown>, value: number) => void
}

/** @since 0.1.0 */
export const makeRecorder = (context: Context.Context<never>): Recorder => ({
  counter: (metric, attributes) => {
    // A counter of its own per series (same name, description, attributes): `Metric.withAttributes`
    // over the shared counter would re-derive the series key whenever updates alternate series.
    const bound = attributes === undefined
      ? metric
      : Metric.counter(metric.id, { description: metric.description, incremental: true, attributes })
    return (amount = 1) => bound.updateUnsafe(amount, context)
  },
  set: (metric, value) => metric.updateUnsafe(value, context)
})
