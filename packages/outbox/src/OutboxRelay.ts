/**
 * The relay: a background fiber that moves messages from the {@link OutboxStore} to the
 * {@link OutboxPublisher}. Run one in every process: relays coordinate only through the store's leases,
 * so any number of them, in any number of processes, deliver each message once while no lease expires,
 * and in order per aggregate.
 *
 * Each cycle claims a batch (under a lease that a heartbeat extends), hands the whole batch to the
 * publisher (`publishBatch`: pipelined to NATS, one `publishAll` in process, one message at a time per
 * aggregate to webhooks with `concurrency` aggregates at once), then marks the delivered ones in one
 * statement. A message counts as delivered only if it and every earlier message of its aggregate in
 * the batch were acknowledged. At an aggregate's first failure the rest of its batch is given back
 * untouched, and the failed message is retried after a jittered exponential delay (attempts are
 * persisted, so the backoff continues across processes) or dead-lettered after `maxAttempts` (at once
 * when the target rejects it for good). A relay whose lease was lost (heartbeat found it expired and
 * taken) does not send those messages.
 *
 * Outages are the target's, not the messages': a message the target could not even be reached for
 * (`PublishError.isOutage`) is given back without counting an attempt, and the relay probes again after
 * a short backoff capped at {@link OUTAGE_BACKOFF_CAP}, so delivery resumes within about a second of the
 * target's return, whatever the outage's length. The same cap bounds the wait after a store failure
 * (database restart, connection reset); and a cycle cut short by one gives back everything this relay
 * still holds before it claims again, so nothing waits for its own lease to expire.
 *
 * A relay wakes on {@link OutboxSignal} (PostgreSQL `LISTEN`) and polls every `pollInterval` anyway,
 * so a missed notification, or a database without `NOTIFY` (PGlite), only costs latency. Wake-ups are
 * debounced: after a full batch the relay claims again at once; otherwise it waits, and any number of
 * signals that arrived during the cycle end that wait together, costing one follow-up claim. It also
 * keeps the gauges of {@link OutboxMetrics} fresh and purges delivered messages after `retention`.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Config,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  Pull,
  Schedule,
  Semaphore
} from "effect"
import { SecureRandom } from "effect/crypto"
import * as ClaimAhead from "./OutboxClaimAhead.ts"
import type { ClaimedMessage } from "./OutboxMessage.ts"
import * as OutboxMetrics from "./OutboxMetrics.ts"
import { type Outcome, OutboxPublisher, PublishError } from "./OutboxPublisher.ts"
import { OutboxSignal } from "./OutboxSignal.ts"
import { OutboxStore, type OutboxStoreError } from "./OutboxStore.ts"

/**
 * A claim's lease, kept alive by the heartbeat (every third of it): short, so that the messages of a
 * process killed mid-cycle go to the other relays within seconds, not after half a minute.
 */
const DEFAULT_LEASE = Duration.seconds(4)

/** @since 0.1.0 */
export interface Options {
  /** Messages claimed per cycle; default 200. */
  readonly batchSize?: number | undefined
  /** Longest wait between cycles without a signal; default 1 second (use less without `LISTEN`). */
  readonly pollInterval?: Duration.Input | undefined
  /**
   * How long a woken relay waits before it claims (default 10 ms): commits that land meanwhile are
   * claimed, published and marked together, so a burst of small transactions costs one cycle of
   * statements instead of one per commit. The publishing latency it adds is this delay.
   */
  readonly wakeDelay?: Duration.Input | undefined
  /**
   * Lease per claim; default 4 seconds, extended by the heartbeat while the relay lives. A relay that
   * stalls longer (no heartbeat for two thirds of it) may see its messages redelivered, dropped by id
   * downstream; a relay that dies gives them up to the others within the lease.
   */
  readonly lease?: Duration.Input | undefined
  /** How often held leases are extended; default a third of `lease`. */
  readonly heartbeatInterval?: Duration.Input | undefined
  /** Attempts before a message is dead-lettered; default 10. */
  readonly maxAttempts?: number | undefined
  /**
   * Delay before retry `n` (input: the attempt number, 1-based), replayed from the persisted attempt
   * count. Default: exponential from 1 second, capped at 5 minutes, jittered ±20 %. Only for counted
   * failures: a target out of reach is probed after {@link outageBackoff} instead.
   */
  readonly retrySchedule?: Schedule.Schedule<any, number> | undefined
  /** Aggregates published concurrently within a batch by one-message-at-a-time publishers; default 16. */
  readonly concurrency?: number | undefined
  /** Delivered messages older than this are deleted; default 7 days. `undefined`-safe; `Infinity` keeps them. */
  readonly retention?: Duration.Input | undefined
  /** How often to purge; default 1 hour. */
  readonly purgeInterval?: Duration.Input | undefined
  /** How often to refresh the pending/lag/dead-letter gauges; default 5 seconds. */
  readonly statsInterval?: Duration.Input | undefined
  /** Lease owner name; default `relay-<uuid>`. Must be unique per relay. */
  readonly owner?: string | undefined
}

