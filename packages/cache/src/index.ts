/**
 * @live-events/cache: a two-level cache (in-process LRU + Redis) with stampede protection, tags,
 * generation-guarded fills and cross-process invalidation.
 *
 * @since 0.1.0
 */
/** @since 0.1.0 */
export * as CacheMetrics from "./CacheMetrics.ts"
/** @since 0.1.0 */
export * as CacheSettings from "./CacheSettings.ts"
/** @since 0.1.0 */
export * as InvalidationBus from "./InvalidationBus.ts"
/** @since 0.1.0 */
export * as LruStore from "./LruStore.ts"
/** @since 0.1.0 */
export * as RedisTier from "./RedisTier.ts"
/** @since 0.3.0 */
export * as TagStamps from "./TagStamps.ts"
/** @since 0.1.0 */
export * as TwoLevelCache from "./TwoLevelCache.ts"
