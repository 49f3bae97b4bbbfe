/**
 * `@live-events/outbox`: delivers the transactional outbox. A relay in every process claims messages
 * under leases (per-aggregate order, retries with backoff, dead letters), publishes them in process,
 * to NATS JetStream or to signed webhooks, and an inbox lets consumers process each message once.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Inbox from "./Inbox.ts"
/** @since 0.2.0 */
export * as OutboxBatch from "./OutboxBatch.ts"
/** @since 0.1.0 */
export * as OutboxMessage from "./OutboxMessage.ts"
/** @since 0.1.0 */
export * as OutboxMetrics from "./OutboxMetrics.ts"
/** @since 0.1.0 */
export * as OutboxPublisher from "./OutboxPublisher.ts"
/** @since 0.1.0 */
export * as OutboxRelay from "./OutboxRelay.ts"
/** @since 0.1.0 */
export * as OutboxSignal from "./OutboxSignal.ts"
/** @since 0.1.0 */
export * as OutboxStore from "./OutboxStore.ts"
/** @since 0.1.0 */
export * as WebhookSignature from "./WebhookSignature.ts"