/**
 * Default retry delays: 1 s, 2 s, 4 s … capped at 5 minutes, each jittered by ±20 %.
 *
 * @since 0.1.0
 */
export const defaultRetrySchedule: Schedule.Schedule<any, number> = Schedule.min([
  Schedule.exponential(Duration.seconds(1)),
  Schedule.spaced(Duration.minutes(5))
]).pipe(Schedule.jittered)

/**
 * The longest wait between two tries of a relay whose target or store is out of reach: how late
 * delivery may resume after the dependency returns.
 *
 * @since 0.2.0
 */
export const OUTAGE_BACKOFF_CAP: Duration.Duration = Duration.seconds(1)

/**
 * The waits of a relay whose target or store is out of reach: 100 ms doubling, capped at
 * {@link OUTAGE_BACKOFF_CAP}, each jittered by ±20 % (so that the relays of many processes do not
 * probe a returning dependency in step).
 *
 * @since 0.2.0
 */
export const outageBackoff: Schedule.Schedule<any, unknown> = Schedule.min([
  Schedule.exponential(Duration.millis(100)),
  Schedule.spaced(OUTAGE_BACKOFF_CAP)
]).pipe(Schedule.jittered)

/**
 * The delay before retry number `attempts` (1-based) under `schedule`: the schedule is replayed up to
 * that attempt, so a retry in another process continues the same progression.
 *
 * @since 0.1.0
 */
export const retryDelay = (
  schedule: Schedule.Schedule<any, number>,
  attempts: number
): Effect.Effect<Duration.Duration> =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(schedule)
    let now = 0
    let delay = Duration.zero
    for (let i = 0; i < attempts; i++) {
      const result = yield* Pull.catchDone(step(now, i + 1), () => Effect.undefined)
      if (result === undefined) break
      delay = result[1]
      now += Duration.toMillis(delay)
    }
    return delay
  }).pipe(Effect.orDie)

/**
 * @since 0.1.0
 */
export class OutboxRelay extends Context.Service<OutboxRelay, {
  /** This relay's lease owner name. */
  readonly owner: string
  /** One cycle: claim a batch, deliver it, record the outcome. Returns how many messages were claimed. */
  readonly runOnce: Effect.Effect<number, OutboxStoreError>
  /** Refreshes the gauges from the store now. */
  readonly refreshStats: Effect.Effect<void, OutboxStoreError>
}>()("@live-events/outbox/OutboxRelay") {}

const describe = (cause: Cause.Cause<PublishError>): { readonly text: string; readonly retryable: boolean } => {
  const error = Cause.squash(cause)
  if (error instanceof PublishError) return { text: error.message, retryable: error.isRetryable }
  return { text: Cause.pretty(cause).slice(0, 2000), retryable: true }
}

/** What becomes of a published batch in the store. */
interface Settlement {
  readonly delivered: Array<ClaimedMessage>
  readonly failed: Array<readonly [ClaimedMessage, Cause.Cause<PublishError>]>
  readonly givenBack: Array<number>
  /** Some message failed because the target could not be reached. */
  outage: boolean
}

const isOutage = (cause: Cause.Cause<PublishError>): boolean => {
  const error = Cause.squash(cause)
  return error instanceof PublishError && error.isOutage
}

/**
 * Per aggregate: the acknowledged prefix is delivered; its first failure is retried or dead-lettered
 * (or given back, when the target was out of reach); whatever follows it (even if the target
 * acknowledged it) is given back, so that it is published again after the failed message and never
 * marked before it.
 */
