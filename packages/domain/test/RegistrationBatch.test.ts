/**
 * Registrations committed in batches: the pure planner decides a batch exactly as one command at a
 * time would, concurrent registrations share units of work, and a command that makes its batch fail
 * fails alone.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Metric, Option, Result } from "effect"
import * as fc from "fast-check"
import {
  DomainError,
  Events,
  Ids,
  Memory,
  Metrics,
  Privacy,
  RegistrationBatch,
  RegistrationRepository,
  Registrations,
  UnitOfWork,
  UserRepository,
  Users
} from "@live-events/domain"
import type { Event, Registration, User } from "@live-events/domain"

const at = new Date("2030-01-01T00:00:00Z")

const event = (overrides: Partial<Event.Event> = {}): Event.Event => ({
  id: "00000000-0000-7000-8000-000000000001" as Ids.EventId,
  organizerId: "00000000-0000-7000-8000-0000000000ff" as Ids.UserId,
  title: "T",
  description: "",
  startsAt: new Date("2031-01-01T00:00:00Z"),
  endsAt: new Date("2031-01-02T00:00:00Z"),
  timeZone: "Europe/Berlin",
  location: "Here",
  capacity: 3,
  waitlist: { enabled: true, limit: null },
  registrationClosesAt: new Date("2031-01-01T00:00:00Z"),
  status: "published",
  confirmedCount: 0,
  waitlistCount: 0,
  version: 1,
  createdAt: at,
  updatedAt: at,
  ...overrides
})

const userId = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, "0")}` as Ids.UserId
const command = (n: number, user: number, eventId: Ids.EventId): RegistrationBatch.RegisterCommand => ({
  actor: { userId: userId(user), roles: ["attendee"] },
  eventId,
  registrationId: `00000000-0000-7000-9000-${String(n).padStart(12, "0")}` as Ids.RegistrationId,
  notes: ""
})

/** What a batch leaves behind, as the next batch's snapshot would read it. */
const after = (snapshot: RegistrationBatch.Snapshot, batch: RegistrationBatch.BatchPlan): RegistrationBatch.Snapshot => {
  const registered = batch.outcomes.flatMap((outcome) => Result.isSuccess(outcome) ? [outcome.success] : [])
  return {
    ...snapshot,
    events: snapshot.events.map((e) => {
      const own = registered.filter((r) => r.eventId === e.id)
      return {
        ...e,
        confirmedCount: e.confirmedCount + own.filter((r) => r.status === "confirmed").length,
        waitlistCount: e.waitlistCount + own.filter((r) => r.status === "waitlisted").length
      }
    }),
    active: [...snapshot.active, ...registered]
  }
}

const describeOutcome = (outcome: Result.Result<Registration.Registration, RegistrationBatch.RegisterFailure>) =>
  Result.isSuccess(outcome)
    ? [outcome.success.id, outcome.success.status, outcome.success.waitlistPosition]
    : [outcome.failure._tag]

describe("RegistrationBatch.plan", () => {
  it("decides a batch as the same commands one at a time, in arrival order (any grouping)", () => {
    const events = [
      event(),
      event({ id: "00000000-0000-7000-8000-000000000002" as Ids.EventId, capacity: 1, waitlist: { enabled: true, limit: 2 } }),
      event({ id: "00000000-0000-7000-8000-000000000003" as Ids.EventId, capacity: 1, waitlist: { enabled: false, limit: null } })
    ]
    const users = Array.from({ length: 6 }, (_, i) => ({ userId: userId(i), erased: i === 5 }))
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 25 }),
      fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 25 }),
      (draws, sizes) => {
        const commands = draws.map(([user, e], n) => command(n, user, events[e]!.id))
        const start: RegistrationBatch.Snapshot = { events, active: [], users }
        let one = start
        const oneByOne = commands.map((c) => {
          const batch = RegistrationBatch.plan(one, [c], at)
          one = after(one, batch)
          return describeOutcome(batch.outcomes[0]!)
        })
        let grouped = start
        const inGroups: Array<unknown> = []
        for (let i = 0, s = 0; i < commands.length; s++) {
          const size = sizes[s % sizes.length]!
          const batch = RegistrationBatch.plan(grouped, commands.slice(i, i + size), at)
          grouped = after(grouped, batch)
          inGroups.push(...batch.outcomes.map(describeOutcome))
          i += size
        }
        expect(inGroups).toEqual(oneByOne)
        expect(grouped.events).toEqual(one.events)
      }
    ))
  })

  it("refuses unknown events and users, erased users and a second registration in the same batch", () => {
    const e = event()
    const snapshot: RegistrationBatch.Snapshot = {
      events: [e],
      active: [],
      users: [{ userId: userId(1), erased: false }, { userId: userId(2), erased: true }]
    }
    const batch = RegistrationBatch.plan(snapshot, [
      command(1, 1, e.id),
      command(2, 1, e.id),
      command(3, 2, e.id),
      command(4, 3, e.id),
      command(5, 1, "00000000-0000-7000-8000-00000000dead" as Ids.EventId)
    ], at)
    expect(batch.outcomes.map((o) => Result.isSuccess(o) ? o.success.status : o.failure._tag)).toEqual([
      "confirmed",
      "AlreadyRegistered",
      "UserErased",
      "EventNotFound",
      "EventNotFound"
    ])
    expect(batch.plans.map((p) => [p.eventId, p.plan.changes.length, p.plan.events.length])).toEqual([[e.id, 1, 1]])
  })
})

