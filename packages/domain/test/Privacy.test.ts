/**
 * GDPR use-cases on the memory store, on the TestClock (it starts at 1970-01-01, so "the event has
 * started" is a clock adjustment away): erase anonymises, clears notes, cancels registrations for
 * events that have not started (promoting the waitlist), keeps the others as anonymous counts, records
 * `UserErased`, refuses the erased person's token, and is idempotent; export returns the profile and
 * every registration with its status history, to the person or an admin only.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Events, Memory, Privacy, Registrations, Users } from "@live-events/domain"
import type { User } from "@live-events/domain"
import { memoryUseCases } from "./UseCases.ts"

const TestLayer = memoryUseCases

const day = 86_400_000

const setup = Effect.gen(function*() {
  const users = yield* Users.Users
  const events = yield* Events.Events
  const org = yield* users.provision({ subject: "org" })
  const organizer: User.Actor = { userId: org.id, roles: ["organizer"] }
  const admin: User.Actor = { userId: (yield* users.provision({ subject: "admin" })).id, roles: ["admin"] }
  const create = (startsInDays: number, capacity: number) =>
    Effect.gen(function*() {
      const event = yield* events.create(organizer, {
        title: "T",
        startsAt: new Date(startsInDays * day),
        endsAt: new Date(startsInDays * day + 3_600_000),
        timeZone: "Europe/Berlin",
        location: "Here",
        capacity
      })
      yield* events.publish(organizer, event.id)
      return event
    })
  const person = yield* users.provision({ subject: "ursula", email: "ursula@example.org", name: "Ursula Example" })
  const ursula: User.Actor = { userId: person.id, roles: ["attendee"] }
  const walter: User.Actor = { userId: (yield* users.provision({ subject: "walter" })).id, roles: ["attendee"] }
  return { admin, organizer, ursula, walter, create }
})

describe("Privacy.erase", () => {
  it.effect("anonymises, clears notes, cancels future registrations with promotion, keeps started ones", () =>
    Effect.gen(function*() {
      const { admin, create, organizer, ursula, walter } = yield* setup
      const users = yield* Users.Users
      const registrations = yield* Registrations.Registrations
      const events = yield* Events.Events
      const privacy = yield* Privacy.Privacy
      const store = yield* Memory.MemoryStore

      const future = yield* create(30, 1)
      const soon = yield* create(1, 5)
      const seat = yield* registrations.register(ursula, future.id, { notes: "vegetarian, call +49 151 0000" })
      const waiting = yield* registrations.register(walter, future.id, {})
      const started = yield* registrations.register(ursula, soon.id, { notes: "aisle seat" })
      expect([seat.status, waiting.status, started.status]).toEqual(["confirmed", "waitlisted", "confirmed"])
      yield* TestClock.adjust(2 * day) // `soon` has started; `future` has not

      const erasure = yield* privacy.erase(ursula, ursula.userId)
      expect(erasure.cancelledRegistrations).toBe(1)
      expect(erasure.user).toMatchObject({ email: null, name: null, phone: null, subject: "ursula" })
      expect(erasure.user.erasedAt).not.toBeNull()

      // The seat went to the head of the waitlist; the started event keeps its anonymous count.
      expect((yield* registrations.get(ursula, seat.id)).status).toBe("cancelled")
      expect((yield* registrations.get(walter, waiting.id)).status).toBe("confirmed")
      expect((yield* registrations.get(ursula, started.id)).status).toBe("confirmed")
      const after = yield* events.get(organizer, future.id)
      expect([after.confirmedCount, after.waitlistCount]).toEqual([1, 0])
      expect((yield* events.get(organizer, soon.id)).confirmedCount).toBe(1)
      for (const id of [seat.id, started.id]) expect((yield* registrations.get(admin, id)).notes).toBe("")

      const outbox = yield* store.outbox
      expect(outbox.filter((e) => e.type === "UserErased").map((e) => e.data)).toEqual([{ userId: ursula.userId }])
      const cancelled = outbox.filter((e) => e.type === "RegistrationCancelled")
      expect(cancelled.map((e) => e.type === "RegistrationCancelled" && e.data.reason)).toEqual(["user-erased"])
      expect(outbox.some((e) => e.type === "RegistrationPromoted")).toBe(true)

      // A request that was authenticated before the erase and reaches its unit of work after it.
      const late = yield* Effect.flip(registrations.register(ursula, future.id, {}))
      expect(late._tag).toBe("UserErased")

      // The token can no longer act, and no fresh account appears for it.
      const refused = yield* Effect.flip(users.provision({ subject: "ursula", email: "ursula@example.org" }))
      expect(refused._tag).toBe("UserErased")

      // Idempotent: nothing left to do, nothing changes.
      const again = yield* privacy.erase(admin, ursula.userId)
      expect(again.cancelledRegistrations).toBe(0)
      expect(again.user).toEqual(erasure.user)
      expect((yield* store.outbox).filter((e) => e.type === "UserErased")).toHaveLength(1)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("only the person themself or an admin may erase; an unknown person is not found", () =>
    Effect.gen(function*() {
      const { admin, organizer, ursula, walter } = yield* setup
      const privacy = yield* Privacy.Privacy
      for (const actor of [walter, organizer]) {
        expect((yield* Effect.flip(privacy.erase(actor, ursula.userId)))._tag).toBe("Forbidden")
      }
      const unknown = "00000000-0000-7000-8000-000000000000" as typeof ursula.userId
      expect((yield* Effect.flip(privacy.erase(admin, unknown)))._tag).toBe("UserNotFound")
      expect((yield* Effect.flip(privacy.export(admin, unknown)))._tag).toBe("UserNotFound")
    }).pipe(Effect.provide(TestLayer)))
})

describe("Privacy.export", () => {
  it.effect("returns the profile and every registration with its status history", () =>
    Effect.gen(function*() {
      const { admin, create, ursula, walter } = yield* setup
      const registrations = yield* Registrations.Registrations
      const privacy = yield* Privacy.Privacy

      const full = yield* create(30, 1)
      const other = yield* create(40, 5)
      const blocker = yield* registrations.register(walter, full.id, {})
      const queued = yield* registrations.register(ursula, full.id, { notes: "window" })
      yield* TestClock.adjust(1000)
      yield* registrations.cancel(walter, blocker.id) // promotes ursula
      yield* TestClock.adjust(1000)
      const left = yield* registrations.register(ursula, other.id, {})
      yield* TestClock.adjust(1000)
      yield* registrations.cancel(ursula, left.id)

      const data = yield* privacy.export(ursula, ursula.userId)
      expect(data.user).toMatchObject({ id: ursula.userId, email: "ursula@example.org", name: "Ursula Example" })
      const byId = new Map(data.registrations.map((r) => [r.id, r]))
      expect([...byId.keys()].sort()).toEqual([queued.id, left.id].sort())
      expect(byId.get(queued.id)!.notes).toBe("window")
      expect(byId.get(queued.id)!.history.map((h) => [h.status, h.at.getTime()])).toEqual([
        ["waitlisted", queued.createdAt.getTime()],
        ["confirmed", queued.createdAt.getTime() + 1000]
      ])
      expect(byId.get(left.id)!.history.map((h) => [h.status, h.at.getTime()])).toEqual([
        ["confirmed", left.createdAt.getTime()],
        ["cancelled", left.createdAt.getTime() + 1000]
      ])
      // Walter's registration is not Ursula's data.
      expect(byId.has(blocker.id)).toBe(false)

      expect((yield* privacy.export(admin, ursula.userId)).registrations).toHaveLength(2)
      expect((yield* Effect.flip(privacy.export(walter, ursula.userId)))._tag).toBe("Forbidden")
    }).pipe(Effect.provide(TestLayer)))
})