const settle = (claimed: ReadonlyArray<ClaimedMessage>, outcomes: ReadonlyArray<Outcome>): Settlement => {
  const settlement: Settlement = { delivered: [], failed: [], givenBack: [], outage: false }
  const stopped = new Set<string>()
  for (let i = 0; i < claimed.length; i++) {
    const message = claimed[i]!
    const outcome = outcomes[i]
    if (stopped.has(message.aggregateId)) settlement.givenBack.push(message.position)
    else if (outcome !== undefined && Exit.isSuccess(outcome)) settlement.delivered.push(message)
    else {
      stopped.add(message.aggregateId)
      // Not sent, or cut short by an interruption: no attempt to count.
      if (outcome === undefined || Cause.hasInterruptsOnly(outcome.cause)) settlement.givenBack.push(message.position)
      else if (isOutage(outcome.cause)) {
        // The target was out of reach: the message is given back as it was, its attempts untouched.
        settlement.givenBack.push(message.position)
        settlement.outage = true
      } else settlement.failed.push([message, outcome.cause])
    }
  }
  return settlement
}

/**
 * What one cycle did.
 *
 * @since 0.2.0
 */
export interface Cycle {
  readonly claimed: number
  /** Claim again at once: a full batch, or a short one from a longer backlog. */
  readonly goOn: boolean
  /** Some message was given back because the target could not be reached: back off, then try again. */
  readonly outage: boolean
}

/**
 * Builds a relay without starting it (see {@link layer} for the running one).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<
  OutboxRelay["Service"] & {
    readonly heartbeat: Effect.Effect<void, OutboxStoreError>
    /**
     * `runOnce`, saying also whether to go on at once (a full batch, or a short one from a long backlog)
     * and whether the target was out of reach (then back off instead).
     */
    readonly cycle: Effect.Effect<Cycle, OutboxStoreError>
  },
  never,
  OutboxStore | OutboxPublisher
