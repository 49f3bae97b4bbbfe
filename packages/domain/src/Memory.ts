/**
 * In-memory implementations of every port, for tests, examples and embedders' own tests.
 *
 * Correct under concurrency by construction: a unit of work holds one global permit, so use-cases run
 * one at a time, and each write records an undo step so that a failed unit of work leaves no trace
 * (atomicity, I5). Reads outside a unit of work see committed and in-flight writes of the single running
 * unit of work; that is weaker isolation than PostgreSQL's, which the contract suites do not rely on.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Semaphore } from "effect"
import { type AuditEntry, AuditLog } from "./Audit.ts"
import { RepositoryError } from "./DomainError.ts"
import type { DomainEvent } from "./DomainEvent.ts"
import type { Event, EventQuery } from "./Event.ts"
import { EventRepository } from "./EventRepository.ts"
import type { EventId, RegistrationId, UserId } from "./Ids.ts"
import { OutboxWriter } from "./OutboxWriter.ts"
import { names, PersonalDataCopies } from "./PersonalDataCopies.ts"
import type { InvalidCursor } from "./DomainError.ts"
import { type CursorPart, decodeCursor, encodeCursor, type Page, type PageRequest } from "./Page.ts"
import { isActive, type Registration, type RegistrationChange, type RegistrationStatus } from "./Registration.ts"
import { RegistrationRepository } from "./RegistrationRepository.ts"
import { UnitOfWork } from "./UnitOfWork.ts"
import { normaliseEmail, type User } from "./User.ts"
import { UserRepository } from "./UserRepository.ts"

/** A stored registration: the entity without its derived position, plus its join order. */
type StoredRegistration = Omit<Registration, "waitlistPosition"> & { readonly joinSeq: number }

interface State {
  readonly events: Map<EventId, Event>
  readonly registrations: Map<RegistrationId, StoredRegistration>
  /** Waitlisted registration ids per event, in join order: position = index + 1. */
  readonly waitlists: Map<EventId, Array<RegistrationId>>
  readonly users: Map<UserId, User>
  readonly usersBySubject: Map<string, UserId>
  readonly outbox: Array<DomainEvent>
  readonly audit: Array<AuditEntry>
  joinSeq: number
}

const holdsSeat = (status: RegistrationStatus) => status === "confirmed" || status === "attended" || status === "no_show"

/** The undo journal of the running unit of work. */
class Journal extends Context.Service<Journal, { readonly undo: Array<() => void> }>()(
  "@live-events/domain/Memory/Journal"
) {}

/**
 * Read access to the raw memory state, for tests that check invariants or outbox contents.
 *
 * @since 0.1.0
 */
export class MemoryStore extends Context.Service<MemoryStore, {
  readonly outbox: Effect.Effect<ReadonlyArray<DomainEvent>>
  readonly registrations: (eventId: EventId) => Effect.Effect<ReadonlyArray<Registration>>
  readonly event: (eventId: EventId) => Effect.Effect<Option.Option<Event>>
}>()("@live-events/domain/Memory/MemoryStore") {}

const compareKeys = (a: ReadonlyArray<string | number>, b: ReadonlyArray<string | number>) => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i]! < b[i]!) return -1
    if (a[i]! > b[i]!) return 1
  }
  return 0
}

const paginate = <A>(
  sorted: ReadonlyArray<A>,
  key: (a: A) => ReadonlyArray<string | number>,
  shape: ReadonlyArray<CursorPart>,
  request: PageRequest
): Effect.Effect<Page<A>, InvalidCursor> =>
  Effect.map(
    request.cursor === undefined ? Effect.succeed(undefined) : decodeCursor(request.cursor, shape),
    (after) => {
      const start = after === undefined ? sorted : sorted.filter((item) => compareKeys(key(item), after) > 0)
      const items = start.slice(0, request.limit)
      const hasMore = start.length > request.limit
      return { items, nextCursor: hasMore && items.length > 0 ? encodeCursor(key(items[items.length - 1]!)) : null }
    }
  )

