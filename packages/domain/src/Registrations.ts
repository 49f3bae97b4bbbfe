/**
 * Use-cases of registrations: register, cancel (with promotion), manual confirm, attendance, reads.
 *
 * Each write runs in one unit of work that first locks the event, then reads, decides with the pure
 * rules of {@link Waitlist}, and commits the plan with its outbox messages.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Request, Result, Semaphore } from "effect"
import * as CommandBatching from "./CommandBatching.ts"
import { commitPlan, recordEvents } from "./Commit.ts"
import { EventNotFound, RegistrationNotFound, type RepositoryError } from "./DomainError.ts"
import type { Event } from "./Event.ts"
import { EventRepository } from "./EventRepository.ts"
import { type EventId, Ids, type RegistrationId, type UserId } from "./Ids.ts"
import * as Audit from "./Audit.ts"
import * as Metrics from "./Metrics.ts"
import { OutboxWriter } from "./OutboxWriter.ts"
import type { PageRequest } from "./Page.ts"
import * as Policy from "./Policy.ts"
import * as Span from "./Span.ts"
import type { Registration, RegistrationStatus, RegisterInput } from "./Registration.ts"
import * as RegistrationBatch from "./RegistrationBatch.ts"
import { RegistrationRepository } from "./RegistrationRepository.ts"
import { UnitOfWork } from "./UnitOfWork.ts"
import type { Actor, User } from "./User.ts"
import { UserRepository } from "./UserRepository.ts"
import * as Waitlist from "./Waitlist.ts"

const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

/**
 * A "register" command on its way into a batch.
 *
 * @since 0.2.0
 */
export class RegisterRequest extends Request.Class<
  RegistrationBatch.RegisterCommand,
  Registration,
  RegistrationBatch.RegisterFailure | RepositoryError
> {}

/**
 * A "cancel" command on its way into a batch.
 *
 * @since 0.2.0
 */
export class CancelRequest extends Request.Class<
  RegistrationBatch.CancelCommand,
  Registration,
  RegistrationBatch.CancelFailure | RepositoryError
> {}

/**
 * How registrations are batched.
 *
 * @since 0.2.0
 */
export interface Options {
  /** The most commands one batch commits (default 64); more wait for the next batch. */
  readonly maxBatchSize?: number | undefined
  /**
   * Lanes of one process (default 1). Registrations go to the lane of their event (a hash of its id),
   * each lane commits one batch after another, so one event's registrations are always batched
   * together behind each other while different events' batches commit side by side. Cancellations
   * have as many batches in flight as there are lanes.
   */
  readonly concurrency?: number | undefined
}

