/**
 * Shared test helpers: databases with the outbox table (PGlite in process, or a fresh PostgreSQL
 * database per file), message factories and a scriptable publisher.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import type { OutboxMessage } from "../src/OutboxMessage.ts"
import { fromPublish, OutboxPublisher, PublishError } from "../src/OutboxPublisher.ts"
import * as OutboxStore from "../src/OutboxStore.ts"

export const uuid = (): string => crypto.randomUUID()

let sequence = 0

/** A message of `aggregateId` whose payload records a per-process sequence number. */
export const message = (aggregateId: string, type = "RegistrationConfirmed"): OutboxMessage => {
  const id = uuid()
  const n = ++sequence
  const occurredAt = new Date()
  return {
    id,
    type,
    aggregateId,
    occurredAt,
    schemaVersion: 1,
    payload: { id, type, aggregateId, occurredAt: occurredAt.toISOString(), version: 1, data: { n } },
    traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`
  }
}

const createTable = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const statement of OutboxStore.ddl) yield* sql.unsafe(statement)
})

/** PGlite in memory served over a loopback socket, with the outbox table. */
export const pglite: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient> = Layer.unwrap(Effect.gen(function*() {
  const { PGlite } = yield* Effect.promise(() => import("@electric-sql/pglite"))
  const { PGLiteSocketServer } = yield* Effect.promise(() => import("@electric-sql/pglite-socket"))
  const db = yield* Effect.acquireRelease(Effect.promise(() => PGlite.create({})), (db) => Effect.promise(() => db.close()))
  const server = yield* Effect.acquireRelease(
    Effect.promise(async () => {
      const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 })
      await server.start()
      return server
    }),
    (server) => Effect.promise(() => server.stop())
  )
  const [host, port] = server.getServerConn().split(":")
  const client = PgClient.layer({
    host: host ?? "127.0.0.1",
    port: Number(port),
    username: "postgres",
    database: "postgres",
    maxConnections: 1
  })
  return Layer.effectDiscard(createTable).pipe(Layer.provideMerge(client))
})).pipe(Layer.orDie)

/** A fresh PostgreSQL database with the outbox table; `pools` independent pools on it (one per "process"). */
export const postgresUrl = Effect.map(testDatabase("le_outbox"), ({ url }) => url)

export const postgresClient = (url: Parameters<typeof PgClient.layer>[0]["url"], maxConnections = 4) =>
  PgClient.layer({ url, maxConnections }).pipe(Layer.orDie)

export const postgres: Layer.Layer<SqlClient.SqlClient | PgClient.PgClient> = Layer.unwrap(
  Effect.map(postgresUrl, (url) => Layer.effectDiscard(createTable).pipe(Layer.provideMerge(postgresClient(url))))
).pipe(Layer.orDie)

/** Builds a layer once for the whole file and shares it (database start-up is slow). */
export const shared = async <A, E>(layer: Layer.Layer<A, E>): Promise<Layer.Layer<A>> => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 60_000)
  const context = await Effect.runPromise(Scope.provide(Layer.build(layer), scope).pipe(Effect.orDie))
  return Layer.succeedContext(context as Context.Context<A>)
}

/** A publisher that records what it publishes and fails while `failing` is set. */
export interface Recorder {
  readonly published: Array<{ readonly relay: string; readonly message: OutboxMessage }>
  failing: false | "unavailable" | "failed" | "rejected"
  calls: number
  /** Extra latency per publish in milliseconds. */
  delayMillis: number
}

export const makeRecorder = (): Recorder => ({ published: [], failing: false, calls: 0, delayMillis: 0 })

export const recordingPublisher = (recorder: Recorder, relay = "relay") =>
  fromPublish((message) =>
      Effect.gen(function*() {
        recorder.calls++
        if (recorder.delayMillis > 0) yield* Effect.sleep(recorder.delayMillis)
        if (recorder.failing !== false) {
          return yield* new PublishError({ reason: recorder.failing, target: "test", detail: "scripted failure" })
        }
        recorder.published.push({ relay, message })
      }))

export const recordingLayer = (recorder: Recorder, relay = "relay") =>
  Layer.succeed(OutboxPublisher, recordingPublisher(recorder, relay))

/** Polls `condition` every 10 ms until it holds, failing after `timeoutMillis`. */
export const eventually = (condition: () => boolean, timeoutMillis = 15_000, what = "condition") =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep(10)
    }
  })

/** Runs one statement on a shared client layer. */
export const exec = (client: Layer.Layer<SqlClient.SqlClient>, statement: string): Effect.Effect<void> =>
  SqlClient.SqlClient.use((sql) => sql.unsafe(statement)).pipe(Effect.asVoid, Effect.provide(client), Effect.orDie)

/**
 * A fresh PostgreSQL database with the outbox table and `count` independent pools on it (like
 * `count` processes), all closed and the database dropped after the file.
 */
export const postgresPools = async (
  count: number,
  maxConnections = 4
): Promise<ReadonlyArray<Layer.Layer<SqlClient.SqlClient | PgClient.PgClient>>> => {
  const scope = Effect.runSync(Scope.make())
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 60_000)
  const url = await Effect.runPromise(Scope.provide(postgresUrl, scope))
  const pools: Array<Layer.Layer<SqlClient.SqlClient | PgClient.PgClient>> = []
  for (let i = 0; i < count; i++) {
    const context = await Effect.runPromise(Scope.provide(Layer.build(postgresClient(url, maxConnections)), scope))
    pools.push(Layer.succeedContext(context))
  }
  await Effect.runPromise(createTable.pipe(Effect.provide(pools[0]!), Effect.orDie))
  return pools
}
