/**
 * On PostgreSQL the outbox writer `pg_notify`s the relay channel in the
 * insert's own statement, so the notification is delivered on commit and never for a rollback.
 */
import { describe, expect, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Events, Ids, Users } from "@live-events/domain"
import { PersonalDataKeys, SqlStore } from "@live-events/sql"
import { Duration, Effect, Layer, Option, Queue } from "effect"
import { SqlClient } from "effect/sql"
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
  })
})
