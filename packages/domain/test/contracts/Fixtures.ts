/**
 * Shared helpers of the port contract suites: what a layer under test must provide, builders of
 * valid entities with fresh ids, and a probe to read the outbox back.
 *
 * Every builder takes its ids from the {@link Ids} service of the layer under test, so several suites
 * (and several runs of the property test) can share one database without colliding. Times come from the
 * `Clock`: the suites run on the live clock (see each suite), and events start a year from "now".
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Option } from "effect"
import type { AuditLog } from "../../src/Audit.ts"
import type { DomainEvent } from "../../src/DomainEvent.ts"
import type { Event } from "../../src/Event.ts"
import { EventRepository } from "../../src/EventRepository.ts"
import { type EventId, Ids, type RegistrationId, type UserId } from "../../src/Ids.ts"
import type { OutboxWriter } from "../../src/OutboxWriter.ts"
import type { Page } from "../../src/Page.ts"
import type { Registration, RegistrationStatus } from "../../src/Registration.ts"
import { RegistrationRepository } from "../../src/RegistrationRepository.ts"
import type { UnitOfWork } from "../../src/UnitOfWork.ts"
import type { User } from "../../src/User.ts"
import { UserRepository } from "../../src/UserRepository.ts"

/**
 * What a layer under test provides: the five ports and the id generator.
 *
 * @since 0.1.0
 */
export type Ports = EventRepository | RegistrationRepository | UserRepository | UnitOfWork | OutboxWriter | AuditLog | Ids

/**
 * Reads back what {@link OutboxWriter} recorded, for the unit-of-work contract only (the domain has no
 * read port for the outbox: that belongs to the relay). `messages` returns the committed messages of one
 * aggregate in the order they were recorded.
 *
 * An implementation provides it next to its ports, e.g. from `Memory.MemoryStore` or a SQL query on the
 * outbox table (`... where aggregate_id = $1 order by <recording sequence>`).
 *
 * @since 0.1.0
 */
export class OutboxProbe extends Context.Service<OutboxProbe, {
  readonly messages: (
    aggregateId: string
  ) => Effect.Effect<ReadonlyArray<Pick<DomainEvent, "id" | "type" | "aggregateId">>, unknown>
}>()("@live-events/domain/test/OutboxProbe") {}

const DAY = 24 * 60 * 60 * 1000

/** The current instant of the Effect clock. @since 0.1.0 */
export const now: Effect.Effect<Date> = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

/** A fresh id of any kind. @since 0.1.0 */
export const freshId = <A extends string>(): Effect.Effect<A, never, Ids> =>
  Ids.use((ids) => ids.next) as Effect.Effect<A, never, Ids>

/** A user stored through `UserRepository.insertIfAbsent`, with a unique subject. @since 0.1.0 */
export const insertUser = (fields: Partial<User> = {}): Effect.Effect<User, unknown, Ids | UserRepository> =>
  Effect.gen(function*() {
    const id = yield* freshId<UserId>()
    const at = yield* now
    const user: User = {
      id,
      subject: `contract-${id}`,
      email: null,
      name: null,
      phone: null,
      createdAt: at,
      updatedAt: at,
      erasedAt: null,
      ...fields
    }
    return yield* UserRepository.use((users) => users.insertIfAbsent(user))
  })

/**
 * A valid, published event starting 30 days from now (override anything). Counters 0, version 1.
 *
 * @since 0.1.0
 */
export const makeEvent = (organizerId: UserId, fields: Partial<Event> = {}): Effect.Effect<Event, never, Ids> =>
  Effect.gen(function*() {
    const id = yield* freshId<EventId>()
    const at = yield* now
    const startsAt = new Date(at.getTime() + 30 * DAY)
    return {
      id,
      organizerId,
      title: "Contract event",
      description: "",
      startsAt,
      endsAt: new Date(startsAt.getTime() + 2 * 60 * 60 * 1000),
      timeZone: "Europe/Berlin",
      location: "Main hall",
      capacity: 10,
      waitlist: { enabled: true, limit: null },
      registrationClosesAt: startsAt,
      status: "published",
      confirmedCount: 0,
      waitlistCount: 0,
      version: 1,
      createdAt: at,
      updatedAt: at,
      ...fields
    } satisfies Event
  })

