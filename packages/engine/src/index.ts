/**
 * @live-events/engine: the Live Event Service as a library. One layer gives an embedder the whole
 * engine (a store, its outbox relay, the resilience policies, the read cache, the use-cases); its
 * pieces are exported for hosts that compose them differently.
 *
 * @since 0.1.0
 */
/** @since 0.1.0 */
export * as CacheCodecs from "./CacheCodecs.ts"
/** @since 0.1.0 */
export * as CachedStore from "./CachedStore.ts"
/** @since 0.1.0 */
export * as CacheKeys from "./CacheKeys.ts"
/** @since 0.1.0 */
export * as DatabasePolicies from "./DatabasePolicies.ts"
/** @since 0.1.0 */
export * as Engine from "./Engine.ts"
/** @since 0.1.0 */
export * as IdempotencyPurge from "./IdempotencyPurge.ts"
/** @since 0.1.0 */
export * as LiveFeed from "./LiveFeed.ts"
/** @since 0.1.0 */
export * as OutboxDelivery from "./OutboxDelivery.ts"
/** @since 0.1.0 */
export * as PgInvalidationBus from "./PgInvalidationBus.ts"
/** @since 0.1.0 */
export * as Problem from "./Problem.ts"
/** @since 0.1.0 */
export * as Readiness from "./Readiness.ts"
/** @since 0.1.0 */
export * as Rotation from "./Rotation.ts"
/** @since 0.1.0 */
export * as Sealing from "./Sealing.ts"
/** @since 0.1.0 */
export * as ServiceMembers from "./ServiceMembers.ts"
