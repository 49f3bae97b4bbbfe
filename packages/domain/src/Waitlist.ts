/**
 * The waitlist rules: pure decisions over a consistent snapshot of one event.
 *
 * Every function here takes the state read under the event's lock and returns what must change
 * (registration changes and the domain events they raise) or the business error. Nothing here does
 * I/O, so the rules are tested exhaustively (property tests) and every repository applies the same
 * decisions. The invariants they keep:
 *
 * - I1 no overbooking: a seat is given only while `confirmedCount < capacity`.
 * - I3/I4 FIFO, no queue jumping: a newcomer is confirmed only when a seat is free *and* nobody waits;
 *   every freed seat goes to the head of the waitlist in the same decision.
 *
 * `WaitlistPositionsShifted { fromPosition }` means "the person at `fromPosition` left the queue and
 * everyone behind moved up by one"; several such events apply in order.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import * as DomainEvent from "./DomainEvent.ts"
import {
  AlreadyRegistered,
  CapacityBelowConfirmed,
  EventNotStarted,
  InvalidTransition,
  NoSeatAvailable,
  RegistrationClosed,
  WaitlistClosed,
  WaitlistFull
} from "./DomainError.ts"
import type { Event } from "./Event.ts"
import type { Registration, RegistrationChange, RegistrationStatus } from "./Registration.ts"

/**
 * What a decision asks the unit of work to write. `registration` is the one the caller acted on, as it
 * is after the change.
 *
 * @since 0.1.0
 */
export interface Plan {
  readonly changes: ReadonlyArray<RegistrationChange>
  readonly events: ReadonlyArray<DomainEvent.DomainEventBody>
}

/** @since 0.1.0 */
export const emptyPlan: Plan = { changes: [], events: [] }

const counts = (event: Event, confirmedDelta = 0, waitlistDelta = 0) => ({
  capacity: event.capacity,
  confirmedCount: event.confirmedCount + confirmedDelta,
  waitlistCount: event.waitlistCount + waitlistDelta
})

const registrationData = (registration: Registration, event: Event, confirmedDelta: number, waitlistDelta: number) => ({
  registrationId: registration.id,
  eventId: registration.eventId,
  userId: registration.userId,
  status: registration.status,
  waitlistPosition: registration.waitlistPosition,
  ...counts(event, confirmedDelta, waitlistDelta)
})

const transition = (registration: Registration, to: RegistrationStatus, at: Date): Registration => ({
  ...registration,
  status: to,
  waitlistPosition: null,
  updatedAt: at,
  confirmedAt: to === "confirmed" ? at : registration.confirmedAt,
  cancelledAt: to === "cancelled" ? at : registration.cancelledAt
})

/**
 * Where a newcomer goes, if anywhere.
 *
 * @since 0.1.0
 */
export type Placement =
  | { readonly status: "confirmed" }
  | { readonly status: "waitlisted"; readonly position: number }

/** @since 0.1.0 */
export type RegisterError = RegistrationClosed | AlreadyRegistered | WaitlistFull | WaitlistClosed

/**
 * Register: the event must be published and open; one active registration per person; a seat only when
 * one is free and nobody waits, otherwise the end of the waitlist if it is enabled and not full.
 *
 * @since 0.1.0
 */
export const decidePlacement = (input: {
  readonly event: Event
  readonly active: Registration | undefined
  readonly now: Date
}): Result.Result<Placement, RegisterError> => {
  const { active, event, now } = input
  if (event.status === "cancelled") return Result.fail(new RegistrationClosed({ eventId: event.id, reason: "cancelled" }))
  if (event.status !== "published") {
    return Result.fail(new RegistrationClosed({ eventId: event.id, reason: "not-published" }))
  }
  if (now.getTime() >= event.registrationClosesAt.getTime()) {
    return Result.fail(new RegistrationClosed({ eventId: event.id, reason: "closed" }))
  }
  if (active !== undefined) {
    return Result.fail(new AlreadyRegistered({ registrationId: active.id, status: active.status }))
  }
  if (event.confirmedCount < event.capacity && event.waitlistCount === 0) return Result.succeed({ status: "confirmed" })
  if (!event.waitlist.enabled) return Result.fail(new WaitlistClosed({ eventId: event.id }))
  if (event.waitlist.limit !== null && event.waitlistCount >= event.waitlist.limit) {
    return Result.fail(new WaitlistFull({ eventId: event.id, limit: event.waitlist.limit }))
  }
  return Result.succeed({ status: "waitlisted", position: event.waitlistCount + 1 })
}

