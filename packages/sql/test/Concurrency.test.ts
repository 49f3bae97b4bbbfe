/**
 * Acceptance: concurrent registrations and cancels against real PostgreSQL keep I1–I4, and promotions
 * are FIFO. 500 people register at once for 50 seats through the use-cases (a pool of 8 connections,
 * so transactions really interleave); then 100 random cancels run at once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Events, Ids, Privacy, RegistrationRepository, Registrations, UnitOfWork, UserRepository, Users } from "@live-events/domain"
import { PersonalDataKeys, SqlStore } from "@live-events/sql"
import { Deferred, Effect, Fiber, Layer, Random, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { checkInvariants } from "./Invariants.ts"
import { testDatabase } from "./TestDatabase.ts"

const UseCases = Layer.mergeAll(
  Events.Events.layer,
  Registrations.Registrations.layer,
  Users.Users.layer,
  Privacy.Privacy.layer
)

const PostgresLayer = Layer.unwrap(Effect.map(testDatabase("le_conc"), ({ url }) =>
  UseCases.pipe(Layer.provideMerge(Layer.mergeAll(SqlStore.layerPostgres({ url, maxConnections: 8, keyring: PersonalDataKeys.generate() }), Ids.Ids.layer)))
))

/** An organizer's published event in 2099. */
const publishedEvent = (subject: string, title: string, capacity: number) =>
  Effect.gen(function*() {
    const users = yield* Users.Users
    const events = yield* Events.Events
    const org = yield* users.provision({ subject })
    const organizer = { userId: org.id, roles: ["organizer" as const] }
    const event = yield* events.create(organizer, {
      title, startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
      timeZone: "UTC", location: "Hall", capacity
    })
    yield* events.publish(organizer, event.id)
    return { organizer, event }
  })

/** Until a session of this database waits for a lock (the test's waiting unit of work). */
const awaitLockWaiter = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock'`.pipe(
    Effect.repeat({ until: (rows) => rows[0]!.n > 0, schedule: Schedule.spaced("20 millis"), times: 250 })
  )
})

