/**
 * The consumer side of at-least-once delivery: run a handler at most once per message id.
 *
 * Brokers and relays redeliver (a crash between publish and acknowledgement, a lease that expired),
 * so a consumer records the ids it has processed. On SQL the record and the handler's own writes
 * commit in one transaction: either both happen or neither, which makes the handler's database
 * effects exactly-once. A concurrent duplicate waits on the first one's row lock and then skips.
 * Side effects outside the database (emails, HTTP calls) stay at-least-once: make them idempotent.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Option, Schema, Semaphore } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

/**
 * The inbox's own storage failed (the handler's errors pass through unchanged).
 *
 * @since 0.1.0
 */
export class InboxError extends Schema.TaggedError<InboxError>()("InboxError", {
  operation: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {
  override get message() {
    return `Inbox storage failed during ${this.operation}`
  }
}

/**
 * @since 0.1.0
 */
export class Inbox extends Context.Service<Inbox, {
  /**
   * Runs `handler` unless `consumer` already processed `messageId`: `Some(result)` when it ran,
   * `None` for a duplicate. A failing handler leaves the id unprocessed, so a redelivery retries it.
   */
  readonly process: <A, E, R>(
    consumer: string,
    messageId: string,
    handler: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | InboxError, R>
  /** Forgets ids processed longer than `retention` ago (keep it above the redelivery horizon). */
  readonly purge: (retention: Duration.Duration) => Effect.Effect<number, InboxError>
}>()("@live-events/outbox/Inbox") {}

/**
 * Creates `outbox_inbox (consumer, message_id, processed_at)` if missing. Idempotent and safe to run
 * from several processes at once (serialised by an advisory lock).
 *
 * @since 0.1.0
 */
export const ensureSchema: Effect.Effect<void, InboxError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(hashtext('outbox_inbox'))`
    yield* sql`CREATE TABLE IF NOT EXISTS outbox_inbox (
      consumer text NOT NULL,
      message_id text NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, message_id)
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS outbox_inbox_processed_at ON outbox_inbox (processed_at)`
  }))
}).pipe(
  Effect.mapError((cause) => new InboxError({ operation: "Inbox.ensureSchema", cause })),
  Effect.withSpan("Inbox.ensureSchema")
)

class HandlerFailed<E> {
  readonly error: E
  constructor(error: E) {
    this.error = error
  }
}

const millis = (duration: Duration.Duration) => Math.max(0, Math.round(Duration.toMillis(duration)))

/**
 * The inbox on SQL; the handler runs inside the transaction that records the id, so its writes through
 * the same `SqlClient` commit with it.
 *
 * @since 0.1.0
 */
export const makeSql: Effect.Effect<Inbox["Service"], never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const process = <A, E, R>(consumer: string, messageId: string, handler: Effect.Effect<A, E, R>) =>
    sql.withTransaction(Effect.gen(function*() {
      const claimed = yield* sql`INSERT INTO outbox_inbox (consumer, message_id) VALUES (${consumer}, ${messageId})
        ON CONFLICT (consumer, message_id) DO NOTHING RETURNING 1`
      if (claimed.length === 0) return Option.none<A>()
      return Option.some(yield* Effect.mapError(handler, (error) => new HandlerFailed(error)))
    })).pipe(
      Effect.catch((error: SqlError.SqlError | HandlerFailed<E>): Effect.Effect<never, E | InboxError> =>
        error instanceof HandlerFailed
          ? Effect.fail(error.error)
          : Effect.fail(new InboxError({ operation: "Inbox.process", cause: error }))
      ),
      Effect.withSpan("Inbox.process", { attributes: { consumer, messageId } })
    )
  const purge = Effect.fn("Inbox.purge")(function*(retention: Duration.Duration) {
    const rows = yield* sql<{ readonly n: number }>`WITH deleted AS (
        DELETE FROM outbox_inbox WHERE processed_at < now() - ${millis(retention)} * interval '1 millisecond'
        RETURNING 1)
      SELECT count(*)::int AS n FROM deleted`.pipe(
      Effect.mapError((cause) => new InboxError({ operation: "Inbox.purge", cause }))
    )
    return rows[0]?.n ?? 0
  })
  return Inbox.of({ process, purge })
})

/**
 * The inbox on SQL. Run {@link ensureSchema} once before use (e.g. in a migration layer).
 *
 * @since 0.1.0
 */
export const layerSql: Layer.Layer<Inbox, never, SqlClient.SqlClient> = Layer.effect(Inbox, makeSql)

/**
 * The inbox in memory (per process; for tests and embedded consumers).
 *
 * @since 0.1.0
 */
export const makeMemory: Effect.Effect<Inbox["Service"]> = Effect.sync(() => {
  const processed = new Map<string, number>()
  // One permit per key: a concurrent duplicate waits for the first handler, then sees it recorded.
  const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  const withLock = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        let lock = locks.get(key)
        if (lock === undefined) {
          lock = { semaphore: Semaphore.makeUnsafe(1), users: 0 }
          locks.set(key, lock)
        }
        lock.users++
        return lock
      }),
      (lock) => lock.semaphore.withPermits(1)(effect),
      (lock) =>
        Effect.sync(() => {
          if (--lock.users === 0) locks.delete(key)
        })
    )
  const process = <A, E, R>(consumer: string, messageId: string, handler: Effect.Effect<A, E, R>) => {
    const key = `${consumer}\u0000${messageId}`
    return withLock(
      key,
      Effect.suspend(() =>
        processed.has(key)
          ? Effect.succeed(Option.none<A>())
          : Effect.tap(Effect.map(handler, Option.some), () =>
            Effect.clockWith((clock) => Effect.sync(() => processed.set(key, clock.currentTimeMillisUnsafe()))))
      )
    )
  }
  const purge = (retention: Duration.Duration) =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        const cutoff = clock.currentTimeMillisUnsafe() - millis(retention)
        let removed = 0
        for (const [key, at] of processed) {
          if (at < cutoff) {
            processed.delete(key)
            removed++
          }
        }
        return removed
      })
    )
  return Inbox.of({ process, purge })
})

/**
 * The inbox in memory.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Inbox> = Layer.effect(Inbox, makeMemory)
