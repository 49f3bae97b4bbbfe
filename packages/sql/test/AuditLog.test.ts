/**
 * `AuditLog` on the SQL store, embedded PGlite and a fresh PostgreSQL database (required: it fails
 * loudly when unreachable, never skips): entries round-trip exactly, every filter selects exactly its
 * entries, pages cover the log once in `(at, id)` order, and the table refuses UPDATE, DELETE and
 * TRUNCATE.
 */
import { Audit, type Ids, Page } from "@live-events/domain"
import { Effect, Exit, type Layer } from "effect"
import { SqlClient } from "effect/sql"
import { beforeAll, describe, expect, it } from "vitest"
import { pgliteStore, postgresStore } from "./StoreFixtures.ts"

const stores = { "sql-pglite": await pgliteStore(), "sql-postgres": await postgresStore() }

const uuid = () => crypto.randomUUID().toLowerCase()

const fixture = () => {
  const alice = uuid() as Ids.UserId
  const bob = uuid() as Ids.UserId
  const carol = uuid() as Ids.UserId
  const eventId = uuid()
  const registrationId = uuid()
  const sameTime = new Date("2030-01-01T00:00:01.500Z")
  const create: Audit.AuditEntry = {
    id: uuid(),
    at: new Date("2030-01-01T00:00:00.000Z"),
    actorId: alice,
    actorRoles: ["organizer"],
    action: "event.create",
    targetType: "event",
    targetId: eventId,
    subjectUserId: null,
    before: null,
    after: { title: "Launch", capacity: 5, startsAt: "2030-02-01T18:00:00.000Z" },
    correlationId: "corr-create"
  }
  const cancel: Audit.AuditEntry = {
    id: uuid(),
    at: sameTime,
    actorId: bob,
    actorRoles: ["admin", "organizer"],
    action: "registration.cancel",
    targetType: "registration",
    targetId: registrationId,
    subjectUserId: carol,
    before: { status: "confirmed" },
    after: { status: "cancelled" },
    correlationId: null
  }
  // Same instant as `cancel`: the id breaks the tie.
  const update: Audit.AuditEntry = {
    id: uuid(),
    at: sameTime,
    actorId: alice,
    actorRoles: ["admin"],
    action: "user.update",
    targetType: "user",
    targetId: carol,
    subjectUserId: carol,
    before: null,
    after: { fields: ["email", "name"] },
    correlationId: "corr-update"
  }
  const exported: Audit.AuditEntry = {
    id: uuid(),
    at: new Date("2030-01-02T12:34:56.789Z"),
    actorId: carol,
    actorRoles: [],
    action: "user.export",
    targetType: "user",
    targetId: carol,
    subjectUserId: carol,
    before: {},
    after: { nested: { list: [1, "two", true, null], empty: [] } },
    correlationId: "corr-export"
  }
  return { alice, bob, carol, eventId, registrationId, create, cancel, update, exported }
}

