/**
 * Contract of the {@link RegistrationRepository} port: storage of registrations, the waitlist order
 * derived from join order, and the event counters kept in step by `apply`.
 *
 * Clock: live (`excludeTestServices: true`), as every contract suite. Isolation: fresh users and events
 * per test, so one database can be shared.
 *
 * @since 0.1.0
 */
import { expect, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import type { Event } from "../../src/Event.ts"
import type { EventId, RegistrationId, UserId } from "../../src/Ids.ts"
import type { Registration, RegistrationChange, RegistrationStatus } from "../../src/Registration.ts"
import { RegistrationRepository } from "../../src/RegistrationRepository.ts"
import { UnitOfWork } from "../../src/UnitOfWork.ts"
import type { User } from "../../src/User.ts"
import { UserRepository } from "../../src/UserRepository.ts"
import {
  allRegistrations,
  collectPages,
  freshId,
  fullWaitlist,
  getEvent,
  getRegistration,
  insertEvent,
  insertUser,
  makeRegistration,
  now,
  type Ports
} from "./Fixtures.ts"

const apply = (eventId: EventId, changes: ReadonlyArray<RegistrationChange>) =>
  UnitOfWork.use((unitOfWork) =>
    unitOfWork.transact(RegistrationRepository.use((registrations) => registrations.apply(eventId, changes)))
  )

/** Inserts a registration the way the domain does (position w + 1 computed from the stored counter). */
const register = (eventId: EventId, userId: UserId, status: "confirmed" | "waitlisted", at?: Date) =>
  Effect.gen(function*() {
    const event = yield* getEvent(eventId)
    const registration = yield* makeRegistration(
      eventId,
      userId,
      status,
      status === "waitlisted" ? event.waitlistCount + 1 : null,
      at
    )
    yield* apply(eventId, [{ _tag: "Insert", registration }])
    return registration
  })

const transition = (registration: Registration, to: RegistrationStatus) =>
  Effect.gen(function*() {
    const current = yield* getRegistration(registration.id)
    const at = yield* now
    yield* apply(registration.eventId, [{ _tag: "Transition", registration: current, to, at }])
    return at
  })

const counters = (event: Event) => [event.confirmedCount, event.waitlistCount]

/**
 * Checks I3 through every read path: `findById`, `waitlistHead`, `listWaitlist` and `listByEvent` agree
 * that the waitlisted registrations are exactly `expected` (in join order) at positions 1..w, and the
 * event's `waitlistCount` is w.
 */
const expectWaitlist = (eventId: EventId, expected: ReadonlyArray<RegistrationId>) =>
  Effect.gen(function*() {
    const registrations = yield* RegistrationRepository
    const positions = expected.map((_, index) => index + 1)
    const viaList = yield* fullWaitlist(eventId, 2)
    expect(viaList.map((r) => r.id)).toEqual(expected)
    expect(viaList.map((r) => r.waitlistPosition)).toEqual(positions)
    expect(viaList.every((r) => r.status === "waitlisted")).toBe(true)
    const head = yield* registrations.waitlistHead(eventId, expected.length + 5)
    expect(head.map((r) => [r.id, r.waitlistPosition])).toEqual(expected.map((id, index) => [id, index + 1]))
    for (const [index, id] of expected.entries()) {
      expect((yield* getRegistration(id)).waitlistPosition).toBe(index + 1)
    }
    const byEvent = yield* allRegistrations(eventId, "waitlisted")
    expect(byEvent.map((r) => r.id).sort()).toEqual([...expected].sort())
    expect((yield* getEvent(eventId)).waitlistCount).toBe(expected.length)
  })

/** A small deterministic generator so the "arbitrary cancels" are reproducible. */
const lcg = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
  return seed / 2 ** 31
}

/**
 * Registers the RegistrationRepository contract suite for `layer`.
 *
 * @since 0.1.0
 */
