/**
 * The Inbox contract on memory, PGlite and PostgreSQL: each message id is processed once per consumer;
 * a failed handler leaves it unprocessed; concurrent duplicates run the handler once; on SQL the
 * handler's writes commit or roll back with the record.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import * as Inbox from "../src/Inbox.ts"
import { pglite, postgresPools, shared, uuid } from "./Fixtures.ts"

const contract = (name: string, inbox: Layer.Layer<Inbox.Inbox>) =>
  layer(inbox, { excludeTestServices: true })(`Inbox (${name})`, (it) => {
    it.effect("runs a handler once per message id and consumer", () =>
      Effect.gen(function*() {
        const inbox = yield* Inbox.Inbox
        const id = uuid()
        let runs = 0
        const handler = Effect.sync(() => ++runs)
        expect(yield* inbox.process("mailer", id, handler)).toEqual(Option.some(1))
        expect(yield* inbox.process("mailer", id, handler)).toEqual(Option.none())
        // another consumer has its own record
        expect(yield* inbox.process("search", id, handler)).toEqual(Option.some(2))
        expect(runs).toBe(2)
      }))

    it.effect("a failed handler leaves the message unprocessed, so a redelivery runs it", () =>
      Effect.gen(function*() {
        const inbox = yield* Inbox.Inbox
        const id = uuid()
        const failed = yield* Effect.flip(inbox.process("mailer", id, Effect.fail("smtp down" as const)))
        expect(failed).toBe("smtp down")
        expect(yield* inbox.process("mailer", id, Effect.succeed("sent"))).toEqual(Option.some("sent"))
      }))

    it.effect("concurrent duplicates run the handler once", () =>
      Effect.gen(function*() {
        const inbox = yield* Inbox.Inbox
        const id = uuid()
        let runs = 0
        const handler = Effect.andThen(Effect.sleep(30), Effect.sync(() => ++runs))
        const results = yield* Effect.all(
          Array.from({ length: 5 }, () => inbox.process("mailer", id, handler)),
          { concurrency: "unbounded" }
        )
        expect(runs).toBe(1)
        expect(results.filter(Option.isSome).length).toBe(1)
      }))

    it.effect("purges old records", () =>
      Effect.gen(function*() {
        const inbox = yield* Inbox.Inbox
        yield* inbox.process("purge-test", uuid(), Effect.void)
        expect(yield* inbox.purge(Duration.days(1))).toBe(0)
        yield* Effect.sleep(20)
        expect(yield* inbox.purge(Duration.millis(1))).toBeGreaterThanOrEqual(1)
      }))
  })

const sqlInbox = (client: Layer.Layer<SqlClient.SqlClient>) =>
  Inbox.layerSql.pipe(Layer.provideMerge(Layer.effectDiscard(Inbox.ensureSchema)), Layer.provideMerge(client))

contract("memory", Inbox.layerMemory)
const pgliteClient = await shared(pglite)
contract("sql-pglite", sqlInbox(pgliteClient).pipe(Layer.orDie))
const [pool] = await postgresPools(1)
contract("sql-postgres", sqlInbox(pool!).pipe(Layer.orDie))

layer(sqlInbox(pool!).pipe(Layer.orDie), { excludeTestServices: true })("Inbox (sql) transactions", (it) => {
  it.effect("the handler's writes commit with the record, or roll back with it", () =>
    Effect.gen(function*() {
      const inbox = yield* Inbox.Inbox
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE IF NOT EXISTS inbox_effects (message_id text PRIMARY KEY)`
      yield* Inbox.ensureSchema // idempotent
      const ok = uuid()
      const write = (id: string) => sql`INSERT INTO inbox_effects VALUES (${id})`
      yield* inbox.process("projector", ok, write(ok))
      const bad = uuid()
      yield* Effect.flip(inbox.process("projector", bad, Effect.andThen(write(bad), Effect.fail("boom"))))
      const rows = yield* sql<{ message_id: string }>`SELECT message_id FROM inbox_effects WHERE message_id IN (${ok}, ${bad})`
      expect(rows.map((row) => row.message_id)).toEqual([ok])
      const recorded = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox_inbox
        WHERE consumer = 'projector' AND message_id IN (${ok}, ${bad})`
      expect(recorded[0]!.n).toBe(1)
    }))
})
