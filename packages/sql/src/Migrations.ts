/**
 * Schema migrations, run when a store layer is built. Several processes may start at once against one
 * database: an advisory lock held for the whole run makes them take turns, and each later one finds
 * nothing left to do.
 *
 * Everything runs in the store's own PostgreSQL schema (see `DatabaseSchema`): the run creates it if
 * needed, moves this store's tables there from `public` for deployments made before it had a schema of
 * its own (see `LegacyTables`), and sets `search_path` to it for its transaction.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import * as DatabaseSchema from "./DatabaseSchema.ts"
import * as LegacyTables from "./LegacyTables.ts"
import initial from "./migrations/0001_initial.ts"
import auditLog from "./migrations/0002_audit_log.ts"
import personalDataSealed from "./migrations/0003_personal_data_sealed.ts"

/** Arbitrary constant identifying "live-events migrations" among advisory locks. */
const MIGRATION_LOCK = 7_246_001

/** @since 0.1.0 */
export const migrations = {
  "0001_initial": initial,
  "0002_audit_log": auditLog,
  "0003_personal_data_sealed": personalDataSealed
}

/**
 * The bookkeeping table of the migrations (in the store's schema). Its presence in `public` is what
 * marks a deployment from before the store had a schema of its own.
 *
 * @since 0.2.0
 */
export const TABLE = "live_events_migrations"

/**
 * Runs the migrations in `schema` (default `live_events`).
 *
 * @since 0.2.0
 */
export const runIn = (schema: string = DatabaseSchema.DEFAULT) =>
  Effect.gen(function*() {
    const name = DatabaseSchema.validate(schema)
    const sql = yield* SqlClient.SqlClient
    const migrate = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: TABLE })
    return yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
      // Looked up first: `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege on the database even
      // when the schema exists, and a role given only an existing schema should still migrate.
      const existing = yield* sql`SELECT 1 FROM pg_namespace WHERE nspname = ${name}`
      if (existing.length === 0) yield* sql`CREATE SCHEMA ${sql(name)}`
      // Only this transaction: the connection's own setting is the client's business.
      yield* sql`SET LOCAL search_path TO ${sql(name)}`
      yield* LegacyTables.moveFromPublic(name)
      return yield* migrate
    }))
  })

/** {@link runIn} the default schema. @since 0.1.0 */
export const run = runIn()