export const registrationRepositoryContract = <E>(name: string, portsLayer: Layer.Layer<Ports, E>): void =>
  layer(portsLayer, { excludeTestServices: true, timeout: "60 seconds" })(
    `RegistrationRepository contract (${name})`,
    (it) => {
      it.effect("findById of an unknown id is none; an inserted registration reads back intact", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          expect(Option.isNone(yield* registrations.findById(yield* freshId<RegistrationId>()))).toBe(true)
          const event = yield* insertEvent({ capacity: 1 })
          const first = yield* insertUser()
          const second = yield* insertUser()
          const confirmed = { ...(yield* makeRegistration(event.id, first.id, "confirmed")), notes: "Vegetarian; <b>x</b>" }
          yield* apply(event.id, [{ _tag: "Insert", registration: confirmed }])
          const waitlisted = yield* register(event.id, second.id, "waitlisted")
          expect(yield* getRegistration(confirmed.id)).toEqual(confirmed)
          expect(yield* getRegistration(waitlisted.id)).toEqual({ ...waitlisted, waitlistPosition: 1 })
        }))

      it.effect("lockForRegistration: none for an unknown event or user, else the event and the user's active one only", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const unitOfWork = yield* UnitOfWork
          const lock = (eventId: EventId, userId: UserId) =>
            unitOfWork.transact(registrations.lockForRegistration(eventId, userId))
          const user = yield* insertUser()
          const other = yield* insertUser()
          expect(Option.isNone(yield* lock(yield* freshId<EventId>(), user.id))).toBe(true)

          const event = yield* insertEvent({ capacity: 1 })
          expect(Option.isNone(yield* lock(event.id, yield* freshId<UserId>()))).toBe(true)
          const empty = Option.getOrThrow(yield* lock(event.id, user.id))
          expect(empty.event).toEqual(event)
          expect(empty.active).toBeUndefined()
          expect(empty.userErased).toBe(false)

          const othersSeat = yield* register(event.id, other.id, "confirmed")
          expect(Option.getOrThrow(yield* lock(event.id, user.id)).active).toBeUndefined()

          const first = yield* register(event.id, user.id, "waitlisted")
          const locked = Option.getOrThrow(yield* lock(event.id, user.id))
          expect(locked.active).toEqual({ ...first, waitlistPosition: 1 })
          expect(counters(locked.event)).toEqual([1, 1])

          // Cancelled and past registrations are not active; a new one after them is.
          yield* transition(first, "cancelled")
          expect(Option.getOrThrow(yield* lock(event.id, user.id)).active).toBeUndefined()
          yield* transition(othersSeat, "cancelled")
          const second = yield* register(event.id, user.id, "confirmed")
          expect(Option.getOrThrow(yield* lock(event.id, user.id)).active?.id).toBe(second.id)
          yield* transition(second, "attended")
          expect(Option.getOrThrow(yield* lock(event.id, user.id)).active).toBeUndefined()
        }))

      it.effect("apply Insert bumps the matching counter and the version", () =>
        Effect.gen(function*() {
          const event = yield* insertEvent({ capacity: 1 })
          const a = yield* insertUser()
          const b = yield* insertUser()
          const c = yield* insertUser()
          yield* register(event.id, a.id, "confirmed")
          const afterConfirm = yield* getEvent(event.id)
          expect(counters(afterConfirm)).toEqual([1, 0])
          expect(afterConfirm.version).toBeGreaterThan(event.version)
          yield* register(event.id, b.id, "waitlisted")
          yield* register(event.id, c.id, "waitlisted")
          const afterWait = yield* getEvent(event.id)
          expect(counters(afterWait)).toEqual([1, 2])
          expect(afterWait.version).toBeGreaterThan(afterConfirm.version)
          // Capacity and the other fields are not touched by apply.
          expect({ ...afterWait, confirmedCount: 0, waitlistCount: 0, version: 0, updatedAt: event.updatedAt })
            .toEqual({ ...event, version: 0 })
        }))

      it.effect("apply Transition moves counters for every status change and stamps the timestamps", () =>
        Effect.gen(function*() {
          const event = yield* insertEvent({ capacity: 3 })
          const users = yield* Effect.all(Array.from({ length: 5 }, () => insertUser()))
          const [seat1, seat2, seat3] = yield* Effect.forEach(users.slice(0, 3), (u) => register(event.id, u.id, "confirmed"))
          const [wait1, wait2] = yield* Effect.forEach(users.slice(3), (u) => register(event.id, u.id, "waitlisted"))
          expect(counters(yield* getEvent(event.id))).toEqual([3, 2])

          const steps: ReadonlyArray<readonly [Registration, RegistrationStatus, [number, number]]> = [
            [seat1!, "cancelled", [2, 2]],
            [wait1!, "confirmed", [3, 1]],
            [seat2!, "attended", [3, 1]],
            [seat3!, "no_show", [3, 1]],
            [wait2!, "cancelled", [3, 0]]
          ]
          let version = (yield* getEvent(event.id)).version
          for (const [registration, to, expected] of steps) {
            const before = yield* getRegistration(registration.id)
            const at = yield* transition(registration, to)
            const after = yield* getRegistration(registration.id)
            expect(after.status).toBe(to)
            expect(after.waitlistPosition).toBeNull()
            expect(after.updatedAt).toEqual(at)
            expect(after.confirmedAt).toEqual(to === "confirmed" ? at : before.confirmedAt)
            expect(after.cancelledAt).toEqual(to === "cancelled" ? at : null)
            expect({ ...after, status: before.status, updatedAt: before.updatedAt, confirmedAt: before.confirmedAt, cancelledAt: null, waitlistPosition: before.waitlistPosition })
              .toEqual(before)
            const stored = yield* getEvent(event.id)
            expect(counters(stored)).toEqual(expected)
            expect(stored.version).toBeGreaterThan(version)
            version = stored.version
          }
        }))

      it.effect("apply writes several changes at once (cancel a seat + promote the head)", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const event = yield* insertEvent({ capacity: 1 })
          const [a, b, c] = yield* Effect.all(Array.from({ length: 3 }, () => insertUser()))
          const seat = yield* register(event.id, a!.id, "confirmed")
          const head = yield* register(event.id, b!.id, "waitlisted")
          const next = yield* register(event.id, c!.id, "waitlisted")
          const at = yield* now
          yield* apply(event.id, [
            { _tag: "Transition", registration: seat, to: "cancelled", at },
            { _tag: "Transition", registration: { ...head, waitlistPosition: 1 }, to: "confirmed", at }
          ])
          expect(counters(yield* getEvent(event.id))).toEqual([1, 1])
          expect((yield* getRegistration(head.id)).status).toBe("confirmed")
          yield* expectWaitlist(event.id, [next.id])
          const active = yield* registrations.listActive(event.id)
          expect(active.map((r) => [r.id, r.status]).sort()).toEqual([[head.id, "confirmed"], [next.id, "waitlisted"]].sort())
        }))

      it.effect("waitlist positions stay 1..w in join order after arbitrary cancels", () =>
        Effect.gen(function*() {
          const event = yield* insertEvent({ capacity: 1 })
          yield* register(event.id, (yield* insertUser()).id, "confirmed")
          const queue: Array<Registration> = []
          for (let i = 0; i < 9; i++) queue.push(yield* register(event.id, (yield* insertUser()).id, "waitlisted"))
          yield* expectWaitlist(event.id, queue.map((r) => r.id))
          const random = lcg(7)
          while (queue.length > 0) {
            const [leaving] = queue.splice(Math.floor(random() * queue.length), 1)
            yield* transition(leaving!, "cancelled")
            yield* expectWaitlist(event.id, queue.map((r) => r.id))
            if (random() < 0.3) queue.push(yield* register(event.id, (yield* insertUser()).id, "waitlisted"))
            yield* expectWaitlist(event.id, queue.map((r) => r.id))
          }
        }))

      it.effect("join order is the order of insertion, even with equal createdAt and descending ids", () =>
        Effect.gen(function*() {
          const event = yield* insertEvent({ capacity: 1 })
          yield* register(event.id, (yield* insertUser()).id, "confirmed")
          const users = yield* Effect.all(Array.from({ length: 4 }, () => insertUser()))
          const at = yield* now
          const ids = (yield* Effect.all(Array.from({ length: 4 }, () => freshId<RegistrationId>()))).sort().reverse()
          const inserted: Array<RegistrationId> = []
          for (const [index, user] of users.entries()) {
            const registration = { ...(yield* makeRegistration(event.id, user.id, "waitlisted", index + 1, at)), id: ids[index]! }
            yield* apply(event.id, [{ _tag: "Insert", registration }])
            inserted.push(registration.id)
          }
          yield* expectWaitlist(event.id, inserted)
        }))

      it.effect("waitlistHead returns the first n waitlisted only, in position order", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const event = yield* insertEvent({ capacity: 2 })
          yield* register(event.id, (yield* insertUser()).id, "confirmed")
          yield* register(event.id, (yield* insertUser()).id, "confirmed")
          const w1 = yield* register(event.id, (yield* insertUser()).id, "waitlisted")
          const w2 = yield* register(event.id, (yield* insertUser()).id, "waitlisted")
          const w3 = yield* register(event.id, (yield* insertUser()).id, "waitlisted")
          expect(yield* registrations.waitlistHead(event.id, 0)).toEqual([])
          expect((yield* registrations.waitlistHead(event.id, 1)).map((r) => r.id)).toEqual([w1.id])
          expect((yield* registrations.waitlistHead(event.id, 2)).map((r) => [r.id, r.waitlistPosition]))
            .toEqual([[w1.id, 1], [w2.id, 2]])
          yield* transition(w1, "cancelled")
          expect((yield* registrations.waitlistHead(event.id, 10)).map((r) => [r.id, r.waitlistPosition]))
            .toEqual([[w2.id, 1], [w3.id, 2]])
          const emptyEvent = yield* insertEvent()
          expect(yield* registrations.waitlistHead(emptyEvent.id, 3)).toEqual([])
        }))

      it.effect("listWaitlist pages in position order without duplicates or gaps", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const event = yield* insertEvent({ capacity: 1 })
          yield* register(event.id, (yield* insertUser()).id, "confirmed")
          const queue: Array<Registration> = []
          for (let i = 0; i < 7; i++) queue.push(yield* register(event.id, (yield* insertUser()).id, "waitlisted"))
          yield* transition(queue[2]!, "cancelled")
          queue.splice(2, 1)
          for (const limit of [1, 2, 3, 6, 10]) {
            const pages = yield* collectPages((cursor) => registrations.listWaitlist(event.id, { limit, cursor }))
            expect(pages.flat().map((r) => [r.id, r.waitlistPosition])).toEqual(queue.map((r, i) => [r.id, i + 1]))
            expect(pages.every((page) => page.length <= limit)).toBe(true)
            expect(pages.length).toBe(Math.ceil(queue.length / limit))
          }
        }))

      it.effect("listByEvent filters by status and pages without duplicates or gaps", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const event = yield* insertEvent({ capacity: 3 })
          const seats: Array<Registration> = []
          for (let i = 0; i < 3; i++) seats.push(yield* register(event.id, (yield* insertUser()).id, "confirmed"))
          const waiting: Array<Registration> = []
          for (let i = 0; i < 3; i++) waiting.push(yield* register(event.id, (yield* insertUser()).id, "waitlisted"))
          yield* transition(seats[1]!, "cancelled")
          const all = [...seats, ...waiting].map((r) => r.id).sort()
          for (const limit of [1, 2, 4, 6]) {
            const pages = yield* collectPages((cursor) => registrations.listByEvent(event.id, { limit, cursor }))
            const ids = pages.flat().map((r) => r.id)
            expect(new Set(ids).size).toBe(ids.length)
            expect([...ids].sort()).toEqual(all)
            expect(pages.every((page) => page.length <= limit)).toBe(true)
          }
          const byStatus = (status: RegistrationStatus) =>
            Effect.map(allRegistrations(event.id, status, 1), (rows) => rows.map((r) => r.id).sort())
          expect(yield* byStatus("confirmed")).toEqual([seats[0]!.id, seats[2]!.id].sort())
          expect(yield* byStatus("cancelled")).toEqual([seats[1]!.id])
          expect(yield* byStatus("waitlisted")).toEqual(waiting.map((r) => r.id).sort())
          expect(yield* byStatus("attended")).toEqual([])
          const listed = yield* allRegistrations(event.id, "waitlisted")
          expect(listed.map((r) => r.waitlistPosition).sort()).toEqual([1, 2, 3])
        }))

      it.effect("listActive returns confirmed and waitlisted registrations only", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const event = yield* insertEvent({ capacity: 2 })
          const a = yield* register(event.id, (yield* insertUser()).id, "confirmed")
          const b = yield* register(event.id, (yield* insertUser()).id, "confirmed")
          const c = yield* register(event.id, (yield* insertUser()).id, "waitlisted")
          const d = yield* register(event.id, (yield* insertUser()).id, "waitlisted")
          yield* transition(a, "cancelled")
          yield* transition(c, "confirmed")
          yield* transition(b, "attended")
          const active = yield* registrations.listActive(event.id)
          expect(active.map((r) => [r.id, r.status, r.waitlistPosition]).sort()).toEqual(
            [[c.id, "confirmed", null], [d.id, "waitlisted", 1]].sort()
          )
        }))

      it.effect("listByUser lists the user's registrations across events with live positions, paged", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const user = yield* insertUser()
          const other = yield* insertUser()
          const mine: Array<RegistrationId> = []
          for (let i = 0; i < 4; i++) {
            const event = yield* insertEvent({ capacity: 1 })
            yield* register(event.id, other.id, "confirmed")
            const before = yield* register(event.id, (yield* insertUser()).id, "waitlisted")
            mine.push((yield* register(event.id, user.id, "waitlisted")).id)
            if (i % 2 === 0) yield* transition(before, "cancelled")
          }
          const cancelledEvent = yield* insertEvent()
          const gone = yield* register(cancelledEvent.id, user.id, "confirmed")
          yield* transition(gone, "cancelled")
          mine.push(gone.id)
          for (const limit of [1, 2, 5, 10]) {
            const pages = yield* collectPages((cursor) => registrations.listByUser(user.id, { limit, cursor }))
            const rows = pages.flat()
            expect(rows.map((r) => r.id).sort()).toEqual([...mine].sort())
            expect(pages.every((page) => page.length <= limit)).toBe(true)
            const positions = Object.fromEntries(rows.map((r) => [r.id, r.waitlistPosition]))
            expect(mine.map((id) => positions[id])).toEqual([1, 2, 1, 2, null])
          }
        }))

      it.effect("lockForRegistrations: the existing events, the pairs' active registrations, the users and their erasure", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const unitOfWork = yield* UnitOfWork
          const users = yield* UserRepository
          const first = yield* insertEvent({ capacity: 1 })
          const second = yield* insertEvent({ capacity: 5 })
          const user = yield* insertUser()
          const other = yield* insertUser()
          const erased = yield* insertUser()
          const at = yield* now
          yield* users.update({ ...erased, email: null, name: null, phone: null, erasedAt: at, updatedAt: at })
          const seat = yield* register(first.id, user.id, "confirmed")
          const waiting = yield* register(first.id, other.id, "waitlisted")
          const elsewhere = yield* register(second.id, other.id, "confirmed")
          const cancelled = yield* register(second.id, user.id, "confirmed")
          yield* transition(cancelled, "cancelled")
          const unknownEvent = yield* freshId<EventId>()
          const unknownUser = yield* freshId<UserId>()

          const snapshot = yield* unitOfWork.transact(registrations.lockForRegistrations([
            { eventId: first.id, userId: user.id },
            { eventId: first.id, userId: other.id },
            { eventId: second.id, userId: user.id },
            { eventId: first.id, userId: erased.id },
            { eventId: unknownEvent, userId: user.id },
            { eventId: second.id, userId: unknownUser },
            { eventId: first.id, userId: user.id }
          ]))
          expect(snapshot.events.map((e) => e.id).sort()).toEqual([first.id, second.id].sort())
          expect(counters(snapshot.events.find((e) => e.id === first.id)!)).toEqual([1, 1])
          // Only the named pairs: `elsewhere` (second, other) was not asked for.
          expect(snapshot.active.map((r) => r.id).sort()).toEqual([seat.id, waiting.id].sort())
          expect(snapshot.active.find((r) => r.id === waiting.id)).toEqual({ ...waiting, waitlistPosition: 1 })
          expect(snapshot.active.some((r) => r.id === elsewhere.id)).toBe(false)
          expect([...snapshot.users].sort((a, b) => a.userId < b.userId ? -1 : 1)).toEqual(
            [
              { userId: user.id, erased: false },
              { userId: other.id, erased: false },
              { userId: erased.id, erased: true }
            ].sort((a, b) => a.userId < b.userId ? -1 : 1)
          )
        }))

      it.effect("provisionAndLockForRegistrations: new people stored once per subject, stored subjects keep their user", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const unitOfWork = yield* UnitOfWork
          const users = yield* UserRepository
          const provisionAndLock = registrations.provisionAndLockForRegistrations
          expect(provisionAndLock).toBeDefined()
          const event = yield* insertEvent({ capacity: 5 })
          const known = yield* insertUser({ email: "known@example.com" })
          const erased = yield* insertUser()
          const at = yield* now
          yield* users.update({ ...erased, erasedAt: at, updatedAt: at })
          const seat = yield* register(event.id, known.id, "confirmed")
          const candidate = (subject: string, email: string) =>
            Effect.map(freshId<UserId>(), (id): User => ({
              id,
              subject,
              email,
              name: "Ada",
              phone: "+44 20 7946 0000",
              createdAt: at,
              updatedAt: at,
              erasedAt: null
            }))
          const fresh = yield* candidate(`contract-new-${seat.id}`, "new@example.com")
          // The same new person twice (two first requests at once), under two candidate ids.
          const again = yield* candidate(fresh.subject, "new@example.com")
          const knownAgain = yield* candidate(known.subject, "changed@example.com")
          const erasedAgain = yield* candidate(erased.subject, "back@example.com")
          const newcomers = [fresh, again, knownAgain, erasedAgain]

          const { snapshot, stored } = yield* unitOfWork.transact(provisionAndLock!(
            newcomers,
            newcomers.map((user) => ({ eventId: event.id, userId: user.id }))
          ))
          expect(stored).toEqual([fresh.id, fresh.id, known.id, erased.id])
          expect(snapshot.events.map((e) => e.id)).toEqual([event.id])
          expect(snapshot.active.map((r) => r.id)).toEqual([seat.id])
          expect([...snapshot.users].sort((a, b) => a.userId < b.userId ? -1 : 1)).toEqual(
            [
              { userId: fresh.id, erased: false },
              { userId: known.id, erased: false },
              { userId: erased.id, erased: true }
            ].sort((a, b) => a.userId < b.userId ? -1 : 1)
          )
          // Stored as given, once; a stored subject's user is left as it was.
          expect(yield* users.findById(fresh.id)).toEqual(Option.some({ ...fresh }))
          expect(yield* users.findById(again.id)).toEqual(Option.none())
          expect(Option.getOrThrow(yield* users.findById(known.id)).email).toBe("known@example.com")
        }))

      it.effect("lockForCancellations: the registrations' events, the registrations, and twice as many heads per event", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const unitOfWork = yield* UnitOfWork
          const first = yield* insertEvent({ capacity: 1 })
          const second = yield* insertEvent({ capacity: 1 })
          const untouched = yield* insertEvent({ capacity: 1 })
          const people = []
          for (let i = 0; i < 6; i++) people.push(yield* insertUser())
          const seat = yield* register(first.id, people[0]!.id, "confirmed")
          const waiting = []
          for (const person of people.slice(1)) waiting.push(yield* register(first.id, person.id, "waitlisted"))
          const elsewhere = yield* register(second.id, people[0]!.id, "confirmed")
          yield* register(untouched.id, people[0]!.id, "confirmed")

          const snapshot = yield* unitOfWork.transact(
            registrations.lockForCancellations([seat.id, waiting[2]!.id, elsewhere.id, yield* freshId<RegistrationId>()])
          )
          expect(snapshot.events.map((e) => e.id).sort()).toEqual([first.id, second.id].sort())
          expect([...snapshot.registrations].sort((a, b) => a.id < b.id ? -1 : 1)).toEqual(
            [seat, { ...waiting[2]!, waitlistPosition: 3 }, elsewhere].sort((a, b) => a.id < b.id ? -1 : 1)
          )
          // Two registrations named in the first event: its first four waiting people; none in the second.
          expect(snapshot.heads.map((r) => [r.id, r.waitlistPosition])).toEqual(
            waiting.slice(0, 4).map((r, i) => [r.id, i + 1])
          )
        }))

      it.effect("applyMany writes several events' changes and counters at once, in join order", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const unitOfWork = yield* UnitOfWork
          const first = yield* insertEvent({ capacity: 1 })
          const second = yield* insertEvent({ capacity: 1 })
          const people = [yield* insertUser(), yield* insertUser(), yield* insertUser()]
          const seat = yield* register(first.id, people[0]!.id, "confirmed")
          const a = yield* makeRegistration(first.id, people[1]!.id, "waitlisted", 1)
          const b = yield* makeRegistration(first.id, people[2]!.id, "waitlisted", 2)
          const c = yield* makeRegistration(second.id, people[1]!.id, "confirmed", null)
          const at = yield* now
          yield* unitOfWork.transact(registrations.applyMany([
            { eventId: first.id, changes: [{ _tag: "Insert", registration: a }, { _tag: "Insert", registration: b }] },
            { eventId: second.id, changes: [{ _tag: "Insert", registration: c }] },
            { eventId: first.id, changes: [] }
          ]))
          expect(counters(yield* getEvent(first.id))).toEqual([1, 2])
          expect(counters(yield* getEvent(second.id))).toEqual([1, 0])
          expect((yield* fullWaitlist(first.id)).map((r) => [r.id, r.waitlistPosition])).toEqual([[a.id, 1], [b.id, 2]])
          // A seat freed and the head promoted, with a join on the other event, in one step.
          yield* unitOfWork.transact(registrations.applyMany([
            {
              eventId: first.id,
              changes: [
                { _tag: "Transition", registration: seat, to: "cancelled", at },
                { _tag: "Transition", registration: { ...a, waitlistPosition: 1 }, to: "confirmed", at }
              ]
            },
            { eventId: second.id, changes: [{ _tag: "Transition", registration: c, to: "cancelled", at }] }
          ]))
          expect(counters(yield* getEvent(first.id))).toEqual([1, 1])
          expect(counters(yield* getEvent(second.id))).toEqual([0, 0])
          expect((yield* fullWaitlist(first.id)).map((r) => [r.id, r.waitlistPosition])).toEqual([[b.id, 1]])
        }))

      it.effect("lockForRegistration tells an erased user apart", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const unitOfWork = yield* UnitOfWork
          const users = yield* UserRepository
          const event = yield* insertEvent({ capacity: 1 })
          const user = yield* insertUser()
          const at = yield* now
          yield* users.update({ ...user, email: null, name: null, phone: null, erasedAt: at, updatedAt: at })
          const locked = Option.getOrThrow(yield* unitOfWork.transact(registrations.lockForRegistration(event.id, user.id)))
          expect(locked.userErased).toBe(true)
          expect(locked.event.id).toBe(event.id)
        }))

      it.effect("eraseNotes clears the user's notes only, and nothing else of the registrations", () =>
        Effect.gen(function*() {
          const registrations = yield* RegistrationRepository
          const first = yield* insertEvent({ capacity: 1 })
          const second = yield* insertEvent({ capacity: 5 })
          const user = yield* insertUser()
          const other = yield* insertUser()
          const noted = (eventId: EventId, userId: UserId, status: "confirmed" | "waitlisted", position: number | null, notes: string) =>
            Effect.gen(function*() {
              const registration = { ...(yield* makeRegistration(eventId, userId, status, position)), notes }
              yield* apply(eventId, [{ _tag: "Insert", registration }])
              return registration
            })
          const a = yield* noted(first.id, other.id, "confirmed", null, "someone else's note")
          const b = yield* noted(first.id, user.id, "waitlisted", 1, "vegetarian, call +49 151 0000")
          const c = yield* noted(second.id, user.id, "confirmed", null, "")
          const before = yield* getRegistration(b.id)
          const counts = counters(yield* getEvent(first.id))

          const erased = yield* registrations.eraseNotes(user.id)
          expect([...erased]).toEqual([b.id])
          const after = yield* getRegistration(b.id)
          expect(after.notes).toBe("")
          expect({ ...after, notes: before.notes }).toEqual(before)
          expect((yield* getRegistration(c.id)).notes).toBe("")
          expect((yield* getRegistration(a.id)).notes).toBe("someone else's note")
          expect(counters(yield* getEvent(first.id))).toEqual(counts)
          // Nothing left to clear the second time.
          expect([...(yield* registrations.eraseNotes(user.id))]).toEqual([])
        }))

      it.effect("a second active registration for the same user and event is refused by storage (I2)", () =>
        Effect.gen(function*() {
          const event = yield* insertEvent({ capacity: 5 })
          const user = yield* insertUser()
          const first = yield* register(event.id, user.id, "confirmed")
          const before = yield* getEvent(event.id)
          const duplicate = yield* makeRegistration(event.id, user.id, "waitlisted", 1)
          const error = yield* Effect.flip(apply(event.id, [{ _tag: "Insert", registration: duplicate }]))
          expect(error._tag).toBe("RepositoryError")
          expect(Option.isNone(yield* (yield* RegistrationRepository).findById(duplicate.id))).toBe(true)
          const after = yield* getEvent(event.id)
          expect([after.confirmedCount, after.waitlistCount, after.version])
            .toEqual([before.confirmedCount, before.waitlistCount, before.version])
          // Once the first is cancelled, the user may register again.
          yield* transition(first, "cancelled")
          yield* register(event.id, user.id, "confirmed")
          expect(counters(yield* getEvent(event.id))).toEqual([1, 0])
        }))
    }
  )
