/**
 * One store per test file (PGlite in memory, or a fresh PostgreSQL database), built once and shared by
 * every contract suite in the file through `Layer.succeedContext`, so suites don't pay PGlite's
 * start-up each time. The scope closes (database dropped) after the file.
 */
import { Ids } from "@live-events/domain"
import { PersonalDataKeys, SqlStore } from "@live-events/sql"
import { Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll } from "vitest"
import { OutboxProbe } from "../../domain/test/contracts/index.ts"
import { testDatabase } from "./TestDatabase.ts"

const sqlOutboxProbe = Layer.effect(
  OutboxProbe,
  Effect.map(SqlClient.SqlClient, (sql) => ({
    messages: (aggregateId: string) =>
      sql<{ id: string; type: string; aggregate_id: string }>`SELECT id, type, aggregate_id FROM outbox
        WHERE aggregate_id = ${aggregateId} ORDER BY position`.pipe(
        Effect.map((rows) => rows.map((row) => ({ id: row.id as any, type: row.type as any, aggregateId: row.aggregate_id })))
      )
  }))
)

const build = async (store: Layer.Layer<SqlStore.Ports | SqlClient.SqlClient, unknown>) => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 60_000)
  const layer = Layer.mergeAll(sqlOutboxProbe, Ids.Ids.layer).pipe(Layer.provideMerge(store))
  const context = await Effect.runPromise(Scope.provide(Layer.build(layer), scope))
  return Layer.succeedContext(context)
}

export const pgliteStore = () => build(SqlStore.layerEmbedded({ dataDir: undefined, keyring: PersonalDataKeys.generate() }))

export const postgresStore = () =>
  build(Layer.unwrap(Effect.map(testDatabase("le_contract"), ({ url }) => SqlStore.layerPostgres({ url, maxConnections: 8, keyring: PersonalDataKeys.generate() }))))
