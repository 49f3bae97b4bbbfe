/**
 * On PostgreSQL the outbox writer `pg_notify`s the relay channel in the
 * insert's own statement, so the notification is delivered on commit and never for a rollback; inside a
 * unit of work the rows (and the notification) ride along the registration write that follows them.
 */
import { describe, expect, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import {
  DomainEvent,
  Events,
  Ids,
  OutboxWriter,
  RegistrationRepository,
  UnitOfWork,
  Users
} from "@live-events/domain"
import { PersonalDataKeys, SqlStore } from "@live-events/sql"
import { Duration, Effect, Layer, Option, Queue } from "effect"
import { SqlClient } from "effect/sql"
import { freshId, insertEvent, insertUser, makeRegistration, now } from "../../domain/test/contracts/Fixtures.ts"
import { testDatabase } from "./TestDatabase.ts"

const Store = Layer.unwrap(Effect.map(testDatabase("le_notify"), ({ url }) =>
  Layer.mergeAll(Events.Events.layer, Users.Users.layer).pipe(
    Layer.provideMerge(Layer.mergeAll(SqlStore.layerPostgres({ url, maxConnections: 4, keyring: PersonalDataKeys.generate() }), Ids.Ids.layer))
  )
))

describe("outbox NOTIFY on PostgreSQL", () => {
  it.layer(Store, { excludeTestServices: true })((it) => {
    it.effect("notifies 'outbox' on commit of a use-case, not on rollback", () =>
      Effect.gen(function*() {
        const pg = yield* PgClient.PgClient
        const sql = yield* SqlClient.SqlClient
        const users = yield* Users.Users
        const events = yield* Events.Events
        const notifications = yield* pg.listen("outbox")
        const organizer = yield* users.provision({ subject: "notify-organizer" })
        const actor = { userId: organizer.id, roles: ["organizer" as const] }
        yield* Queue.clear(notifications)
        yield* events.create(actor, {
          title: "Notified", startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
          timeZone: "UTC", location: "Hall", capacity: 5
        })
        const committed = yield* Queue.take(notifications).pipe(Effect.timeoutOption(Duration.seconds(2)))
        expect(Option.isSome(committed)).toBe(true)

        // A rolled-back create: the row and its notification both vanish.
        yield* Queue.clear(notifications)
        const before = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox`
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* events.create(actor, {
            title: "Rolled back", startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
            timeZone: "UTC", location: "Hall", capacity: 5
          })
          return yield* Effect.fail("rollback" as const)
        })).pipe(Effect.ignore)
        const after = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox`
        expect(after[0]!.n).toBe(before[0]!.n)
        const rolledBack = yield* Queue.take(notifications).pipe(Effect.timeoutOption(Duration.millis(500)))
        expect(Option.isNone(rolledBack)).toBe(true)
      }).pipe(Effect.scoped))

    it.effect("inside a unit of work, recorded rows are written by the registration write that follows", () =>
      Effect.gen(function*() {
        const pg = yield* PgClient.PgClient
        const sql = yield* SqlClient.SqlClient
        const unitOfWork = yield* UnitOfWork.UnitOfWork
        const registrations = yield* RegistrationRepository.RegistrationRepository
        const outbox = yield* OutboxWriter.OutboxWriter
        const organizer = yield* insertUser()
        const attendee = yield* insertUser()
        const event = yield* insertEvent({ organizerId: organizer.id, capacity: 3 })
        const notifications = yield* pg.listen("outbox")
        const work = (fail: boolean) =>
          Effect.gen(function*() {
            const registration = yield* makeRegistration(event.id, attendee.id, "confirmed")
            const message: DomainEvent.DomainEvent = {
              id: yield* freshId<Ids.MessageId>(),
              type: "RegistrationConfirmed",
              aggregateId: event.id,
              occurredAt: yield* now,
              version: DomainEvent.SCHEMA_VERSION,
              data: {
                registrationId: registration.id,
                eventId: event.id,
                userId: attendee.id,
                status: "confirmed",
                waitlistPosition: null,
                capacity: event.capacity,
                confirmedCount: 1,
                waitlistCount: 0
              }
            }
            const inOutbox = sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE id = ${message.id}`
            return yield* unitOfWork.transact(Effect.gen(function*() {
              yield* outbox.record([message])
              // Pending: nothing written yet.
              const pending = yield* inOutbox
              yield* registrations.applyMany([{ eventId: event.id, changes: [{ _tag: "Insert", registration }] }])
              // Written by the same statement as the registration, before the unit of work ends.
              const written = yield* inOutbox
              if (fail) return yield* Effect.fail("rollback" as const)
              return { pending: pending[0]!.n, written: written[0]!.n, id: message.id }
            }))
          })

        yield* Queue.clear(notifications)
        const committed = yield* work(false)
        expect({ pending: committed.pending, written: committed.written }).toEqual({ pending: 0, written: 1 })
        const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE id = ${committed.id}`
        expect(rows[0]!.n).toBe(1)
        const woken = yield* Queue.take(notifications).pipe(Effect.timeoutOption(Duration.seconds(2)))
        expect(Option.isSome(woken)).toBe(true)

        // Rolled back after the write: neither the rows nor the notification survive.
        yield* Queue.clear(notifications)
        const before = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox`
        yield* work(true).pipe(Effect.ignore)
        const after = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox`
        expect(after[0]!.n).toBe(before[0]!.n)
        const rolledBack = yield* Queue.take(notifications).pipe(Effect.timeoutOption(Duration.millis(500)))
        expect(Option.isNone(rolledBack)).toBe(true)
      }).pipe(Effect.scoped))
  })
})
