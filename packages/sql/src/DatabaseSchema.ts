/**
 * The PostgreSQL schema the store lives in, so it can share a database with an application's own
 * tables (docs/adr/0013-a-schema-of-its-own.md).
 *
 * Queries name tables without a schema; every connection the store opens has `search_path` set to
 * the store's schema alone, so an unqualified `users` can only ever mean the store's table — never an
 * application's `public.users`, not even before the migrations have created ours. The migrations set
 * it again for their own transaction (`SET LOCAL`), whatever the connection says.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/** The schema when none is given: a name no application is likely to use for its own. @since 0.2.0 */
export const DEFAULT = "live_events"

/**
 * What a schema name may be: a lower-case identifier, which needs no quoting anywhere (startup
 * parameters, `SET`, `ALTER SCHEMA`); `pg_` names are PostgreSQL's own.
 *
 * @since 0.2.0
 */
export const namePattern = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/

/** Whether `name` may be used as the store's schema. @since 0.2.0 */
export const isValidName = (name: string): boolean => namePattern.test(name)

/**
 * The schema name, checked: a bad one is a programming or configuration error, raised before any
 * connection is made.
 *
 * @since 0.2.0
 */
export const validate = (name: string): string => {
  if (!isValidName(name)) {
    throw new TypeError(
      `invalid PostgreSQL schema name ${JSON.stringify(name)}: lower-case letters, digits and _ (at most 63, not starting with a digit or pg_)`
    )
  }
  return name
}

/**
 * The startup parameters that put a connection in `schema` (for `PgClient.layer`'s
 * `startupParameters`). Give them to your own client when you build the ports over it
 * (`SqlStore.layer`).
 *
 * @since 0.2.0
 */
export const startupParameters = (schema: string): Readonly<Record<string, string>> => ({
  search_path: validate(schema)
})

/**
 * Fails (as a defect: the deployment is misconfigured) unless the connection resolves unqualified
 * names in `schema` — e.g. behind a pooler that drops startup parameters, where the store would
 * otherwise read an application's `public` tables. Run after the migrations (an absent schema reads
 * as no schema at all).
 *
 * @since 0.2.0
 */
export const verify = (schema: string): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ schema: string | null }>`SELECT current_schema() AS schema`.withoutTransform
    if (row?.schema !== schema) {
      return yield* Effect.die(
        new Error(
          `the database connection resolves names in schema ${JSON.stringify(row?.schema ?? null)}, not ${
            JSON.stringify(schema)
          }: its search_path startup parameter was not applied (a pooler?); set it on the role instead: ALTER ROLE <user> SET search_path = ${schema}`
        )
      )
    }
  })
