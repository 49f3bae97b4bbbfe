/**
 * Stored `Idempotency-Key`s: the first response to a keyed request is kept for 24 hours and replayed to
 * every retry with the same key and the same request; reusing a key for a different request is refused.
 *
 * A key is claimed (`begin`) before the request runs, so two concurrent retries never both execute it:
 * the second sees `InProgress`.
 *
 * A stored body may repeat what a person sent (their notes, their profile): it is sealed under a key
 * derived from the active keyring key (`PersonalDataKeys.responseKey`), bound to its scope and key,
 * with that key's id in `body_key_id`.
 *
 * @since 0.1.0
 */
import { DomainError } from "@live-events/domain"
import { Clock, Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as Keys from "./PersonalDataKeys.ts"
import { mapSqlError } from "./SqlFailure.ts"

/** How long a stored response is replayed. @since 0.1.0 */
export const RETENTION_MILLIS = 24 * 60 * 60 * 1000

/** @since 0.1.0 */
export interface StoredResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** @since 0.1.0 */
export type BeginResult =
  | { readonly _tag: "Started" }
  | ({ readonly _tag: "Replay" } & StoredResponse)
  | { readonly _tag: "Mismatch" }
  | { readonly _tag: "InProgress" }

/** @since 0.1.0 */
export class IdempotencyKeys extends Context.Service<IdempotencyKeys, {
  readonly begin: (
    scope: string,
    key: string,
    requestHash: string
  ) => Effect.Effect<BeginResult, DomainError.RepositoryError>
  readonly complete: (scope: string, key: string, response: StoredResponse) => Effect.Effect<void, DomainError.RepositoryError>
  /** Forgets a claimed key whose request failed unexpectedly, so that a retry can run it. */
  readonly abandon: (scope: string, key: string) => Effect.Effect<void, DomainError.RepositoryError>
  /**
   * Forgets every key of scopes `<owner> …` with its stored response (a person's erase: a stored
   * response may hold their data).
   */
  readonly forgetOwner: (owner: string) => Effect.Effect<void, DomainError.RepositoryError>
  /**
   * Deletes keys past their retention (at most `batch` per call), so stored responses do not outlive
   * it; returns how many went. Run on a schedule.
   */
  readonly purgeExpired: (batch?: number) => Effect.Effect<number, DomainError.RepositoryError>
}>()("@live-events/sql/IdempotencyKeys") {}

interface KeyRow {
  readonly request_hash: string
  readonly status: number | null
  readonly headers: Record<string, string> | string | null
  readonly body: string | null
  readonly body_key_id: string | null
  readonly created_at: Date
}

/** Sealing and opening stored bodies (keys derived once per keyring key). */
const responseSealing = (keyring: Keys.Keyring) => {
  const derived = new Map<string, Keys.DataKey>()
  const keyOf = (keyId: string) => {
    const known = derived.get(keyId)
    if (known !== undefined) return known
    const key = Keys.responseKey(keyring, keyId)
    derived.set(keyId, key)
    return key
  }
  const aad = (scope: string, key: string) => Keys.context("response", `${scope} ${key}`, "body")
  return {
    keyring,
    seal: (scope: string, key: string, body: string, keyId = keyring.data.active) => ({
      body: Keys.seal(keyOf(keyId), aad(scope, key), body),
      keyId
    }),
    open: (scope: string, key: string, body: string, keyId: string | null) =>
      keyId === null ? body : Keys.open(keyOf(keyId), aad(scope, key), body)
  }
}

/** @since 0.1.0 */
export type ResponseSealing = ReturnType<typeof responseSealing>

/** @since 0.1.0 */
export const responseSealingFromContext = Effect.gen(function*() {
  return responseSealing(yield* Keys.PersonalDataKeys)
})

const fromRow = (row: KeyRow, requestHash: string, opened: (row: KeyRow) => string): BeginResult => {
  if (row.request_hash !== requestHash) return { _tag: "Mismatch" }
  if (row.status === null) return { _tag: "InProgress" }
  const headers = typeof row.headers === "string" ? JSON.parse(row.headers) : row.headers ?? {}
  return { _tag: "Replay", status: row.status, headers, body: opened(row) }
}

/** @since 0.1.0 */
export const makeSql: Effect.Effect<IdempotencyKeys["Service"], never, SqlClient.SqlClient | Keys.PersonalDataKeys> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const sealing = yield* responseSealingFromContext
  const begin = Effect.fnUntraced(function*(scope: string, key: string, requestHash: string) {
    const now = new Date(yield* Clock.currentTimeMillis)
    const expiredBefore = new Date(now.getTime() - RETENTION_MILLIS)
    // Claim the key, taking over an expired one; otherwise read what is there.
    const claimed = yield* sql<{ readonly claimed: boolean }>`
      INSERT INTO idempotency_keys (scope, key, request_hash, created_at)
      VALUES (${scope}, ${key}, ${requestHash}, ${now})
      ON CONFLICT (scope, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, status = NULL, headers = NULL, body = NULL, body_key_id = NULL,
          created_at = EXCLUDED.created_at
        WHERE idempotency_keys.created_at < ${expiredBefore}
      RETURNING true AS claimed`
    if (claimed.length > 0) return { _tag: "Started" } as const
    const rows = yield* sql<KeyRow>`SELECT request_hash, status, headers, body, body_key_id, created_at
      FROM idempotency_keys WHERE scope = ${scope} AND key = ${key}`
    // Deleted between the two statements (abandoned): treat as in progress; the client retries.
    return rows[0] === undefined ? { _tag: "InProgress" } as const : fromRow(
      rows[0],
      requestHash,
      (row) => row.body === null ? "" : sealing.open(scope, key, row.body, row.body_key_id)
    )
  }, mapSqlError("IdempotencyKeys.begin"))

  const complete = (scope: string, key: string, response: StoredResponse) => {
    const sealed = sealing.keyring.unsealed === true
      ? { body: response.body, keyId: null }
      : sealing.seal(scope, key, response.body)
    return sql`UPDATE idempotency_keys SET status = ${response.status}, headers = ${JSON.stringify(response.headers)}::jsonb,
        body = ${sealed.body}, body_key_id = ${sealed.keyId}
      WHERE scope = ${scope} AND key = ${key}`.pipe(Effect.asVoid, mapSqlError("IdempotencyKeys.complete"))
  }

  const abandon = (scope: string, key: string) =>
    sql`DELETE FROM idempotency_keys WHERE scope = ${scope} AND key = ${key} AND status IS NULL`.pipe(
      Effect.asVoid,
      mapSqlError("IdempotencyKeys.abandon")
    )

  const forgetOwner = (owner: string) =>
    sql`DELETE FROM idempotency_keys WHERE left(scope, ${owner.length + 1}) = ${`${owner} `}`.pipe(
      Effect.asVoid,
      mapSqlError("IdempotencyKeys.forgetOwner")
    )

  const purgeExpired = Effect.fnUntraced(function*(batch = 1_000) {
    const expiredBefore = new Date((yield* Clock.currentTimeMillis) - RETENTION_MILLIS)
    // In batches, oldest first (the expiry index): a long backlog never holds one huge delete open.
    const rows = yield* sql<{ readonly purged: number }>`WITH expired AS (
        DELETE FROM idempotency_keys WHERE ctid IN (
          SELECT ctid FROM idempotency_keys WHERE created_at < ${expiredBefore} ORDER BY created_at LIMIT ${batch}
        ) RETURNING 1
      ) SELECT count(*)::int AS purged FROM expired`
    return rows[0]?.purged ?? 0
  }, mapSqlError("IdempotencyKeys.purgeExpired"))

  return IdempotencyKeys.of({ begin, complete, abandon, forgetOwner, purgeExpired })
})

