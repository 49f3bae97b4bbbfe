/**
 * Personal data sealed at rest (see `PersonalDataKeys.ts`). Plain SQL that runs unchanged on PostgreSQL
 * 15+ and on PGlite.
 *
 * Design notes (why, not what):
 * - Each person's data key lives in `person_keys`, apart from the rows sealed under it: an erase deletes
 *   the key row, and a copy of `users` or `registrations` made at any time no longer opens. It has no
 *   foreign key to `users`, so the provisioning statement can insert both in one go.
 * - `person_keys.key_id` (which keyring key wraps it) is indexed: rotation progress and "can this key be
 *   retired" are index counts.
 * - `users.sealed` and `registrations.notes_sealed` say whether a row's personal fields are sealed.
 *   Rows written before this migration keep `false` and are read as they are until
 *   `live-events keys rotate` seals them; nothing has to be rewritten while the migration runs.
 * - `users.email_index` is the blind index `<index key id>:<mac>`; it is not unique, because one email
 *   may belong to two subjects of the identity provider.
 * - `idempotency_keys.body_key_id`: the keyring key a stored response is sealed under (`NULL`: stored
 *   before this migration, in plain text; such rows expire within 24 hours or are sealed by rotation).
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const statements = [
    `CREATE TABLE person_keys (
  user_id uuid PRIMARY KEY,
  key_id text NOT NULL,
  wrapped text NOT NULL
)`,
    `CREATE INDEX person_keys_by_key ON person_keys (key_id)`,
    `ALTER TABLE users ADD COLUMN sealed boolean NOT NULL DEFAULT false`,
    `ALTER TABLE users ADD COLUMN email_index text`,
    `CREATE INDEX users_by_email_index ON users (email_index) WHERE email_index IS NOT NULL`,
    `CREATE INDEX users_not_sealed ON users (id) WHERE NOT sealed AND erased_at IS NULL`,
    `ALTER TABLE registrations ADD COLUMN notes_sealed boolean NOT NULL DEFAULT false`,
    `CREATE INDEX registrations_notes_not_sealed ON registrations (id) WHERE NOT notes_sealed AND notes <> ''`,
    `ALTER TABLE idempotency_keys ADD COLUMN body_key_id text`
  ]
  for (const statement of statements) yield* sql.unsafe(statement)
})
