/**
 * Pipelining for the relay: while a full batch is published, the next one is claimed beside it (on
 * another of the store's connections), so the database claims while the broker acknowledges instead of
 * each waiting for the other. The two batches never share an aggregate: the batch in flight holds its
 * aggregates' heads, so the claim ahead takes other aggregates (and nothing of one cut by the limit).
 *
 * @since 0.3.0
 */
import { Effect, Fiber } from "effect"
import type { ClaimBatch, OutboxStoreError } from "./OutboxStore.ts"

/** @internal */
export interface ClaimAhead {
  /** Starts claiming the next batch in a child fiber of the caller. */
  readonly start: Effect.Effect<void>
  /** Waits for the batch claimed ahead; `undefined` when no claim was started. */
  readonly take: Effect.Effect<ClaimBatch | undefined, OutboxStoreError>
  /** Waits for a claim ahead (if any) and discards it, returning its batch (already `forget`-ten). */
  readonly abandon: Effect.Effect<ClaimBatch | undefined>
}

/**
 * `hold` is called with a claimed batch as soon as its claim answers (so the heartbeat extends its
 * leases from then on), `forget` when a batch is abandoned.
 *
 * @internal
 */
export const make = (
  claim: Effect.Effect<ClaimBatch, OutboxStoreError>,
  hold: (batch: ClaimBatch) => void,
  forget: (batch: ClaimBatch) => void
): ClaimAhead => {
  let fiber: Fiber.Fiber<void, OutboxStoreError> | undefined
  let claimed: ClaimBatch | undefined
  // Uninterruptible: once the statement is sent its rows may be leased, so the answer is always
  // recorded (and held), whatever interrupts the relay meanwhile.
  const claimNext = Effect.uninterruptible(Effect.flatMap(claim, (batch) =>
    Effect.sync(() => {
      claimed = batch
      hold(batch)
    })))
  const detach = () => {
    const current = fiber
    fiber = undefined
    return current
  }
  const collect = () => {
    const batch = claimed
    claimed = undefined
    return batch
  }
  return {
    start: Effect.map(Effect.forkChild(claimNext), (started) => {
      fiber = started
    }),
    take: Effect.suspend(() => {
      const current = detach()
      return current === undefined ? Effect.undefined : Effect.andThen(Fiber.join(current), Effect.sync(collect))
    }),
    abandon: Effect.suspend(() => {
      const current = detach()
      return Effect.andThen(
        current === undefined ? Effect.void : Fiber.interrupt(current),
        Effect.sync(() => {
          const batch = collect()
          if (batch !== undefined) forget(batch)
          return batch
        })
      )
    })
  }
}