/**
 * The plan of a registration whose placement was decided: insert it and raise Confirmed or Waitlisted.
 *
 * @since 0.1.0
 */
export const planRegistration = (event: Event, registration: Registration): Plan => {
  const confirmed = registration.status === "confirmed"
  return {
    changes: [{ _tag: "Insert", registration }],
    events: [
      DomainEvent.make(
        confirmed ? "RegistrationConfirmed" : "RegistrationWaitlisted",
        event.id,
        registrationData(registration, event, confirmed ? 1 : 0, confirmed ? 0 : 1)
      )
    ]
  }
}

/**
 * Promote `heads` (the first waitlisted registrations, in order) into seats. Each promotion leaves a gap
 * at position 1 for everyone behind.
 */
const promote = (
  event: Event,
  heads: ReadonlyArray<Registration>,
  at: Date,
  confirmedBefore: number,
  waitlistBefore: number
): Plan => {
  const changes: Array<RegistrationChange> = []
  const events: Array<DomainEvent.DomainEventBody> = []
  heads.forEach((head, index) => {
    const promoted = transition(head, "confirmed", at)
    changes.push({ _tag: "Transition", registration: head, to: "confirmed", at })
    const snapshot = { ...event, confirmedCount: confirmedBefore, waitlistCount: waitlistBefore }
    events.push(
      DomainEvent.make("RegistrationPromoted", event.id, {
        ...registrationData(promoted, snapshot, index + 1, -(index + 1)),
        fromPosition: 1
      }),
      DomainEvent.make("WaitlistPositionsShifted", event.id, {
        eventId: event.id,
        fromPosition: 1,
        ...counts(snapshot, index + 1, -(index + 1))
      })
    )
  })
  return { changes, events }
}

/** @since 0.1.0 */
export type CancellationReason = "attendee" | "organizer" | "event-cancelled" | "user-erased"

/**
 * Cancel: a confirmed seat goes to the head of the waitlist in the same plan; a waitlisted person leaves
 * a gap that closes. Cancelling a cancelled registration changes nothing.
 *
 * @since 0.1.0
 */
export const decideCancellation = (input: {
  readonly event: Event
  readonly registration: Registration
  /** The head of the waitlist (position 1), if any; needed only when the registration is confirmed. */
  readonly head: Registration | undefined
  readonly reason: CancellationReason
  readonly now: Date
}): Result.Result<{ readonly plan: Plan; readonly registration: Registration }, InvalidTransition> => {
  const { event, head, now, reason, registration } = input
  if (registration.status === "cancelled") return Result.succeed({ plan: emptyPlan, registration })
  if (registration.status !== "confirmed" && registration.status !== "waitlisted") {
    return Result.fail(new InvalidTransition({ from: registration.status, to: "cancelled" }))
  }
  const cancelled = transition(registration, "cancelled", now)
  const wasConfirmed = registration.status === "confirmed"
  const changes: Array<RegistrationChange> = [{ _tag: "Transition", registration, to: "cancelled", at: now }]
  const events: Array<DomainEvent.DomainEventBody> = [
    DomainEvent.make("RegistrationCancelled", event.id, {
      ...registrationData(cancelled, event, wasConfirmed ? -1 : 0, wasConfirmed ? 0 : -1),
      previousStatus: registration.status,
      reason
    })
  ]
  if (wasConfirmed) {
    if (head !== undefined) {
      const promotion = promote(event, [head], now, event.confirmedCount - 1, event.waitlistCount)
      changes.push(...promotion.changes)
      events.push(...promotion.events)
    }
  } else {
    events.push(
      DomainEvent.make("WaitlistPositionsShifted", event.id, {
        eventId: event.id,
        fromPosition: registration.waitlistPosition ?? 1,
        ...counts(event, 0, -1)
      })
    )
  }
  return Result.succeed({ plan: { changes, events }, registration: cancelled })
}

/**
 * How many people the waitlist must promote for a capacity: every free seat goes to the queue.
 *
 * @since 0.1.0
 */
export const seatsToPromote = (event: Event, capacity: number): number =>
  Math.max(0, Math.min(capacity - event.confirmedCount, event.waitlistCount))

/**
 * Change capacity: never below the confirmed count; an increase promotes as many waiting people as fit,
 * first come first served.
 *
 * @since 0.1.0
 */
