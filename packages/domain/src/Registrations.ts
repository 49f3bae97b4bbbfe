/**
 * Use-cases of registrations: register, cancel (with promotion), manual confirm, attendance, reads.
 *
 * Each write runs in one unit of work that first locks the event, then reads, decides with the pure
 * rules of {@link Waitlist}, and commits the plan with its outbox messages.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import { commitPlan } from "./Commit.ts"
import { EventNotFound, RegistrationNotFound, UserErased } from "./DomainError.ts"
import type { Event } from "./Event.ts"
import { EventRepository } from "./EventRepository.ts"
import { type EventId, Ids, nextRegistrationId, type RegistrationId } from "./Ids.ts"
import * as Audit from "./Audit.ts"
import * as Metrics from "./Metrics.ts"
import { OutboxWriter } from "./OutboxWriter.ts"
import type { PageRequest } from "./Page.ts"
import * as Policy from "./Policy.ts"
import * as Span from "./Span.ts"
import type { Registration, RegistrationStatus, RegisterInput } from "./Registration.ts"
import { RegistrationRepository } from "./RegistrationRepository.ts"
import { UnitOfWork } from "./UnitOfWork.ts"
import type { Actor } from "./User.ts"
import * as Waitlist from "./Waitlist.ts"

const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

/** @since 0.1.0 */
export const make = Effect.gen(function*() {
  const events = yield* EventRepository
  const registrations = yield* RegistrationRepository
  const unitOfWork = yield* UnitOfWork
  const context = Context.make(RegistrationRepository, registrations).pipe(
    Context.add(OutboxWriter, yield* OutboxWriter),
    Context.add(Ids, yield* Ids),
    Context.add(Audit.AuditLog, yield* Audit.AuditLog)
  )
  const provide = Effect.provideContext(context)
  /** Organizer/admin actions on a registration are audited (statuses only: no personal data). */
  const audit = (actor: Actor, action: Audit.AuditAction, before: Registration, after: Registration) =>
    provide(Audit.record(actor, {
      action,
      targetType: "registration",
      targetId: before.id,
      subjectUserId: before.userId,
      before: { status: before.status },
      after: { status: after.status }
    }))

  const register = Effect.fnUntraced(function*(actor: Actor, eventId: EventId, input: RegisterInput) {
    const id = yield* provide(nextRegistrationId)
    const placed = yield* unitOfWork.transact(Effect.gen(function*() {
      const at = yield* now
      const locked = yield* registrations.lockForRegistration(eventId, actor.userId)
      if (Option.isNone(locked) || !Policy.canViewEvent(actor, locked.value.event)) {
        return yield* new EventNotFound({ eventId })
      }
      // Erased while this request was on its way: its token was valid when it arrived.
      if (locked.value.userErased) return yield* new UserErased({})
      const { active, event } = locked.value
      const placement = yield* Effect.fromResult(Waitlist.decidePlacement({ event, active, now: at }))
      const registration: Registration = {
        id,
        eventId,
        userId: actor.userId,
        status: placement.status,
        waitlistPosition: placement.status === "waitlisted" ? placement.position : null,
        notes: input.notes ?? "",
        createdAt: at,
        updatedAt: at,
        confirmedAt: placement.status === "confirmed" ? at : null,
        cancelledAt: null
      }
      const plan = Waitlist.planRegistration(event, registration)
      yield* provide(commitPlan(eventId, plan))
      return { registration, plan }
    })).pipe(Effect.tapError(Metrics.recordRejection))
    yield* Metrics.recordPlan(placed.plan)
    return placed.registration
  }, Span.named("Registrations.register"))

  /** Finds a registration, then locks its event and reads it again under the lock. */
  const lockRegistration = (actor: Actor, id: RegistrationId) =>
    Effect.gen(function*() {
      const unlocked = yield* registrations.findById(id)
      if (Option.isNone(unlocked)) return yield* new RegistrationNotFound({ registrationId: id })
      const event = yield* events.lock(unlocked.value.eventId)
      const registration = yield* registrations.findById(id)
      if (Option.isNone(event) || Option.isNone(registration)) {
        return yield* new RegistrationNotFound({ registrationId: id })
      }
      if (!Policy.canViewRegistration(actor, registration.value, event.value)) {
        return yield* new RegistrationNotFound({ registrationId: id })
      }
      return { event: event.value, registration: registration.value }
    })

  const requireManager = (actor: Actor, event: Event) =>
    Policy.require(Policy.canManageEvent(actor, event), "Only the organizer or an admin may do this")

  const cancel = Effect.fnUntraced(function*(actor: Actor, id: RegistrationId) {
    const decision = yield* unitOfWork.transact(Effect.gen(function*() {
      const at = yield* now
      const { event, registration } = yield* lockRegistration(actor, id)
      const head = registration.status === "confirmed"
        ? (yield* registrations.waitlistHead(event.id, 1))[0]
        : undefined
      const decision = yield* Effect.fromResult(Waitlist.decideCancellation({
        event,
        registration,
        head,
        reason: registration.userId === actor.userId ? "attendee" : "organizer",
        now: at
      }))
      yield* provide(commitPlan(event.id, decision.plan))
      if (registration.userId !== actor.userId) yield* audit(actor, "registration.cancel", registration, decision.registration)
      return decision
    }))
    yield* Metrics.recordPlan(decision.plan)
    return decision.registration
  }, Span.named("Registrations.cancel"))

  const confirm = Effect.fnUntraced(function*(actor: Actor, id: RegistrationId) {
    const decision = yield* unitOfWork.transact(Effect.gen(function*() {
      const at = yield* now
      const { event, registration } = yield* lockRegistration(actor, id)
      yield* requireManager(actor, event)
      const decision = yield* Effect.fromResult(Waitlist.decideManualConfirm({ event, registration, now: at }))
      yield* provide(commitPlan(event.id, decision.plan))
      yield* audit(actor, "registration.confirm", registration, decision.registration)
      return decision
    }))
    yield* Metrics.recordPlan(decision.plan)
    return decision.registration
  }, Span.named("Registrations.confirm"))

  const markAttendance = Effect.fnUntraced(
    function*(actor: Actor, id: RegistrationId, attended: boolean) {
      return yield* unitOfWork.transact(Effect.gen(function*() {
        const at = yield* now
        const { event, registration } = yield* lockRegistration(actor, id)
        yield* requireManager(actor, event)
        const decision = yield* Effect.fromResult(Waitlist.decideAttendance({ event, registration, attended, now: at }))
        yield* provide(commitPlan(event.id, decision.plan))
        yield* audit(actor, "registration.attendance", registration, decision.registration)
        return decision.registration
      }))
    },
    Span.named("Registrations.markAttendance")
  )

  const get = Effect.fnUntraced(function*(actor: Actor, id: RegistrationId) {
    const registration = yield* registrations.findById(id)
    if (Option.isNone(registration)) return yield* new RegistrationNotFound({ registrationId: id })
    if (registration.value.userId === actor.userId) return registration.value
    const event = yield* events.findById(registration.value.eventId)
    if (Option.isNone(event) || !Policy.canManageEvent(actor, event.value)) {
      return yield* new RegistrationNotFound({ registrationId: id })
    }
    return registration.value
  }, Span.named("Registrations.get"))

  const managedEvent = (actor: Actor, eventId: EventId) =>
    Effect.gen(function*() {
      const event = yield* events.findById(eventId)
      if (Option.isNone(event) || !Policy.canViewEvent(actor, event.value)) {
        return yield* new EventNotFound({ eventId })
      }
      yield* requireManager(actor, event.value)
      return event.value
    })

  const listForEvent = Effect.fnUntraced(
    function*(actor: Actor, eventId: EventId, request: PageRequest & { readonly status?: RegistrationStatus | undefined }) {
      yield* managedEvent(actor, eventId)
      return yield* registrations.listByEvent(eventId, request)
    },
    Span.named("Registrations.listForEvent")
  )

  const waitlist = Effect.fnUntraced(function*(actor: Actor, eventId: EventId, request: PageRequest) {
    yield* managedEvent(actor, eventId)
    return yield* registrations.listWaitlist(eventId, request)
  }, Span.named("Registrations.waitlist"))

  const listMine = Effect.fnUntraced(function*(actor: Actor, request: PageRequest) {
    return yield* registrations.listByUser(actor.userId, request)
  }, Span.named("Registrations.listMine"))

  return { register, cancel, confirm, markAttendance, get, listForEvent, waitlist, listMine } as const
})

/**
 * The registration use-cases.
 *
 * @since 0.1.0
 */
export class Registrations extends Context.Service<Registrations, Effect.Success<typeof make>>()(
  "@live-events/domain/Registrations"
) {
  /** @since 0.1.0 */
  static readonly layer = Layer.effect(Registrations, make)
}
