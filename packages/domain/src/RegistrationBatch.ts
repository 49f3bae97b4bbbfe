/**
 * Registrations decided together: the "register" (and "cancel") commands that arrived while the
 * previous batch was being committed, planned over one snapshot of their events taken under the
 * events' locks.
 *
 * Planning a batch is the single-registration rule applied command after command, in arrival order,
 * each over the event as the commands before it left it. So a batch decides exactly what the same
 * commands would have decided one transaction each, in that order: the FIFO waitlist and the seat
 * count (I1, I3, I4) do not depend on how requests happen to be grouped. A command refused by a rule
 * gets its own error and changes nothing for its neighbours.
 *
 * Pure: the snapshot comes from the unit of work ({@link RegistrationRepository}'s
 * `lockForRegistrations`), the plans go back to it.
 *
 * @since 0.2.0
 */
import { Result } from "effect"
import { EventNotFound, type InvalidTransition, RegistrationNotFound, UserErased } from "./DomainError.ts"
import type { Event } from "./Event.ts"
import type { EventId, RegistrationId, UserId } from "./Ids.ts"
import * as Policy from "./Policy.ts"
import type { Registration, RegistrationChange, RegistrationStatus } from "./Registration.ts"
import type { Actor, User } from "./User.ts"
import * as Waitlist from "./Waitlist.ts"

/**
 * One "register" command: who, where, and the id the registration will have if it is created.
 *
 * @since 0.2.0
 */
export interface RegisterCommand {
  readonly actor: Actor
  readonly eventId: EventId
  readonly registrationId: RegistrationId
  readonly notes: string
  /**
   * The person, when this is the first request of theirs the process has seen: not stored yet, they
   * are provisioned in the batch's unit of work (one commit for both), and `actor.userId` is the id
   * they get if their subject is new.
   */
  readonly newcomer?: User | undefined
}

/**
 * What the unit of work read under the locks of a batch's events.
 *
 * @since 0.2.0
 */
export interface Snapshot {
  /** The batch's events that exist, as they are under their locks. */
  readonly events: ReadonlyArray<Event>
  /** The active (confirmed or waitlisted) registrations of the batch's (event, user) pairs. */
  readonly active: ReadonlyArray<Registration>
  /** The batch's users that exist, and whether each is erased. */
  readonly users: ReadonlyArray<{ readonly userId: UserId; readonly erased: boolean }>
}

/**
 * The snapshot of a batch of one command from the single-registration lock (`lockForRegistration`,
 * none when the event or the user does not exist).
 *
 * @since 0.2.0
 */
export const snapshotOfOne = (
  userId: UserId,
  locked: { readonly event: Event; readonly active: Registration | undefined; readonly userErased: boolean } | undefined
): Snapshot =>
  locked === undefined
    ? { events: [], active: [], users: [] }
    : {
      events: [locked.event],
      active: locked.active === undefined ? [] : [locked.active],
      users: [{ userId, erased: locked.userErased }]
    }

/** @since 0.2.0 */
export type RegisterFailure = Waitlist.RegisterError | EventNotFound | UserErased

/**
 * The decisions of a batch: one outcome per command (same order), and per event the plan to commit.
 *
 * @since 0.2.0
 */
export interface BatchPlan {
  readonly outcomes: ReadonlyArray<Result.Result<Registration, RegisterFailure>>
  /** Events in the order their commands first appear; only events with something to write. */
  readonly plans: ReadonlyArray<{ readonly eventId: EventId; readonly plan: Waitlist.Plan }>
}

const pairKey = (eventId: EventId, userId: UserId) => `${eventId} ${userId}`

/** The mutable planning state of one event within a batch. */
interface EventState {
  event: Event
  readonly changes: Array<Waitlist.Plan["changes"][number]>
  readonly events: Array<Waitlist.Plan["events"][number]>
}

/**
 * Decides every command of a batch over `snapshot` at time `now`.
 *
 * @since 0.2.0
 */
