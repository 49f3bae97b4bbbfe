/**
 * What the outbox carries, independent of the domain that wrote it: the envelope fields a relay and a
 * broker need (id for deduplication, type for routing, aggregate id for ordering) plus the full payload
 * as JSON. The domain's `DomainEvent` is one such payload; this package never imports it.
 *
 * @since 0.1.0
 */

/**
 * A message as written to the outbox table.
 *
 * @since 0.1.0
 */
export interface OutboxMessage {
  /** Unique per message: the consumer's idempotency key and the broker's dedup id (`Nats-Msg-Id`). */
  readonly id: string
  /** The event type, e.g. `RegistrationConfirmed`; used for routing (NATS subject suffix). */
  readonly type: string
  /** Messages of one aggregate are delivered in the order they were written. */
  readonly aggregateId: string
  readonly occurredAt: Date
  readonly schemaVersion: number
  /** The full envelope as JSON, published as-is. */
  readonly payload: unknown
  /** W3C trace context of the transaction that wrote the message, if any. */
  readonly traceparent?: string | undefined
}

/**
 * A message claimed by a relay under a lease.
 *
 * @since 0.1.0
 */
export interface ClaimedMessage extends OutboxMessage {
  /** Global write order (the table's `position`); per aggregate it is the delivery order. */
  readonly position: number
  /** Failed delivery attempts so far (0 on the first try). */
  readonly attempts: number
}

/**
 * A message that exhausted its attempts (or was rejected permanently) and waits for a redrive.
 *
 * @since 0.1.0
 */
export interface DeadLetter extends OutboxMessage {
  readonly position: number
  readonly attempts: number
  readonly lastError: string | null
  readonly deadLetteredAt: Date
}

/**
 * A page of dead letters; `nextCursor` is opaque and `null` on the last page.
 *
 * @since 0.1.0
 */
export interface DeadLetterPage {
  readonly items: ReadonlyArray<DeadLetter>
  readonly nextCursor: string | null
}

/**
 * Backlog figures for metrics and readiness checks.
 *
 * @since 0.1.0
 */
export interface OutboxStats {
  /** Messages neither published nor dead-lettered (leased ones included). */
  readonly pending: number
  /** `occurredAt` of the oldest pending message, `null` when nothing is pending. */
  readonly oldestPendingAt: Date | null
  readonly deadLettered: number
}

/**
 * Builds an {@link OutboxMessage} from a domain-style envelope
 * (`{ id, type, aggregateId, occurredAt, version, data }`), keeping the whole envelope as payload.
 *
 * @since 0.1.0
 */
export const fromEnvelope = (envelope: {
  readonly id: string
  readonly type: string
  readonly aggregateId: string
  readonly occurredAt: Date
  readonly version: number
}, traceparent?: string): OutboxMessage => ({
  id: envelope.id,
  type: envelope.type,
  aggregateId: envelope.aggregateId,
  occurredAt: envelope.occurredAt,
  schemaVersion: envelope.version,
  payload: envelope,
  traceparent
})