/** @since 0.1.0 */
export const make = Effect.gen(function*() {
  const state: State = {
    events: new Map(),
    registrations: new Map(),
    waitlists: new Map(),
    users: new Map(),
    usersBySubject: new Map(),
    outbox: [],
    audit: [],
    joinSeq: 0
  }
  const permit = yield* Semaphore.make(1)

  /** Runs a write and records how to undo it when inside a unit of work. */
  const write = (run: () => () => void) =>
    Effect.serviceOption(Journal).pipe(
      Effect.map((journal) => {
        const undo = run()
        if (Option.isSome(journal)) journal.value.undo.push(undo)
      })
    )

  const setMap = <K, V>(map: Map<K, V>, key: K, value: V) => () => {
    const had = map.has(key)
    const previous = map.get(key)
    map.set(key, value)
    return () => {
      if (had) map.set(key, previous as V)
      else map.delete(key)
    }
  }

  const waitlistOf = (eventId: EventId) => state.waitlists.get(eventId) ?? []

  const toRegistration = (stored: StoredRegistration): Registration => {
    const { joinSeq: _joinSeq, ...rest } = stored
    return {
      ...rest,
      waitlistPosition: stored.status === "waitlisted" ? waitlistOf(stored.eventId).indexOf(stored.id) + 1 : null
    }
  }

  const transact: UnitOfWork["Service"]["transact"] = (effect) =>
    Effect.serviceOption(Journal).pipe(
      Effect.flatMap((outer) => {
        if (Option.isSome(outer)) return effect
        const journal = { undo: [] as Array<() => void> }
        return permit.withPermits(1)(
          effect.pipe(
            Effect.provideService(Journal, journal),
            Effect.onExit((exit) =>
              exit._tag === "Failure"
                ? Effect.sync(() => {
                  for (const undo of journal.undo.reverse()) undo()
                })
                : Effect.void
            )
          )
        )
      })
    )

  const bumpEvent = (eventId: EventId, confirmedDelta: number, waitlistDelta: number, at: Date) => {
    const event = state.events.get(eventId)
    if (event === undefined) return () => {}
    return setMap(state.events, eventId, {
      ...event,
      confirmedCount: event.confirmedCount + confirmedDelta,
      waitlistCount: event.waitlistCount + waitlistDelta,
      version: event.version + 1,
      updatedAt: at
    })()
  }

  const applyChange = (eventId: EventId, change: RegistrationChange): () => void => {
    const undos: Array<() => void> = []
    if (change._tag === "Insert") {
      const { waitlistPosition: _position, ...registration } = change.registration
      const joinSeq = ++state.joinSeq
      undos.push(setMap(state.registrations, registration.id, { ...registration, joinSeq })())
      if (registration.status === "waitlisted") {
        const queue = [...waitlistOf(eventId), registration.id]
        undos.push(setMap(state.waitlists, eventId, queue)())
      }
      undos.push(bumpEvent(
        eventId,
        holdsSeat(registration.status) ? 1 : 0,
        registration.status === "waitlisted" ? 1 : 0,
        registration.createdAt
      ))
    } else {
      const stored = state.registrations.get(change.registration.id)
      if (stored === undefined) return () => {}
      const from = stored.status
      const to = change.to
      undos.push(setMap(state.registrations, stored.id, {
        ...stored,
        status: to,
        updatedAt: change.at,
        confirmedAt: to === "confirmed" ? change.at : stored.confirmedAt,
        cancelledAt: to === "cancelled" ? change.at : stored.cancelledAt
      })())
      if (from === "waitlisted" && to !== "waitlisted") {
        undos.push(setMap(state.waitlists, eventId, waitlistOf(eventId).filter((id) => id !== stored.id))())
      }
      const seat = (holdsSeat(to) ? 1 : 0) - (holdsSeat(from) ? 1 : 0)
      const waiting = (to === "waitlisted" ? 1 : 0) - (from === "waitlisted" ? 1 : 0)
      undos.push(bumpEvent(eventId, seat, waiting, change.at))
    }
    return () => undos.reverse().forEach((undo) => undo())
  }

  const eventRepository: EventRepository["Service"] = {
    insert: (event) => write(setMap(state.events, event.id, event)),
    update: (event) =>
      Effect.suspend(() => {
        const current = state.events.get(event.id)
        const updated: Event = {
          ...event,
          confirmedCount: current?.confirmedCount ?? event.confirmedCount,
          waitlistCount: current?.waitlistCount ?? event.waitlistCount,
          version: (current?.version ?? event.version) + 1
        }
        return Effect.as(write(setMap(state.events, event.id, updated)), updated)
      }),
    delete: (id) =>
      write(() => {
        const event = state.events.get(id)
        const removed = [...state.registrations.values()].filter((r) => r.eventId === id)
        const queue = state.waitlists.get(id)
        state.events.delete(id)
        state.waitlists.delete(id)
        for (const r of removed) state.registrations.delete(r.id)
        return () => {
          if (event) state.events.set(id, event)
          if (queue) state.waitlists.set(id, queue)
          for (const r of removed) state.registrations.set(r.id, r)
        }
      }),
    findById: (id) => Effect.sync(() => Option.fromNullishOr(state.events.get(id))),
    lock: (id) => Effect.sync(() => Option.fromNullishOr(state.events.get(id))),
    list: (query: EventQuery) =>
      Effect.suspend(() => {
        const q = query.q?.toLowerCase()
        const matching = [...state.events.values()]
          .filter((e) =>
            query.statuses.includes(e.status) &&
            (query.from === undefined || e.startsAt >= query.from) &&
            (query.to === undefined || e.startsAt < query.to) &&
            (query.organizerId === undefined || e.organizerId === query.organizerId) &&
            (q === undefined || e.title.toLowerCase().includes(q) || e.location.toLowerCase().includes(q))
          )
          .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime() || (a.id < b.id ? -1 : 1))
        return paginate(matching, (e) => [e.startsAt.getTime(), e.id], ["number", "uuid"], query)
      })
  }

  const byCreation = (a: StoredRegistration, b: StoredRegistration) =>
    a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1)

  const applyChanges = (eventId: EventId, changes: ReadonlyArray<RegistrationChange>) =>
    Effect.forEach(changes, (change) =>
      // I2 is enforced by storage too (the SQL layer has a partial unique index), not only by the use-case.
      change._tag === "Insert" && isActive(change.registration.status) &&
        [...state.registrations.values()].some((r) =>
          r.eventId === eventId && r.userId === change.registration.userId && isActive(r.status)
        )
        ? Effect.fail(new RepositoryError({ reason: "constraint", operation: "RegistrationRepository.apply" }))
        : write(() => applyChange(eventId, change)), { discard: true })

  const lockForRegistrations: RegistrationRepository["Service"]["lockForRegistrations"] = (pairs) =>
    Effect.sync(() => {
      const wanted = new Set(pairs.map((pair) => `${pair.eventId} ${pair.userId}`))
      const eventIds = new Set(pairs.map((pair) => pair.eventId))
      const userIds = new Set(pairs.map((pair) => pair.userId))
      return {
        events: [...eventIds].flatMap((id) => state.events.get(id) ?? []),
        active: [...state.registrations.values()]
          .filter((r) => isActive(r.status) && wanted.has(`${r.eventId} ${r.userId}`))
          .map(toRegistration),
        users: [...userIds].flatMap((userId) => {
          const user = state.users.get(userId)
          return user === undefined ? [] : [{ userId, erased: user.erasedAt !== null }]
        })
      }
    })

  const registrationRepository: RegistrationRepository["Service"] = {
    lockForRegistration: (eventId, userId) =>
      Effect.sync(() => {
        const event = state.events.get(eventId)
        const user = state.users.get(userId)
        // No user, no lock (as the SQL statement, which joins the user, finds no row).
        if (event === undefined || user === undefined) return Option.none()
        const active = [...state.registrations.values()].find((r) =>
          r.eventId === eventId && r.userId === userId && (r.status === "confirmed" || r.status === "waitlisted")
        )
        // One permit serialises the memory store's units of work: no erase can interleave.
        return Option.some({ event, active: active && toRegistration(active), userErased: user.erasedAt !== null })
      }),
    lockForRegistrations,
    provisionAndLockForRegistrations: (newcomers, pairs) =>
      Effect.flatMap(userRepository.insertAllIfAbsent(newcomers), (users) => {
        const storedIds = new Map(newcomers.map((newcomer, i) => [newcomer.id, users[i]!.id]))
        const stored = pairs.map((pair) => ({ ...pair, userId: storedIds.get(pair.userId) ?? pair.userId }))
        return Effect.map(lockForRegistrations(stored), (snapshot) => ({ stored: users.map((user) => user.id), snapshot }))
      }),
    lockForCancellations: (ids) =>
      Effect.sync(() => {
        const named = [...new Set(ids)].flatMap((id) => state.registrations.get(id) ?? [])
        const perEvent = new Map<EventId, number>()
        for (const r of named) perEvent.set(r.eventId, (perEvent.get(r.eventId) ?? 0) + 1)
        return {
          events: [...perEvent.keys()].flatMap((id) => state.events.get(id) ?? []),
          registrations: named.map(toRegistration),
          heads: [...perEvent].flatMap(([eventId, count]) =>
            waitlistOf(eventId).slice(0, 2 * count).map((id) => toRegistration(state.registrations.get(id)!))
          )
        }
      }),
    findById: (id) => Effect.sync(() => Option.map(Option.fromNullishOr(state.registrations.get(id)), toRegistration)),
    waitlistHead: (eventId, count) =>
      Effect.sync(() =>
        waitlistOf(eventId).slice(0, Math.max(0, count)).map((id) => toRegistration(state.registrations.get(id)!))
      ),
    listActive: (eventId) =>
      Effect.sync(() =>
        [...state.registrations.values()]
          .filter((r) => r.eventId === eventId && (r.status === "confirmed" || r.status === "waitlisted"))
          .sort(byCreation)
          .map(toRegistration)
      ),
    apply: (eventId, changes) => applyChanges(eventId, changes),
    applyMany: (batch) => Effect.forEach(batch, ({ changes, eventId }) => applyChanges(eventId, changes), { discard: true }),
    listByEvent: (eventId, request) =>
      Effect.suspend(() => {
        const rows = [...state.registrations.values()]
          .filter((r) => r.eventId === eventId && (request.status === undefined || r.status === request.status))
          .sort(byCreation)
        return Effect.map(
          paginate(rows, (r) => [r.createdAt.getTime(), r.id], ["number", "uuid"], request),
          (page) => ({ ...page, items: page.items.map(toRegistration) })
        )
      }),
    listWaitlist: (eventId, request) =>
      Effect.suspend(() => {
        const rows = waitlistOf(eventId).map((id) => state.registrations.get(id)!)
        return Effect.map(
          paginate(rows, (r) => [r.joinSeq], ["number"], request),
          (page) => ({ ...page, items: page.items.map(toRegistration) })
        )
      }),
    listByUser: (userId, request) =>
      Effect.suspend(() => {
        const rows = [...state.registrations.values()].filter((r) => r.userId === userId).sort(byCreation)
        return Effect.map(
          paginate(rows, (r) => [r.createdAt.getTime(), r.id], ["number", "uuid"], request),
          (page) => ({ ...page, items: page.items.map(toRegistration) })
        )
      }),
    eraseNotes: (userId) =>
      Effect.suspend(() => {
        const noted = [...state.registrations.values()].filter((r) => r.userId === userId && r.notes !== "")
        return Effect.as(
          Effect.forEach(noted, (r) => write(setMap(state.registrations, r.id, { ...r, notes: "" })), { discard: true }),
          noted.map((r) => r.id)
        )
      })
  }

  const insertIfAbsent = (user: User) =>
    Effect.suspend(() => {
      const existing = state.usersBySubject.get(user.subject)
      if (existing !== undefined) return Effect.succeed(state.users.get(existing)!)
      return Effect.as(
        Effect.andThen(
          write(setMap(state.users, user.id, user)),
          write(setMap(state.usersBySubject, user.subject, user.id))
        ),
        user
      )
    })

  const userRepository: UserRepository["Service"] = {
    insertIfAbsent,
    insertAllIfAbsent: (users) => Effect.forEach(users, insertIfAbsent),
    update: (user) =>
      Effect.suspend(() => {
        const stored = state.users.get(user.id)
        if (stored !== undefined && stored.erasedAt !== null) return Effect.succeed(stored)
        return Effect.as(write(setMap(state.users, user.id, user)), user)
      }),
    findById: (id) => Effect.sync(() => Option.fromNullishOr(state.users.get(id))),
    findByIds: (ids) => Effect.sync(() => [...new Set(ids)].flatMap((id) => state.users.get(id) ?? [])),
    findBySubject: (subject) =>
      Effect.sync(() => Option.flatMap(Option.fromNullishOr(state.usersBySubject.get(subject)), (id) =>
        Option.fromNullishOr(state.users.get(id))
      )),
    findByEmail: (email) =>
      Effect.sync(() => {
        const wanted = normaliseEmail(email)
        return [...state.users.values()]
          .filter((user) => user.email !== null && normaliseEmail(user.email) === wanted)
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .slice(0, 100)
      }),
    list: (request) =>
      Effect.suspend(() => {
        const rows = [...state.users.values()].sort((a, b) => (a.id < b.id ? -1 : 1))
        return paginate(rows, (u) => [u.id], ["uuid"], request)
      })
  }

  const outboxWriter: OutboxWriter["Service"] = {
    record: (events) =>
      write(() => {
        state.outbox.push(...events)
        return () => {
          state.outbox.splice(state.outbox.length - events.length, events.length)
        }
      })
  }

  const auditLog: AuditLog["Service"] = {
    record: (entries) =>
      entries.length === 0 ? Effect.void : write(() => {
        state.audit.push(...entries)
        return () => {
          state.audit.splice(state.audit.length - entries.length, entries.length)
        }
      }),
    list: (request) =>
      Effect.suspend(() => {
        const rows = state.audit.filter((entry) =>
          (request.actorId === undefined || entry.actorId === request.actorId) &&
          (request.action === undefined || entry.action === request.action) &&
          (request.targetId === undefined || entry.targetId === request.targetId) &&
          (request.concerning === undefined || entry.actorId === request.concerning ||
            entry.subjectUserId === request.concerning) &&
          (request.from === undefined || entry.at >= request.from) &&
          (request.to === undefined || entry.at < request.to)
        ).sort((a, b) => a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : 1))
        return paginate(rows, (entry) => [entry.at.getTime(), entry.id], ["number", "uuid"], request)
      })
  }

  // The memory outbox keeps ids only (as every outbox must): nothing to erase there.
  const personalDataCopies: PersonalDataCopies["Service"] = {
    erase: () => Effect.void,
    messagesAbout: (userId) => Effect.sync(() => state.outbox.filter((event) => names(event, userId)))
  }

  const store: MemoryStore["Service"] = {
    outbox: Effect.sync(() => [...state.outbox]),
    registrations: (eventId) =>
      Effect.sync(() =>
        [...state.registrations.values()].filter((r) => r.eventId === eventId).sort(byCreation).map(toRegistration)
      ),
    event: (eventId) => Effect.sync(() => Option.fromNullishOr(state.events.get(eventId)))
  }

  return Context.make(EventRepository, eventRepository).pipe(
    Context.add(RegistrationRepository, registrationRepository),
    Context.add(UserRepository, userRepository),
    Context.add(UnitOfWork, { transact }),
    Context.add(OutboxWriter, outboxWriter),
    Context.add(AuditLog, auditLog),
    Context.add(PersonalDataCopies, personalDataCopies),
    Context.add(MemoryStore, store)
  )
})

/**
 * Every port in memory, plus {@link MemoryStore} for inspection. A fresh, empty store per build.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  | EventRepository
  | RegistrationRepository
  | UserRepository
  | UnitOfWork
  | OutboxWriter
  | AuditLog
  | PersonalDataCopies
  | MemoryStore
> = Layer.effectContext(make)
