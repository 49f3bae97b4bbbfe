/**
 * Schema migrations, run when a store layer is built. Several processes may start at once against one
 * database: an advisory lock held for the whole run makes them take turns, and each later one finds
 * nothing left to do.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Migrator, SqlClient } from "effect/sql"
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

/** @since 0.1.0 */
export const run = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const migrate = Migrator.make({})({
    loader: Migrator.fromRecord(migrations),
    table: "live_events_migrations"
  })
  return yield* sql.withTransaction(
    Effect.andThen(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`, migrate)
  )
})