/** Sorted as the store orders: time, then id (uuids compare as their lowercase text). */
const ordered = (entries: ReadonlyArray<Audit.AuditEntry>) =>
  [...entries].sort((a, b) => a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

const auditSuite = (name: string, store: Layer.Layer<Audit.AuditLog | SqlClient.SqlClient>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, Audit.AuditLog | SqlClient.SqlClient>) =>
    Effect.runPromise(Effect.provide(effect, store))
  const runExit = <A, E>(effect: Effect.Effect<A, E, Audit.AuditLog | SqlClient.SqlClient>) =>
    Effect.runPromise(Effect.exit(Effect.provide(effect, store)))
  const list = (filter: Audit.AuditFilter & Page.PageRequest) => run(Audit.AuditLog.use((log) => log.list(filter)))
  /** Every page of a listing, following cursors. */
  const all = async (filter: Audit.AuditFilter, limit: number) => {
    const pages: Array<Page.Page<Audit.AuditEntry>> = []
    let cursor: string | undefined
    do {
      const page = await list({ ...filter, limit, cursor })
      pages.push(page)
      cursor = page.nextCursor ?? undefined
    } while (cursor !== undefined && pages.length < 100)
    return pages
  }
  const ids = (page: Page.Page<Audit.AuditEntry>) => page.items.map((entry) => entry.id)

  describe(`AuditLog (${name})`, () => {
    const f = fixture()
    const everything = ordered([f.create, f.cancel, f.update, f.exported])
    // Only this file writes to its database, but the window keeps the assertions about these entries.
    const window = { from: new Date("2030-01-01T00:00:00.000Z"), to: new Date("2030-01-03T00:00:00.000Z") }

    beforeAll(async () => {
      await run(Audit.AuditLog.use((log) =>
        Effect.gen(function*() {
          yield* log.record([])
          yield* log.record([f.create, f.cancel, f.update])
          yield* log.record([f.exported])
        })
      ))
    })

    it("records several entries in one call and reads them back exactly", async () => {
      const page = await list({ ...window, limit: 50 })
      expect(page.nextCursor).toBeNull()
      expect(page.items).toEqual(everything)
      const [first] = (await list({ targetId: f.eventId, limit: 1 })).items
      expect(first!.at).toBeInstanceOf(Date)
      expect(first!.at.getTime()).toBe(f.create.at.getTime())
      expect(first!.before).toBeNull()
      expect(first!.subjectUserId).toBeNull()
      // Absent summaries are SQL NULL, not the jsonb value null.
      const nulls = await run(SqlClient.SqlClient.use((sql) =>
        sql<{ before_null: boolean; after_null: boolean; correlation_null: boolean }>`
          SELECT before IS NULL AS before_null, after IS NULL AS after_null, correlation_id IS NULL AS correlation_null
          FROM audit_log WHERE id = ${f.create.id}`
      ))
      expect(nulls).toEqual([{ before_null: true, after_null: false, correlation_null: false }])
      const [exported] = (await list({ action: "user.export", limit: 1 })).items
      expect(exported!.actorRoles).toEqual([])
      expect(exported!.before).toEqual({})
      expect(exported!.after).toEqual({ nested: { list: [1, "two", true, null], empty: [] } })
    })

    it("filters by actor, action, target, person concerned and time, combined with AND", async () => {
      const expectIds = async (filter: Audit.AuditFilter, expected: ReadonlyArray<Audit.AuditEntry>) =>
        expect(ids(await list({ ...filter, limit: 50 }))).toEqual(ordered(expected).map((entry) => entry.id))
      await expectIds({ actorId: f.alice }, [f.create, f.update])
      await expectIds({ actorId: f.bob }, [f.cancel])
      await expectIds({ action: "user.update" }, [f.update])
      await expectIds({ action: "event.delete" }, [])
      await expectIds({ targetId: f.eventId }, [f.create])
      await expectIds({ targetId: f.registrationId }, [f.cancel])
      await expectIds({ targetId: f.carol }, [f.update, f.exported])
      // Concerning: the actor or the subject.
      await expectIds({ concerning: f.carol }, [f.cancel, f.update, f.exported])
      await expectIds({ concerning: f.alice }, [f.create, f.update])
      await expectIds({ concerning: f.bob }, [f.cancel])
      await expectIds({ concerning: uuid() as Ids.UserId }, [])
      // from is inclusive, to exclusive.
      await expectIds({ from: f.cancel.at, to: window.to }, [f.cancel, f.update, f.exported])
      await expectIds({ from: window.from, to: f.cancel.at }, [f.create])
      await expectIds({ from: f.cancel.at, to: f.exported.at }, [f.cancel, f.update])
      await expectIds({ from: new Date(f.exported.at.getTime() + 1), to: window.to }, [])
      await expectIds({ actorId: f.alice, action: "user.update" }, [f.update])
      await expectIds({ concerning: f.carol, actorId: f.bob }, [f.cancel])
      await expectIds({ concerning: f.carol, from: f.exported.at }, [f.exported])
      await expectIds({ targetId: f.carol, action: "event.create" }, [])
    })

    it("pages through every entry once, in (at, id) order, for limits 1 to 3", async () => {
      for (const limit of [1, 2, 3]) {
        const pages = await all(window, limit)
        expect(pages.flatMap(ids)).toEqual(everything.map((entry) => entry.id))
        for (const page of pages) expect(page.items.length).toBeLessThanOrEqual(limit)
        expect(pages.at(-1)!.nextCursor).toBeNull()
        expect(pages.slice(0, -1).every((page) => page.items.length === limit && page.nextCursor !== null)).toBe(true)
      }
      const concerning = await all({ concerning: f.carol }, 1)
      expect(concerning.flatMap(ids)).toEqual(ordered([f.cancel, f.update, f.exported]).map((entry) => entry.id))
    })

    it("fails with InvalidCursor for a cursor it did not produce", async () => {
      for (const cursor of ["not-a-cursor", Page.encodeCursor([1]), Page.encodeCursor(["x", "y"])]) {
        const exit = await runExit(Audit.AuditLog.use((log) => log.list({ limit: 10, cursor })))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(exit.cause.reasons.map((reason) => reason._tag === "Fail" && reason.error._tag)).toEqual(["InvalidCursor"])
      }
    })

    it("is append-only: UPDATE, DELETE and TRUNCATE fail and leave the rows as they were", async () => {
      for (const statement of ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"]) {
        const exit = await runExit(SqlClient.SqlClient.use((sql) => sql.unsafe(statement)))
        expect(Exit.isFailure(exit), statement).toBe(true)
        if (Exit.isFailure(exit)) expect(JSON.stringify(exit.cause.reasons.map(String)), statement).toContain("append-only")
      }
      const rows = await run(
        SqlClient.SqlClient.use((sql) => sql<{ action: string }>`SELECT action FROM audit_log WHERE id = ${f.create.id}`)
      )
      expect(rows.map((row) => row.action)).toEqual(["event.create"])
      expect((await list({ ...window, limit: 50 })).items).toEqual(everything)
    })
  })
}

for (const [name, store] of Object.entries(stores)) auditSuite(name, store)