/** @since 0.2.0 */
export const makeWith = (options: Options = {}) => Effect.gen(function*() {
  const events = yield* EventRepository
  const registrations = yield* RegistrationRepository
  const unitOfWork = yield* UnitOfWork
  const users = yield* UserRepository
  const ids = yield* Ids
  const context = Context.make(RegistrationRepository, registrations).pipe(
    Context.add(OutboxWriter, yield* OutboxWriter),
    Context.add(Ids, ids),
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

  /** Each newcomer's command acting as the stored person (`stored`: their ids, in command order). */
  const asStored = (commands: ReadonlyArray<RegistrationBatch.RegisterCommand>, stored: ReadonlyArray<UserId>) => {
    let next = 0
    return commands.map((command) =>
      command.newcomer === undefined ? command : { ...command, actor: { ...command.actor, userId: stored[next++]! } }
    )
  }
  const pairsOf = (commands: ReadonlyArray<RegistrationBatch.RegisterCommand>) =>
    commands.map((command) => ({ eventId: command.eventId, userId: command.actor.userId }))

  /**
   * What a batch plans over. A batch of one — every registration of an idle service — takes the
   * single-registration lock: one short statement, where the batch statement (JSON input, a lateral
   * lookup per pair) costs PostgreSQL most of a millisecond to plan on every execution.
   */
  const lockBatch = (commands: ReadonlyArray<RegistrationBatch.RegisterCommand>) => {
    if (commands.length !== 1) return registrations.lockForRegistrations(pairsOf(commands))
    const { actor, eventId } = commands[0]!
    return Effect.map(
      registrations.lockForRegistration(eventId, actor.userId),
      (locked) => RegistrationBatch.snapshotOfOne(actor.userId, Option.getOrUndefined(locked))
    )
  }

  /**
   * The people seen for the first time among a batch's commands are provisioned by the batch's unit
   * of work rather than by a transaction of their own — an idle registration of a new person commits
   * once — and before any lock, as a provisioning of its own would have been: in the lock's own step
   * where the store has one, else by a statement of their own. Each such command then acts as the
   * stored person (an existing subject keeps its id).
   */
  const provisionAndLock = (commands: ReadonlyArray<RegistrationBatch.RegisterCommand>) => {
    const newcomers = commands.flatMap((command) => command.newcomer === undefined ? [] : [command.newcomer])
    if (newcomers.length === 0) return Effect.map(lockBatch(commands), (snapshot) => ({ commands, snapshot }))
    const together = registrations.provisionAndLockForRegistrations
    if (together !== undefined && commands.length > 1) {
      return Effect.map(together(newcomers, pairsOf(commands)), ({ snapshot, stored }) => ({
        commands: asStored(commands, stored),
        snapshot
      }))
    }
    return Effect.flatMap(users.insertAllIfAbsent(newcomers), (stored) => {
      const provisioned = asStored(commands, stored.map((user) => user.id))
      return Effect.map(lockBatch(provisioned), (snapshot) => ({ commands: provisioned, snapshot }))
    })
  }

  /**
   * One batch in one unit of work: provision its newcomers, lock its events and users, decide every
   * command in arrival order with the pure rules, write all rows and outbox messages with set-based
   * statements.
   */
  const commitBatch = (batched: ReadonlyArray<RegistrationBatch.RegisterCommand>) =>
    unitOfWork.transact(Effect.gen(function*() {
      const at = yield* now
      const { commands, snapshot } = yield* provisionAndLock(batched)
      const batch = RegistrationBatch.plan(snapshot, commands, at)
      if (batch.plans.length > 0) {
        // Events first: a SQL store writes them in the same statement as the changes.
        yield* provide(recordEvents(batch.plans.flatMap(({ plan }) => plan.events)))
        yield* registrations.applyMany(batch.plans.map(({ eventId, plan }) => ({ eventId, changes: plan.changes })))
      }
      return batch
    })).pipe(Span.named("Registrations.commitBatch"), Effect.annotateSpans("batch.size", batched.length))

  // A batch is what arrived while the previous one of its lane was in flight.
  const lanes = Math.max(1, options.concurrency ?? 1)
  const maxBatchSize = options.maxBatchSize ?? 64

  const recordPlans = (batch: { readonly plans: ReadonlyArray<{ readonly plan: Waitlist.Plan }> }) =>
    Effect.forEach(batch.plans, ({ plan }) => Metrics.recordPlan(plan), { discard: true })

  const registerLane = () => CommandBatching.resolver<RegisterRequest, RegistrationBatch.BatchPlan>({
    name: "register",
    slots: Semaphore.makeUnsafe(1),
    maxBatchSize,
    commit: commitBatch,
    outcomes: (batch) => batch.outcomes,
    onCommitted: recordPlans,
    onFailure: Metrics.recordRejection
  })
  const registerLanes = Array.from({ length: lanes }, registerLane)
  // The random tail of the id (UUID v7: 62 random bits at the end) spreads events over the lanes.
  const laneOf = (eventId: EventId) => lanes === 1 ? 0 : Number.parseInt(eventId.slice(-6), 16) % lanes

  // The id from the service itself: providing this module's services to a request's context would
  // copy that whole context (past eight additions, Effect flattens it into a new map).
  const nextRegistrationId = ids.next as Effect.Effect<RegistrationId>

  const submit = (registrationId: RegistrationId, actor: Actor, eventId: EventId, notes: string, newcomer: User | undefined) =>
    Effect.request(
      new RegisterRequest({ actor, eventId, registrationId, notes, newcomer }),
      registerLanes[laneOf(eventId)] ?? registerLanes[0]!
    )

  const register = (actor: Actor, eventId: EventId, input: RegisterInput) =>
    Effect.flatMap(nextRegistrationId, (registrationId) => submit(registrationId, actor, eventId, input.notes ?? "", undefined))
      .pipe(Span.leaf("Registrations.register"))

  /**
   * The registration of a person not stored yet (`Users.candidate` of their token's claims): they are
   * provisioned in the registration's unit of work, which saves a commit on a first request. The
   * registration names the stored person (the candidate's id unless the subject existed); an erased
   * subject is refused with `UserErased`, as provisioning refuses it.
   */
  const registerNewcomer = (newcomer: User, roles: Actor["roles"], eventId: EventId, input: RegisterInput) =>
    Effect.flatMap(nextRegistrationId, (registrationId) => {
      const notes = input.notes ?? ""
      // The store may prepare the newcomer (seal their fields, and the notes of this registration)
      // while the command waits for its batch.
      users.anticipate?.([newcomer], [{ id: registrationId, notes }])
      return submit(registrationId, { userId: newcomer.id, roles }, eventId, notes, newcomer)
    }).pipe(Span.leaf("Registrations.register"))

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

  /** A batch of cancellations in one unit of work, audited where someone else cancels. */
  const commitCancellations = (commands: ReadonlyArray<RegistrationBatch.CancelCommand>) =>
    unitOfWork.transact(Effect.gen(function*() {
      const at = yield* now
      const snapshot = yield* registrations.lockForCancellations(commands.map((command) => command.registrationId))
      const batch = RegistrationBatch.planCancellations(snapshot, commands, at)
      if (batch.plans.length > 0) {
        // Events first: a SQL store writes them in the same statement as the changes.
        yield* provide(recordEvents(batch.plans.flatMap(({ plan }) => plan.events)))
        yield* registrations.applyMany(batch.plans.map(({ eventId, plan }) => ({ eventId, changes: plan.changes })))
      }
      for (let i = 0; i < commands.length; i++) {
        const outcome = batch.outcomes[i]!
        const actor = commands[i]!.actor
        if (Result.isSuccess(outcome) && outcome.success.before.userId !== actor.userId) {
          yield* audit(actor, "registration.cancel", outcome.success.before, outcome.success.after)
        }
      }
      return batch
    })).pipe(Span.named("Registrations.commitCancellations"), Effect.annotateSpans("batch.size", commands.length))

  const cancelResolver = CommandBatching.resolver<CancelRequest, RegistrationBatch.CancelBatchPlan>({
    name: "cancel",
    slots: Semaphore.makeUnsafe(lanes),
    maxBatchSize,
    commit: commitCancellations,
    outcomes: (batch) => batch.outcomes.map(Result.map((cancelled) => cancelled.after)),
    onCommitted: recordPlans
  })

  const cancel = (actor: Actor, registrationId: RegistrationId) =>
    Effect.request(new CancelRequest({ actor, registrationId }), cancelResolver).pipe(Span.leaf("Registrations.cancel"))

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

  return { register, registerNewcomer, cancel, confirm, markAttendance, get, listForEvent, waitlist, listMine } as const
})

/** @since 0.1.0 */
export const make = makeWith()

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
  /** @since 0.2.0 */
  static readonly layerWith = (options: Options) => Layer.effect(Registrations, makeWith(options))
}
