/**
 * The audit log. Plain SQL that runs unchanged on PostgreSQL 15+ and on PGlite.
 *
 * Design notes (why, not what):
 * - Append-only is enforced by the database, not only by the code that writes it: row triggers refuse
 *   UPDATE and DELETE and a statement trigger refuses TRUNCATE, so neither a buggy writer nor an ad-hoc
 *   session can rewrite history. (A superuser can still drop the triggers; that is an act the database's
 *   own logs see, not a silent edit.) Because entries cannot be erased, they must never hold personal
 *   data — summaries list touched fields, not their values (see `@live-events/domain` Audit).
 * - No foreign keys to `users`: an entry must outlive anything it names (a deleted event, an erased
 *   user), and `target_id` is text because targets are of several kinds.
 * - `actor_roles` is a `text[]`: roles are a small closed set read back as a list, and an array
 *   round-trips without a separator convention. Roles are what the token said at the time; they are
 *   stored because they are not stored anywhere else.
 * - Every list is ordered by `(at, id)` and pages by keyset on it, so each filter has an index ending in
 *   `(at, id)`: a filtered page is one index range scan however long the log grows. The subject index is
 *   partial, since most entries (event changes) have no subject.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // One statement per call: the extended protocol (prepared statements) takes a single command. The
  // trigger function's body holds semicolons, so the statements are listed rather than split.
  const statements = [
    `CREATE TABLE audit_log (
  id uuid PRIMARY KEY,
  at timestamptz NOT NULL,
  actor_id uuid NOT NULL,
  actor_roles text[] NOT NULL,
  action text NOT NULL,
  target_type text NOT NULL,
  target_id text NOT NULL,
  subject_user_id uuid,
  before jsonb,
  after jsonb,
  correlation_id text
)`,
    `CREATE INDEX audit_log_by_time ON audit_log (at, id)`,
    `CREATE INDEX audit_log_by_actor ON audit_log (actor_id, at, id)`,
    `CREATE INDEX audit_log_by_target ON audit_log (target_id, at, id)`,
    `CREATE INDEX audit_log_by_subject ON audit_log (subject_user_id, at, id) WHERE subject_user_id IS NOT NULL`,
    `CREATE INDEX audit_log_by_action ON audit_log (action, at, id)`,
    `CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$$`,
    `CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
    `CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`
  ]
  for (const statement of statements) yield* sql.unsafe(statement)
})
