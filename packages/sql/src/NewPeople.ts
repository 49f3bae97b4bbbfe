/**
 * People stored for the first time, as the input of one statement: their sealed columns and new data
 * keys as a JSON record set, and the data-modifying CTEs that insert them (a subject already stored is
 * left as it is). Provisioning (`SqlUserRepository`) runs them on their own; a registration batch's lock
 * (`BatchLocks`) runs them in its own statement, ahead of its locks.
 *
 * @since 0.3.0
 */
import type { User } from "@live-events/domain"
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import type { FieldSealing, NewPerson } from "./FieldSealing.ts"

/**
 * New people, one per subject (the first candidate of a subject stands for it), and their rows as the
 * CTEs read them.
 *
 * @since 0.3.0
 */
export interface NewPeople {
  readonly users: ReadonlyArray<User.User>
  readonly json: string
}

const toRow = (user: User.User, { fields, key }: NewPerson) => ({
  id: user.id,
  subject: user.subject,
  ...fields,
  sealed: key !== undefined,
  key_id: key?.stored.keyId ?? null,
  wrapped: key?.stored.wrapped ?? null,
  at: user.createdAt.toISOString()
})

/**
 * Seals `candidates` (each under a new data key) and lays them out as the CTEs' input.
 *
 * @since 0.3.0
 */
export const prepare = (sealing: FieldSealing, candidates: ReadonlyArray<User.User>): Effect.Effect<NewPeople> => {
  const bySubject = new Map<string, User.User>()
  for (const user of candidates) if (!bySubject.has(user.subject)) bySubject.set(user.subject, user)
  const users = [...bySubject.values()]
  return Effect.map(sealing.sealNewUsers(users), (sealed) => ({
    users,
    json: JSON.stringify(users.map((user, i) => toRow(user, sealed[i]!)))
  }))
}

/**
 * `input` (the new people), `inserted` (the ids and subjects this statement stored: every candidate
 * whose subject was free) and `keyed` (their data keys, stored with them). Inserted in subject order,
 * so two statements storing the same people take the subject index's locks in the same order.
 *
 * @since 0.3.0
 */
export const insertCtes = (sql: SqlClient.SqlClient, people: NewPeople) => sql`
  input AS (
    SELECT * FROM jsonb_to_recordset(${people.json}::jsonb)
      AS i(id uuid, subject text, email text, name text, phone text, email_index text, sealed boolean,
        key_id text, wrapped text, at timestamptz)
  ), inserted AS (
    INSERT INTO users (id, subject, email, name, phone, email_index, sealed, created_at, updated_at)
    SELECT id, subject, email, name, phone, email_index, sealed, at, at FROM input ORDER BY subject
    ON CONFLICT (subject) DO NOTHING
    RETURNING id, subject
  ), keyed AS (
    INSERT INTO person_keys (user_id, key_id, wrapped)
    SELECT i.id, i.key_id, i.wrapped FROM input i WHERE i.key_id IS NOT NULL AND i.id IN (SELECT id FROM inserted)
    RETURNING 1
  )`
