/**
 * Stored idempotent responses do not outlive their retention: a host that replays responses to
 * retried requests (the reference server's `Idempotency-Key`, or an embedder using the
 * `IdempotencyKeys` port of `@live-events/sql`) keeps them 24 hours, and this purge deletes them
 * afterwards. A stored response may hold personal data; without the purge it would be kept for ever
 * unless its key were reused.
 *
 * @since 0.1.0
 */
import { IdempotencyKeys } from "@live-events/sql"
import { Duration, Effect, Layer, Schedule } from "effect"

/**
 * Deletes stored responses past their retention, in the background: at start and then every
 * `interval` (default 10 minutes), a batch at a time until none is left. Without it a key is only
 * overwritten when reused, and a response (which may hold personal data) would be kept for ever.
 * Every process may run it: concurrent purges delete disjoint or already-deleted rows.
 *
 * @since 0.1.0
 */
export const layer = (interval: Duration.Input = Duration.minutes(10)) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const keys = yield* IdempotencyKeys.IdempotencyKeys
    const purgeAll = Effect.gen(function*() {
      let purged = 0
      for (;;) {
        const batch = yield* keys.purgeExpired(1_000)
        purged += batch
        if (batch < 1_000) return purged
      }
    }).pipe(
      Effect.tap((purged) => purged > 0 ? Effect.logDebug("Purged expired idempotency keys", { purged }) : Effect.void),
      Effect.catch((error) => Effect.logWarning("Purging expired idempotency keys failed", error))
    )
    yield* Effect.forkScoped(Effect.repeat(purgeAll, Schedule.spaced(interval)))
  }))