export const plan = (snapshot: Snapshot, commands: ReadonlyArray<RegisterCommand>, now: Date): BatchPlan => {
  const states = new Map<EventId, EventState>()
  for (const event of snapshot.events) states.set(event.id, { event, changes: [], events: [] })
  const active = new Map<string, Registration>()
  for (const registration of snapshot.active) active.set(pairKey(registration.eventId, registration.userId), registration)
  const erased = new Map<UserId, boolean>()
  for (const user of snapshot.users) erased.set(user.userId, user.erased)

  const touched: Array<EventId> = []
  const outcomes = commands.map((command): Result.Result<Registration, RegisterFailure> => {
    const state = states.get(command.eventId)
    const userErased = erased.get(command.actor.userId)
    // An unknown user cannot hold a registration: answered like an unknown event, as a single
    // registration's lock (which joins the user) always did.
    if (state === undefined || userErased === undefined || !Policy.canViewEvent(command.actor, state.event)) {
      return Result.fail(new EventNotFound({ eventId: command.eventId }))
    }
    // Erased while this request was on its way: its token was valid when it arrived.
    if (userErased) return Result.fail(new UserErased({}))
    const key = pairKey(command.eventId, command.actor.userId)
    const existing = active.get(key)
    // This very command, committed by an earlier attempt of its unit of work whose answer was lost (an
    // attempt timed out after COMMIT went out, and the policy ran the unit of work again): answer what
    // that attempt stored rather than refuse the person's own registration as a duplicate.
    if (existing !== undefined && existing.id === command.registrationId) return Result.succeed(existing)
    const placement = Waitlist.decidePlacement({ event: state.event, active: existing, now })
    if (Result.isFailure(placement)) return Result.fail(placement.failure)
    const registration: Registration = {
      id: command.registrationId,
      eventId: command.eventId,
      userId: command.actor.userId,
      status: placement.success.status,
      waitlistPosition: placement.success.status === "waitlisted" ? placement.success.position : null,
      notes: command.notes,
      createdAt: now,
      updatedAt: now,
      confirmedAt: placement.success.status === "confirmed" ? now : null,
      cancelledAt: null
    }
    const decided = Waitlist.planRegistration(state.event, registration)
    if (state.changes.length === 0) touched.push(command.eventId)
    state.changes.push(...decided.changes)
    state.events.push(...decided.events)
    const confirmed = registration.status === "confirmed"
    state.event = {
      ...state.event,
      confirmedCount: state.event.confirmedCount + (confirmed ? 1 : 0),
      waitlistCount: state.event.waitlistCount + (confirmed ? 0 : 1)
    }
    active.set(key, registration)
    return Result.succeed(registration)
  })
  return {
    outcomes,
    plans: touched.map((eventId) => {
      const state = states.get(eventId)!
      return { eventId, plan: { changes: state.changes, events: state.events } }
    })
  }
}

/**
 * One "cancel" command.
 *
 * @since 0.2.0
 */
export interface CancelCommand {
  readonly actor: Actor
  readonly registrationId: RegistrationId
}

/**
 * What the unit of work read for a batch of cancellations, under the locks of their events.
 *
 * @since 0.2.0
 */
export interface CancelSnapshot {
  readonly events: ReadonlyArray<Event>
  /** The named registrations that exist, with their waitlist positions. */
  readonly registrations: ReadonlyArray<Registration>
  /** Per event, the first waitlisted registrations in position order (positions 1..k). */
  readonly heads: ReadonlyArray<Registration>
}

/** @since 0.2.0 */
export type CancelFailure = RegistrationNotFound | InvalidTransition

/**
 * A cancellation as decided: the registration before and after (for the audit trail of cancels by
 * someone other than the attendee).
 *
 * @since 0.2.0
 */
export interface Cancelled {
  readonly before: Registration
  readonly after: Registration
}

/** @since 0.2.0 */
export interface CancelBatchPlan {
  readonly outcomes: ReadonlyArray<Result.Result<Cancelled, CancelFailure>>
  readonly plans: ReadonlyArray<{ readonly eventId: EventId; readonly plan: Waitlist.Plan }>
}

const holdsSeat = (status: RegistrationStatus) => status === "confirmed" || status === "attended" || status === "no_show"

const afterChange = (change: RegistrationChange): Registration =>
  change._tag === "Insert" ? change.registration : {
    ...change.registration,
    status: change.to,
    waitlistPosition: null,
    updatedAt: change.at,
    confirmedAt: change.to === "confirmed" ? change.at : change.registration.confirmedAt,
    cancelledAt: change.to === "cancelled" ? change.at : change.registration.cancelledAt
  }

