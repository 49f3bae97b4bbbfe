/**
 * Use-cases of the event aggregate: create, read, list, update (with capacity rules), publish,
 * unpublish, cancel, delete. Written only against the ports.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import { commitPlan, recordEvents } from "./Commit.ts"
import * as DomainEvent from "./DomainEvent.ts"
import {
  EventHasActiveRegistrations,
  EventNotFound,
  type Forbidden,
  type InvalidCursor,
  InvalidTransition,
  type RepositoryError,
  ValidationFailed,
  VersionMismatch
} from "./DomainError.ts"
import type { CreateEventInput, Event, EventQuery, EventStatus, UpdateEventInput } from "./Event.ts"
import { EventRepository } from "./EventRepository.ts"
import { type EventId, Ids, nextEventId, type UserId } from "./Ids.ts"
import * as Metrics from "./Metrics.ts"
import { OutboxWriter } from "./OutboxWriter.ts"
import type { Page } from "./Page.ts"
import * as Audit from "./Audit.ts"
import * as Policy from "./Policy.ts"
import * as Span from "./Span.ts"
import { RegistrationRepository } from "./RegistrationRepository.ts"
import { UnitOfWork } from "./UnitOfWork.ts"
import type { Actor } from "./User.ts"
import { isAdmin } from "./User.ts"
import * as Waitlist from "./Waitlist.ts"

/** Filters a caller may pass to the list; `statuses` defaults to published. @since 0.1.0 */
export interface ListEventsRequest {
  readonly from?: Date | undefined
  readonly to?: Date | undefined
  readonly organizerId?: UserId | undefined
  readonly q?: string | undefined
  readonly status?: EventStatus | undefined
  readonly limit: number
  readonly cursor?: string | undefined
}

const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

const startsInFuture = (startsAt: Date, at: Date) =>
  startsAt.getTime() > at.getTime()
    ? Effect.void
    : Effect.fail(
      new ValidationFailed({
        message: "startsAt must be in the future",
        errors: [{ field: "startsAt", message: "must be in the future" }]
      })
    )

const statusTransitions: Record<EventStatus, ReadonlyArray<EventStatus>> = {
  draft: ["published", "cancelled"],
  published: ["draft", "cancelled"],
  cancelled: []
}

/** The event fields an audit entry shows (an event holds no personal data). */
const auditedFields = [
  "title",
  "description",
  "startsAt",
  "endsAt",
  "timeZone",
  "location",
  "capacity",
  "waitlist",
  "registrationClosesAt",
  "status"
] as const

const auditSummary = (event: Event): Record<string, unknown> => ({
  title: event.title,
  description: event.description,
  startsAt: event.startsAt.toISOString(),
  endsAt: event.endsAt.toISOString(),
  timeZone: event.timeZone,
  location: event.location,
  capacity: event.capacity,
  waitlist: event.waitlist,
  registrationClosesAt: event.registrationClosesAt.toISOString(),
  status: event.status
})

