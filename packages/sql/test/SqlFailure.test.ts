/**
 * What a failed statement says about the database: real PostgreSQL errors, classified. A value the
 * database refuses (class 22) or a violated check (class 23) is not an outage and is never retried;
 * a lost connection is.
 */
import { describe, expect, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import { toRepositoryError } from "../src/SqlFailure.ts"

const url = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

const failureOf = (statement: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, SqlError.SqlError>) =>
  SqlClient.SqlClient.use((sql) => Effect.flip(statement(sql))).pipe(Effect.map(toRepositoryError("test")))

describe("SqlFailure: SQLSTATE classes", () => {
  it.layer(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }), { excludeTestServices: true })((it) => {
    it.effect("a NUL in text, a bad cast, an out-of-range number are invalid data, not an outage", () =>
      Effect.gen(function*() {
        for (
          const statement of [
            (sql: SqlClient.SqlClient) => sql`SELECT ${"a\u0000b"}::text`,
            (sql: SqlClient.SqlClient) => sql`SELECT 'not a number'::int`,
            (sql: SqlClient.SqlClient) => sql`SELECT ${"99999999999999999999"}::bigint`,
            (sql: SqlClient.SqlClient) => sql`SELECT ${"-271821-04-20T00:00:00Z"}::timestamptz`
          ]
        ) {
          const error = yield* failureOf(statement)
          expect(error.reason).toBe("invalid")
          expect(error.isRetryable).toBe(false)
        }
      }))

    it.effect("a violated check constraint is a constraint failure; a statement that cannot run is a defect", () =>
      Effect.gen(function*() {
        const check = yield* failureOf((sql) =>
          sql`CREATE TEMP TABLE IF NOT EXISTS checked (n int CHECK (n > 0))`.pipe(
            Effect.andThen(sql`INSERT INTO checked VALUES (0)`)
          )
        )
        expect(check.reason).toBe("constraint")
        const missing = yield* failureOf((sql) => sql`SELECT * FROM no_such_table_anywhere`)
        expect(missing.reason).toBe("defect")
        expect(missing.isRetryable).toBe(false)
      }))
  })

  it("a lost connection is an outage, and retryable", () => {
    const error = toRepositoryError("test")(
      new SqlError.SqlError({ reason: new SqlError.ConnectionError({ cause: new Error("ECONNRESET") }) })
    )
    expect(error.reason).toBe("unavailable")
    expect(error.isRetryable).toBe(true)
  })
})