/** @since 0.1.0 */
export const layerSql = Layer.effect(IdempotencyKeys, makeSql)

/** In memory, for tests and single-process embedders. @since 0.1.0 */
export const layerMemory = Layer.sync(IdempotencyKeys, () => {
  const entries = new Map<string, { requestHash: string; createdAt: number; response?: StoredResponse }>()
  const id = (scope: string, key: string) => `${scope}\u0000${key}`
  return IdempotencyKeys.of({
    begin: (scope, key, requestHash) =>
      Effect.map(Clock.currentTimeMillis, (now): BeginResult => {
        const existing = entries.get(id(scope, key))
        if (existing === undefined || existing.createdAt < now - RETENTION_MILLIS) {
          entries.set(id(scope, key), { requestHash, createdAt: now })
          return { _tag: "Started" }
        }
        if (existing.requestHash !== requestHash) return { _tag: "Mismatch" }
        if (existing.response === undefined) return { _tag: "InProgress" }
        return { _tag: "Replay", ...existing.response }
      }),
    complete: (scope, key, response) =>
      Effect.sync(() => {
        const existing = entries.get(id(scope, key))
        if (existing) existing.response = response
      }),
    abandon: (scope, key) =>
      Effect.sync(() => {
        const existing = entries.get(id(scope, key))
        if (existing && existing.response === undefined) entries.delete(id(scope, key))
      }),
    forgetOwner: (owner) =>
      Effect.sync(() => {
        for (const entry of entries.keys()) if (entry.startsWith(`${owner} `)) entries.delete(entry)
      }),
    purgeExpired: (batch = 1_000) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let purged = 0
        for (const [entry, stored] of entries) {
          if (purged >= batch) break
          if (stored.createdAt < now - RETENTION_MILLIS) {
            entries.delete(entry)
            purged++
          }
        }
        return purged
      })
  })
})
