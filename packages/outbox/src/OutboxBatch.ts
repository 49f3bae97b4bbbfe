/**
 * Batch publishing, shared by the publishers and the relay: what a batch's outcome is, the order in
 * which its messages may be sent, and `publishBatch` for targets that take one message at a time.
 *
 * The rule throughout is per-aggregate order: a message is sent only after every earlier message of
 * its aggregate in the batch was sent, and an aggregate's first failure (or skip) stops the rest of it.
 *
 * @since 0.2.0
 */
import { Effect, Exit } from "effect"
import type { OutboxMessage } from "./OutboxMessage.ts"

/**
 * What became of one message of a batch: published (success), failed, or `undefined` when it was not
 * sent at all because an earlier message of its aggregate in the batch failed or was skipped.
 *
 * @since 0.2.0
 */
export type Outcome<E> = Exit.Exit<void, E> | undefined

/** @since 0.2.0 */
export interface BatchOptions {
  /** Aggregates published at once by targets that take one message at a time; default 16. */
  readonly concurrency?: number | undefined
  /**
   * Asked (with the message's index in the batch) right before a message is sent: `true` leaves it
   * and the rest of its aggregate unsent. The relay skips messages whose lease it lost.
   */
  readonly skip?: ((index: number) => boolean) | undefined
  /**
   * Told of outcomes as they become known, before the batch completes (possibly not of all): the
   * relay records what was delivered when it is interrupted mid-batch.
   */
  readonly onOutcome?: ((index: number, outcome: Exit.Exit<void, unknown>) => void) | undefined
}

/**
 * The indexes of a batch to send, in batch order, each aggregate stopped at its first skipped message.
 *
 * @since 0.2.0
 */
export const sendOrder = (messages: ReadonlyArray<OutboxMessage>, options?: BatchOptions): Array<number> => {
  const skip = options?.skip
  const indexes: Array<number> = []
  let stopped: Set<string> | undefined
  for (let i = 0; i < messages.length; i++) {
    const aggregateId = messages[i]!.aggregateId
    if (stopped?.has(aggregateId)) continue
    if (skip?.(i)) (stopped ??= new Set()).add(aggregateId)
    else indexes.push(i)
  }
  return indexes
}

/**
 * Of `indexes` (in batch order), those whose message was published after a published prefix of its
 * aggregate: what a fan-out may hand on to its next target.
 *
 * @since 0.2.0
 */
export const acceptedPrefix = <E>(
  indexes: ReadonlyArray<number>,
  messages: ReadonlyArray<OutboxMessage>,
  outcomes: ReadonlyArray<Outcome<E>>
): Array<number> => {
  const stopped = new Set<string>()
  const accepted: Array<number> = []
  for (const i of indexes) {
    const aggregateId = messages[i]!.aggregateId
    if (stopped.has(aggregateId)) continue
    const outcome = outcomes[i]
    if (outcome !== undefined && Exit.isSuccess(outcome)) accepted.push(i)
    else stopped.add(aggregateId)
  }
  return accepted
}

/**
 * `publishBatch` for a target that takes one message at a time: each aggregate's messages one after
 * another, stopping at its first failure (or skip), up to `concurrency` aggregates at once.
 *
 * @since 0.2.0
 */
export const oneAtATime = <E>(publish: (message: OutboxMessage) => Effect.Effect<void, E>) =>
(messages: ReadonlyArray<OutboxMessage>, options?: BatchOptions): Effect.Effect<ReadonlyArray<Outcome<E>>> =>
  Effect.suspend(() => {
    const outcomes: Array<Outcome<E>> = new Array(messages.length).fill(undefined)
    const runs = new Map<string, Array<number>>()
    for (let i = 0; i < messages.length; i++) {
      const aggregateId = messages[i]!.aggregateId
      const run = runs.get(aggregateId)
      if (run === undefined) runs.set(aggregateId, [i])
      else run.push(i)
    }
    const deliverRun = Effect.fnUntraced(function*(run: ReadonlyArray<number>) {
      for (const i of run) {
        if (options?.skip?.(i)) return
        const exit = yield* Effect.exit(publish(messages[i]!))
        outcomes[i] = exit
        options?.onOutcome?.(i, exit)
        if (Exit.isFailure(exit)) return
      }
    })
    return Effect.as(
      Effect.forEach(runs.values(), deliverRun, { concurrency: options?.concurrency ?? 16, discard: true }),
      outcomes
    )
  })
