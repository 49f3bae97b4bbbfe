/**
 * The (wrapped) data keys of the people a registration batch writes for, carried from the batch's lock statement
 * (which reads them with the users it share-locks) to its write, where their notes are sealed: no
 * statement of its own on the hot path.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import type { FieldSealing } from "./FieldSealing.ts"

/** Bounded: cleared whole when full (a key is unwrapped again in microseconds). */
const CAPACITY = 10_000

/** A user's wrapped data key, as the lock statements select it (`<key id>:<wrapped>`). @since 0.1.0 */
export const userKeyColumn = `(SELECT pk.key_id || ':' || pk.wrapped FROM person_keys pk WHERE pk.user_id = u.id)`

/** @since 0.1.0 */
export const make = (sql: SqlClient.SqlClient, sealing: FieldSealing) => {
  // Stored forms (`<key id>:<wrapped>`): unwrapped where the notes are sealed, inline or on the sealing thread.
  const known = new Map<string, string>()

  /** A user without a key wrote before sealing existed: their notes stay as they are until rotation. */
  const remember = (userId: string, storedKey: string | null) => {
    if (storedKey === null || !sealing.enabled) return
    if (known.size >= CAPACITY) known.clear()
    known.set(userId, storedKey)
  }

  /** Makes sure the keys of `userIds` are known (one statement for those a lock did not read). */
  const load = (userIds: ReadonlyArray<string>) => {
    const missing = [...new Set(userIds)].filter((id) => !known.has(id))
    return missing.length === 0 ? Effect.void : Effect.map(
      sql<{ readonly user_id: string; readonly person_key: string }>`
        SELECT pk.user_id, pk.key_id || ':' || pk.wrapped AS person_key FROM person_keys pk
        WHERE pk.user_id = ANY(string_to_array(${missing.join(",")}, ',')::uuid[])`,
      (rows) => {
        for (const row of rows) remember(row.user_id, row.person_key)
      }
    )
  }

  return {
    remember,
    load,
    get: (userId: string) => known.get(userId),
    /** The person was erased: their key leaves this process's memory too (and the sealing thread's). */
    forget: (userId: string) => {
      const stored = known.get(userId)
      known.delete(userId)
      if (stored !== undefined) sealing.forgetKey(stored)
    }
  } as const
}
