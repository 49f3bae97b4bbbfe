/**
 * Wake-ups for relays: "new outbox messages may be there". A relay polls anyway (the signal is an
 * accelerator, never the only trigger), so a lost signal costs latency, never a message.
 *
 * - `layer`: local nudges only (call `nudge` after an in-process commit); relays fall back to polling.
 *   The right choice on PGlite, which has no `LISTEN/NOTIFY`.
 * - `layerListen`: PostgreSQL `LISTEN` on a channel through `@effect/sql-pg`; every notification
 *   nudges. Writers emit `pg_notify(channel, '')` in the transaction that inserts outbox rows
 *   (see `OutboxStore.SqlOptions.notifyChannel`). The listener holds one pool connection.
 *
 * Signals are counted (a generation number), so a notification that arrives while a relay is busy
 * claiming is not lost: the relay's next wait returns at once.
 *
 * @since 0.1.0
 */
import type { PgClient } from "@effect/sql-pg"
import { Context, Deferred, Duration, Effect, Layer, Queue, Schedule } from "effect"

/**
 * @since 0.1.0
 */
export class OutboxSignal extends Context.Service<OutboxSignal, {
  /** Wakes every waiting relay. */
  readonly nudge: Effect.Effect<void>
  /** The number of nudges so far. Read it before claiming; pass it to `awaitAfter`. */
  readonly generation: Effect.Effect<number>
  /** Completes as soon as a nudge newer than `generation` has happened (at once if one already has). */
  readonly awaitAfter: (generation: number) => Effect.Effect<void>
}>()("@live-events/outbox/OutboxSignal") {}

/**
 * A local signal.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<OutboxSignal["Service"]> = Effect.sync(() => {
  let generation = 0
  let next = Deferred.makeUnsafe<void>()
  return OutboxSignal.of({
    nudge: Effect.sync(() => {
      generation++
      const current = next
      next = Deferred.makeUnsafe<void>()
      Deferred.doneUnsafe(current, Effect.void)
    }),
    generation: Effect.sync(() => generation),
    awaitAfter: (seen) => Effect.suspend(() => generation > seen ? Effect.void : Deferred.await(next))
  })
})

/**
 * Local nudges only: relays poll.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<OutboxSignal> = Layer.effect(OutboxSignal, make)

/** @since 0.1.0 */
export const DEFAULT_CHANNEL = "outbox"

/**
 * Nudges on every PostgreSQL notification on `channel`. The layer waits (up to 5 s) for the first
 * `LISTEN` to be confirmed; it re-listens after a connection loss, nudging once after each (re)start
 * because notifications sent meanwhile are gone.
 *
 * @since 0.1.0
 */
export const layerListen = (
  channel: string = DEFAULT_CHANNEL
): Layer.Layer<OutboxSignal, never, PgClient.PgClient> =>
  Layer.effect(
    OutboxSignal,
    Effect.gen(function*() {
      // Imported lazily: @effect/sql-pg is an optional peer dependency of this package.
      const { PgClient } = yield* Effect.promise(() => import("@effect/sql-pg"))
      const pg = yield* PgClient.PgClient
      const signal = yield* make
      const listening = Deferred.makeUnsafe<void>()
      const listen = Effect.scoped(Effect.gen(function*() {
        const notifications = yield* pg.listen(channel)
        Deferred.doneUnsafe(listening, Effect.void)
        yield* signal.nudge
        while (true) {
          yield* Queue.take(notifications)
          // A burst of notifications is one wake-up.
          yield* Queue.clear(notifications)
          yield* signal.nudge
        }
      }))
      yield* listen.pipe(
        Effect.tapCause((cause) => Effect.logWarning("Outbox LISTEN failed; relays poll until it is back", cause)),
        Effect.retry(Schedule.spaced(Duration.seconds(1))),
        Effect.annotateLogs({ module: "OutboxSignal", channel }),
        Effect.forkScoped
      )
      yield* Deferred.await(listening).pipe(Effect.timeoutOption(Duration.seconds(5)))
      return signal
    })
  )