/**
 * @since 0.1.0
 */
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
  const audit = (actor: Actor, action: Audit.AuditAction, event: Event, before: Event | undefined) =>
    provide(Audit.record(actor, {
      action,
      targetType: "event",
      targetId: event.id,
      ...(before === undefined
        ? { after: auditSummary(event) }
        : Audit.changes(auditSummary(before), auditSummary(event), auditedFields))
    }))

  /** Locks the event and checks the actor may manage it; invisible events are "not found". */
  const lockManaged = (actor: Actor, id: EventId) =>
    events.lock(id).pipe(
      Effect.flatMap((found): Effect.Effect<Event, EventNotFound | Forbidden> => {
        if (Option.isNone(found) || !Policy.canViewEvent(actor, found.value)) {
          return Effect.fail(new EventNotFound({ eventId: id }))
        }
        return Effect.as(
          Policy.require(Policy.canManageEvent(actor, found.value), "Only the organizer or an admin may do this"),
          found.value
        )
      })
    )

  const create = Effect.fnUntraced(function*(actor: Actor, input: CreateEventInput) {
    yield* Policy.require(Policy.canCreateEvent(actor), "Only organizers and admins create events")
    const at = yield* now
    yield* startsInFuture(input.startsAt, at)
    const event: Event = {
      id: yield* provide(nextEventId),
      organizerId: actor.userId,
      title: input.title,
      description: input.description ?? "",
      startsAt: input.startsAt,
      endsAt: input.endsAt,
      timeZone: input.timeZone,
      location: input.location,
      capacity: input.capacity,
      waitlist: { enabled: input.waitlist?.enabled ?? true, limit: input.waitlist?.limit ?? null },
      registrationClosesAt: input.registrationClosesAt ?? input.startsAt,
      status: "draft",
      confirmedCount: 0,
      waitlistCount: 0,
      version: 1,
      createdAt: at,
      updatedAt: at
    }
    return yield* unitOfWork.transact(
      Effect.gen(function*() {
        yield* events.insert(event)
        yield* audit(actor, "event.create", event, undefined)
        yield* provide(recordEvents([
          DomainEvent.make("EventCreated", event.id, {
            eventId: event.id,
            organizerId: event.organizerId,
            status: event.status
          })
        ]))
        return event
      })
    )
  }, Span.named("Events.create"))

  const get = Effect.fnUntraced(function*(actor: Actor | undefined, id: EventId) {
    const found = yield* events.findById(id)
    if (Option.isNone(found) || !Policy.canViewEvent(actor, found.value)) {
      return yield* new EventNotFound({ eventId: id })
    }
    return found.value
  }, Span.named("Events.get"))

  const list = Effect.fnUntraced(
    function*(actor: Actor | undefined, request: ListEventsRequest): Effect.fn.Return<Page<Event>, RepositoryError | InvalidCursor> {
      const status = request.status ?? "published"
      const mayListOthers = status === "published" || (actor !== undefined && isAdmin(actor))
      // Non-published events are listed to organizers for their own events only.
      const organizerId = mayListOthers ? request.organizerId : actor?.userId
      if (!mayListOthers && (actor === undefined || !Policy.canCreateEvent(actor))) {
        return { items: [], nextCursor: null }
      }
      if (!mayListOthers && request.organizerId !== undefined && request.organizerId !== actor?.userId) {
        return { items: [], nextCursor: null }
      }
      const query: EventQuery = {
        from: request.from,
        to: request.to,
        organizerId,
        q: request.q,
        statuses: [status],
        limit: request.limit,
        cursor: request.cursor
      }
      return yield* events.list(query)
    },
    Span.named("Events.list")
  )

  const update = Effect.fnUntraced(
    function*(actor: Actor, id: EventId, patch: UpdateEventInput, expectedVersion?: number) {
      const at = yield* now
      const updated = yield* unitOfWork.transact(Effect.gen(function*() {
        const event = yield* lockManaged(actor, id)
        if (expectedVersion !== undefined && expectedVersion !== event.version) {
          return yield* new VersionMismatch({ expected: expectedVersion, actual: event.version })
        }
        if (event.status === "cancelled") return yield* new InvalidTransition({ from: "cancelled", to: "updated" })
        const merged: Event = {
          ...event,
          title: patch.title ?? event.title,
          description: patch.description ?? event.description,
          startsAt: patch.startsAt ?? event.startsAt,
          endsAt: patch.endsAt ?? event.endsAt,
          timeZone: patch.timeZone ?? event.timeZone,
          location: patch.location ?? event.location,
          waitlist: {
            enabled: patch.waitlist?.enabled ?? event.waitlist.enabled,
            limit: patch.waitlist?.limit !== undefined ? patch.waitlist.limit : event.waitlist.limit
          },
          // A closing time that followed the start (the default) keeps following it.
          registrationClosesAt: patch.registrationClosesAt ??
            (event.registrationClosesAt.getTime() === event.startsAt.getTime() && patch.startsAt
              ? patch.startsAt
              : event.registrationClosesAt),
          updatedAt: at
        }
        const issues = [
          ...(merged.endsAt <= merged.startsAt ? [{ field: "endsAt", message: "must be after startsAt" }] : []),
          ...(merged.registrationClosesAt > merged.startsAt
            ? [{ field: "registrationClosesAt", message: "must not be after startsAt" }]
            : [])
        ]
        if (issues.length > 0) return yield* new ValidationFailed({ message: "Invalid event times", errors: issues })
        if (patch.startsAt !== undefined) yield* startsInFuture(patch.startsAt, at)
        const capacity = patch.capacity ?? event.capacity
        const heads = yield* registrations.waitlistHead(id, Waitlist.seatsToPromote(event, capacity))
        const capacityPlan = yield* Effect.fromResult(Waitlist.decideCapacityChange({ event, capacity, heads, now: at }))
        const changedFields = Object.keys(patch).filter((key) => key !== "capacity")
        const updated = yield* events.update({ ...merged, capacity })
        yield* audit(actor, "event.update", updated, event)
        yield* provide(commitPlan(id, capacityPlan))
        if (changedFields.length > 0) {
          yield* provide(recordEvents([DomainEvent.make("EventUpdated", id, { eventId: id, changedFields })]))
        }
        const promoted = capacityPlan.changes.length
        const counted = { ...updated, confirmedCount: event.confirmedCount + promoted, waitlistCount: event.waitlistCount - promoted }
        // Promotions bumped the version again: read it back so the returned version (the ETag) is the stored one.
        const stored = promoted === 0 ? counted : Option.getOrElse(yield* events.findById(id), () => counted)
        return { event: stored, plan: capacityPlan }
      }))
      yield* Metrics.recordPlan(updated.plan)
      return updated.event
    },
    Span.named("Events.update")
  )

  const changeStatus = (to: EventStatus) =>
    Effect.fnUntraced(
      function*(actor: Actor, id: EventId) {
        const at = yield* now
        const changed = yield* unitOfWork.transact(Effect.gen(function*() {
          const event = yield* lockManaged(actor, id)
          if (event.status === to) return { event, plan: Waitlist.emptyPlan }
          if (!statusTransitions[event.status].includes(to)) {
            return yield* new InvalidTransition({ from: event.status, to })
          }
          const updated = yield* events.update({ ...event, status: to, updatedAt: at })
          yield* audit(actor, to === "published" ? "event.publish" : to === "draft" ? "event.unpublish" : "event.cancel", updated, event)
          if (to === "cancelled") {
            const active = yield* registrations.listActive(id)
            const plan = Waitlist.planEventCancellation(event, active, at)
            yield* provide(commitPlan(id, plan))
            const cancelled = { ...updated, confirmedCount: 0, waitlistCount: 0 }
            // As in update: the cancelled registrations bumped the version; return the stored one.
            return {
              event: active.length === 0 ? cancelled : Option.getOrElse(yield* events.findById(id), () => cancelled),
              plan
            }
          }
          yield* provide(recordEvents([
            to === "published"
              ? DomainEvent.make("EventPublished", id, {
                eventId: id,
                capacity: event.capacity,
                confirmedCount: event.confirmedCount,
                waitlistCount: event.waitlistCount
              })
              : DomainEvent.make("EventUnpublished", id, { eventId: id })
          ]))
          return { event: updated, plan: Waitlist.emptyPlan }
        }))
        yield* Metrics.recordPlan(changed.plan)
        return changed.event
      },
      Span.named(`Events.${to === "published" ? "publish" : to === "draft" ? "unpublish" : "cancel"}`)
    )

  const remove = Effect.fnUntraced(function*(actor: Actor, id: EventId) {
    yield* unitOfWork.transact(Effect.gen(function*() {
      const event = yield* lockManaged(actor, id)
      const active = event.confirmedCount + event.waitlistCount
      if (active > 0) return yield* new EventHasActiveRegistrations({ eventId: id, activeCount: active })
      yield* events.delete(id)
      yield* provide(Audit.record(actor, { action: "event.delete", targetType: "event", targetId: id, before: auditSummary(event) }))
    }))
  }, Span.named("Events.delete"))

  return {
    create,
    get,
    list,
    update,
    publish: changeStatus("published"),
    unpublish: changeStatus("draft"),
    cancel: changeStatus("cancelled"),
    delete: remove
  } as const
})

/**
 * The event use-cases.
 *
 * @since 0.1.0
 */
export class Events extends Context.Service<Events, Effect.Success<typeof make>>()("@live-events/domain/Events") {
  /** @since 0.1.0 */
  static readonly layer = Layer.effect(Events, make)
}
