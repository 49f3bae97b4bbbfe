/**
 * The cache's invalidation bus over PostgreSQL `LISTEN/NOTIFY`, for processes that share a database but
 * no Redis: without it, a profile erased through one process would still be served from another's
 * in-process cache. PostgreSQL is already shared, so a multi-process deployment is correct by default.
 *
 * One dedicated connection listens (`PgClient.listen` holds it for the scope); notifications are sent on
 * a pool connection after the writing transaction has committed (the cache invalidates after COMMIT).
 * When the listening connection fails the bus reports itself down — the cache then serves no in-process
 * hit — and listens again after a second. PGlite has no `LISTEN/NOTIFY`: use it with PostgreSQL only.
 *
 * @since 0.1.0
 */
import type { InvalidationBus } from "@live-events/cache"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Queue, Schedule } from "effect"

/** The default channel (a PostgreSQL identifier, at most 63 bytes). @since 0.1.0 */
export const DEFAULT_CHANNEL = "live_events_cache"

/** @since 0.1.0 */
export const make = (channel: string = DEFAULT_CHANNEL): Effect.Effect<InvalidationBus.InvalidationBus, never, PgClient.PgClient> =>
  Effect.map(Effect.service(PgClient.PgClient), (pg): InvalidationBus.InvalidationBus => ({
    publish: (payload) => pg.notify(channel, payload),
    subscribe: (handlers) =>
      Effect.scoped(Effect.gen(function*() {
        const notifications = yield* pg.listen(channel)
        handlers.onUp()
        while (true) {
          const notification = yield* Queue.take(notifications)
          handlers.onMessage(notification.payload)
        }
      })).pipe(
        Effect.onError(() => Effect.sync(handlers.onDown)),
        Effect.tapCause((cause) => Effect.logWarning("Cache invalidation LISTEN failed; listening again", cause)),
        Effect.retry(Schedule.spaced(Duration.seconds(1))),
        Effect.annotateLogs({ module: "PgInvalidationBus", channel }),
        Effect.forkScoped,
        Effect.asVoid
      )
  }))
