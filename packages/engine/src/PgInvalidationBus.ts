/**
 * The cache's invalidation bus over PostgreSQL `LISTEN/NOTIFY`, for processes that share a database but
 * no Redis: without it, a profile erased through one process would still be served from another's
 * in-process cache. PostgreSQL is already shared, so a multi-process deployment is correct by default.
 *
 * - **Its own two connections**, outside the store's pool: `LISTEN` holds one for good, and the
 *   notifications never queue behind (or take a slot from) request traffic.
 * - **Batched**: invalidations are queued and sent as one `pg_notify` per batch (newline-separated, under
 *   PostgreSQL's 8,000-byte payload limit), so a burst of writes costs a few notifications, not one
 *   round trip per key. Invalidations happen after COMMIT, so the order of the two is kept.
 * - When the listening connection fails the bus reports itself down (the cache then serves no
 *   in-process hit) and listens again after a second; a batch that could not be sent is retried.
 *
 * PGlite has no `LISTEN/NOTIFY`: use it with PostgreSQL only.
 *
 * @since 0.1.0
 */
import type { InvalidationBus } from "@live-events/cache"
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer, Queue, type Redacted, Schedule } from "effect"

/** The default channel (a PostgreSQL identifier, at most 63 bytes). @since 0.1.0 */
export const DEFAULT_CHANNEL = "live_events_cache"

/** Below PostgreSQL's limit of 8,000 bytes per notification payload. */
const MAX_PAYLOAD_BYTES = 7_000

/** Joins messages into payloads of at most {@link MAX_PAYLOAD_BYTES}, one message per line. @since 0.1.0 */
export const batches = (messages: ReadonlyArray<string>): ReadonlyArray<string> => {
  const out: Array<string> = []
  let current: Array<string> = []
  // The payload's size in bytes is kept as it grows: measured again for every message, a busy batch
  // (a hundred keys) cost a few microseconds per registration.
  let bytes = 0
  for (const message of new Set(messages)) {
    const size = Buffer.byteLength(message)
    if (current.length > 0 && bytes + size + 1 > MAX_PAYLOAD_BYTES) {
      out.push(current.join("\n"))
      current = []
      bytes = 0
    }
    bytes += current.length === 0 ? size : size + 1
    current.push(message)
  }
  if (current.length > 0) out.push(current.join("\n"))
  return out
}

/**
 * A bus on the database at `url`, its connections and sender living in the current scope.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(url: Redacted.Redacted<string>, channel: string = DEFAULT_CHANNEL) {
  const pg = Context.get(yield* Layer.build(PgClient.layer({ url, maxConnections: 2 })), PgClient.PgClient)
  const outgoing = yield* Queue.unbounded<string>()
  const send = (payload: string) =>
    pg.notify(channel, payload).pipe(
      Effect.tapCause((cause) => Effect.logWarning("Cache invalidation NOTIFY failed; retrying", cause)),
      Effect.retry(Schedule.spaced(Duration.seconds(1)))
    )
  yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
    for (const payload of batches(yield* Queue.takeAll(outgoing))) yield* send(payload)
  })))

  const bus: InvalidationBus.InvalidationBus = {
    publish: (payload) => Effect.asVoid(Queue.offer(outgoing, payload)),
    subscribe: (handlers) =>
      Effect.scoped(Effect.gen(function*() {
        const notifications = yield* pg.listen(channel)
        handlers.onUp()
        while (true) {
          const notification = yield* Queue.take(notifications)
          for (const message of notification.payload.split("\n")) handlers.onMessage(message)
        }
      })).pipe(
        Effect.onError(() => Effect.sync(handlers.onDown)),
        Effect.tapCause((cause) => Effect.logWarning("Cache invalidation LISTEN failed; listening again", cause)),
        Effect.retry(Schedule.spaced(Duration.seconds(1))),
        Effect.forkScoped,
        Effect.asVoid
      )
  }
  return bus
}, (effect, _url, channel = DEFAULT_CHANNEL) => Effect.annotateLogs(effect, { module: "PgInvalidationBus", channel }))
