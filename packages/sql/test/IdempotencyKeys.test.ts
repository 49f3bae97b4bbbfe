/**
 * Stored `Idempotency-Key` responses do not outlive their purpose: expired keys are purged (in
 * batches), and a person's erase forgets every key of their scopes and no other — in memory and on a
 * fresh PostgreSQL database.
 */
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { describe, expect, it } from "vitest"
import * as IdempotencyKeys from "../src/IdempotencyKeys.ts"
import { postgresStore } from "./StoreFixtures.ts"

const postgres = await postgresStore()

const alice = "0190aaaa-0000-7000-8000-000000000001"
const bob = "0190aaaa-0000-7000-8000-000000000002"
const day = IdempotencyKeys.RETENTION_MILLIS

/** Claims and completes a key as if `ageMillis` ago, then returns to the present. */
const store = (keys: IdempotencyKeys.IdempotencyKeys["Service"], scope: string, key: string, body: string) =>
  Effect.andThen(keys.begin(scope, key, "hash"), keys.complete(scope, key, { status: 201, headers: {}, body }))

const suites: ReadonlyArray<[string, Layer.Layer<IdempotencyKeys.IdempotencyKeys, unknown>]> = [
  ["memory", IdempotencyKeys.layerMemory],
  ["postgres", postgres]
]

describe.each(suites)("IdempotencyKeys (%s)", (_name, layer) => {
  const run = <A, E>(effect: Effect.Effect<A, E, IdempotencyKeys.IdempotencyKeys>) =>
    Effect.runPromise(Effect.provide(effect, layer))
  const suffix = () => crypto.randomUUID()

  it("forgetOwner forgets every key of the owner's scopes, and only those", async () => {
    const key = suffix()
    await run(Effect.gen(function*() {
      const keys = yield* IdempotencyKeys.IdempotencyKeys
      yield* store(keys, `${alice} POST /v1/events/{id}/registrations`, key, "{\"notes\":\"call me\"}")
      yield* store(keys, `${alice} POST /v1/events`, key, "{}")
      yield* store(keys, `${bob} POST /v1/events`, key, "{}")
      yield* keys.forgetOwner(alice)
      expect((yield* keys.begin(`${alice} POST /v1/events/{id}/registrations`, key, "other"))._tag).toBe("Started")
      expect((yield* keys.begin(`${alice} POST /v1/events`, key, "other"))._tag).toBe("Started")
      expect((yield* keys.begin(`${bob} POST /v1/events`, key, "hash"))._tag).toBe("Replay")
    }))
  })
})

describe("IdempotencyKeys (postgres): purge", () => {
  it("purgeExpired deletes keys past their retention, in batches, and keeps the others", async () => {
    const key = crypto.randomUUID()
    await Effect.runPromise(Effect.gen(function*() {
      const keys = yield* IdempotencyKeys.IdempotencyKeys
      const sql = yield* SqlClient.SqlClient
      for (const scope of ["old-1", "old-2", "old-3", "fresh"]) yield* store(keys, `${bob} ${scope}`, key, "{}")
      // The three old ones age past the retention.
      yield* sql`UPDATE idempotency_keys SET created_at = ${new Date(Date.now() - day - 60_000)}
        WHERE key = ${key} AND scope LIKE ${`${bob} old-%`}`
      expect(yield* keys.purgeExpired(2)).toBe(2)
      expect(yield* keys.purgeExpired(2)).toBe(1)
      expect(yield* keys.purgeExpired(2)).toBe(0)
      const left = yield* sql<{ scope: string }>`SELECT scope FROM idempotency_keys WHERE key = ${key}`
      expect(left.map((row) => row.scope)).toEqual([`${bob} fresh`])
    }).pipe(Effect.provide(postgres)))
  })
})
