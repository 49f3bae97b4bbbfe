/**
 * The store in a schema of its own, sharing a database with an application: the application's
 * `users`, `events`, `registrations` and `outbox` in `public` (with rows) are left exactly as they
 * were by the migrations and a registration walk, on PostgreSQL and on PGlite; a deployment whose
 * tables are still in `public` (marked by the migrations' bookkeeping table) is moved into the schema
 * with its rows; and the list of what a migration creates is complete.
 */
import { describe, expect, it } from "@effect/vitest"
import { PGlite } from "@electric-sql/pglite"
import { PgClient } from "@effect/sql-pg"
import { Events, Ids, Registrations, Users } from "@live-events/domain"
import { DatabaseSchema, EmbeddedSeed, LegacyTables, PersonalDataKeys, SqlStore } from "@live-events/sql"
import { Cause, Context, Effect, Exit, Layer, type Redacted, References } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { testDatabase } from "./TestDatabase.ts"

/** An application's own tables, named like the store's, with rows. */
const applicationTables = [
  `CREATE TABLE public.users (id integer PRIMARY KEY, login text NOT NULL UNIQUE)`,
  `CREATE TABLE public.events (id serial PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL DEFAULT '2020-01-01Z')`,
  `CREATE TABLE public.registrations (user_id integer REFERENCES public.users (id), note text)`,
  `CREATE TABLE public.outbox (id bigserial PRIMARY KEY, topic text NOT NULL, body jsonb NOT NULL)`,
  `INSERT INTO public.users VALUES (1, 'ada'), (2, 'grace')`,
  `INSERT INTO public.events (kind) VALUES ('login'), ('logout'), ('login')`,
  `INSERT INTO public.registrations VALUES (1, 'first'), (2, NULL)`,
  `INSERT INTO public.outbox (topic, body) VALUES ('mail', '{"to": "ada"}')`
]

/** Everything about `public` that the store must not change: columns, indexes, rows (all as text). */
const snapshotQueries = [
  `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || coalesce(column_default, '') AS line
    FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
  `SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`,
  ...["users", "events", "registrations", "outbox"].map((table) =>
    `SELECT '${table} ' || to_jsonb(t)::text AS line FROM public.${table} t ORDER BY 1`
  )
]

/** The snapshot over the store's own connection, or any client given as `query`. */
const publicSnapshotWith = <E, R>(query: (text: string) => Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
  Effect.map(
    Effect.forEach(snapshotQueries, (text) => query(text)),
    (results) => results.flatMap((rows) => rows.map((row) => (row as { line: string }).line))
  )

/** Read with `public` first on the path: defaults name their sequences relative to it. */
const publicSnapshot = SqlClient.SqlClient.use((sql) =>
  sql.withTransaction(
    Effect.andThen(sql`SET LOCAL search_path TO public`, publicSnapshotWith((text) => sql.unsafe(text).withoutTransform))
  )
)

/** The walk of the contract tests: capacity 2, three registrations, a cancellation promotes the third. */
const registrationWalk = Effect.gen(function*() {
  const users = yield* Users.Users
  const events = yield* Events.Events
  const registrations = yield* Registrations.Registrations
  const organizer = { userId: (yield* users.provision({ subject: "organizer" })).id, roles: ["organizer" as const] }
  const event = yield* events.create(organizer, {
    title: "Shared database", startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
    timeZone: "UTC", location: "Here", capacity: 2
  })
  yield* events.publish(organizer, event.id)
  const actors = []
  for (const subject of ["a", "b", "c"]) {
    actors.push({ userId: (yield* users.provision({ subject })).id, roles: ["attendee" as const] })
  }
  const made = []
  for (const actor of actors) made.push(yield* registrations.register(actor, event.id, {}))
  expect(made.map((r) => r.status)).toEqual(["confirmed", "confirmed", "waitlisted"])
  yield* registrations.cancel(actors[0]!, made[0]!.id)
  expect((yield* registrations.get(actors[2]!, made[2]!.id)).status).toBe("confirmed")
  return event.id
})

const useCases = <E, R>(store: Layer.Layer<SqlStore.Ports | SqlClient.SqlClient, E, R>) =>
  Layer.mergeAll(Events.Events.layer, Registrations.Registrations.layer, Users.Users.layer).pipe(
    Layer.provideMerge(Layer.mergeAll(store, Ids.Ids.layer))
  )

/** Builds `layer` in a scope of its own, runs `use` with it, closes the scope. */
const withLayer = <A, E, ROut, E2>(
  layer: Layer.Layer<ROut, E2>,
  use: Effect.Effect<A, E, ROut>
): Effect.Effect<A, E | E2> =>
  Effect.scoped(Effect.flatMap(Layer.build(layer), (context) => Effect.provide(use, context)))

const plainClient = (url: Redacted.Redacted<string>) => PgClient.layer({ url, maxConnections: 1 })

const tablesIn = (schema: string) =>
  SqlClient.SqlClient.use((sql) =>
    Effect.map(
      sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${schema}
        ORDER BY 1`.withoutTransform,
      (rows) => rows.map((row) => row.name)
    )
  )