/** Builds and inserts an event (with a fresh organizer unless given). @since 0.1.0 */
export const insertEvent = (
  fields: Partial<Event> = {}
): Effect.Effect<Event, unknown, Ids | EventRepository | UserRepository> =>
  Effect.gen(function*() {
    const organizerId = fields.organizerId ?? (yield* insertUser()).id
    const event = yield* makeEvent(organizerId, fields)
    yield* EventRepository.use((events) => events.insert(event))
    return event
  })

/**
 * A new registration as the domain would insert it. `position` is the caller's w + 1 for waitlisted.
 *
 * @since 0.1.0
 */
export const makeRegistration = (
  eventId: EventId,
  userId: UserId,
  status: RegistrationStatus,
  position: number | null = null,
  at?: Date
): Effect.Effect<Registration, never, Ids> =>
  Effect.gen(function*() {
    const id = yield* freshId<RegistrationId>()
    const createdAt = at ?? (yield* now)
    return {
      id,
      eventId,
      userId,
      status,
      waitlistPosition: status === "waitlisted" ? position : null,
      notes: "",
      createdAt,
      updatedAt: createdAt,
      confirmedAt: status === "confirmed" ? createdAt : null,
      cancelledAt: null
    }
  })

/** Reads an event that must exist. @since 0.1.0 */
export const getEvent = (id: EventId): Effect.Effect<Event, unknown, EventRepository> =>
  EventRepository.use((events) => events.findById(id)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.die(new Error(`event ${id} not found`)),
      onSome: Effect.succeed
    }))
  )

/** Reads a registration that must exist. @since 0.1.0 */
export const getRegistration = (id: RegistrationId): Effect.Effect<Registration, unknown, RegistrationRepository> =>
  RegistrationRepository.use((registrations) => registrations.findById(id)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.die(new Error(`registration ${id} not found`)),
      onSome: Effect.succeed
    }))
  )

/**
 * Follows `nextCursor` until it is null and returns every page (at most `maxPages`, to fail instead of
 * looping forever on a cursor that never ends).
 *
 * @since 0.1.0
 */
export const collectPages = <A, E, R>(
  fetch: (cursor: string | undefined) => Effect.Effect<Page<A>, E, R>,
  maxPages = 10_000
): Effect.Effect<ReadonlyArray<ReadonlyArray<A>>, E, R> =>
  Effect.gen(function*() {
    const pages: Array<ReadonlyArray<A>> = []
    let cursor: string | undefined = undefined
    do {
      const page: Page<A> = yield* fetch(cursor)
      pages.push(page.items)
      cursor = page.nextCursor ?? undefined
      if (pages.length > maxPages) return yield* Effect.die(new Error("pagination does not terminate"))
    } while (cursor !== undefined)
    return pages
  })

/** Every waitlisted registration of an event, in position order, read through `listWaitlist`. @since 0.1.0 */
export const fullWaitlist = (
  eventId: EventId,
  limit = 50
): Effect.Effect<ReadonlyArray<Registration>, unknown, RegistrationRepository> =>
  Effect.map(
    collectPages((cursor) => RegistrationRepository.use((r) => r.listWaitlist(eventId, { limit, cursor }))),
    (pages) => pages.flat()
  )

/** Every registration of an event (optionally of one status), read through `listByEvent`. @since 0.1.0 */
export const allRegistrations = (
  eventId: EventId,
  status?: RegistrationStatus,
  limit = 50
): Effect.Effect<ReadonlyArray<Registration>, unknown, RegistrationRepository> =>
  Effect.map(
    collectPages((cursor) => RegistrationRepository.use((r) => r.listByEvent(eventId, { limit, cursor, status }))),
    (pages) => pages.flat()
  )