export const decideCapacityChange = (input: {
  readonly event: Event
  readonly capacity: number
  /** The first `seatsToPromote(event, capacity)` waitlisted registrations, in position order. */
  readonly heads: ReadonlyArray<Registration>
  readonly now: Date
}): Result.Result<Plan, CapacityBelowConfirmed> => {
  const { capacity, event, heads, now } = input
  if (capacity < event.confirmedCount) {
    return Result.fail(new CapacityBelowConfirmed({ capacity, confirmedCount: event.confirmedCount }))
  }
  if (capacity === event.capacity) return Result.succeed(emptyPlan)
  const resized = { ...event, capacity }
  const promotion = promote(
    resized,
    heads.slice(0, seatsToPromote(event, capacity)),
    now,
    event.confirmedCount,
    event.waitlistCount
  )
  const promoted = promotion.changes.length
  return Result.succeed({
    changes: promotion.changes,
    events: [
      DomainEvent.make("EventCapacityChanged", event.id, {
        eventId: event.id,
        previousCapacity: event.capacity,
        ...counts(resized, promoted, -promoted)
      }),
      ...promotion.events
    ]
  })
}

/**
 * Manual confirmation of a waitlisted person by the organiser: only into a free seat, never overbooking.
 * Because every freed seat is handed to the queue at once, a free seat with people waiting cannot
 * exist, so in practice this succeeds only for an already confirmed registration (a no-op).
 *
 * @since 0.1.0
 */
export const decideManualConfirm = (input: {
  readonly event: Event
  readonly registration: Registration
  readonly now: Date
}): Result.Result<{ readonly plan: Plan; readonly registration: Registration }, InvalidTransition | NoSeatAvailable> => {
  const { event, now, registration } = input
  if (registration.status === "confirmed") return Result.succeed({ plan: emptyPlan, registration })
  if (registration.status !== "waitlisted") {
    return Result.fail(new InvalidTransition({ from: registration.status, to: "confirmed" }))
  }
  if (event.confirmedCount >= event.capacity) return Result.fail(new NoSeatAvailable({ eventId: event.id }))
  const confirmed = transition(registration, "confirmed", now)
  return Result.succeed({
    registration: confirmed,
    plan: {
      changes: [{ _tag: "Transition", registration, to: "confirmed", at: now }],
      events: [
        DomainEvent.make("RegistrationPromoted", event.id, {
          ...registrationData(confirmed, event, 1, -1),
          fromPosition: registration.waitlistPosition ?? 1
        }),
        DomainEvent.make("WaitlistPositionsShifted", event.id, {
          eventId: event.id,
          fromPosition: registration.waitlistPosition ?? 1,
          ...counts(event, 1, -1)
        })
      ]
    }
  })
}

/**
 * Attendance: for confirmed (or already marked) registrations, once the event has started.
 *
 * @since 0.1.0
 */
export const decideAttendance = (input: {
  readonly event: Event
  readonly registration: Registration
  readonly attended: boolean
  readonly now: Date
}): Result.Result<{ readonly plan: Plan; readonly registration: Registration }, InvalidTransition | EventNotStarted> => {
  const { attended, event, now, registration } = input
  const to: RegistrationStatus = attended ? "attended" : "no_show"
  if (registration.status !== "confirmed" && registration.status !== "attended" && registration.status !== "no_show") {
    return Result.fail(new InvalidTransition({ from: registration.status, to }))
  }
  if (now.getTime() < event.startsAt.getTime()) return Result.fail(new EventNotStarted({ eventId: event.id }))
  if (registration.status === to) return Result.succeed({ plan: emptyPlan, registration })
  const marked = { ...transition(registration, to, now), confirmedAt: registration.confirmedAt }
  // attended / no_show keep their seat in the confirmed count: the person held it.
  return Result.succeed({
    registration: marked,
    plan: {
      changes: [{ _tag: "Transition", registration, to, at: now }],
      events: [DomainEvent.make("AttendanceMarked", event.id, registrationData(marked, event, 0, 0))]
    }
  })
}

/**
 * Cancelling the event cancels every active registration: one batch event plus one per attendee.
 *
 * @since 0.1.0
 */
export const planEventCancellation = (
  event: Event,
  active: ReadonlyArray<Registration>,
  now: Date
): Plan => {
  const cancelledEvent = { ...event, confirmedCount: 0, waitlistCount: 0 }
  return {
    changes: active.map((registration) => ({ _tag: "Transition", registration, to: "cancelled", at: now } as const)),
    events: [
      DomainEvent.make("EventCancelled", event.id, { eventId: event.id, cancelledRegistrations: active.length }),
      ...active.map((registration) =>
        DomainEvent.make("RegistrationCancelled", event.id, {
          ...registrationData(transition(registration, "cancelled", now), cancelledEvent, 0, 0),
          previousStatus: registration.status,
          reason: "event-cancelled" as const
        })
      )
    ]
  }
}