> =>
  Effect.gen(function*() {
    const store = yield* OutboxStore
    const publisher = yield* OutboxPublisher
    const owner = options.owner ?? `relay-${SecureRandom.uuidV4Unsafe()}`
    const batchSize = options.batchSize ?? 200
    const lease = Duration.fromInputUnsafe(options.lease ?? DEFAULT_LEASE)
    const maxAttempts = Math.max(1, options.maxAttempts ?? 10)
    const schedule = options.retrySchedule ?? defaultRetrySchedule
    const concurrency = options.concurrency ?? 16
    // The heads this relay holds a lease on (the first message of each aggregate of a batch: only they
    // carry the lease), each with its aggregate's positions in the batch; and the positions whose head's
    // lease turned out lost (not to be sent).
    const held = new Map<number, ReadonlyArray<number>>()
    const lost = new Set<number>()
    // A cycle failed (the store went away mid-cycle): rows it claimed may still carry this relay's lease,
    // including a claim whose answer was lost with the connection. Given back before the next claim, so
    // they are delivered as soon as the store answers again rather than when the lease expires.
    let stranded = false
    // One cycle at a time per relay (the loop and `runOnce` callers): giving back "everything this
    // relay holds" is only right while none of its cycles is in flight.
    const oneAtATime = yield* Semaphore.make(1)

    const fail = Effect.fnUntraced(function*(message: ClaimedMessage, cause: Cause.Cause<PublishError>) {
      const attempts = message.attempts + 1
      const { retryable, text } = describe(cause)
      if (!retryable || attempts >= maxAttempts) {
        yield* store.deadLetter(owner, message.position, text)
        yield* Metric.update(OutboxMetrics.deadLettered, 1)
        yield* Effect.logWarning("Outbox message dead-lettered").pipe(
          Effect.annotateLogs({ messageId: message.id, type: message.type, attempts, error: text })
        )
      } else {
        yield* store.retryLater(owner, message.position, text, yield* retryDelay(schedule, attempts))
        yield* Metric.update(OutboxMetrics.retried, 1)
      }
    })

    // The batch in flight and its outcomes known so far, so that an interruption (shutdown) can settle it.
    let inFlight: ReadonlyArray<ClaimedMessage> = []
    let known: ReadonlyArray<Outcome> = []

    const holdAll = (messages: ReadonlyArray<ClaimedMessage>) => {
      const runs = new Map<string, Array<number>>()
      for (const message of messages) {
        const run = runs.get(message.aggregateId)
        if (run === undefined) runs.set(message.aggregateId, [message.position])
        else run.push(message.position)
      }
      for (const run of runs.values()) held.set(run[0]!, run)
    }
    const forget = (messages: ReadonlyArray<ClaimedMessage>) => {
      for (const message of messages) {
        held.delete(message.position)
        lost.delete(message.position)
      }
    }

    const claim = store.claimBatch({ owner, limit: batchSize, lease })
    // The next batch, claimed while the current one is published (pipelining, see OutboxClaimAhead).
    const ahead = ClaimAhead.make(claim, (batch) => holdAll(batch.messages), (batch) => forget(batch.messages))

    /** Abandons a claim ahead and gives its rows back in the store. */
    const giveBackAhead: Effect.Effect<void, OutboxStoreError> = Effect.flatMap(ahead.abandon, (batch) =>
      batch === undefined ? Effect.void : store.release(owner, batch.messages.map((message) => message.position)))

    // The previous batch's settlement (marking it published, giving back the rest), still running while
    // the next batch is published: at most one at a time, and any failure surfaces in the next cycle.
    let settling: Fiber.Fiber<void, OutboxStoreError> | undefined
    const settled: Effect.Effect<void, OutboxStoreError> = Effect.suspend(() => {
      const fiber = settling
      settling = undefined
      return fiber === undefined ? Effect.void : Fiber.join(fiber)
    })

    const record = Effect.fnUntraced(function*(messages: ReadonlyArray<ClaimedMessage>) {
      yield* store.markPublished(messages.map((message) => message.position))
      const now = yield* Clock.currentTimeMillis
      yield* Metric.update(OutboxMetrics.published, messages.length)
      for (const message of messages) {
        yield* Metric.update(OutboxMetrics.deliverySeconds, Math.max(0, now - message.occurredAt.getTime()) / 1000)
      }
    })

    // On shutdown: record what was delivered and give back the rest, so another relay takes it over at
    // once instead of after the lease. Best effort: if the database is gone, the lease expires instead.
    const settleInterrupted = Effect.suspend(() => {
      const done = settle(inFlight, known).delivered
      const recorded = new Set(done.map((message) => message.position))
      // A previous batch's settlement in flight (uninterruptible) is waited for, then the claim ahead.
      return Effect.andThen(Effect.ignore(settled), ahead.abandon).pipe(Effect.flatMap((abandoned) => {
        // The batch in flight (its heads may already be forgotten while it is settled) and whatever else
        // this relay holds.
        const holding = new Set([...inFlight.map((message) => message.position), ...held.keys()])
        const givenBack = Array.from(holding).filter((position) => !recorded.has(position))
        for (const message of abandoned?.messages ?? []) givenBack.push(message.position)
        return Effect.andThen(record(done), store.release(owner, givenBack))
      })).pipe(
        Effect.tapCause((cause) => Effect.logWarning("Outbox relay could not settle its batch on shutdown", cause)),
        Effect.ignore
      )
    })

    const cycleWith = (pipelined: boolean) => {
      // This cycle's batch while this relay holds it (the heartbeat extends its lease).
      let claimed: ReadonlyArray<ClaimedMessage> = []
      return Effect.gen(function*() {
        claimed = []
        if (stranded) {
          yield* store.releaseAll(owner)
          stranded = false
        }
        // A claim ahead that found nothing ran before the previous batch was marked: claim again now.
        const early = yield* ahead.take
        const { messages, more } = early !== undefined && early.messages.length > 0 ? early : yield* claim
        claimed = messages
        if (claimed.length === 0) {
          yield* settled
          return { claimed: 0, goOn: false, outage: false }
        }
        holdAll(claimed)
        if (pipelined && (more || claimed.length >= batchSize)) yield* ahead.start
        const progress: Array<Outcome> = new Array(claimed.length).fill(undefined)
        inFlight = claimed
        known = progress
        const outcomes = yield* publisher.publishBatch(claimed, {
          concurrency,
          skip: (i) => lost.has(claimed[i]!.position),
          onOutcome: (i, outcome) => {
            progress[i] = outcome as Outcome
          }
        })
        const { delivered, failed, givenBack, outage } = settle(claimed, outcomes)
        // About to be settled or given back: no longer this cycle's to hold. Forgotten first, since the
        // claim ahead may take some of these rows again as soon as the delivered ones are marked.
        forget(claimed)
        claimed = []
        // Failures first: a failed message behind a delivered one carries no lease of its own, and once its
        // predecessors are marked it is its aggregate's head, free to claim; its retry time (or dead
        // letter) must be recorded before another relay can take it.
        for (const [message, cause] of failed) yield* fail(message, cause)
        yield* settled
        const goOn = !outage && (more || messages.length >= batchSize)
        // Marking the delivered messages changes nothing for the next batch (claimed already, of other
        // aggregates): with more to do, it runs while the next batch is published. Uninterruptible, so
        // that a shutdown waits for it rather than leaving a half-known outcome.
        const settlement = Effect.andThen(record(delivered), store.release(owner, givenBack))
        if (pipelined && goOn) settling = yield* Effect.forkChild(Effect.uninterruptible(settlement))
        else yield* settlement
        inFlight = []
        // The target is out of reach: the batch claimed ahead would fail the same way; give it back now
        // rather than hold it through the backoff.
        if (outage) yield* giveBackAhead
        return { claimed: messages.length, goOn, outage }
      }).pipe(
        Effect.onInterrupt(() => settleInterrupted),
        Effect.onError((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.andThen(
            // The next cycle gives back everything this relay holds (`releaseAll`), a claim ahead included,
            // once nothing of this relay's is in flight.
            Effect.andThen(Effect.ignore(settled), ahead.abandon),
            Effect.sync(() => {
              stranded = true
            })
          )
        ),
        // Cut short: this relay no longer holds the batch (given back on interruption, released by the
        // next cycle after a failure). Any claim ahead was abandoned first, so nothing re-adds these rows.
        Effect.ensuring(Effect.sync(() => {
          forget(claimed)
          inFlight = []
          known = []
        })),
        Effect.withSpan("OutboxRelay.runOnce", { attributes: { owner } }),
        oneAtATime.withPermits(1)
      )
    }
    const cycle = cycleWith(true)

    const heartbeat = Effect.gen(function*() {
      if (held.size === 0) return
      const heads = Array.from(held.keys())
      const still = new Set(yield* store.extendLease(owner, heads, lease))
      for (const head of heads) {
        // Lost with its head: the whole run, which another relay may be delivering now.
        const run = held.get(head)
        if (!still.has(head) && run !== undefined) for (const position of run) lost.add(position)
      }
    })

    const refreshStats = Effect.gen(function*() {
      const stats = yield* store.stats
      const now = yield* Clock.currentTimeMillis
      yield* Metric.update(OutboxMetrics.pending, stats.pending)
      yield* Metric.update(OutboxMetrics.deadLetters, stats.deadLettered)
      yield* Metric.update(
        OutboxMetrics.lagSeconds,
        stats.oldestPendingAt === null ? 0 : Math.max(0, now - stats.oldestPendingAt.getTime()) / 1000
      )
    })

    // One cycle on demand claims nothing ahead: it leaves no batch held behind it.
    const runOnce = Effect.map(cycleWith(false), (result) => result.claimed)

    return { owner, runOnce, refreshStats, heartbeat, cycle }
  })

/**
 * Starts a relay for the lifetime of the layer: the delivery loop, the lease heartbeat, the gauge
 * refresh and the purge, each a fiber of the layer's scope. Store failures (database down) are logged
 * and retried after {@link outageBackoff} (at most a second apart); the relay never dies of them. On shutdown it gives back the messages it
 * holds, so another relay takes them over at once instead of after the lease.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<OutboxRelay, never, OutboxStore | OutboxPublisher | OutboxSignal> =>
  Layer.effect(
    OutboxRelay,
    Effect.gen(function*() {
      const store = yield* OutboxStore
      const signal = yield* OutboxSignal
      const relay = yield* make(options)
      const pollInterval = Duration.fromInputUnsafe(options.pollInterval ?? Duration.seconds(1))
      const wakeDelay = Duration.fromInputUnsafe(options.wakeDelay ?? Duration.millis(10))
      const awaitWork = (seen: number) =>
        Duration.isZero(wakeDelay)
          ? Effect.raceFirst(Effect.sleep(pollInterval), signal.awaitAfter(seen))
          : Effect.andThen(Effect.raceFirst(Effect.sleep(pollInterval), signal.awaitAfter(seen)), Effect.sleep(wakeDelay))
      const lease = Duration.fromInputUnsafe(options.lease ?? DEFAULT_LEASE)
      const heartbeatInterval = Duration.fromInputUnsafe(
        options.heartbeatInterval ?? Duration.millis(Duration.toMillis(lease) / 3)
      )
      const retention = Duration.fromInputUnsafe(options.retention ?? Duration.days(7))
      const annotate = Effect.annotateLogs({ module: "OutboxRelay", owner: relay.owner })
      // Consecutive cycles that found the target out of reach: the next wait's step in `outageBackoff`.
      let outages = 0

      const loop = Effect.gen(function*() {
        const seen = yield* signal.generation
        const { goOn, outage } = yield* relay.cycle.pipe(
          Effect.tapCause((cause) => Effect.logWarning("Outbox relay cycle failed; retrying", cause)),
          Effect.sandbox,
          // The store is out of reach (restart, reset, black hole): try again within a second at most.
          Effect.retry(outageBackoff)
        )
        if (outage) {
          // Not `awaitWork`: commits keep signalling during a broker outage, and each signal would
          // send another batch at the broker that is not there.
          outages++
          return yield* Effect.sleep(yield* retryDelay(outageBackoff, outages))
        }
        outages = 0
        // A full batch, or a short one from a backlog longer than a batch: claim again at once (more is
        // waiting, or soon freed by another relay). Otherwise everything claimable was claimed: wait for
        // a signal or the poll interval (which bounds the wait: retries coming due, aggregates another
        // relay held). Signals that arrived during this cycle, however many, end the wait at once
        // together: a burst costs one follow-up claim, not one per notification — and the wake delay
        // lets the commits right behind the first one join it.
        if (!goOn) yield* awaitWork(seen)
      })

      const every = <E>(interval: Duration.Input, task: Effect.Effect<unknown, E>, what: string) =>
        task.pipe(
          Effect.tapCause((cause) => Effect.logWarning(`Outbox ${what} failed`, cause)),
          Effect.sandbox,
          Effect.ignore,
          Effect.repeat(Schedule.spaced(interval))
        )

      yield* Effect.forkScoped(Effect.forever(loop).pipe(annotate))
      yield* Effect.forkScoped(every(heartbeatInterval, relay.heartbeat, "lease heartbeat").pipe(annotate))
      yield* Effect.forkScoped(
        every(options.statsInterval ?? Duration.seconds(5), relay.refreshStats, "stats refresh").pipe(annotate)
      )
      if (Duration.isFinite(retention)) {
        yield* Effect.forkScoped(
          every(options.purgeInterval ?? Duration.hours(1), store.purge(retention), "purge").pipe(annotate)
        )
      }
      return OutboxRelay.of({ owner: relay.owner, runOnce: relay.runOnce, refreshStats: relay.refreshStats })
    })
  )

/**
 * Relay settings from configuration (environment variables by default):
 * `OUTBOX_BATCH_SIZE` (200), `OUTBOX_POLL_INTERVAL` ("1 second"), `OUTBOX_WAKE_DELAY` ("10 millis"),
 * `OUTBOX_LEASE` ("30 seconds"),
 * `OUTBOX_MAX_ATTEMPTS` (10), `OUTBOX_CONCURRENCY` (16), `OUTBOX_RETENTION` ("7 days").
 *
 * @since 0.1.0
 */
export const config: Config.Config<Options> = Config.all({
  batchSize: Config.Int("OUTBOX_BATCH_SIZE").pipe(Config.withDefault(200)),
  pollInterval: Config.Duration("OUTBOX_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1))),
  wakeDelay: Config.Duration("OUTBOX_WAKE_DELAY").pipe(Config.withDefault(Duration.millis(10))),
  lease: Config.Duration("OUTBOX_LEASE").pipe(Config.withDefault(DEFAULT_LEASE)),
  maxAttempts: Config.Int("OUTBOX_MAX_ATTEMPTS").pipe(Config.withDefault(10)),
  concurrency: Config.Int("OUTBOX_CONCURRENCY").pipe(Config.withDefault(16)),
  retention: Config.Duration("OUTBOX_RETENTION").pipe(Config.withDefault(Duration.days(7)))
})

/**
 * {@link layer} with settings from {@link config}, overridable per field.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  overrides: Options = {}
): Layer.Layer<OutboxRelay, Config.ConfigError, OutboxStore | OutboxPublisher | OutboxSignal> =>
  Layer.unwrap(Effect.map(config, (fromConfig: Options) => layer({ ...fromConfig, ...overrides })))
