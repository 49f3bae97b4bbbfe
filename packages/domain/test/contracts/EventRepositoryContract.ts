/**
 * Contract of the {@link EventRepository} port: every implementation (memory, PGlite, PostgreSQL) must
 * pass it unchanged.
 *
 * Clock: the suite runs on the live clock (`layer(..., { excludeTestServices: true })`) so that a SQL
 * layer's own timeouts and retries are never frozen by a TestClock; events start 30 days from now.
 * Isolation: every test creates its own organizer and events with fresh ids and filters lists by that
 * organizer, so one database can be shared by every suite and by repeated runs.
 *
 * @since 0.1.0
 */
import { expect, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import type { Event } from "../../src/Event.ts"
import { EventRepository } from "../../src/EventRepository.ts"
import { RegistrationRepository } from "../../src/RegistrationRepository.ts"
import { UnitOfWork } from "../../src/UnitOfWork.ts"
import {
  collectPages,
  freshId,
  getEvent,
  insertEvent,
  insertUser,
  makeEvent,
  makeRegistration,
  type Ports
} from "./Fixtures.ts"

const HOUR = 60 * 60 * 1000

const byStartThenId = (a: Event, b: Event) =>
  a.startsAt.getTime() - b.startsAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Registers the EventRepository contract suite for `layer`.
 *
 * @since 0.1.0
 */
export const eventRepositoryContract = <E>(name: string, portsLayer: Layer.Layer<Ports, E>): void =>
  layer(portsLayer, { excludeTestServices: true, timeout: "60 seconds" })(`EventRepository contract (${name})`, (it) => {
    it.effect("insert then findById returns the same event, every field intact", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const organizer = yield* insertUser()
        const base = yield* makeEvent(organizer.id)
        const variants: ReadonlyArray<Event> = [
          base,
          {
            ...(yield* makeEvent(organizer.id)),
            title: "Ünïcødé 'quotes' \"and\" <b>tags</b>",
            description: "<script>alert(1)</script> stays plain text",
            timeZone: "America/New_York",
            capacity: 100_000,
            waitlist: { enabled: false, limit: 0 },
            registrationClosesAt: new Date(base.startsAt.getTime() - HOUR),
            status: "draft"
          },
          { ...(yield* makeEvent(organizer.id)), waitlist: { enabled: true, limit: 3 }, status: "cancelled" }
        ]
        for (const event of variants) {
          yield* events.insert(event)
          const found = yield* events.findById(event.id)
          expect(Option.getOrThrow(found)).toEqual(event)
        }
      }))

    it.effect("findById and lock of an unknown id are none", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const unitOfWork = yield* UnitOfWork
        const missing = yield* freshId<Event["id"]>()
        expect(Option.isNone(yield* events.findById(missing))).toBe(true)
        expect(Option.isNone(yield* unitOfWork.transact(events.lock(missing)))).toBe(true)
      }))

    it.effect("lock returns the current event inside a unit of work", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const unitOfWork = yield* UnitOfWork
        const event = yield* insertEvent()
        const locked = yield* unitOfWork.transact(events.lock(event.id))
        expect(Option.getOrThrow(locked)).toEqual(event)
      }))

    it.effect("update writes editable fields, capacity and status, bumps version, never touches counters", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const registrations = yield* RegistrationRepository
        const unitOfWork = yield* UnitOfWork
        const event = yield* insertEvent({ capacity: 5 })
        const attendee = yield* insertUser()
        const registration = yield* makeRegistration(event.id, attendee.id, "confirmed")
        yield* unitOfWork.transact(registrations.apply(event.id, [{ _tag: "Insert", registration }]))
        const before = yield* getEvent(event.id)
        expect(before.confirmedCount).toBe(1)

        const startsAt = new Date(event.startsAt.getTime() + 24 * HOUR)
        const patch: Event = {
          ...before,
          title: "Renamed",
          description: "New description",
          location: "Other room",
          timeZone: "Asia/Tokyo",
          startsAt,
          endsAt: new Date(startsAt.getTime() + HOUR),
          registrationClosesAt: new Date(startsAt.getTime() - HOUR),
          capacity: 7,
          waitlist: { enabled: false, limit: 2 },
          status: "draft",
          updatedAt: new Date(before.updatedAt.getTime() + 1000),
          // Stale / bogus counters and version must be ignored by the repository.
          confirmedCount: 42,
          waitlistCount: 17,
          version: 1
        }
        const updated = yield* unitOfWork.transact(events.update(patch))
        const stored = yield* getEvent(event.id)
        expect(stored).toEqual(updated)
        expect(stored).toEqual({ ...patch, confirmedCount: 1, waitlistCount: 0, version: before.version + 1 })
      }))

    it.effect("delete removes the event, also when it has cancelled registrations", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const registrations = yield* RegistrationRepository
        const unitOfWork = yield* UnitOfWork
        const plain = yield* insertEvent()
        const withHistory = yield* insertEvent()
        const attendee = yield* insertUser()
        const registration = yield* makeRegistration(withHistory.id, attendee.id, "confirmed")
        yield* unitOfWork.transact(registrations.apply(withHistory.id, [
          { _tag: "Insert", registration },
          { _tag: "Transition", registration, to: "cancelled", at: registration.createdAt }
        ]))
        const other = yield* insertEvent()
        for (const event of [plain, withHistory]) {
          yield* unitOfWork.transact(events.delete(event.id))
          expect(Option.isNone(yield* events.findById(event.id))).toBe(true)
        }
        expect(Option.isSome(yield* events.findById(other.id))).toBe(true)
      }))

    it.effect("lock serialises read-modify-write units of work on one event (no lost update)", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const unitOfWork = yield* UnitOfWork
        const event = yield* insertEvent({ title: "0" })
        const increment = unitOfWork.transact(Effect.gen(function*() {
          const locked = Option.getOrThrow(yield* events.lock(event.id))
          // Give a competing unit of work every chance to read the same value.
          yield* Effect.sleep("5 millis")
          yield* events.update({ ...locked, title: String(Number(locked.title) + 1) })
        }))
        yield* Effect.all(Array.from({ length: 6 }, () => increment), { concurrency: "unbounded" })
        const stored = yield* getEvent(event.id)
        expect(stored.title).toBe("6")
        expect(stored.version).toBe(event.version + 6)
      }))

    it.effect("list filters by status and organizer", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const organizer = yield* insertUser()
        const other = yield* insertUser()
        const published = yield* insertEvent({ organizerId: organizer.id, status: "published" })
        const draft = yield* insertEvent({ organizerId: organizer.id, status: "draft" })
        const cancelled = yield* insertEvent({ organizerId: organizer.id, status: "cancelled" })
        yield* insertEvent({ organizerId: other.id, status: "published" })
        const ids = (page: { readonly items: ReadonlyArray<Event> }) => page.items.map((e) => e.id).sort()

        expect(ids(yield* events.list({ organizerId: organizer.id, statuses: ["published"], limit: 50 })))
          .toEqual([published.id])
        expect(ids(yield* events.list({ organizerId: organizer.id, statuses: ["draft", "cancelled"], limit: 50 })))
          .toEqual([draft.id, cancelled.id].sort())
        expect(
          ids(yield* events.list({ organizerId: organizer.id, statuses: ["published", "draft", "cancelled"], limit: 50 }))
        ).toEqual([published.id, draft.id, cancelled.id].sort())
        const page = yield* events.list({ organizerId: organizer.id, statuses: ["published"], limit: 50 })
        expect(page.nextCursor).toBeNull()
        // Listed events carry their counters (the read model).
        expect(page.items[0]).toEqual(published)
      }))

    it.effect("list filters by time window: from inclusive, to exclusive, on startsAt", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const organizer = yield* insertUser()
        const base = (yield* makeEvent(organizer.id)).startsAt.getTime()
        const at = (hours: number) => {
          const startsAt = new Date(base + hours * HOUR)
          return { organizerId: organizer.id, startsAt, endsAt: new Date(startsAt.getTime() + HOUR), registrationClosesAt: startsAt }
        }
        const e0 = yield* insertEvent(at(0))
        const e1 = yield* insertEvent(at(1))
        const e2 = yield* insertEvent(at(2))
        const e3 = yield* insertEvent(at(3))
        const list = (from: number | undefined, to: number | undefined) =>
          events.list({
            organizerId: organizer.id,
            statuses: ["published"],
            limit: 50,
            from: from === undefined ? undefined : new Date(base + from * HOUR),
            to: to === undefined ? undefined : new Date(base + to * HOUR)
          }).pipe(Effect.map((page) => page.items.map((e) => e.id)))
        expect(yield* list(1, 3)).toEqual([e1.id, e2.id])
        expect(yield* list(1, undefined)).toEqual([e1.id, e2.id, e3.id])
        expect(yield* list(undefined, 1)).toEqual([e0.id])
        expect(yield* list(0.5, 0.9)).toEqual([])
        expect(yield* list(undefined, undefined)).toEqual([e0.id, e1.id, e2.id, e3.id])
      }))

    it.effect("list q matches title or location, case-insensitive, treating % and _ literally", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const organizer = yield* insertUser()
        const a = yield* insertEvent({ organizerId: organizer.id, title: "Rust MEETUP Berlin", location: "Hall A" })
        const b = yield* insertEvent({ organizerId: organizer.id, title: "Talk", location: "The Meetup Space" })
        const c = yield* insertEvent({ organizerId: organizer.id, title: "Discount 50% off", location: "x_y room" })
        const d = yield* insertEvent({ organizerId: organizer.id, title: "Discount 500 off", location: "xzy room" })
        const search = (q: string) =>
          events.list({ organizerId: organizer.id, statuses: ["published"], limit: 50, q }).pipe(
            Effect.map((page) => page.items.map((e) => e.id).sort())
          )
        expect(yield* search("meetup")).toEqual([a.id, b.id].sort())
        expect(yield* search("BERLIN")).toEqual([a.id])
        expect(yield* search("50%")).toEqual([c.id])
        expect(yield* search("x_y")).toEqual([c.id])
        expect(yield* search("discount")).toEqual([c.id, d.id].sort())
        expect(yield* search("nothing-like-this")).toEqual([])
      }))

    it.effect("list pages by startsAt then id across several pages: no duplicates, no gaps, stable order", () =>
      Effect.gen(function*() {
        const events = yield* EventRepository
        const organizer = yield* insertUser()
        const base = (yield* makeEvent(organizer.id)).startsAt.getTime()
        const inserted: Array<Event> = []
        // Three events share one start time so that the id tiebreaker crosses a page boundary.
        for (const hours of [5, 1, 3, 3, 3, 0, 2, 4]) {
          const startsAt = new Date(base + hours * HOUR)
          inserted.push(
            yield* insertEvent({
              organizerId: organizer.id,
              startsAt,
              endsAt: new Date(startsAt.getTime() + HOUR),
              registrationClosesAt: startsAt
            })
          )
        }
        const expected = [...inserted].sort(byStartThenId).map((e) => e.id)
        for (const limit of [1, 2, 3, 8, 20]) {
          const pages = yield* collectPages((cursor) =>
            events.list({ organizerId: organizer.id, statuses: ["published"], limit, cursor })
          )
          const ids = pages.flat().map((e) => e.id)
          expect(ids).toEqual(expected)
          expect(pages.every((page) => page.length <= limit)).toBe(true)
          // No trailing empty page when the last page is exactly full.
          expect(pages.length).toBe(Math.max(1, Math.ceil(expected.length / limit)))
        }
      }))
  })
