/**
 * The cache's vocabulary for the read models of the service: which key and tags each cached read
 * carries, and which keys and tags a domain event makes stale. Keeping both in one module makes it easy
 * to check that every fact that changes a read model drops it.
 *
 * @since 0.1.0
 */
import type { DomainEvent as DomainEventModule, Ids } from "@live-events/domain"

type EventId = Ids.EventId
type RegistrationId = Ids.RegistrationId
type UserId = Ids.UserId
type DomainEvent = DomainEventModule.DomainEvent

/** Event details with their counters: key and tag `event:{id}`. @since 0.1.0 */
export const eventKey = (id: EventId): string => `event:${id}`

/** Every cached read of an event (details, counts, its registrations): `event:{id}`. @since 0.1.0 */
export const eventTag = (id: EventId): string => `event:${id}`

/**
 * Every cached registration of an event (their positions depend on the waitlist order):
 * `event:{id}:waitlist`.
 *
 * @since 0.1.0
 */
export const waitlistTag = (id: EventId): string => `event:${id}:waitlist`

/** A user profile: `user:{id}`. @since 0.1.0 */
export const userKey = (id: UserId): string => `user:${id}`

/**
 * A registration with its waitlist position: `position:{registrationId}`, tagged `event:{eventId}:waitlist`.
 *
 * @since 0.1.0
 */
export const positionKey = (id: RegistrationId): string => `position:${id}`

/**
 * The first page (of `limit` items) of a user's own registrations, as ids: `registrations-of:{userId}:{limit}`.
 *
 * @since 0.1.0
 */
export const userRegistrationsKey = (id: UserId, limit: number): string => `registrations-of:${id}:${limit}`

/**
 * Every cached list of a user's registrations: `user:{id}:registrations`. The list changes only when
 * the user registers (a new row: re-registering after a cancellation is one too) or is erased; status
 * and position changes reach it through the registrations themselves, cached one by one.
 *
 * @since 0.1.0
 */
export const userRegistrationsTag = (id: UserId): string => `user:${id}:registrations`

/**
 * What to drop once a unit of work has committed.
 *
 * @since 0.1.0
 */
export interface Invalidations {
  readonly keys: Set<string>
  readonly tags: Set<string>
}

/** @since 0.1.0 */
export const empty = (): Invalidations => ({ keys: new Set(), tags: new Set() })

/** @since 0.1.0 */
export const isEmpty = (invalidations: Invalidations): boolean =>
  invalidations.keys.size === 0 && invalidations.tags.size === 0

/**
 * Adds what `event` makes stale:
 * - a change of the event (fields, status, capacity, creation) → tag `event:{id}`;
 * - a change of a registration → tag `event:{eventId}` (the counts move) and its key `position:{id}`;
 * - a change of the waitlist order (someone left it: promotion, cancellation, shift; the event cancelled)
 *   → tag `event:{eventId}:waitlist`, which every cached registration of the event carries. Joining the
 *   waitlist does not: a newcomer takes the last position and nobody else's moves, so the positions that
 *   waiters poll stay cached while others join;
 * - a new registration (confirmed or waitlisted on arrival) → also the user's lists, tag
 *   `user:{userId}:registrations`;
 * - an erased user → key `user:{id}` and their lists.
 *
 * @since 0.1.0
 */
export const collect = (into: Invalidations, event: DomainEvent): void => {
  switch (event.type) {
    case "EventCreated":
    case "EventUpdated":
    case "EventPublished":
    case "EventUnpublished":
    case "EventCapacityChanged":
      into.tags.add(eventTag(event.data.eventId))
      return
    case "EventCancelled":
      // Cancelling an event cancels its registrations.
      into.tags.add(eventTag(event.data.eventId))
      into.tags.add(waitlistTag(event.data.eventId))
      return
    case "RegistrationConfirmed":
    case "RegistrationWaitlisted":
      into.tags.add(userRegistrationsTag(event.data.userId))
      into.tags.add(eventTag(event.data.eventId))
      into.keys.add(positionKey(event.data.registrationId))
      return
    case "AttendanceMarked":
      into.tags.add(eventTag(event.data.eventId))
      into.keys.add(positionKey(event.data.registrationId))
      return
    case "RegistrationPromoted":
    case "RegistrationCancelled":
      into.tags.add(eventTag(event.data.eventId))
      into.tags.add(waitlistTag(event.data.eventId))
      into.keys.add(positionKey(event.data.registrationId))
      return
    case "WaitlistPositionsShifted":
      into.tags.add(eventTag(event.data.eventId))
      into.tags.add(waitlistTag(event.data.eventId))
      return
    case "UserErased":
      into.keys.add(userKey(event.data.userId))
      into.tags.add(userRegistrationsTag(event.data.userId))
      return
  }
}
