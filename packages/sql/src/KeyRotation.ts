/**
 * Bringing every stored row onto the active keys, while traffic runs, and saying when an old key can go.
 *
 * `rotate` works in phases, each in small batches of its own short transaction, each batch taking only
 * rows nobody else holds (`FOR UPDATE SKIP LOCKED`: a registration that share-locks its user is never
 * waited for; the row is taken by a later batch). Nothing records progress but the rows themselves — a
 * batch changes the very column that selected it — so a run killed at any point resumes where it
 * stopped when started again, and two runs at once share the work.
 *
 * 1. `plaintext-users`: rows written before sealing existed get a data key and their fields sealed;
 * 2. `plaintext-notes`: their registrations' notes are sealed under it;
 * 3. `data-keys`: data keys wrapped by an older keyring key are re-wrapped by the active one (32 bytes
 *    per person: the sealed fields do not change, since the data key inside does not);
 * 4. `email-index`: blind-index values of an older index key are recomputed under the active one;
 * 5. `responses`: stored responses are sealed again under the active key.
 *
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"
import { SqlClient } from "effect/sql"
import * as FieldSealing from "./FieldSealing.ts"
import * as IdempotencyKeys from "./IdempotencyKeys.ts"
import * as Keys from "./PersonalDataKeys.ts"

/** @since 0.1.0 */
export type Phase = "plaintext-users" | "plaintext-notes" | "data-keys" | "email-index" | "responses"

/** @since 0.1.0 */
export const phases: ReadonlyArray<Phase> = ["plaintext-users", "plaintext-notes", "data-keys", "email-index", "responses"]

/** Rows brought onto the active keys by this process, by phase. @since 0.1.0 */
export const rotated = Metric.counter("personal_data_rotated_total", {
  description: "Rows re-sealed, re-wrapped or re-indexed onto the active keys by this process",
  incremental: true
})

/** Rows still on an older key or in plain text, as last counted. @since 0.1.0 */
export const pending = Metric.gauge("personal_data_rotation_pending", {
  description: "Rows not yet on the active keys (or not yet sealed), as last counted by a rotation or status"
})

/** Rows by keyring key id, and rows still in plain text. @since 0.1.0 */
export interface Status {
  /** Data keys by the keyring key wrapping them. */
  readonly dataKeys: Readonly<Record<string, number>>
  /** Blind-index values by index key. */
  readonly emailIndex: Readonly<Record<string, number>>
  /** Stored responses by the keyring key they are sealed under (`plain`: not sealed). */
  readonly responses: Readonly<Record<string, number>>
  readonly plaintextUsers: number
  readonly plaintextNotes: number
  /** Rows a rotation would still change. */
  readonly pending: number
  /** Keyring keys no row uses any more: they can be removed from the configuration. */
  readonly retirable: { readonly data: ReadonlyArray<string>; readonly index: ReadonlyArray<string> }
}

/** What a batch reports. @since 0.1.0 */
export interface Progress {
  readonly phase: Phase
  /** Rows this run changed in the phase so far. */
  readonly done: number
  /** Rows of the phase still to do (counted after the batch). */
  readonly remaining: number
}

/** @since 0.1.0 */
export interface RotateOptions {
  /** Rows per batch (default 200): short transactions, short row locks. */
  readonly batchSize?: number | undefined
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
}

const byId = <A>(rows: ReadonlyArray<A>, pick: (row: A) => readonly [string, number]) => {
  const record: Record<string, number> = {}
  for (const row of rows) {
    const [id, count] = pick(row)
    record[id] = (record[id] ?? 0) + count
  }
  return record
}

