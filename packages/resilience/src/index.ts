/**
 * @live-events/resilience: retry, timeout, circuit breaker, bulkhead and named policies for calls to
 * dependencies, and rate-limit algorithms with the IETF draft-10 `RateLimit` fields. Imports only `effect`.
 *
 * @since 0.1.0
 */
/** @since 0.1.0 */
export * as Breaker from "./Breaker.ts"
/** @since 0.1.0 */
export * as Bulkhead from "./Bulkhead.ts"
/** @since 0.1.0 */
export * as Metrics from "./Metrics.ts"
/** @since 0.1.0 */
export * as Policy from "./Policy.ts"
/** @since 0.1.0 */
export * as RateLimit from "./RateLimit.ts"
/** @since 0.1.0 */
export * as RateLimitHeaders from "./RateLimitHeaders.ts"
/** @since 0.1.0 */
export * as RateLimitStore from "./RateLimitStore.ts"
/** @since 0.1.0 */
export * as Retry from "./Retry.ts"
/** @since 0.1.0 */
export * as Timeout from "./Timeout.ts"
