/**
 * Natural batching of commands into units of work (group commit): a batch is whatever arrived while
 * the previous batch was being committed, up to a maximum size. Idle, a command waits one `yieldNow`;
 * under load, one transaction (one lock per event, one write per table) serves many commands.
 *
 * Built on Effect's request batching: every caller's `Effect.request` made before the resolver's
 * delay completes lands in the same `runAll`, whichever fiber (HTTP request) it came from.
 *
 * @since 0.2.0
 */
import { Cause, Clock, Effect, Exit, Metric, Option, type Request, RequestResolver, Result, type Semaphore } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { RepositoryError } from "./DomainError.ts"
import * as Metrics from "./Metrics.ts"

/** @since 0.2.0 */
export interface Options<R extends Request.Request<any, any, never>, P> {
  /** Commits the commands of a batch in one unit of work, returning what was decided. */
  readonly commit: (requests: ReadonlyArray<R>) => Effect.Effect<P, Request.Error<R>>
  /** Each command's own outcome in a committed batch (same order as the requests): a result or a refusal. */
  readonly outcomes: (plan: P) => ReadonlyArray<Result.Result<Request.Success<R>, Request.Error<R>>>
  /** Runs once a batch has committed, before its commands are answered (e.g. business metrics). */
  readonly onCommitted?: ((plan: P) => Effect.Effect<void>) | undefined
  /** Called for each command refused or failed. */
  readonly onFailure?: ((error: Request.Error<R>) => Effect.Effect<void>) | undefined
  /** The most commands one batch commits. */
  readonly maxBatchSize: number
  /** Batches in flight at once (their permits); one permit: strictly one batch after another. */
  readonly slots: Semaphore.Semaphore
  /** The command's name in the batch metrics (`command_batch_size`, `command_batch_duration_seconds`). */
  readonly name: string
}

/** The store is unavailable or timed out: no command of the batch can have caused it. */
const isOutage = (cause: Cause.Cause<unknown>) =>
  Option.match(Cause.findErrorOption(cause), {
    onNone: () => Cause.hasInterrupts(cause),
    onSome: (error) => error instanceof RepositoryError && (error.reason === "unavailable" || error.reason === "timeout")
  })

/**
 * A resolver committing batches of `R`. When a batch fails as a whole (after the unit of work's own
 * retries), its commands are committed one by one in arrival order, so that a poison command fails
 * alone instead of failing its neighbours — unless the failure is an outage of the store.
 *
 * @since 0.2.0
 */
export const resolver = <R extends Request.Request<any, any, never>, P>(options: Options<R, P>): RequestResolver.RequestResolver<R> => {
  const fail = (entry: Request.Entry<R>, cause: Cause.Cause<Request.Error<R>>) =>
    Effect.sync(() => entry.completeUnsafe(Exit.failCause(cause) as Exit.Exit<Request.Success<R>, Request.Error<R>>)).pipe(
      Effect.andThen(
        options.onFailure === undefined
          ? Effect.void
          : Option.match(Cause.findErrorOption(cause), { onNone: () => Effect.void, onSome: options.onFailure })
      )
    )
  const answer = (entries: ReadonlyArray<Request.Entry<R>>, plan: P) =>
    Effect.gen(function*() {
      if (options.onCommitted !== undefined) yield* options.onCommitted(plan)
      const outcomes = options.outcomes(plan)
      for (let i = 0; i < entries.length; i++) {
        const outcome = outcomes[i]!
        if (Result.isFailure(outcome) && options.onFailure !== undefined) yield* options.onFailure(outcome.failure)
        entries[i]!.completeUnsafe(Result.isSuccess(outcome) ? Exit.succeed(outcome.success) : Exit.fail(outcome.failure))
      }
    })
  const metrics = Metrics.batchMetrics(options.name)
  /** Commits `entries` in one unit of work; a committed one is counted in the batch metrics. */
  const commit = (entries: ReadonlyArray<Request.Entry<R>>) =>
    Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(options.commit(entries.map((entry) => entry.request)))
      if (Exit.isSuccess(exit)) {
        yield* Metric.update(metrics.size, entries.length)
        yield* Metric.update(metrics.seconds, ((yield* Clock.currentTimeMillis) - started) / 1000)
      }
      return exit
    })
  const run = (entries: NonEmptyReadonlyArray<Request.Entry<R>>) =>
    Effect.gen(function*() {
      const exit = yield* commit(entries)
      if (Exit.isSuccess(exit)) return yield* answer(entries, exit.value)
      // An outage fails every command as it is: committing them one by one would only add load.
      if (entries.length === 1 || isOutage(exit.cause)) {
        for (const entry of entries) yield* fail(entry, exit.cause)
        return
      }
      for (const entry of entries) {
        const alone = yield* commit([entry])
        if (Exit.isSuccess(alone)) yield* answer([entry], alone.value)
        else yield* fail(entry, alone.cause)
      }
    })
  // The delay waits for a free slot without taking it: there is one pending batch at a time, so
  // nothing can take the slot in between; the batch takes it while it runs.
  return RequestResolver.make<R>((entries) => options.slots.withPermits(1)(run(entries))).pipe(
    RequestResolver.setDelayEffect(Effect.andThen(Effect.yieldNow, options.slots.withPermits(1)(Effect.void))),
    RequestResolver.batchN(options.maxBatchSize)
  )
}