/** Counts units of work and makes every unit of work that writes a registration of `poison` fail. */
class Probe extends Context.Service<Probe, {
  transactions: number
  outage: boolean
  readonly poison: Set<Ids.UserId>
  /** Units of work whose answer is lost after they committed, so that they run again (a policy retry). */
  lostAnswers: number
  /** The people handed to the user store, in order: `anticipate <subject>`, `insert <subject>`. */
  readonly people: Array<string>
}>()("test/Probe") {}

const probed = Layer.effectContext(Effect.gen(function*() {
  const probe = { transactions: 0, outage: false, poison: new Set<Ids.UserId>(), lostAnswers: 0, people: [] as Array<string> }
  const unitOfWork = yield* UnitOfWork.UnitOfWork
  const registrations = yield* RegistrationRepository.RegistrationRepository
  const users = yield* UserRepository.UserRepository
  return Context.make(Probe, probe).pipe(
    Context.add(UnitOfWork.UnitOfWork, {
      transact: (effect) => Effect.suspend(() => {
        probe.transactions++
        if (probe.lostAnswers === 0) return unitOfWork.transact(effect)
        probe.lostAnswers--
        // Committed, but the answer never arrives (an attempt timeout after COMMIT): run it again.
        return Effect.andThen(unitOfWork.transact(effect), unitOfWork.transact(effect))
      })
    }),
    Context.add(RegistrationRepository.RegistrationRepository, {
      ...registrations,
      applyMany: (batch) =>
        probe.outage
          ? Effect.fail(new DomainError.RepositoryError({ reason: "unavailable", operation: "test outage" }))
          : batch.some(({ changes }) => changes.some((change) => probe.poison.has(change.registration.userId)))
          ? Effect.fail(new DomainError.RepositoryError({ reason: "constraint", operation: "test poison" }))
          : registrations.applyMany(batch)
    }),
    Context.add(UserRepository.UserRepository, {
      ...users,
      anticipate: (list) => {
        for (const user of list) probe.people.push(`anticipate ${user.subject}`)
      },
      insertAllIfAbsent: (list) =>
        Effect.suspend(() => {
          for (const user of list) probe.people.push(`insert ${user.subject}`)
          return users.insertAllIfAbsent(list)
        })
    })
  )
}))

const testLayer = (options: Registrations.Options = {}) =>
  Layer.mergeAll(Events.Events.layer, Registrations.Registrations.layerWith(options), Users.Users.layer, Privacy.Privacy.layer).pipe(
    Layer.provideMerge(probed),
    Layer.provideMerge(Layer.mergeAll(Memory.layer, Ids.Ids.layerTest))
  )

const TestLayer = testLayer()

const setup = (seats: number, people: number) =>
  Effect.gen(function*() {
    const users = yield* Users.Users
    const events = yield* Events.Events
    const org = yield* users.provision({ subject: "org" })
    const organizer = { userId: org.id, roles: ["organizer" as const] }
    const created = yield* events.create(organizer, {
      title: "T",
      startsAt: new Date("2099-01-01T00:00:00Z"),
      endsAt: new Date("2099-01-02T00:00:00Z"),
      timeZone: "Europe/Berlin",
      location: "Here",
      capacity: seats
    })
    yield* events.publish(organizer, created.id)
    const actors: Array<User.Actor> = []
    for (let i = 0; i < people; i++) {
      const user = yield* users.provision({ subject: `p${i}` })
      actors.push({ userId: user.id, roles: ["attendee"] })
    }
    return { eventId: created.id, actors }
  })