/** @since 0.1.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const keyring = yield* Keys.PersonalDataKeys
  const sealing = FieldSealing.make(keyring)
  const responses = yield* IdempotencyKeys.responseSealingFromContext
  const active = keyring.data.active
  const indexPrefix = `${keyring.index.active}:`

  const json = (rows: ReadonlyArray<unknown>) => JSON.stringify(rows)

  /** How many rows each phase would still change (the same conditions as its batches). */
  const remaining = (phase: Phase) => {
    const statement = {
      "plaintext-users": sql`SELECT count(*)::int AS n FROM users WHERE NOT sealed AND erased_at IS NULL`,
      "plaintext-notes": sql`SELECT count(*)::int AS n FROM registrations r
        WHERE NOT r.notes_sealed AND r.notes <> '' AND EXISTS (SELECT 1 FROM person_keys pk WHERE pk.user_id = r.user_id)`,
      "data-keys": sql`SELECT count(*)::int AS n FROM person_keys WHERE key_id <> ${active}`,
      "email-index": sql`SELECT count(*)::int AS n FROM users
        WHERE sealed AND email IS NOT NULL AND (email_index IS NULL OR left(email_index, ${indexPrefix.length}) <> ${indexPrefix})`,
      "responses": sql`SELECT count(*)::int AS n FROM idempotency_keys
        WHERE body IS NOT NULL AND body_key_id IS DISTINCT FROM ${active}`
    }[phase]
    return Effect.map(statement, (rows) => (rows as ReadonlyArray<{ readonly n: number }>)[0]?.n ?? 0)
  }

  /** The stored data keys of `userIds`, creating the missing ones (racing writers keep the first stored). */
  const dataKeysOf = (userIds: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const created = userIds.map((userId) => ({ user_id: userId, ...sealing.newPersonKey().stored }))
      yield* sql`INSERT INTO person_keys (user_id, key_id, wrapped)
        SELECT c.user_id, c."keyId", c.wrapped FROM jsonb_to_recordset(${json(created)}::jsonb)
          AS c(user_id uuid, "keyId" text, wrapped text)
        ON CONFLICT (user_id) DO NOTHING`
      const stored = yield* sql<{ readonly user_id: string; readonly person_key: string }>`
        SELECT pk.user_id, pk.key_id || ':' || pk.wrapped AS person_key FROM person_keys pk
        WHERE pk.user_id = ANY(string_to_array(${userIds.join(",")}, ',')::uuid[])`
      return new Map(stored.map((row) => [row.user_id, sealing.dataKeyOf(row.person_key)!]))
    })

  const batch = (phase: Phase, size: number): Effect.Effect<number, unknown> => {
    switch (phase) {
      case "plaintext-users":
        return Effect.gen(function*() {
          const rows = yield* sql<{ readonly id: string; readonly email: string | null; readonly name: string | null; readonly phone: string | null }>`
            SELECT u.id, u.email, u.name, u.phone FROM users u WHERE NOT u.sealed AND u.erased_at IS NULL
            ORDER BY u.id LIMIT ${size} FOR UPDATE SKIP LOCKED`
          if (rows.length === 0) return 0
          const keys = yield* dataKeysOf(rows.map((row) => row.id))
          const sealed = rows.map((row) => ({ id: row.id, ...sealing.sealUser(row, keys.get(row.id)!) }))
          yield* sql`UPDATE users u SET email = c.email, name = c.name, phone = c.phone, email_index = c.email_index,
              sealed = true
            FROM jsonb_to_recordset(${json(sealed)}::jsonb) AS c(id uuid, email text, name text, phone text, email_index text)
            WHERE u.id = c.id AND NOT u.sealed`
          return rows.length
        })
      case "plaintext-notes":
        return Effect.gen(function*() {
          const rows = yield* sql<{ readonly id: string; readonly notes: string; readonly person_key: string }>`
            SELECT r.id, r.notes, pk.key_id || ':' || pk.wrapped AS person_key
            FROM registrations r JOIN person_keys pk ON pk.user_id = r.user_id
            WHERE NOT r.notes_sealed AND r.notes <> ''
            ORDER BY r.id LIMIT ${size} FOR UPDATE OF r SKIP LOCKED`
          if (rows.length === 0) return 0
          const sealed = rows.map((row) => ({ id: row.id, notes: sealing.sealNotes(row.id, sealing.dataKeyOf(row.person_key)!, row.notes) }))
          yield* sql`UPDATE registrations r SET notes = c.notes, notes_sealed = true
            FROM jsonb_to_recordset(${json(sealed)}::jsonb) AS c(id uuid, notes text)
            WHERE r.id = c.id AND NOT r.notes_sealed`
          return rows.length
        })
      case "data-keys":
        return Effect.gen(function*() {
          const rows = yield* sql<{ readonly user_id: string; readonly key_id: string; readonly wrapped: string }>`
            SELECT user_id, key_id, wrapped FROM person_keys WHERE key_id <> ${active}
            ORDER BY user_id LIMIT ${size} FOR UPDATE SKIP LOCKED`
          if (rows.length === 0) return 0
          const rewrapped = rows.map((row) => ({
            user_id: row.user_id,
            ...Keys.wrap(keyring, Keys.unwrap(keyring, { keyId: row.key_id, wrapped: row.wrapped }))
          }))
          yield* sql`UPDATE person_keys p SET key_id = c."keyId", wrapped = c.wrapped
            FROM jsonb_to_recordset(${json(rewrapped)}::jsonb) AS c(user_id uuid, "keyId" text, wrapped text)
            WHERE p.user_id = c.user_id`
          return rows.length
        })
      case "email-index":
        return Effect.gen(function*() {
          const rows = yield* sql<{ readonly id: string; readonly email: string; readonly person_key: string | null }>`
            SELECT u.id, u.email, (SELECT pk.key_id || ':' || pk.wrapped FROM person_keys pk WHERE pk.user_id = u.id) AS person_key
            FROM users u
            WHERE u.sealed AND u.email IS NOT NULL
              AND (u.email_index IS NULL OR left(u.email_index, ${indexPrefix.length}) <> ${indexPrefix})
            ORDER BY u.id LIMIT ${size} FOR UPDATE OF u SKIP LOCKED`
          if (rows.length === 0) return 0
          const indexed = rows.map((row) => {
            const email = Keys.open(sealing.dataKeyOf(row.person_key)!, Keys.context("user", row.id, "email"), row.email)
            return { id: row.id, email: row.email, email_index: Keys.emailIndex(keyring, email) }
          })
          yield* sql`UPDATE users u SET email_index = c.email_index
            FROM jsonb_to_recordset(${json(indexed)}::jsonb) AS c(id uuid, email text, email_index text)
            WHERE u.id = c.id AND u.email = c.email`
          return rows.length
        })
      case "responses":
        return Effect.gen(function*() {
          const rows = yield* sql<{ readonly scope: string; readonly key: string; readonly body: string; readonly body_key_id: string | null }>`
            SELECT scope, key, body, body_key_id FROM idempotency_keys
            WHERE body IS NOT NULL AND body_key_id IS DISTINCT FROM ${active}
            ORDER BY scope, key LIMIT ${size} FOR UPDATE SKIP LOCKED`
          if (rows.length === 0) return 0
          const resealed = rows.map((row) => {
            const sealed = responses.seal(row.scope, row.key, responses.open(row.scope, row.key, row.body, row.body_key_id))
            return { scope: row.scope, key: row.key, body: sealed.body, key_id: sealed.keyId }
          })
          yield* sql`UPDATE idempotency_keys i SET body = c.body, body_key_id = c.key_id
            FROM jsonb_to_recordset(${json(resealed)}::jsonb) AS c(scope text, key text, body text, key_id text)
            WHERE i.scope = c.scope AND i.key = c.key`
          return rows.length
        })
    }
  }

  /**
   * Runs every phase to its end. Rows another transaction holds are skipped and taken again shortly
   * after, so a phase ends only when its count is zero.
   */
  const rotate = Effect.fnUntraced(function*(options: RotateOptions = {}) {
    const size = options.batchSize ?? 200
    const totals: Record<Phase, number> = {
      "plaintext-users": 0,
      "plaintext-notes": 0,
      "data-keys": 0,
      "email-index": 0,
      "responses": 0
    }
    for (const phase of phases) {
      while (true) {
        const changed = yield* sql.withTransaction(batch(phase, size))
        const left = yield* remaining(phase)
        totals[phase] += changed
        if (changed > 0) {
          yield* Metric.update(Metric.withAttributes(rotated, { phase }), changed)
          if (options.onProgress) yield* options.onProgress({ phase, done: totals[phase], remaining: left })
        }
        if (left === 0) break
        // Everything left is held by other transactions for now.
        if (changed === 0) yield* Effect.sleep("50 millis")
      }
    }
    yield* Metric.update(pending, 0)
    return totals
  })

  const status = Effect.gen(function*() {
    const [dataKeys, index, stored] = yield* Effect.all([
      sql<{ readonly key_id: string; readonly n: number }>`SELECT key_id, count(*)::int AS n FROM person_keys GROUP BY key_id`,
      sql<{ readonly key_id: string; readonly n: number }>`SELECT split_part(email_index, ':', 1) AS key_id, count(*)::int AS n
        FROM users WHERE email_index IS NOT NULL GROUP BY 1`,
      sql<{ readonly key_id: string | null; readonly n: number }>`SELECT body_key_id AS key_id, count(*)::int AS n
        FROM idempotency_keys WHERE body IS NOT NULL GROUP BY 1`
    ])
    const plaintextUsers = yield* remaining("plaintext-users")
    const plaintextNotes = (yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM registrations
      WHERE NOT notes_sealed AND notes <> ''`)[0]?.n ?? 0
    const counts = {
      dataKeys: byId(dataKeys, (row) => [row.key_id, row.n]),
      emailIndex: byId(index, (row) => [row.key_id, row.n]),
      responses: byId(stored, (row) => [row.key_id ?? "plain", row.n])
    }
    let waiting = plaintextUsers + plaintextNotes
    for (const phase of ["data-keys", "email-index", "responses"] as const) waiting += yield* remaining(phase)
    yield* Metric.update(pending, waiting)
    const unused = (ring: Keys.Ring, ...uses: ReadonlyArray<Readonly<Record<string, number>>>) =>
      [...ring.keys.keys()].filter((id) => id !== ring.active && uses.every((use) => (use[id] ?? 0) === 0))
    return {
      ...counts,
      plaintextUsers,
      plaintextNotes,
      pending: waiting,
      retirable: { data: unused(keyring.data, counts.dataKeys, counts.responses), index: unused(keyring.index, counts.emailIndex) }
    } satisfies Status
  })

  return { rotate, status, remaining } as const
})

/** @since 0.1.0 */
export type KeyRotation = Effect.Success<typeof make>
