/**
 * Domain events: the facts a use-case records in the outbox in the same transaction as the state
 * change (invariant I5).
 *
 * Every message has an `id` (the consumer's idempotency key), its `type`, `occurredAt`, the
 * `aggregateId` it is ordered by (always the event id, so one event's messages keep their order), a
 * schema `version`, and `data` complete enough that a consumer never needs to read back. Data carries
 * ids and counts, never PII.
 *
 * @since 0.1.0
 */
import type { EventStatus } from "./Event.ts"
import type { EventId, MessageId, RegistrationId, UserId } from "./Ids.ts"
import type { RegistrationStatus } from "./Registration.ts"

interface Counts {
  readonly capacity: number
  readonly confirmedCount: number
  readonly waitlistCount: number
}

interface RegistrationData extends Counts {
  readonly registrationId: RegistrationId
  readonly eventId: EventId
  readonly userId: UserId
  readonly status: RegistrationStatus
  readonly waitlistPosition: number | null
}

/**
 * The data of each event type, by type name. The current schema version of every type is 1.
 *
 * @since 0.1.0
 */
export interface DomainEventData {
  readonly EventCreated: { readonly eventId: EventId; readonly organizerId: UserId; readonly status: EventStatus }
  readonly EventUpdated: { readonly eventId: EventId; readonly changedFields: ReadonlyArray<string> }
  readonly EventPublished: { readonly eventId: EventId } & Counts
  readonly EventUnpublished: { readonly eventId: EventId }
  readonly EventCancelled: {
    readonly eventId: EventId
    readonly cancelledRegistrations: number
  }
  readonly EventCapacityChanged: { readonly eventId: EventId; readonly previousCapacity: number } & Counts
  readonly RegistrationConfirmed: RegistrationData
  readonly RegistrationWaitlisted: RegistrationData
  readonly RegistrationPromoted: RegistrationData & { readonly fromPosition: number }
  readonly RegistrationCancelled: RegistrationData & {
    readonly previousStatus: RegistrationStatus
    readonly reason: "attendee" | "organizer" | "event-cancelled" | "user-erased"
  }
  readonly WaitlistPositionsShifted: { readonly eventId: EventId; readonly fromPosition: number } & Counts
  readonly AttendanceMarked: RegistrationData
  readonly UserErased: { readonly userId: UserId }
}

/** @since 0.1.0 */
export type DomainEventType = keyof DomainEventData

/** @since 0.1.0 */
export const domainEventTypes: ReadonlyArray<DomainEventType> = [
  "EventCreated",
  "EventUpdated",
  "EventPublished",
  "EventUnpublished",
  "EventCancelled",
  "EventCapacityChanged",
  "RegistrationConfirmed",
  "RegistrationWaitlisted",
  "RegistrationPromoted",
  "RegistrationCancelled",
  "WaitlistPositionsShifted",
  "AttendanceMarked",
  "UserErased"
]

/**
 * A recorded domain event before an id and time are stamped on it by the use-case.
 *
 * @since 0.1.0
 */
export type DomainEventBody = {
  [T in DomainEventType]: { readonly type: T; readonly aggregateId: string; readonly data: DomainEventData[T] }
}[DomainEventType]

/** @since 0.1.0 */
export type DomainEvent = DomainEventBody & {
  readonly id: MessageId
  readonly occurredAt: Date
  readonly version: number
}

/** @since 0.1.0 */
export const SCHEMA_VERSION = 1

/** Builds an event body with the right data type for its `type`. @since 0.1.0 */
export const make = <T extends DomainEventType>(
  type: T,
  aggregateId: string,
  data: DomainEventData[T]
): DomainEventBody => ({ type, aggregateId, data } as DomainEventBody)
