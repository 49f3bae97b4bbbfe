/**
 * Unit tests of the pure waitlist decisions (Waitlist.ts) and of every rule of the "Use-cases and
 * their rules", run through the use-cases on the in-memory ports.
 *
 * Clock: every test here is an `it.effect`, so it runs on the TestClock, which starts at 0 (1970-01-01).
 * Events therefore start in 2099 and are always in the future, and the tests that need "registration has
 * closed" or "the event has started" move the clock with `TestClock.setTime`. Each use-case test builds
 * its own fresh memory store (the layer is provided per test).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Result } from "effect"
import { TestClock } from "effect/testing"
import type { DomainEvent, DomainEventBody } from "../src/DomainEvent.ts"
import type { Event } from "../src/Event.ts"
import { Events } from "../src/Events.ts"
import { type EventId, Ids, type RegistrationId, type UserId } from "../src/Ids.ts"
import * as Memory from "../src/Memory.ts"
import type { Registration, RegistrationStatus } from "../src/Registration.ts"
import { Registrations } from "../src/Registrations.ts"
import type { Actor } from "../src/User.ts"
import { Users } from "../src/Users.ts"
import * as Waitlist from "../src/Waitlist.ts"

// ---------------------------------------------------------------------------------------------------
// Pure decisions

const T0 = new Date("2099-06-01T10:00:00Z")
const NOW = new Date("2099-05-01T10:00:00Z")
const EVENT_ID = "00000000-0000-7000-8000-00000000e001" as EventId

const event = (fields: Partial<Event> = {}): Event => ({
  id: EVENT_ID,
  organizerId: "00000000-0000-7000-8000-00000000a001" as UserId,
  title: "Event",
  description: "",
  startsAt: T0,
  endsAt: new Date(T0.getTime() + 3_600_000),
  timeZone: "Europe/Berlin",
  location: "Hall",
  capacity: 2,
  waitlist: { enabled: true, limit: null },
  registrationClosesAt: T0,
  status: "published",
  confirmedCount: 0,
  waitlistCount: 0,
  version: 1,
  createdAt: NOW,
  updatedAt: NOW,
  ...fields
})

let registrationCounter = 0
const registration = (status: RegistrationStatus, position: number | null = null, fields: Partial<Registration> = {}): Registration => {
  const n = ++registrationCounter
  return {
    id: `00000000-0000-7000-8000-${n.toString(16).padStart(12, "0")}` as RegistrationId,
    eventId: EVENT_ID,
    userId: `00000000-0000-7000-9000-${n.toString(16).padStart(12, "0")}` as UserId,
    status,
    waitlistPosition: status === "waitlisted" ? position : null,
    notes: "",
    createdAt: NOW,
    updatedAt: NOW,
    confirmedAt: status === "confirmed" ? NOW : null,
    cancelledAt: null,
    ...fields
  }
}

const AT = new Date("2099-05-02T12:00:00Z")

/** The error code of a failed decision (fails the test on success). */
const codeOf = <A, E extends { readonly code: string }>(result: Result.Result<A, E>): string => {
  if (Result.isSuccess(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure.code
}
const errorOf = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}
const types = (events: ReadonlyArray<DomainEventBody>) => events.map((e) => e.type)

describe("Waitlist.decidePlacement", () => {
  const place = (fields: Partial<Event>, active?: Registration, now = NOW) =>
    Waitlist.decidePlacement({ event: event(fields), active, now })

  it("refuses a cancelled event with registration-closed (reason cancelled)", () => {
    const error = errorOf(place({ status: "cancelled" }))
    expect([error.code, error._tag === "RegistrationClosed" && error.reason]).toEqual(["registration-closed", "cancelled"])
  })

  it("refuses a draft with registration-closed (reason not-published)", () => {
    const error = errorOf(place({ status: "draft" }))
    expect([error.code, error._tag === "RegistrationClosed" && error.reason]).toEqual(["registration-closed", "not-published"])
  })

  it("refuses at and after registrationClosesAt, accepts just before", () => {
    const closesAt = new Date(NOW.getTime() + 1000)
    const exactly = errorOf(place({ registrationClosesAt: closesAt }, undefined, closesAt))
    expect([exactly.code, exactly._tag === "RegistrationClosed" && exactly.reason]).toEqual(["registration-closed", "closed"])
    expect(codeOf(place({ registrationClosesAt: closesAt }, undefined, new Date(closesAt.getTime() + 1)))).toBe("registration-closed")
    expect(place({ registrationClosesAt: closesAt }, undefined, new Date(closesAt.getTime() - 1))).toEqual(
      Result.succeed({ status: "confirmed" })
    )
  })

  it("refuses a second active registration, naming the existing one", () => {
    for (const active of [registration("confirmed"), registration("waitlisted", 1)]) {
      const error = errorOf(place({ confirmedCount: 2, waitlistCount: 1 }, active))
      expect(error.code).toBe("already-registered")
      expect(error._tag === "AlreadyRegistered" && [error.registrationId, error.status]).toEqual([active.id, active.status])
    }
  })

  it("confirms while a seat is free and nobody waits", () => {
    expect(place({ capacity: 2, confirmedCount: 0 })).toEqual(Result.succeed({ status: "confirmed" }))
    expect(place({ capacity: 2, confirmedCount: 1 })).toEqual(Result.succeed({ status: "confirmed" }))
  })

  it("waitlists at position w + 1 when full", () => {
    expect(place({ capacity: 2, confirmedCount: 2, waitlistCount: 0 })).toEqual(
      Result.succeed({ status: "waitlisted", position: 1 })
    )
    expect(place({ capacity: 2, confirmedCount: 2, waitlistCount: 3 })).toEqual(
      Result.succeed({ status: "waitlisted", position: 4 })
    )
  })

  it("never lets a newcomer jump the queue, even if a snapshot showed a free seat", () => {
    expect(place({ capacity: 3, confirmedCount: 2, waitlistCount: 1 })).toEqual(
      Result.succeed({ status: "waitlisted", position: 2 })
    )
  })

  it("full with the waitlist disabled → waitlist-closed (whatever the limit)", () => {
    expect(codeOf(place({ confirmedCount: 2, waitlist: { enabled: false, limit: null } }))).toBe("waitlist-closed")
    expect(codeOf(place({ confirmedCount: 2, waitlist: { enabled: false, limit: 10 } }))).toBe("waitlist-closed")
    // A free seat is still given when the waitlist is disabled.
    expect(place({ confirmedCount: 1, waitlist: { enabled: false, limit: null } })).toEqual(
      Result.succeed({ status: "confirmed" })
    )
  })

  it("full with the waitlist at its limit → waitlist-full with the limit; under it → waitlisted", () => {
    const full = errorOf(place({ confirmedCount: 2, waitlistCount: 3, waitlist: { enabled: true, limit: 3 } }))
    expect([full.code, full._tag === "WaitlistFull" && full.limit]).toEqual(["waitlist-full", 3])
    expect(place({ confirmedCount: 2, waitlistCount: 2, waitlist: { enabled: true, limit: 3 } })).toEqual(
      Result.succeed({ status: "waitlisted", position: 3 })
    )
  })

  it("limit 0: nobody can wait (waitlist-full), but free seats are still given", () => {
    const zero = { enabled: true, limit: 0 }
    const error = errorOf(place({ confirmedCount: 2, waitlistCount: 0, waitlist: zero }))
    expect([error.code, error._tag === "WaitlistFull" && error.limit]).toEqual(["waitlist-full", 0])
    expect(place({ confirmedCount: 1, waitlist: zero })).toEqual(Result.succeed({ status: "confirmed" }))
  })

  it("checks the event's state before the person's: a closed event wins over already-registered", () => {
    expect(codeOf(place({ status: "cancelled" }, registration("confirmed")))).toBe("registration-closed")
  })
})

describe("Waitlist.planRegistration", () => {
  it("inserts a confirmed registration and raises RegistrationConfirmed with the counts after", () => {
    const e = event({ capacity: 3, confirmedCount: 1 })
    const r = registration("confirmed")
    const plan = Waitlist.planRegistration(e, r)
    expect(plan.changes).toEqual([{ _tag: "Insert", registration: r }])
    expect(plan.events).toEqual([{
      type: "RegistrationConfirmed",
      aggregateId: e.id,
      data: {
        registrationId: r.id,
        eventId: r.eventId,
        userId: r.userId,
        status: "confirmed",
        waitlistPosition: null,
        capacity: 3,
        confirmedCount: 2,
        waitlistCount: 0
      }
    }])
  })

  it("inserts a waitlisted registration and raises RegistrationWaitlisted with its position", () => {
    const e = event({ capacity: 2, confirmedCount: 2, waitlistCount: 4 })
    const plan = Waitlist.planRegistration(e, registration("waitlisted", 5))
    expect(types(plan.events)).toEqual(["RegistrationWaitlisted"])
    expect(plan.events[0]!.data).toMatchObject({ status: "waitlisted", waitlistPosition: 5, confirmedCount: 2, waitlistCount: 5 })
  })
})

describe("Waitlist.decideCancellation", () => {
  const cancel = (e: Event, r: Registration, head?: Registration) =>
    Waitlist.decideCancellation({ event: e, registration: r, head, reason: "attendee", now: AT })

  it("cancelling a cancelled registration is a no-op returning it", () => {
    const r = registration("cancelled", null, { cancelledAt: NOW })
    expect(cancel(event(), r)).toEqual(Result.succeed({ plan: Waitlist.emptyPlan, registration: r }))
  })

  it("attended and no-show registrations cannot be cancelled", () => {
    for (const status of ["attended", "no_show"] as const) {
      const error = errorOf(cancel(event(), registration(status)))
      expect([error.code, error.from, error.to]).toEqual(["invalid-transition", status, "cancelled"])
    }
  })

  it("a confirmed cancellation promotes the head: Cancelled + Promoted + PositionsShifted", () => {
    const e = event({ capacity: 2, confirmedCount: 2, waitlistCount: 3 })
    const seat = registration("confirmed")
    const head = registration("waitlisted", 1)
    const { plan, registration: cancelled } = Result.getOrThrow(cancel(e, seat, head))
    expect(cancelled).toMatchObject({ id: seat.id, status: "cancelled", cancelledAt: AT, updatedAt: AT, waitlistPosition: null })
    expect(plan.changes).toEqual([
      { _tag: "Transition", registration: seat, to: "cancelled", at: AT },
      { _tag: "Transition", registration: head, to: "confirmed", at: AT }
    ])
    expect(types(plan.events)).toEqual(["RegistrationCancelled", "RegistrationPromoted", "WaitlistPositionsShifted"])
    expect(plan.events[0]!.data).toMatchObject({
      registrationId: seat.id,
      status: "cancelled",
      previousStatus: "confirmed",
      reason: "attendee",
      confirmedCount: 1,
      waitlistCount: 3
    })
    expect(plan.events[1]!.data).toMatchObject({
      registrationId: head.id,
      status: "confirmed",
      waitlistPosition: null,
      fromPosition: 1,
      confirmedCount: 2,
      waitlistCount: 2
    })
    expect(plan.events[2]!.data).toEqual({ eventId: e.id, fromPosition: 1, capacity: 2, confirmedCount: 2, waitlistCount: 2 })
  })

  it("a confirmed cancellation with nobody waiting frees the seat only", () => {
    const e = event({ capacity: 2, confirmedCount: 2 })
    const { plan } = Result.getOrThrow(cancel(e, registration("confirmed")))
    expect(plan.changes).toHaveLength(1)
    expect(types(plan.events)).toEqual(["RegistrationCancelled"])
    expect(plan.events[0]!.data).toMatchObject({ confirmedCount: 1, waitlistCount: 0 })
  })

  it("a waitlisted cancellation closes the gap from its own position", () => {
    const e = event({ capacity: 2, confirmedCount: 2, waitlistCount: 4 })
    const leaving = registration("waitlisted", 3)
    const head = registration("waitlisted", 1)
    const { plan, registration: cancelled } = Result.getOrThrow(cancel(e, leaving, head))
    expect(cancelled.waitlistPosition).toBeNull()
    expect(plan.changes).toEqual([{ _tag: "Transition", registration: leaving, to: "cancelled", at: AT }])
    expect(types(plan.events)).toEqual(["RegistrationCancelled", "WaitlistPositionsShifted"])
    expect(plan.events[0]!.data).toMatchObject({ previousStatus: "waitlisted", confirmedCount: 2, waitlistCount: 3 })
    expect(plan.events[1]!.data).toEqual({ eventId: e.id, fromPosition: 3, capacity: 2, confirmedCount: 2, waitlistCount: 3 })
  })

  it("records the reason it is given", () => {
    const r = registration("confirmed")
    const plan = Result.getOrThrow(
      Waitlist.decideCancellation({ event: event({ confirmedCount: 1 }), registration: r, head: undefined, reason: "organizer", now: AT })
    ).plan
    expect(plan.events[0]!.data).toMatchObject({ reason: "organizer" })
  })
})

describe("Waitlist.seatsToPromote", () => {
  it("is the free seats, bounded by the queue, never negative", () => {
    expect(Waitlist.seatsToPromote(event({ capacity: 2, confirmedCount: 2, waitlistCount: 5 }), 5)).toBe(3)
    expect(Waitlist.seatsToPromote(event({ capacity: 2, confirmedCount: 2, waitlistCount: 2 }), 10)).toBe(2)
    expect(Waitlist.seatsToPromote(event({ capacity: 2, confirmedCount: 2, waitlistCount: 2 }), 2)).toBe(0)
    expect(Waitlist.seatsToPromote(event({ capacity: 5, confirmedCount: 3, waitlistCount: 0 }), 1)).toBe(0)
  })
})

describe("Waitlist.decideCapacityChange", () => {
  const change = (e: Event, capacity: number, heads: ReadonlyArray<Registration> = []) =>
    Waitlist.decideCapacityChange({ event: e, capacity, heads, now: AT })

  it("refuses a capacity below the confirmed count", () => {
    const error = errorOf(change(event({ capacity: 5, confirmedCount: 4 }), 3))
    expect([error.code, error.capacity, error.confirmedCount]).toEqual(["capacity-below-confirmed", 3, 4])
  })

  it("accepts a decrease down to exactly the confirmed count, promoting nobody", () => {
    const plan = Result.getOrThrow(change(event({ capacity: 5, confirmedCount: 4 }), 4))
    expect(plan.changes).toEqual([])
    expect(plan.events).toEqual([{
      type: "EventCapacityChanged",
      aggregateId: EVENT_ID,
      data: { eventId: EVENT_ID, previousCapacity: 5, capacity: 4, confirmedCount: 4, waitlistCount: 0 }
    }])
  })

  it("the same capacity changes nothing", () => {
    expect(change(event({ capacity: 3 }), 3)).toEqual(Result.succeed(Waitlist.emptyPlan))
  })

  it("an increase promotes as many as fit, first come first served", () => {
    const e = event({ capacity: 2, confirmedCount: 2, waitlistCount: 4 })
    const heads = [registration("waitlisted", 1), registration("waitlisted", 2), registration("waitlisted", 3)]
    const plan = Result.getOrThrow(change(e, 4, heads))
    // Only two seats: the third head given is not promoted.
    expect(plan.changes).toEqual([
      { _tag: "Transition", registration: heads[0], to: "confirmed", at: AT },
      { _tag: "Transition", registration: heads[1], to: "confirmed", at: AT }
    ])
    expect(types(plan.events)).toEqual([
      "EventCapacityChanged",
      "RegistrationPromoted",
      "WaitlistPositionsShifted",
      "RegistrationPromoted",
      "WaitlistPositionsShifted"
    ])
    expect(plan.events[0]!.data).toEqual({ eventId: EVENT_ID, previousCapacity: 2, capacity: 4, confirmedCount: 4, waitlistCount: 2 })
    expect(plan.events.slice(1).map((e) => {
      const data = e.data as unknown as Record<string, unknown>
      return [data.confirmedCount, data.waitlistCount, data.fromPosition]
    }))
      .toEqual([[3, 3, 1], [3, 3, 1], [4, 2, 1], [4, 2, 1]])
    expect(plan.events[1]!.data).toMatchObject({ registrationId: heads[0]!.id, status: "confirmed", capacity: 4 })
    expect(plan.events[3]!.data).toMatchObject({ registrationId: heads[1]!.id, status: "confirmed" })
  })

  it("an increase larger than the queue promotes everyone waiting", () => {
    const e = event({ capacity: 1, confirmedCount: 1, waitlistCount: 2 })
    const heads = [registration("waitlisted", 1), registration("waitlisted", 2)]
    const plan = Result.getOrThrow(change(e, 10, heads))
    expect(plan.changes.map((c) => c.registration.id)).toEqual(heads.map((h) => h.id))
    expect(plan.events[0]!.data).toMatchObject({ capacity: 10, confirmedCount: 3, waitlistCount: 0 })
  })
})

describe("Waitlist.decideManualConfirm", () => {
  const confirm = (e: Event, r: Registration) => Waitlist.decideManualConfirm({ event: e, registration: r, now: AT })

  it("never overbooks: no seat free → no-seat-available", () => {
    expect(codeOf(confirm(event({ capacity: 2, confirmedCount: 2, waitlistCount: 1 }), registration("waitlisted", 1))))
      .toBe("no-seat-available")
    // Even a snapshot above capacity (after a decrease) never confirms.
    expect(codeOf(confirm(event({ capacity: 2, confirmedCount: 3, waitlistCount: 1 }), registration("waitlisted", 1))))
      .toBe("no-seat-available")
  })

  it("an already confirmed registration is a no-op", () => {
    const r = registration("confirmed")
    expect(confirm(event({ confirmedCount: 2 }), r)).toEqual(Result.succeed({ plan: Waitlist.emptyPlan, registration: r }))
  })

  it("cancelled, attended and no-show registrations cannot be confirmed", () => {
    for (const status of ["cancelled", "attended", "no_show"] as const) {
      const error = errorOf(confirm(event(), registration(status)))
      expect([error.code, error._tag === "InvalidTransition" && error.from]).toEqual(["invalid-transition", status])
    }
  })

  it("with a free seat, confirms the waitlisted person and closes the gap at their position", () => {
    const e = event({ capacity: 3, confirmedCount: 2, waitlistCount: 3 })
    const r = registration("waitlisted", 2)
    const { plan, registration: confirmed } = Result.getOrThrow(confirm(e, r))
    expect(confirmed).toMatchObject({ status: "confirmed", confirmedAt: AT, waitlistPosition: null })
    expect(plan.changes).toEqual([{ _tag: "Transition", registration: r, to: "confirmed", at: AT }])
    expect(types(plan.events)).toEqual(["RegistrationPromoted", "WaitlistPositionsShifted"])
    expect(plan.events[0]!.data).toMatchObject({ fromPosition: 2, confirmedCount: 3, waitlistCount: 2 })
    expect(plan.events[1]!.data).toEqual({ eventId: EVENT_ID, fromPosition: 2, capacity: 3, confirmedCount: 3, waitlistCount: 2 })
  })
})

describe("Waitlist.decideAttendance", () => {
  const mark = (r: Registration, attended: boolean, now: Date) =>
    Waitlist.decideAttendance({ event: event({ confirmedCount: 1 }), registration: r, attended, now })

  it("before the start → event-not-started", () => {
    expect(codeOf(mark(registration("confirmed"), true, new Date(T0.getTime() - 1)))).toBe("event-not-started")
  })

  it("waitlisted or cancelled → invalid-transition (before or after the start)", () => {
    for (const status of ["waitlisted", "cancelled"] as const) {
      for (const now of [NOW, new Date(T0.getTime() + 1)]) {
        expect(codeOf(mark(registration(status, 1), false, now))).toBe("invalid-transition")
      }
    }
  })

  it("from the start on: attended / no_show, keeping the seat and confirmedAt", () => {
    const r = registration("confirmed")
    const attended = Result.getOrThrow(mark(r, true, T0))
    expect(attended.registration).toMatchObject({ status: "attended", confirmedAt: r.confirmedAt, updatedAt: T0 })
    expect(attended.plan.changes).toEqual([{ _tag: "Transition", registration: r, to: "attended", at: T0 }])
    expect(types(attended.plan.events)).toEqual(["AttendanceMarked"])
    expect(attended.plan.events[0]!.data).toMatchObject({ status: "attended", confirmedCount: 1, waitlistCount: 0 })
    const noShow = Result.getOrThrow(mark(attended.registration, false, T0))
    expect(noShow.registration.status).toBe("no_show")
  })

  it("marking the same status again is a no-op", () => {
    const r = registration("attended")
    expect(mark(r, true, T0)).toEqual(Result.succeed({ plan: Waitlist.emptyPlan, registration: r }))
  })
})

describe("Waitlist.planEventCancellation", () => {
  it("cancels every active registration: one batch event plus one per attendee", () => {
    const active = [registration("confirmed"), registration("confirmed"), registration("waitlisted", 1)]
    const plan = Waitlist.planEventCancellation(event({ confirmedCount: 2, waitlistCount: 1 }), active, AT)
    expect(plan.changes).toEqual(active.map((r) => ({ _tag: "Transition", registration: r, to: "cancelled", at: AT })))
    expect(types(plan.events)).toEqual(["EventCancelled", "RegistrationCancelled", "RegistrationCancelled", "RegistrationCancelled"])
    expect(plan.events[0]!.data).toEqual({ eventId: EVENT_ID, cancelledRegistrations: 3 })
    expect(plan.events.slice(1).map((e) => e.data)).toEqual(active.map((r) =>
      expect.objectContaining({
        registrationId: r.id,
        status: "cancelled",
        previousStatus: r.status,
        reason: "event-cancelled",
        waitlistPosition: null,
        confirmedCount: 0,
        waitlistCount: 0
      })
    ))
  })

  it("with no registrations raises only the batch event", () => {
    const plan = Waitlist.planEventCancellation(event(), [], AT)
    expect(plan.changes).toEqual([])
    expect(plan.events.map((e) => e.data)).toEqual([{ eventId: EVENT_ID, cancelledRegistrations: 0 }])
  })
})

// ---------------------------------------------------------------------------------------------------
// The same rules through the use-cases (memory ports, TestClock)

const TestLayer = Layer.mergeAll(Events.layer, Registrations.layer, Users.layer).pipe(
  Layer.provideMerge(Layer.mergeAll(Memory.layer, Ids.layerTest))
)

const STARTS = new Date("2099-01-01T18:00:00Z")

interface World {
  readonly organizer: Actor
  readonly people: ReadonlyArray<Actor>
  readonly eventId: EventId
}

/** An organizer, `people` attendees and a published event of the given capacity and waitlist. */
const world = (capacity: number, waitlist: { enabled?: boolean; limit?: number | null } = {}, people = 5) =>
  Effect.gen(function*() {
    const users = yield* Users
    const events = yield* Events
    const organizerUser = yield* users.provision({ subject: "organizer" })
    const organizer: Actor = { userId: organizerUser.id, roles: ["organizer"] }
    const attendees: Array<Actor> = []
    for (let i = 0; i < people; i++) attendees.push({ userId: (yield* users.provision({ subject: `person-${i}` })).id, roles: ["attendee"] })
    const created = yield* events.create(organizer, {
      title: "Concert",
      startsAt: STARTS,
      endsAt: new Date(STARTS.getTime() + 3 * 3_600_000),
      timeZone: "Europe/Berlin",
      location: "Arena",
      capacity,
      waitlist,
      registrationClosesAt: new Date(STARTS.getTime() - 3_600_000)
    })
    yield* events.publish(organizer, created.id)
    const result: World = { organizer, people: attendees, eventId: created.id }
    return result
  })

const registerAll = (w: World, count: number) =>
  Effect.forEach(w.people.slice(0, count), (person) => Effect.flatMap(Registrations, (r) => r.register(person, w.eventId, {})))

/** Status and position of every registration of the event, in creation order. */
const snapshot = (eventId: EventId) =>
  Effect.gen(function*() {
    const store = yield* Memory.MemoryStore
    const event = Option.getOrThrow(yield* store.event(eventId))
    const rows = yield* store.registrations(eventId)
    return {
      counts: [event.capacity, event.confirmedCount, event.waitlistCount],
      rows: rows.map((r) => [r.status, r.waitlistPosition])
    }
  })

const outboxSince = (count: number, eventId: EventId) =>
  Effect.flatMap(Memory.MemoryStore, (store) => store.outbox).pipe(
    Effect.map((messages) => messages.slice(count).filter((m) => m.aggregateId === eventId))
  )
const outboxSize = Effect.flatMap(Memory.MemoryStore, (store) => Effect.map(store.outbox, (m) => m.length))
const dataOf = (message: DomainEvent) => message.data as unknown as Record<string, unknown>

describe("use-case rules (memory)", () => {
  it.effect("register: unknown event → event-not-found; draft → hidden from attendees, registration-closed for its owner", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const events = yield* Events
      const w = yield* world(2)
      const unknown = "00000000-0000-7000-8000-0000000fffff" as EventId
      expect((yield* Effect.flip(registrations.register(w.people[0]!, unknown, {}))).code).toBe("event-not-found")
      yield* events.unpublish(w.organizer, w.eventId)
      expect((yield* Effect.flip(registrations.register(w.people[0]!, w.eventId, {}))).code).toBe("event-not-found")
      const own = yield* Effect.flip(registrations.register(w.organizer, w.eventId, {}))
      expect([own.code, own._tag === "RegistrationClosed" && own.reason]).toEqual(["registration-closed", "not-published"])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("register: cancelled event → registration-closed", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(2)
      yield* (yield* Events).cancel(w.organizer, w.eventId)
      const error = yield* Effect.flip(registrations.register(w.people[0]!, w.eventId, {}))
      expect([error.code, error._tag === "RegistrationClosed" && error.reason]).toEqual(["registration-closed", "cancelled"])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("register: after registrationClosesAt → registration-closed (reason closed)", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(2)
      yield* TestClock.setTime(STARTS.getTime() - 3_600_000)
      const error = yield* Effect.flip(registrations.register(w.people[0]!, w.eventId, {}))
      expect([error.code, error._tag === "RegistrationClosed" && error.reason]).toEqual(["registration-closed", "closed"])
      expect((yield* snapshot(w.eventId)).rows).toEqual([])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("register: confirmed while seats last, then waitlisted at w + 1; already-registered names the existing one", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(2)
      const results = yield* registerAll(w, 5)
      expect(results.map((r) => [r.status, r.waitlistPosition])).toEqual([
        ["confirmed", null],
        ["confirmed", null],
        ["waitlisted", 1],
        ["waitlisted", 2],
        ["waitlisted", 3]
      ])
      for (const index of [0, 3]) {
        const error = yield* Effect.flip(registrations.register(w.people[index]!, w.eventId, { notes: "again" }))
        expect(error.code).toBe("already-registered")
        expect(error._tag === "AlreadyRegistered" && error.registrationId).toBe(results[index]!.id)
      }
      expect((yield* snapshot(w.eventId)).counts).toEqual([2, 2, 3])
      // The outbox holds one message per successful registration.
      const messages = yield* outboxSince(0, w.eventId)
      expect(messages.filter((m) => m.type.startsWith("Registration")).map((m) => m.type)).toEqual([
        "RegistrationConfirmed",
        "RegistrationConfirmed",
        "RegistrationWaitlisted",
        "RegistrationWaitlisted",
        "RegistrationWaitlisted"
      ])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("register: full with the waitlist disabled → waitlist-closed", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const closed = yield* world(1, { enabled: false })
      yield* registerAll(closed, 1)
      expect((yield* Effect.flip(registrations.register(closed.people[1]!, closed.eventId, {}))).code).toBe("waitlist-closed")
      expect((yield* snapshot(closed.eventId)).counts).toEqual([1, 1, 0])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("register: waitlist limit 2 → the third waiting person gets waitlist-full", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(1, { limit: 2 })
      const accepted = yield* registerAll(w, 3)
      expect(accepted.map((r) => r.waitlistPosition)).toEqual([null, 1, 2])
      const error = yield* Effect.flip(registrations.register(w.people[3]!, w.eventId, {}))
      expect([error.code, error._tag === "WaitlistFull" && error.limit]).toEqual(["waitlist-full", 2])
      expect((yield* snapshot(w.eventId)).counts).toEqual([1, 1, 2])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("register: waitlist limit 0 → seats are given, then waitlist-full", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(2, { enabled: true, limit: 0 })
      yield* registerAll(w, 2)
      const error = yield* Effect.flip(registrations.register(w.people[2]!, w.eventId, {}))
      expect(error.code).toBe("waitlist-full")
      expect((yield* snapshot(w.eventId)).counts).toEqual([2, 2, 0])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("cancel twice is a no-op returning the cancelled registration", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(1)
      const [seat] = yield* registerAll(w, 2)
      const first = yield* registrations.cancel(w.people[0]!, seat!.id)
      const before = [yield* snapshot(w.eventId), yield* outboxSize]
      const second = yield* registrations.cancel(w.people[0]!, seat!.id)
      expect(second).toEqual(first)
      expect(second.status).toBe("cancelled")
      expect([yield* snapshot(w.eventId), yield* outboxSize]).toEqual(before)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("cancel confirmed promotes the head in the same unit of work, with Cancelled + Promoted + Shifted", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(2)
      const regs = yield* registerAll(w, 5)
      const mark = yield* outboxSize
      const cancelled = yield* registrations.cancel(w.people[1]!, regs[1]!.id)
      expect(cancelled).toMatchObject({ status: "cancelled", waitlistPosition: null })
      expect((yield* snapshot(w.eventId))).toEqual({
        counts: [2, 2, 2],
        rows: [["confirmed", null], ["cancelled", null], ["confirmed", null], ["waitlisted", 1], ["waitlisted", 2]]
      })
      const promoted = yield* registrations.get(w.people[2]!, regs[2]!.id)
      expect(promoted.confirmedAt).not.toBeNull()
      const messages = yield* outboxSince(mark, w.eventId)
      expect(messages.map((m) => m.type)).toEqual(["RegistrationCancelled", "RegistrationPromoted", "WaitlistPositionsShifted"])
      expect(dataOf(messages[0]!)).toMatchObject({ registrationId: regs[1]!.id, reason: "attendee", confirmedCount: 1, waitlistCount: 3 })
      expect(dataOf(messages[1]!)).toMatchObject({ registrationId: regs[2]!.id, fromPosition: 1, confirmedCount: 2, waitlistCount: 2 })
      expect(dataOf(messages[2]!)).toMatchObject({ fromPosition: 1, confirmedCount: 2, waitlistCount: 2 })
      // Stamped: unique ids, schema version, aggregate = the event.
      expect(new Set(messages.map((m) => m.id)).size).toBe(3)
      expect(messages.every((m) => m.version === 1 && m.aggregateId === w.eventId)).toBe(true)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("cancel waitlisted closes the gap: WaitlistPositionsShifted from its position", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(1)
      const regs = yield* registerAll(w, 4)
      const mark = yield* outboxSize
      yield* registrations.cancel(w.people[2]!, regs[2]!.id) // position 2 of 3
      expect(yield* snapshot(w.eventId)).toEqual({
        counts: [1, 1, 2],
        rows: [["confirmed", null], ["waitlisted", 1], ["cancelled", null], ["waitlisted", 2]]
      })
      const messages = yield* outboxSince(mark, w.eventId)
      expect(messages.map((m) => m.type)).toEqual(["RegistrationCancelled", "WaitlistPositionsShifted"])
      expect(dataOf(messages[0]!)).toMatchObject({ previousStatus: "waitlisted", waitlistPosition: null })
      expect(dataOf(messages[1]!)).toMatchObject({ fromPosition: 2, confirmedCount: 1, waitlistCount: 2 })
    }).pipe(Effect.provide(TestLayer)))

  it.effect("cancel: the organizer may cancel (reason organizer); another attendee may not see it", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(2)
      const [a, b] = yield* registerAll(w, 2)
      expect((yield* Effect.flip(registrations.cancel(w.people[1]!, a!.id))).code).toBe("registration-not-found")
      const mark = yield* outboxSize
      yield* registrations.cancel(w.organizer, b!.id)
      expect(dataOf((yield* outboxSince(mark, w.eventId))[0]!)).toMatchObject({ reason: "organizer" })
      expect((yield* snapshot(w.eventId)).counts).toEqual([2, 1, 0])
      // A cancelled person may register again, at the back.
      const again = yield* registrations.register(w.people[1]!, w.eventId, {})
      expect(again.status).toBe("confirmed")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("capacity: a decrease below confirmed fails and changes nothing", () =>
    Effect.gen(function*() {
      const events = yield* Events
      const w = yield* world(3)
      yield* registerAll(w, 3)
      const before = [yield* snapshot(w.eventId), yield* outboxSize]
      const error = yield* Effect.flip(events.update(w.organizer, w.eventId, { capacity: 2, title: "Renamed" }))
      expect([error.code, error._tag === "CapacityBelowConfirmed" && error.confirmedCount]).toEqual(["capacity-below-confirmed", 3])
      expect([yield* snapshot(w.eventId), yield* outboxSize]).toEqual(before)
      expect((yield* events.get(w.organizer, w.eventId)).title).toBe("Concert")
      // Down to exactly the confirmed count is fine.
      expect((yield* events.update(w.organizer, w.eventId, { capacity: 3 })).capacity).toBe(3)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("capacity: an increase promotes FIFO as many as fit, in the same unit of work", () =>
    Effect.gen(function*() {
      const events = yield* Events
      const w = yield* world(1)
      const regs = yield* registerAll(w, 5)
      const mark = yield* outboxSize
      const updated = yield* events.update(w.organizer, w.eventId, { capacity: 3 })
      expect([updated.capacity, updated.confirmedCount, updated.waitlistCount]).toEqual([3, 3, 2])
      expect(yield* snapshot(w.eventId)).toEqual({
        counts: [3, 3, 2],
        rows: [["confirmed", null], ["confirmed", null], ["confirmed", null], ["waitlisted", 1], ["waitlisted", 2]]
      })
      const messages = yield* outboxSince(mark, w.eventId)
      expect(messages.map((m) => m.type)).toEqual([
        "EventCapacityChanged",
        "RegistrationPromoted",
        "WaitlistPositionsShifted",
        "RegistrationPromoted",
        "WaitlistPositionsShifted"
      ])
      expect([dataOf(messages[1]!).registrationId, dataOf(messages[3]!).registrationId]).toEqual([regs[1]!.id, regs[2]!.id])
      // A capacity-only patch raises no EventUpdated.
      expect(messages.some((m) => m.type === "EventUpdated")).toBe(false)
      // The returned event is the stored one, version (ETag) included, though promotions bumped it again.
      expect(updated).toEqual(yield* events.get(w.organizer, w.eventId))
    }).pipe(Effect.provide(TestLayer)))

  it.effect("manual confirm never overbooks; confirmed is a no-op; cancelled is invalid; attendees are forbidden", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(1)
      const [seat, waiting, gone] = yield* registerAll(w, 3)
      yield* registrations.cancel(w.people[2]!, gone!.id)
      expect((yield* Effect.flip(registrations.confirm(w.organizer, waiting!.id))).code).toBe("no-seat-available")
      expect((yield* registrations.confirm(w.organizer, seat!.id)).status).toBe("confirmed")
      expect((yield* Effect.flip(registrations.confirm(w.organizer, gone!.id))).code).toBe("invalid-transition")
      expect((yield* Effect.flip(registrations.confirm(w.people[1]!, waiting!.id))).code).toBe("forbidden")
      expect((yield* snapshot(w.eventId)).counts).toEqual([1, 1, 1])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("attendance: before the start fails; from the start on it is recorded and keeps the seat", () =>
    Effect.gen(function*() {
      const registrations = yield* Registrations
      const w = yield* world(1)
      const [seat, waiting] = yield* registerAll(w, 2)
      expect((yield* Effect.flip(registrations.markAttendance(w.organizer, seat!.id, true))).code).toBe("event-not-started")
      yield* TestClock.setTime(STARTS.getTime())
      expect((yield* Effect.flip(registrations.markAttendance(w.organizer, waiting!.id, true))).code).toBe("invalid-transition")
      expect((yield* Effect.flip(registrations.markAttendance(w.people[0]!, seat!.id, true))).code).toBe("forbidden")
      const mark = yield* outboxSize
      const attended = yield* registrations.markAttendance(w.organizer, seat!.id, true)
      expect(attended.status).toBe("attended")
      expect((yield* outboxSince(mark, w.eventId)).map((m) => m.type)).toEqual(["AttendanceMarked"])
      // The seat stays taken: the waiting person is not promoted.
      expect(yield* snapshot(w.eventId)).toEqual({ counts: [1, 1, 1], rows: [["attended", null], ["waitlisted", 1]] })
      expect((yield* registrations.markAttendance(w.organizer, seat!.id, false)).status).toBe("no_show")
      expect((yield* Effect.flip(registrations.cancel(w.people[0]!, seat!.id))).code).toBe("invalid-transition")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("event cancellation cancels every active registration: EventCancelled + one message each", () =>
    Effect.gen(function*() {
      const events = yield* Events
      const registrations = yield* Registrations
      const w = yield* world(2)
      const regs = yield* registerAll(w, 4)
      yield* registrations.cancel(w.people[3]!, regs[3]!.id)
      const mark = yield* outboxSize
      const cancelled = yield* events.cancel(w.organizer, w.eventId)
      expect([cancelled.status, cancelled.confirmedCount, cancelled.waitlistCount]).toEqual(["cancelled", 0, 0])
      expect(cancelled).toEqual(yield* events.get(w.organizer, w.eventId))
      expect(yield* snapshot(w.eventId)).toEqual({ counts: [2, 0, 0], rows: regs.map(() => ["cancelled", null]) })
      const messages = yield* outboxSince(mark, w.eventId)
      expect(messages.map((m) => m.type)).toEqual([
        "EventCancelled",
        "RegistrationCancelled",
        "RegistrationCancelled",
        "RegistrationCancelled"
      ])
      expect(dataOf(messages[0]!)).toEqual({ eventId: w.eventId, cancelledRegistrations: 3 })
      expect(messages.slice(1).map((m) => dataOf(m).registrationId).sort()).toEqual(regs.slice(0, 3).map((r) => r.id).sort())
      expect(messages.slice(1).every((m) => dataOf(m).reason === "event-cancelled")).toBe(true)
      // Final: no way back, and cancelling again is a no-op.
      expect((yield* Effect.flip(events.publish(w.organizer, w.eventId))).code).toBe("invalid-transition")
      const size = yield* outboxSize
      yield* events.cancel(w.organizer, w.eventId)
      expect(yield* outboxSize).toBe(size)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("delete only without active registrations", () =>
    Effect.gen(function*() {
      const events = yield* Events
      const registrations = yield* Registrations
      const w = yield* world(2)
      const [a] = yield* registerAll(w, 1)
      const error = yield* Effect.flip(events.delete(w.organizer, w.eventId))
      expect([error.code, error._tag === "EventHasActiveRegistrations" && error.activeCount]).toEqual(["event-has-active-registrations", 1])
      yield* registrations.cancel(w.people[0]!, a!.id)
      yield* events.delete(w.organizer, w.eventId)
      expect((yield* Effect.flip(events.get(w.organizer, w.eventId))).code).toBe("event-not-found")
    }).pipe(Effect.provide(TestLayer)))
})