describe("concurrency on PostgreSQL", () => {
  it.live("500 concurrent registrations for 50 seats, then 100 concurrent cancels", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const registrations = yield* Registrations.Registrations
      const sql = yield* SqlClient.SqlClient
      const { event, organizer } = yield* publishedEvent("organizer", "Hot", 50)
      const actors = yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => `user-${i}`), (subject) =>
        Effect.map(users.provision({ subject }), (u) => ({ userId: u.id, roles: ["attendee" as const] })),
        { concurrency: 8 })

      const results = yield* Effect.forEach(actors, (actor) => registrations.register(actor, event.id, {}), {
        concurrency: "unbounded"
      })
      const confirmed = results.filter((r) => r.status === "confirmed")
      const waitlisted = results.filter((r) => r.status === "waitlisted")
      expect(confirmed).toHaveLength(50)
      expect(waitlisted).toHaveLength(450)
      // Positions answered are exactly 1..450, and they follow join order (the stored sequence).
      expect(waitlisted.map((r) => r.waitlistPosition).sort((a, b) => a! - b!)).toEqual(
        Array.from({ length: 450 }, (_, i) => i + 1)
      )
      const order = yield* sql<{ id: string }>`SELECT id FROM registrations
        WHERE event_id = ${event.id} AND status = 'waitlisted' ORDER BY waitlist_seq`
      const byPosition = [...waitlisted].sort((a, b) => a.waitlistPosition! - b.waitlistPosition!).map((r) => r.id)
      expect(order.map((r) => r.id)).toEqual(byPosition)
      expect(yield* checkInvariants).toEqual([])

      // 100 random cancels, confirmed and waitlisted mixed, all at once.
      const shuffled = [...results]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = yield* Random.nextIntBetween(0, i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
      }
      const victims = shuffled.slice(0, 100)
      const actorOf = new Map(actors.map((a) => [a.userId, a]))
      yield* Effect.forEach(victims, (r) => registrations.cancel(actorOf.get(r.userId)!, r.id), {
        concurrency: "unbounded"
      })
      expect(yield* checkInvariants).toEqual([])

      // FIFO: the seated people are the original confirmed survivors plus the earliest waitlisted survivors.
      const cancelled = new Set(victims.map((r) => r.id))
      const survivorsConfirmed = confirmed.filter((r) => !cancelled.has(r.id))
      const survivorsWaiting = [...waitlisted].filter((r) => !cancelled.has(r.id))
        .sort((a, b) => a.waitlistPosition! - b.waitlistPosition!)
      const promotedCount = 50 - survivorsConfirmed.length
      const expectedSeated = new Set([...survivorsConfirmed, ...survivorsWaiting.slice(0, promotedCount)].map((r) => r.id))
      const seated = yield* sql<{ id: string }>`SELECT id FROM registrations
        WHERE event_id = ${event.id} AND status = 'confirmed'`
      expect(new Set(seated.map((r) => r.id))).toEqual(expectedSeated)
      // The rest still wait, in their original order, at positions 1..w.
      const waitingNow = yield* registrations.waitlist(organizer, event.id, { limit: 500 })
      expect(waitingNow.items.map((r) => r.id)).toEqual(survivorsWaiting.slice(promotedCount).map((r) => r.id))
      expect(waitingNow.items.map((r) => r.waitlistPosition)).toEqual(waitingNow.items.map((_, i) => i + 1))
    }).pipe(Effect.provide(PostgresLayer)), 120_000)

  it.live("a batch that waited for an event's lock reads the registrations committed meanwhile", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const repository = yield* RegistrationRepository.RegistrationRepository
      const unitOfWork = yield* UnitOfWork.UnitOfWork
      const { event } = yield* publishedEvent("wait-organizer", "Wait", 5)
      const first = yield* users.provision({ subject: "wait-first" })
      const second = yield* users.provision({ subject: "wait-second" })

      // Another unit of work holds the event's lock and registers the second person...
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const at = new Date()
      const registrationId = yield* Ids.nextRegistrationId
      const holder = yield* Effect.forkChild(unitOfWork.transact(Effect.gen(function*() {
        yield* repository.lockForRegistrations([{ eventId: event.id, userId: first.id }])
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(release)
        yield* repository.applyMany([{
          eventId: event.id,
          changes: [{
            _tag: "Insert",
            registration: {
              id: registrationId, eventId: event.id, userId: second.id, status: "confirmed", waitlistPosition: null,
              notes: "", createdAt: at, updatedAt: at, confirmedAt: at, cancelledAt: null
            }
          }]
        }])
      })))
      yield* Deferred.await(locked)
      // ...while this batch waits for that lock, its statement's snapshot already taken.
      const waiter = yield* Effect.forkChild(unitOfWork.transact(
        repository.lockForRegistrations([{ eventId: event.id, userId: second.id }])
      ))
      yield* awaitLockWaiter
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const snapshot = yield* Fiber.join(waiter)
      expect(snapshot.active.map((registration) => registration.id)).toEqual([registrationId])
      expect(snapshot.events.map((locked) => [locked.id, locked.confirmedCount])).toEqual([[event.id, 1]])
      expect(snapshot.users).toEqual([{ userId: second.id, erased: false }])
    }).pipe(Effect.provide(PostgresLayer)), 60_000)

  it.live("a batch's newcomer stored by another unit of work while the batch waited is the person stored", () =>
    Effect.gen(function*() {
      const repository = yield* RegistrationRepository.RegistrationRepository
      const userRepository = yield* UserRepository.UserRepository
      const unitOfWork = yield* UnitOfWork.UnitOfWork
      const { event } = yield* publishedEvent("race-organizer", "Race", 5)
      const at = new Date()
      const person = (subject: string) =>
        Effect.map(Ids.nextUserId, (id) => ({
          id, subject, email: `${subject}@example.com`, name: null, phone: null, createdAt: at, updatedAt: at, erasedAt: null
        }))
      const elsewhere = yield* person("race-person")
      const here = yield* person("race-person")
      const other = yield* person("race-other")

      // Another unit of work stores the person and holds its commit...
      const stored = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(unitOfWork.transact(Effect.gen(function*() {
        yield* userRepository.insertAllIfAbsent([elsewhere])
        yield* Deferred.succeed(stored, undefined)
        yield* Deferred.await(release)
      })))
      yield* Deferred.await(stored)
      // ...while this batch's insert of the same subject waits for it, its snapshot already taken.
      const waiter = yield* Effect.forkChild(unitOfWork.transact(repository.provisionAndLockForRegistrations!(
        [here, other],
        [{ eventId: event.id, userId: here.id }, { eventId: event.id, userId: other.id }]
      )))
      yield* awaitLockWaiter
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const { snapshot, stored: ids } = yield* Fiber.join(waiter)
      expect(ids).toEqual([elsewhere.id, other.id])
      expect([...snapshot.users].sort((a, b) => a.userId < b.userId ? -1 : 1)).toEqual(
        [{ userId: elsewhere.id, erased: false }, { userId: other.id, erased: false }]
          .sort((a, b) => a.userId < b.userId ? -1 : 1)
      )
      expect(snapshot.events.map((locked) => locked.id)).toEqual([event.id])
    }).pipe(Effect.provide(PostgresLayer)), 60_000)

  it.live("a cancellation batch that waited for an event's lock reads the changes committed meanwhile", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const registrations = yield* Registrations.Registrations
      const repository = yield* RegistrationRepository.RegistrationRepository
      const unitOfWork = yield* UnitOfWork.UnitOfWork
      const { event } = yield* publishedEvent("cancel-wait-organizer", "Cancel wait", 1)
      const [seated, waiting] = yield* Effect.forEach(["cancel-wait-1", "cancel-wait-2"], (subject) =>
        Effect.flatMap(users.provision({ subject }), (user) =>
          registrations.register({ userId: user.id, roles: ["attendee"] }, event.id, {})))
      expect([seated!.status, waiting!.status]).toEqual(["confirmed", "waitlisted"])

      // Another unit of work holds the event's lock and cancels the seated person, promoting the other...
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const at = new Date()
      const holder = yield* Effect.forkChild(unitOfWork.transact(Effect.gen(function*() {
        yield* repository.lockForCancellations([seated!.id])
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(release)
        yield* repository.applyMany([{
          eventId: event.id,
          changes: [
            { _tag: "Transition", registration: seated!, to: "cancelled", at },
            { _tag: "Transition", registration: waiting!, to: "confirmed", at }
          ]
        }])
      })))
      yield* Deferred.await(locked)
      // ...while this batch, naming the promoted person's registration, waits for that lock.
      const waiter = yield* Effect.forkChild(unitOfWork.transact(repository.lockForCancellations([waiting!.id])))
      yield* awaitLockWaiter
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const snapshot = yield* Fiber.join(waiter)
      expect(snapshot.registrations.map((registration) => [registration.id, registration.status])).toEqual([[waiting!.id, "confirmed"]])
      expect(snapshot.heads).toEqual([])
      expect(snapshot.events.map((lockedEvent) => [lockedEvent.confirmedCount, lockedEvent.waitlistCount])).toEqual([[1, 0]])
    }).pipe(Effect.provide(PostgresLayer)), 60_000)

  it.live("concurrent first requests provision in shared statements: one user per subject, each answered its own", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const sql = yield* SqlClient.SqlClient
      const existing = yield* users.provision({ subject: "prov-existing", email: "old@example.org" })
      // 200 new subjects, each asked twice at once, plus one that exists already.
      const subjects = [...Array.from({ length: 200 }, (_, i) => `prov-${i}`), "prov-existing"]
      const claims = [...subjects, ...subjects].map((subject) => ({ subject, email: `${subject}@example.org` }))
      const provisioned = yield* Effect.forEach(claims, (c) => users.provision(c), { concurrency: "unbounded" })
      expect(provisioned.map((u) => u.subject)).toEqual(claims.map((c) => c.subject))
      const idOf = new Map<string, string>()
      for (const user of provisioned) {
        if (idOf.has(user.subject)) expect(user.id).toBe(idOf.get(user.subject))
        else idOf.set(user.subject, user.id)
      }
      expect(idOf.get("prov-existing")).toBe(existing.id)
      expect(provisioned.find((u) => u.subject === "prov-existing")!.email).toBe("old@example.org")
      const stored = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE subject LIKE 'prov-%'`
      expect(stored[0]!.n).toBe(201)
    }).pipe(Effect.provide(PostgresLayer)), 60_000)

  it.live("an erase racing the person's own registrations leaves none of them active", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const events = yield* Events.Events
      const registrations = yield* Registrations.Registrations
      const privacy = yield* Privacy.Privacy
      const sql = yield* SqlClient.SqlClient
      const org = yield* users.provision({ subject: "race-organizer" })
      const organizer = { userId: org.id, roles: ["organizer" as const] }
      const eventIds = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          const event = yield* events.create(organizer, {
            title: `Race ${i}`, startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
            timeZone: "UTC", location: "Hall", capacity: 5
          })
          yield* events.publish(organizer, event.id)
          return event.id
        }), { concurrency: 8 })
      for (let round = 0; round < 5; round++) {
        const person = yield* users.provision({ subject: `race-person-${round}`, email: `race-${round}@example.org` })
        const actor = { userId: person.id, roles: ["attendee" as const] }
        // Registrations for 40 events and the erase, all at once: each registration either commits before
        // the erase lists the person's registrations (and is cancelled) or sees the erased person.
        const attempts = eventIds.map((eventId) => Effect.exit(registrations.register(actor, eventId, {})))
        const erase = Effect.delay(privacy.erase(actor, actor.userId), `${round * 2} millis`)
        const [exits] = yield* Effect.all([Effect.all(attempts, { concurrency: "unbounded" }), erase], { concurrency: "unbounded" })
        const refused = exits.filter((exit) => exit._tag === "Failure")
        for (const exit of refused) expect(String(exit.cause)).toContain("UserErased")
        const active = yield* sql<{ id: string }>`SELECT id FROM registrations
          WHERE user_id = ${person.id} AND status IN ('confirmed', 'waitlisted')`
        expect(active).toEqual([])
        // A request authenticated before the erase that reaches its unit of work after it.
        const late = yield* Effect.flip(registrations.register(actor, eventIds[round]!, {}))
        expect(late._tag).toBe("UserErased")
      }
      expect(yield* checkInvariants).toEqual([])
    }).pipe(Effect.provide(PostgresLayer)), 120_000)
})
