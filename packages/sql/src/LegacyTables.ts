/**
 * Deployments made before the store had a schema of its own keep its tables in `public`. The first
 * migration run with a schema moves them there (`ALTER … SET SCHEMA`: a catalog change, no row is
 * copied, indexes, constraints, triggers and owned sequences go with their table).
 *
 * What is ours is decided by the bookkeeping table, never by a table's name alone: only when
 * `public.live_events_migrations` exists — no other software writes it — are the objects that the
 * migrations recorded there created moved, and nothing else. An application's own `users` or `events`
 * in a database without that table are never looked at.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/** @since 0.2.0 */
export interface OwnedObject {
  readonly kind: "TABLE" | "SEQUENCE" | "FUNCTION"
  /** For a function, its signature, e.g. `audit_log_append_only()`. */
  readonly name: string
}

/**
 * What each migration creates outside another object (indexes, constraints, triggers and owned
 * sequences move with their table). A migration that creates a table, a free-standing sequence or a
 * function must list it here; a test compares this list with what the migrations create.
 *
 * @since 0.2.0
 */
export const objectsByMigration: Readonly<Record<number, ReadonlyArray<OwnedObject>>> = {
  1: [
    { kind: "TABLE", name: "users" },
    { kind: "TABLE", name: "events" },
    { kind: "SEQUENCE", name: "registration_join_seq" },
    { kind: "TABLE", name: "registrations" },
    { kind: "TABLE", name: "waitlist_buckets" },
    { kind: "TABLE", name: "outbox" },
    { kind: "TABLE", name: "idempotency_keys" }
  ],
  2: [
    { kind: "TABLE", name: "audit_log" },
    { kind: "FUNCTION", name: "audit_log_append_only()" }
  ],
  3: [
    { kind: "TABLE", name: "person_keys" }
  ]
}

const BOOKKEEPING = "live_events_migrations"

/**
 * Moves this store's objects from `public` to `schema` when `public` holds its bookkeeping table and
 * `schema` does not (a run in the middle of a move is impossible: the caller holds the migration lock
 * in one transaction). Returns the objects moved.
 *
 * @since 0.2.0
 */
export const moveFromPublic = (
  schema: string
): Effect.Effect<ReadonlyArray<OwnedObject>, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    if (schema === "public") return []
    const sql = yield* SqlClient.SqlClient
    const [found] = yield* sql<{ legacy: boolean; adopted: boolean }>`SELECT
        to_regclass(${`public.${BOOKKEEPING}`}) IS NOT NULL AS legacy,
        to_regclass(${`${schema}.${BOOKKEEPING}`}) IS NOT NULL AS adopted`.withoutTransform
    if (found === undefined || !found.legacy || found.adopted) return []
    const applied = yield* sql<{ id: number }>`SELECT migration_id AS id FROM public.${sql(BOOKKEEPING)}
      ORDER BY migration_id`.withoutTransform
    const objects = applied.flatMap((row) => objectsByMigration[row.id] ?? [])
    for (const object of objects) {
      // Names come from the list above, never from input: safe to splice.
      const qualified = object.kind === "FUNCTION" ? `public.${object.name}` : `public.${quoteIdent(object.name)}`
      yield* sql.unsafe(`ALTER ${object.kind} ${qualified} SET SCHEMA ${quoteIdent(schema)}`)
    }
    yield* sql.unsafe(`ALTER TABLE public.${quoteIdent(BOOKKEEPING)} SET SCHEMA ${quoteIdent(schema)}`)
    yield* Effect.logInfo("moved the store's tables from public to its own schema").pipe(
      Effect.annotateLogs({ schema, objects: objects.map((object) => object.name).join(", ") })
    )
    return objects
  })

const quoteIdent = (name: string) => `"${name.replaceAll("\"", "\"\"")}"`