/** 40 people register at once for 5 seats of one event: few units of work, FIFO positions. */
const concurrentRegistrations = Effect.gen(function*() {
  const { actors, eventId } = yield* setup(5, 40)
  const probe = yield* Probe
  const before = probe.transactions
  const registrations = yield* Registrations.Registrations
  const answers = yield* Effect.forEach(actors, (actor) => registrations.register(actor, eventId, {}), {
    concurrency: "unbounded"
  })
  expect(probe.transactions - before).toBeLessThan(actors.length / 4)
  expect(answers.map((r) => r.status)).toEqual([...Array(5).fill("confirmed"), ...Array(35).fill("waitlisted")])
  expect(answers.slice(5).map((r) => r.waitlistPosition)).toEqual(Array.from({ length: 35 }, (_, i) => i + 1))
})

describe("Registrations.register in batches", () => {
  it.effect("concurrent registrations share units of work and keep FIFO", () =>
    concurrentRegistrations.pipe(Effect.provide(TestLayer)))

  it.effect("the batch metrics count each committed batch once, with its commands and its duration", () =>
    Effect.gen(function*() {
      const { actors, eventId } = yield* setup(5, 30)
      const probe = yield* Probe
      const metrics = Metrics.batchMetrics("register")
      const sizeBefore = yield* Metric.value(metrics.size)
      const secondsBefore = yield* Metric.value(metrics.seconds)
      const transactionsBefore = probe.transactions
      const registrations = yield* Registrations.Registrations
      yield* Effect.forEach(actors, (actor) => registrations.register(actor, eventId, {}), { concurrency: "unbounded" })
      const size = yield* Metric.value(metrics.size)
      const seconds = yield* Metric.value(metrics.seconds)
      const batches = probe.transactions - transactionsBefore
      expect(batches).toBeGreaterThan(0)
      expect(size.count - sizeBefore.count).toBe(batches)
      expect(size.sum - sizeBefore.sum).toBe(actors.length)
      expect(seconds.count - secondsBefore.count).toBe(batches)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("with four lanes, one event's registrations stay in one lane: few units of work, FIFO positions", () =>
    concurrentRegistrations.pipe(Effect.provide(testLayer({ concurrency: 4 }))))

  it.effect("a command that makes its batch fail fails alone; its neighbours commit", () =>
    Effect.gen(function*() {
      const { actors, eventId } = yield* setup(3, 10)
      const probe = yield* Probe
      probe.poison.add(actors[4]!.userId)
      const registrations = yield* Registrations.Registrations
      const sizeBefore = yield* Metric.value(Metrics.batchMetrics("register").size)
      const exits = yield* Effect.forEach(actors, (actor) => Effect.exit(registrations.register(actor, eventId, {})), {
        concurrency: "unbounded"
      })
      const failed = exits.flatMap((exit, i) => Exit.isFailure(exit) ? [i] : [])
      expect(failed).toEqual([4])
      // The commands committed one by one after their batch failed count as batches of their own.
      expect((yield* Metric.value(Metrics.batchMetrics("register").size)).sum - sizeBefore.sum).toBe(actors.length - 1)
      const seated = exits.flatMap((exit) => Exit.isSuccess(exit) ? [exit.value.status] : [])
      expect(seated).toEqual([...Array(3).fill("confirmed"), ...Array(6).fill("waitlisted")])
    }).pipe(Effect.provide(TestLayer)))
})

describe("Registrations.register when a committed unit of work runs again", () => {
  it.effect("answers the registration the first attempt stored, once, instead of refusing it as a duplicate", () =>
    Effect.gen(function*() {
      const { actors, eventId } = yield* setup(1, 2)
      const probe = yield* Probe
      const store = yield* Memory.MemoryStore
      const registrations = yield* Registrations.Registrations
      const outboxBefore = (yield* store.outbox).length
      probe.lostAnswers = 1
      const first = yield* registrations.register(actors[0]!, eventId, {})
      expect(first.status).toBe("confirmed")
      const second = yield* registrations.register(actors[1]!, eventId, {})
      expect(second.status).toBe("waitlisted")
      expect(second.waitlistPosition).toBe(1)
      const rows = yield* store.registrations(eventId)
      expect(rows.map((r) => [r.id, r.status])).toEqual([[first.id, "confirmed"], [second.id, "waitlisted"]])
      // One message per registration: the second run planned nothing new.
      expect((yield* store.outbox).length - outboxBefore).toBe(2)
      // Someone else's command for a pair that is taken is still refused.
      const again = yield* Effect.exit(registrations.register(actors[0]!, eventId, {}))
      expect(Exit.isFailure(again) && String(again.cause).includes("AlreadyRegistered")).toBe(true)
    }).pipe(Effect.provide(TestLayer)))
})

/** A fresh memory store with an event of 3 seats and 10 people registered in order (3 seated, 7 waiting). */
const fullEvent = Effect.gen(function*() {
  const { actors, eventId } = yield* setup(3, 10)
  const registrations = yield* Registrations.Registrations
  const placed: Array<Registration.Registration> = []
  for (const actor of actors) placed.push(yield* registrations.register(actor, eventId, {}))
  return { actors, eventId, placed }
})

const stateOf = (eventId: Ids.EventId) =>
  Effect.gen(function*() {
    const store = yield* Memory.MemoryStore
    const rows = yield* store.registrations(eventId)
    return [...rows].sort((a, b) => a.id < b.id ? -1 : 1).map((r) => [r.id, r.status, r.waitlistPosition])
  })

describe("Registrations.register when the store is down", () => {
  it.effect("an outage fails the whole batch at once, without committing its commands one by one", () =>
    Effect.gen(function*() {
      const { actors, eventId } = yield* setup(3, 10)
      const probe = yield* Probe
      probe.outage = true
      const before = probe.transactions
      const registrations = yield* Registrations.Registrations
      const exits = yield* Effect.forEach(actors, (actor) => Effect.exit(registrations.register(actor, eventId, {})), {
        concurrency: "unbounded"
      })
      expect(exits.every((exit) => Exit.isFailure(exit) && String(exit.cause).includes("unavailable"))).toBe(true)
      expect(probe.transactions - before).toBeLessThan(actors.length)
    }).pipe(Effect.provide(TestLayer)))
})

describe("Registrations.cancel in batches", () => {
  it("decides concurrent cancels exactly as the same cancels one at a time", async () => {
    await fc.assert(fc.asyncProperty(
      // (whose registration, who cancels: its attendee or the organizer)
      fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 15 }),
      async (draws) => {
        const run = (concurrency: "unbounded" | 1) =>
          Effect.gen(function*() {
            const { actors, eventId, placed } = yield* fullEvent
            const registrations = yield* Registrations.Registrations
            const events = yield* Events.Events
            const organizerId = (yield* events.get(actors[0]!, eventId)).organizerId
            const organizer: User.Actor = { userId: organizerId, roles: ["organizer"] }
            const answers = yield* Effect.forEach(draws, ([who, byOrganizer]) =>
              Effect.exit(registrations.cancel(byOrganizer ? organizer : actors[who]!, placed[who]!.id)).pipe(
                Effect.map((exit) => Exit.isSuccess(exit) ? [exit.value.id, exit.value.status] : ["failed"])
              ), { concurrency })
            const probe = yield* Probe
            return { answers, state: yield* stateOf(eventId), transactions: probe.transactions }
          }).pipe(Effect.provide(TestLayer), Effect.runPromise)
        const together = await run("unbounded")
        const alone = await run(1)
        expect(together.answers).toEqual(alone.answers)
        expect(together.state).toEqual(alone.state)
      }
    ), { numRuns: 40 })
  })

  it.effect("promotes the heads in order when several seats are freed in one batch, and cancels a promoted head", () =>
    Effect.gen(function*() {
      const { actors, placed } = yield* fullEvent
      const registrations = yield* Registrations.Registrations
      const probe = yield* Probe
      const before = probe.transactions
      // Two seats freed, then the first promoted person (position 1 at the start) cancels too.
      const answers = yield* Effect.forEach([0, 1, 3], (i) => registrations.cancel(actors[i]!, placed[i]!.id), {
        concurrency: "unbounded"
      })
      expect(probe.transactions - before).toBe(1)
      expect(answers.map((r) => r.status)).toEqual(["cancelled", "cancelled", "cancelled"])
      const after = yield* Effect.forEach(placed, (r, i) => registrations.get(actors[i]!, r.id))
      expect(after.map((r) => [r.status, r.waitlistPosition])).toEqual([
        ["cancelled", null],
        ["cancelled", null],
        ["confirmed", null],
        ["cancelled", null],
        ["confirmed", null],
        ["confirmed", null],
        ["waitlisted", 1],
        ["waitlisted", 2],
        ["waitlisted", 3],
        ["waitlisted", 4]
      ])
    }).pipe(Effect.provide(TestLayer)))
})

/** An event of one seat, and the services a newcomer's registration is checked through. */
const newcomerSetup = Effect.gen(function*() {
  const { eventId } = yield* setup(1, 0)
  const registrations = yield* Registrations.Registrations
  return {
    eventId,
    probe: yield* Probe,
    users: yield* Users.Users,
    repository: yield* UserRepository.UserRepository,
    store: yield* Memory.MemoryStore,
    registerNewcomer: (candidate: User.User) => registrations.registerNewcomer(candidate, ["attendee"], eventId, {}),
    register: (actor: User.Actor) => registrations.register(actor, eventId, {})
  }
})

describe("Registrations.registerNewcomer", () => {
  it.effect("provisions a new person in the registration's unit of work, under the candidate's id", () =>
    Effect.gen(function*() {
      const { probe, registerNewcomer, repository, users } = yield* newcomerSetup
      const candidate = yield* users.candidate({ subject: "newcomer", email: "n@example.org", name: "N" })
      const before = probe.transactions
      const registered = yield* registerNewcomer(candidate)
      expect(probe.transactions - before).toBe(1)
      expect([registered.userId, registered.status]).toEqual([candidate.id, "confirmed"])
      const stored = yield* repository.findBySubject("newcomer")
      expect(Option.map(stored, (user) => [user.id, user.email])).toEqual(Option.some([candidate.id, "n@example.org"]))
    }).pipe(Effect.provide(TestLayer)))

  it.effect("hands the newcomer to the store ahead of its batch, and a known person not at all", () =>
    Effect.gen(function*() {
      const { probe, register, registerNewcomer, users } = yield* newcomerSetup
      const known = yield* users.provision({ subject: "known" })
      probe.people.length = 0
      yield* registerNewcomer(yield* users.candidate({ subject: "early" }))
      yield* register({ userId: known.id, roles: ["attendee"] })
      expect(probe.people).toEqual(["anticipate early", "insert early"])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("registers a subject stored meanwhile as its stored person, not the candidate", () =>
    Effect.gen(function*() {
      const { register, registerNewcomer, users } = yield* newcomerSetup
      const candidate = yield* users.candidate({ subject: "twice" })
      const stored = yield* users.provision({ subject: "twice" })
      expect(stored.id).not.toBe(candidate.id)
      expect((yield* registerNewcomer(candidate)).userId).toBe(stored.id)
      // The same person through the ordinary path is already registered.
      const again = yield* Effect.exit(register({ userId: stored.id, roles: ["attendee"] }))
      expect(Exit.isFailure(again) && String(again.cause).includes("AlreadyRegistered")).toBe(true)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("refuses an erased subject and registers nothing", () =>
    Effect.gen(function*() {
      const { eventId, registerNewcomer, store, users } = yield* newcomerSetup
      const person = yield* users.provision({ subject: "gone" })
      yield* (yield* Privacy.Privacy).erase({ userId: person.id, roles: ["attendee"] }, person.id)
      const refused = yield* Effect.exit(registerNewcomer(yield* users.candidate({ subject: "gone" })))
      expect(Exit.isFailure(refused) && String(refused.cause).includes("UserErased")).toBe(true)
      expect(yield* store.registrations(eventId)).toEqual([])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("a unit of work that fails leaves the newcomer unprovisioned", () =>
    Effect.gen(function*() {
      const { probe, registerNewcomer, repository, users } = yield* newcomerSetup
      probe.outage = true
      const failed = yield* Effect.exit(registerNewcomer(yield* users.candidate({ subject: "rolled-back" })))
      probe.outage = false
      expect(Exit.isFailure(failed)).toBe(true)
      expect(Option.isNone(yield* repository.findBySubject("rolled-back"))).toBe(true)
    }).pipe(Effect.provide(TestLayer)))
})
