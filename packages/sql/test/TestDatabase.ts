/**
 * A fresh PostgreSQL database per test file, dropped afterwards, so parallel runs never collide.
 * PostgreSQL must be reachable (TEST_PG_URL, default the local server): when it is not, the tests fail
 * loudly; they never skip.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const adminUrl = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

const withAdmin = <A, E>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.scoped(
    Effect.gen(function*() {
      const context = yield* Layer.build(PgClient.layer({ url: Redacted.make(adminUrl), maxConnections: 1 }))
      const sql = Context.get(context, SqlClient.SqlClient)
      return yield* f(sql)
    })
  )

/** Creates a uniquely named database and returns its URL; drops it (forcefully) when the scope closes. */
export const testDatabase = (prefix: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`
      yield* withAdmin((sql) => sql.unsafe(`CREATE DATABASE ${name}`))
      const url = new URL(adminUrl)
      url.pathname = `/${name}`
      return { name, url: Redacted.make(url.toString()) }
    }),
    ({ name }) => withAdmin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).pipe(Effect.orDie)
  ).pipe(Effect.orDie)