const ourTables = [
  "audit_log", "events", "idempotency_keys", "live_events_migrations", "outbox", "person_keys", "registrations",
  "users", "waitlist_buckets"
]

describe("the store in a schema of its own", () => {
  it.live("PostgreSQL: an application's tables of the same names in public are left untouched", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* testDatabase("le_schema_app")
      const before = yield* withLayer(
        plainClient(url),
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          for (const statement of applicationTables) yield* sql.unsafe(statement)
          return yield* publicSnapshot
        })
      )
      const keyring = PersonalDataKeys.generate()
      const eventId = yield* withLayer(useCases(SqlStore.layerPostgres({ url, keyring })), registrationWalk)
      yield* withLayer(
        plainClient(url),
        Effect.gen(function*() {
          expect(yield* publicSnapshot).toEqual(before)
          expect(yield* tablesIn("public")).toEqual(["events", "outbox", "registrations", "users"])
          expect(yield* tablesIn("live_events")).toEqual(ourTables)
          const sql = yield* SqlClient.SqlClient
          const ours = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM live_events.registrations
            WHERE event_id = ${eventId}`
          expect(ours[0]!.n).toBe(3)
        })
      )
      // A second start finds nothing to migrate and nothing to move.
      yield* withLayer(SqlStore.layerPostgres({ url, keyring }), Effect.void)
      yield* withLayer(plainClient(url), Effect.map(publicSnapshot, (after) => expect(after).toEqual(before)))
    })), 120_000)

  it.live("PGlite: an application's tables of the same names in public are left untouched", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "le-schema-pglite-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      // The application's database: an empty PGlite (the seed without the store's schema) with its tables.
      const application = yield* EmbeddedSeed.open<InstanceType<typeof PGlite>>(PGlite, { dataDir, schema: DatabaseSchema.DEFAULT })
      yield* Effect.promise(async () => {
        await application.exec(`DROP SCHEMA ${DatabaseSchema.DEFAULT} CASCADE`)
        for (const statement of applicationTables) await application.exec(statement)
      })
      const before = yield* publicSnapshotWith((text) => Effect.promise(() => application.query(text).then((r) => r.rows)))
      expect(before).toContain(`users {"id": 1, "login": "ada"}`)
      yield* Effect.promise(() => application.close())
      yield* withLayer(
        useCases(SqlStore.layerEmbedded({ dataDir, keyring: PersonalDataKeys.generate() })),
        Effect.gen(function*() {
          yield* registrationWalk
          expect(yield* publicSnapshot).toEqual(before)
          expect(yield* tablesIn("public")).toEqual(["events", "outbox", "registrations", "users"])
          expect(yield* tablesIn("live_events")).toEqual(ourTables)
        })
      )
    }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn")), 180_000)

  it.live("a deployment whose tables are in public is moved into the schema, rows and all", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* testDatabase("le_schema_legacy")
      const keyring = PersonalDataKeys.generate()
      // As deployed before the schema option: the store in public, next to an application's table.
      const eventId = yield* withLayer(
        useCases(SqlStore.layerPostgres({ url, keyring, schema: "public" })),
        registrationWalk
      )
      yield* withLayer(
        plainClient(url),
        SqlClient.SqlClient.use((sql) => sql`CREATE TABLE public.invoices (id integer PRIMARY KEY)`)
      )
      const moved = yield* withLayer(
        useCases(SqlStore.layerPostgres({ url, keyring })),
        Effect.gen(function*() {
          const events = yield* Events.Events
          const users = yield* Users.Users
          const organizer = yield* users.provision({ subject: "organizer" })
          return yield* events.get({ userId: organizer.id, roles: ["organizer"] }, eventId)
        })
      )
      expect([moved.confirmedCount, moved.waitlistCount]).toEqual([2, 0])
      yield* withLayer(
        plainClient(url),
        Effect.gen(function*() {
          expect(yield* tablesIn("public")).toEqual(["invoices"])
          expect(yield* tablesIn("live_events")).toEqual(ourTables)
          const sql = yield* SqlClient.SqlClient
          const functions = yield* sql<{ schema: string }>`SELECT n.nspname AS schema FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'audit_log_append_only'`.withoutTransform
          expect(functions).toEqual([{ schema: "live_events" }])
          // The moved sequence still numbers the waitlist.
          const [seq] = yield* sql<{ n: string }>`SELECT nextval('live_events.registration_join_seq')::text AS n`
          expect(Number(seq!.n)).toBeGreaterThan(1)
        })
      )
    })).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")), 120_000)

  it.live("LegacyTables lists every table, free-standing sequence and function the migrations create", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* testDatabase("le_schema_objects")
      yield* withLayer(SqlStore.layerPostgres({ url, keyring: PersonalDataKeys.generate(), schema: "objects" }), Effect.void)
      const created = yield* withLayer(
        plainClient(url),
        SqlClient.SqlClient.use((sql) =>
          sql<{ kind: string; name: string }>`
            SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.relname AS name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'objects' AND c.relkind IN ('r', 'p', 'S')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.deptype IN ('a', 'i'))
            UNION ALL
            SELECT 'FUNCTION', p.proname || '()' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'objects'`.withoutTransform
        )
      )
      const listed = Object.values(LegacyTables.objectsByMigration).flat()
        .concat([{ kind: "TABLE", name: "live_events_migrations" }])
      const key = (object: { kind: string; name: string }) => `${object.kind} ${object.name}`
      expect(created.map(key).sort()).toEqual(listed.map(key).sort())
    })), 120_000)

  it.live("connections that do not resolve names in the schema are refused", () =>
    Effect.scoped(Effect.gen(function*() {
      const { url } = yield* testDatabase("le_schema_verify")
      yield* withLayer(SqlStore.layerPostgres({ url, keyring: PersonalDataKeys.generate() }), Effect.void)
      const exit = yield* withLayer(plainClient(url), DatabaseSchema.verify(DatabaseSchema.DEFAULT)).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("search_path")
    })), 60_000)

  it.live("a new PGlite database starts from the shipped seed, renamed into the configured schema", () =>
    Effect.scoped(Effect.gen(function*() {
      // Fails after a PGlite upgrade until `npm run seed:pglite` has made the seed for it.
      expect(EmbeddedSeed.installedSeed()).toBeDefined()
      const context = yield* Layer.build(
        SqlStore.layerEmbedded({ dataDir: undefined, keyring: PersonalDataKeys.generate(), schema: "events_app" })
      )
      const sql = Context.get(context, SqlClient.SqlClient)
      const schemas = yield* sql<{ name: string }>`SELECT nspname AS name FROM pg_namespace
        WHERE nspname IN ('live_events', 'events_app')`.withoutTransform
      expect(schemas).toEqual([{ name: "events_app" }])
      expect(yield* Effect.provideService(tablesIn("events_app"), SqlClient.SqlClient, sql)).toEqual(ourTables)
      const [migrated] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM live_events_migrations`
      expect(migrated!.n).toBe(Object.keys(LegacyTables.objectsByMigration).length)
    })), 120_000)

  it("refuses schema names that would need quoting or are PostgreSQL's own", () => {
    for (const name of ["live_events", "app2", "_x"]) expect(DatabaseSchema.isValidName(name)).toBe(true)
    for (const name of ["Live", "1x", "pg_catalog", "a-b", "", "x".repeat(64), "a;drop"]) {
      expect(DatabaseSchema.isValidName(name)).toBe(false)
    }
    expect(() => SqlStore.layerPostgres({ url: undefined as never, keyring: PersonalDataKeys.generate(), schema: "A" }))
      .toThrow(/invalid PostgreSQL schema name/)
  })
})
