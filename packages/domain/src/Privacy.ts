/**
 * GDPR use-cases: export everything held about a person, and erase them.
 *
 * - **Export** returns the profile, every registration with its status history, every audit entry
 *   whose actor or subject is the person and every outbox message that names them, to the person
 *   themself or an admin. The export is audited.
 * - **Erase** is irreversible and idempotent. One unit of work anonymises the profile (email, name and
 *   phone cleared, `erasedAt` set), clears the notes of every registration of the person, removes the
 *   copies kept beside the records ({@link PersonalDataCopies}: stored responses of their retried
 *   requests, …) and records `UserErased`. The subject (the identity provider's opaque id) is kept, so the person's token finds
 *   the erased row and is refused (`user-erased`) instead of provisioning a fresh account. Then each
 *   registration for an event that has not started is cancelled (reason `user-erased`) in a unit of
 *   work of its own, under its event's lock and with the usual FIFO promotion — the same rule as any
 *   cancellation. Registrations for events that have started stay, as anonymous counts. Erasing again
 *   repeats only what is left (e.g. after a crash between the steps).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import * as Audit from "./Audit.ts"
import { commitPlan, recordEvents } from "./Commit.ts"
import * as DomainEvent from "./DomainEvent.ts"
import { UserNotFound } from "./DomainError.ts"
import { EventRepository } from "./EventRepository.ts"
import { Ids, type UserId } from "./Ids.ts"
import * as Metrics from "./Metrics.ts"
import { collectAll } from "./Page.ts"
import { OutboxWriter } from "./OutboxWriter.ts"
import { PersonalDataCopies } from "./PersonalDataCopies.ts"
import * as Policy from "./Policy.ts"
import * as Span from "./Span.ts"
import { isActive, type Registration, type StatusChange, statusHistory } from "./Registration.ts"
import { RegistrationRepository } from "./RegistrationRepository.ts"
import { UnitOfWork } from "./UnitOfWork.ts"
import { type Actor, isAdmin, type User } from "./User.ts"
import { UserRepository } from "./UserRepository.ts"
import * as Waitlist from "./Waitlist.ts"

const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

/** A registration as exported: as stored, with its status history. @since 0.1.0 */
export interface RegistrationRecord extends Registration {
  readonly history: ReadonlyArray<StatusChange>
}

/** Everything held about a person. @since 0.1.0 */
export interface PersonalData {
  readonly exportedAt: Date
  readonly user: User
  readonly registrations: ReadonlyArray<RegistrationRecord>
  /** Audit entries whose actor or subject is the person (this export's own entry included). */
  readonly audit: ReadonlyArray<Audit.AuditEntry>
  /** Outbox messages (domain events) whose data names the person. */
  readonly messages: ReadonlyArray<DomainEvent.DomainEvent>
}

/** What an erase did. @since 0.1.0 */
export interface Erasure {
  readonly user: User
  /** Registrations cancelled by this call (future events only). */
  readonly cancelledRegistrations: number
}

/** @since 0.1.0 */
export const make = Effect.gen(function*() {
  const users = yield* UserRepository
  const events = yield* EventRepository
  const registrations = yield* RegistrationRepository
  const unitOfWork = yield* UnitOfWork
  const auditLog = yield* Audit.AuditLog
  const copies = yield* PersonalDataCopies
  const provide = Effect.provideContext(
    Context.make(RegistrationRepository, registrations).pipe(
      Context.add(OutboxWriter, yield* OutboxWriter),
      Context.add(Ids, yield* Ids),
      Context.add(Audit.AuditLog, auditLog)
    )
  )
  const audit = (actor: Actor, action: "user.export" | "user.erase", userId: UserId) =>
    provide(Audit.record(actor, { action, targetType: "user", targetId: userId, subjectUserId: userId }))

  /** Every audit entry about the person. */
  const auditAbout = (userId: UserId) => collectAll((page) => auditLog.list({ ...page, concerning: userId }))

  const requireSelfOrAdmin = (actor: Actor, userId: UserId) =>
    Policy.require(actor.userId === userId || isAdmin(actor), "Only the person themself or an admin may do this")

  const load = (id: UserId) =>
    Effect.flatMap(
      users.findById(id),
      Option.match({ onNone: () => Effect.fail(new UserNotFound({ userId: id })), onSome: Effect.succeed })
    )

  /** Every registration of the person. */
  const allRegistrations = (userId: UserId) => collectAll((page) => registrations.listByUser(userId, page))

  const exportData = Effect.fnUntraced(function*(actor: Actor, userId: UserId) {
    yield* requireSelfOrAdmin(actor, userId)
    const user = yield* load(userId)
    yield* unitOfWork.transact(audit(actor, "user.export", userId))
    const held = yield* allRegistrations(userId)
    const data: PersonalData = {
      exportedAt: yield* now,
      user,
      registrations: held.map((registration) => ({ ...registration, history: statusHistory(registration) })),
      audit: yield* auditAbout(userId),
      messages: yield* copies.messagesAbout(userId)
    }
    return data
  }, Span.named("Privacy.export"))

  /** Cancels one registration for an event that has not started; `undefined` when there is nothing to do. */
  const cancelForErasure = (registration: Registration, at: Date) =>
    unitOfWork.transact(Effect.gen(function*() {
      const event = yield* events.lock(registration.eventId)
      const current = yield* registrations.findById(registration.id)
      if (Option.isNone(event) || Option.isNone(current) || !isActive(current.value.status)) return undefined
      if (event.value.startsAt.getTime() <= at.getTime()) return undefined
      const head = current.value.status === "confirmed"
        ? (yield* registrations.waitlistHead(event.value.id, 1))[0]
        : undefined
      const decision = yield* Effect.fromResult(Waitlist.decideCancellation({
        event: event.value,
        registration: current.value,
        head,
        reason: "user-erased",
        now: at
      }))
      yield* provide(commitPlan(event.value.id, decision.plan))
      return decision.plan
    }))

  const erase = Effect.fnUntraced(function*(actor: Actor, userId: UserId) {
    yield* requireSelfOrAdmin(actor, userId)
    let user = yield* load(userId)
    const at = yield* now
    if (user.erasedAt === null) {
      const anonymous: User = { ...user, email: null, name: null, phone: null, erasedAt: at, updatedAt: at }
      user = yield* unitOfWork.transact(Effect.gen(function*() {
        const updated = yield* users.update(anonymous)
        yield* registrations.eraseNotes(userId)
        yield* copies.erase(userId)
        yield* provide(recordEvents([DomainEvent.make("UserErased", userId, { userId })]))
        yield* audit(actor, "user.erase", userId)
        return updated
      }))
    } else {
      // Again: whatever a copy may still hold (a response stored after the first erase) goes too.
      yield* unitOfWork.transact(Effect.andThen(copies.erase(userId), audit(actor, "user.erase", userId)))
    }
    let cancelledRegistrations = 0
    for (const registration of yield* allRegistrations(userId)) {
      if (!isActive(registration.status)) continue
      const plan = yield* cancelForErasure(registration, at)
      if (plan === undefined) continue
      cancelledRegistrations += 1
      yield* Metrics.recordPlan(plan)
    }
    const erasure: Erasure = { user, cancelledRegistrations }
    return erasure
  }, Span.named("Privacy.erase"))

  return { export: exportData, erase } as const
})

/**
 * The GDPR use-cases.
 *
 * @since 0.1.0
 */
export class Privacy extends Context.Service<Privacy, Effect.Success<typeof make>>()("@live-events/domain/Privacy") {
  /** @since 0.1.0 */
  static readonly layer = Layer.effect(Privacy, make)
}