/** The queue of one event as a batch changes it: who has left, by their position at read time. */
interface QueueState {
  event: Event
  /** The head of the waitlist as read, in order; departed ones are skipped. */
  readonly heads: ReadonlyArray<Registration>
  /** Positions (as read) of the people who left the queue during this batch. */
  readonly departed: Array<number>
  readonly changes: Array<RegistrationChange>
  readonly events: Array<Waitlist.Plan["events"][number]>
}

/**
 * Decides every cancellation of a batch, in arrival order, each over the event and the waitlist as
 * the commands before it left them: a freed seat goes to whoever heads the queue at that moment, and
 * positions account for everyone who left before.
 *
 * @since 0.2.0
 */
export const planCancellations = (
  snapshot: CancelSnapshot,
  commands: ReadonlyArray<CancelCommand>,
  now: Date
): CancelBatchPlan => {
  const queues = new Map<EventId, QueueState>()
  for (const event of snapshot.events) {
    queues.set(event.id, {
      event,
      heads: snapshot.heads.filter((head) => head.eventId === event.id)
        .sort((a, b) => a.waitlistPosition! - b.waitlistPosition!),
      departed: [],
      changes: [],
      events: []
    })
  }
  // Current state of every registration the batch may touch; `readPosition` is its position as read.
  const current = new Map<RegistrationId, Registration>()
  const readPosition = new Map<RegistrationId, number>()
  for (const registration of [...snapshot.heads, ...snapshot.registrations]) {
    current.set(registration.id, registration)
    if (registration.waitlistPosition !== null) readPosition.set(registration.id, registration.waitlistPosition)
  }
  const positionNow = (queue: QueueState, id: RegistrationId) => {
    const read = readPosition.get(id)!
    return read - queue.departed.filter((position) => position < read).length
  }

  const touched: Array<EventId> = []
  const outcomes = commands.map((command): Result.Result<Cancelled, CancelFailure> => {
    const found = current.get(command.registrationId)
    const queue = found && queues.get(found.eventId)
    if (found === undefined || queue === undefined || !Policy.canViewRegistration(command.actor, found, queue.event)) {
      return Result.fail(new RegistrationNotFound({ registrationId: command.registrationId }))
    }
    const registration = found.status === "waitlisted"
      ? { ...found, waitlistPosition: positionNow(queue, found.id) }
      : found
    const next = registration.status === "confirmed"
      ? queue.heads.find((head) => current.get(head.id)!.status === "waitlisted")
      : undefined
    const decision = Waitlist.decideCancellation({
      event: queue.event,
      registration,
      head: next && { ...next, waitlistPosition: 1 },
      reason: registration.userId === command.actor.userId ? "attendee" : "organizer",
      now
    })
    if (Result.isFailure(decision)) return Result.fail(decision.failure)
    const { plan } = decision.success
    if (plan.changes.length > 0 && queue.changes.length === 0) touched.push(queue.event.id)
    let seats = 0
    let waiting = 0
    for (const change of plan.changes) {
      if (change._tag !== "Transition") continue
      const from = change.registration.status
      seats += (holdsSeat(change.to) ? 1 : 0) - (holdsSeat(from) ? 1 : 0)
      waiting += (change.to === "waitlisted" ? 1 : 0) - (from === "waitlisted" ? 1 : 0)
      if (from === "waitlisted" && change.to !== "waitlisted") queue.departed.push(readPosition.get(change.registration.id)!)
      current.set(change.registration.id, afterChange(change))
    }
    queue.changes.push(...plan.changes)
    queue.events.push(...plan.events)
    queue.event = {
      ...queue.event,
      confirmedCount: queue.event.confirmedCount + seats,
      waitlistCount: queue.event.waitlistCount + waiting
    }
    return Result.succeed({ before: found, after: decision.success.registration })
  })
  return {
    outcomes,
    plans: touched.map((eventId) => {
      const queue = queues.get(eventId)!
      return { eventId, plan: { changes: queue.changes, events: queue.events } }
    })
  }
}
