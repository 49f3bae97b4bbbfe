/**
 * How fast a relay resumes after a dependency returns, on the memory store and the TestClock (no wall
 * clock): a cycle cut short by the store gives back what it held instead of leaving it leased; a
 * store that is down is tried again at most a second apart; a broker out of reach costs the messages
 * no attempt, is probed at most a second apart however many commits signal meanwhile, and delivery
 * resumes within that second of its return.
 */
import { expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as OutboxMetrics from "../src/OutboxMetrics.ts"
import * as OutboxPublisher from "../src/OutboxPublisher.ts"
import * as OutboxRelay from "../src/OutboxRelay.ts"
import * as OutboxSignal from "../src/OutboxSignal.ts"
import * as OutboxStore from "../src/OutboxStore.ts"
import { makeRecorder, message, recordingPublisher, uuid } from "./Fixtures.ts"

const connectionLost = (operation: string) =>
  new OutboxStore.OutboxStoreError({ reason: "unavailable", operation, cause: "connection terminated" })

/** The memory store with a switch that makes every call fail as a lost connection; calls and claims counted. */
const flakyStore = Effect.gen(function*() {
  const memory = yield* OutboxStore.makeMemory
  const state = { down: false, claims: 0, calls: 0 }
  const guard = <A>(operation: string, effect: Effect.Effect<A, OutboxStore.OutboxStoreError>) =>
    Effect.suspend(() => {
      state.calls++
      return state.down ? Effect.fail(connectionLost(operation)) : effect
    })
  const store = OutboxStore.OutboxStore.of({
    ...memory,
    claimBatch: (options) =>
      Effect.suspend(() => {
        state.claims++
        return guard("claim", memory.claimBatch(options))
      }),
    markPublished: (positions) => guard("markPublished", memory.markPublished(positions)),
    release: (owner, positions) => guard("release", memory.release(owner, positions)),
    releaseAll: (owner) => guard("releaseAll", memory.releaseAll(owner))
  })
  return { memory, store, state }
})

/** Advances the TestClock in steps, letting the relay's fibers run between them. */
const advance = (total: Duration.Input, step: Duration.Input = "50 millis") =>
  Effect.gen(function*() {
    const steps = Math.round(Duration.toMillis(Duration.fromInputUnsafe(total)) / Duration.toMillis(Duration.fromInputUnsafe(step)))
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust(step)
      yield* Effect.yieldNow
    }
  })

it.effect("a cycle cut short after its claim gives the batch back: the next cycle delivers it, not the lease's expiry", () =>
  Effect.gen(function*() {
    const { memory, state, store } = yield* flakyStore
    const recorder = makeRecorder()
    const a = uuid()
    yield* memory.enqueue([message(a), message(a), message(uuid())])
    let cuts = 1
    const relay = yield* OutboxRelay.make({ owner: "relay-cut", lease: Duration.minutes(5) }).pipe(
      Effect.provideService(OutboxStore.OutboxStore, {
        ...store,
        // The connection dies after the broker took the batch, before it is marked.
        markPublished: (positions) =>
          Effect.suspend(() => {
            if (cuts-- > 0) state.down = true
            return store.markPublished(positions)
          })
      }),
      Effect.provideService(OutboxPublisher.OutboxPublisher, recordingPublisher(recorder, "relay-cut"))
    )
    const failed = yield* Effect.flip(relay.runOnce)
    expect(failed.reason).toBe("unavailable")
    expect(recorder.published).toHaveLength(3)

    // The store answers again; the lease (5 minutes) has not expired: the relay's own rows come back.
    state.down = false
    const again = yield* OutboxRelay.make({ owner: "relay-cut", lease: Duration.minutes(5) }).pipe(
      Effect.provideService(OutboxStore.OutboxStore, store),
      Effect.provideService(OutboxPublisher.OutboxPublisher, recordingPublisher(recorder, "relay-cut"))
    )
    expect(yield* again.runOnce).toBe(0) // a fresh relay knows nothing of them: they are still leased
    expect(yield* relay.runOnce).toBe(3) // the relay whose cycle failed gives them back and takes them
    expect(yield* memory.stats).toMatchObject({ pending: 0, deadLettered: 0 })
    // Published twice (at least once): the broker drops the copies by message id.
    expect(recorder.published.map((entry) => entry.message.id).slice(3)).toEqual(
      recorder.published.map((entry) => entry.message.id).slice(0, 3)
    )
  }))

it.effect("a claim whose answer was lost with the connection is given back before the next claim", () =>
  Effect.gen(function*() {
    const { memory, state, store } = yield* flakyStore
    const recorder = makeRecorder()
    yield* memory.enqueue([message(uuid()), message(uuid())])
    let lostAnswers = 1
    const relay = yield* OutboxRelay.make({ owner: "relay-lost-answer", lease: Duration.minutes(5) }).pipe(
      Effect.provideService(OutboxStore.OutboxStore, {
        ...store,
        // The claim commits in the database, then the connection dies before its rows arrive.
        claimBatch: (options) =>
          Effect.flatMap(store.claimBatch(options), (batch) =>
            lostAnswers-- > 0 ? Effect.fail(connectionLost("claim")) : Effect.succeed(batch))
      }),
      Effect.provideService(OutboxPublisher.OutboxPublisher, recordingPublisher(recorder))
    )
    yield* Effect.flip(relay.runOnce)
    expect(recorder.published).toHaveLength(0)
    expect(state.claims).toBe(1)
    expect(yield* relay.runOnce).toBe(2)
    expect(recorder.published).toHaveLength(2)
    expect(yield* memory.stats).toMatchObject({ pending: 0 })
  }))

it.effect("a store that is down is tried again at most a second apart; delivery resumes within a second of its return", () =>
  Effect.gen(function*() {
    const { memory, state, store } = yield* flakyStore
    const recorder = makeRecorder()
    const signal = yield* OutboxSignal.make
    yield* Layer.build(
      OutboxRelay.layer({ owner: "relay-store-down", pollInterval: Duration.seconds(30) }).pipe(
        Layer.provide(Layer.mergeAll(
          Layer.succeed(OutboxStore.OutboxStore, store),
          Layer.succeed(OutboxPublisher.OutboxPublisher, recordingPublisher(recorder)),
          Layer.succeed(OutboxSignal.OutboxSignal, signal)
        ))
      )
    )
    yield* advance("100 millis")
    state.down = true
    yield* memory.enqueue([message(uuid())])
    yield* signal.nudge
    const before = state.calls
    yield* advance("30 seconds")
    // 100 ms doubling to the 1 s cap: 30 s of outage are about 27 tries (a 10 s cap would be 9).
    expect(state.calls - before).toBeGreaterThanOrEqual(25)
    state.down = false
    yield* advance("1300 millis")
    expect(recorder.published).toHaveLength(1)
  }))

it.effect("a broker out of reach: no attempt counted, probed at most a second apart whatever the signals, resumed within a second", () =>
  Effect.gen(function*() {
    const memory = yield* OutboxStore.makeMemory
    const recorder = makeRecorder()
    recorder.failing = "unavailable"
    const signal = yield* OutboxSignal.make
    const retriedBefore = (yield* Metric.value(OutboxMetrics.retried)).count
    yield* Layer.build(
      OutboxRelay.layer({ owner: "relay-broker-down", maxAttempts: 2, pollInterval: Duration.seconds(30) }).pipe(
        Layer.provide(Layer.mergeAll(
          Layer.succeed(OutboxStore.OutboxStore, memory),
          Layer.succeed(OutboxPublisher.OutboxPublisher, recordingPublisher(recorder)),
          Layer.succeed(OutboxSignal.OutboxSignal, signal)
        ))
      )
    )
    const a = uuid()
    const written = [message(a), message(a)]
    yield* memory.enqueue(written)
    // Commits keep signalling during the outage (200 signals in 20 s).
    for (let i = 0; i < 200; i++) {
      yield* signal.nudge
      yield* advance("100 millis")
    }
    // Each probe sends the aggregate's head only; at least one a second, far from one per signal.
    expect(recorder.calls).toBeGreaterThanOrEqual(18)
    expect(recorder.calls).toBeLessThanOrEqual(40)
    expect((yield* Metric.value(OutboxMetrics.retried)).count - retriedBefore).toBe(0)
    expect(yield* memory.stats).toMatchObject({ pending: 2, deadLettered: 0 })
    const [head] = yield* memory.claim({ owner: "observer", limit: 1, lease: Duration.millis(1) })
    expect(head?.attempts).toBe(0)

    recorder.failing = false
    yield* advance("1300 millis")
    expect(recorder.published.map((entry) => entry.message.id)).toEqual(written.map((m) => m.id))
    expect(yield* memory.stats).toMatchObject({ pending: 0, deadLettered: 0 })
  }))

it.effect("a message the broker answered with a failure still counts its attempts and is dead-lettered", () =>
  Effect.gen(function*() {
    const memory = yield* OutboxStore.makeMemory
    const recorder = makeRecorder()
    recorder.failing = "failed"
    const relay = yield* OutboxRelay.make({ owner: "relay-failed", maxAttempts: 2 }).pipe(
      Effect.provideService(OutboxStore.OutboxStore, memory),
      Effect.provideService(OutboxPublisher.OutboxPublisher, recordingPublisher(recorder))
    )
    yield* memory.enqueue([message(uuid())])
    yield* relay.runOnce
    yield* TestClock.adjust("1 minute")
    yield* relay.runOnce
    expect(recorder.calls).toBe(2)
    expect(yield* memory.stats).toMatchObject({ pending: 0, deadLettered: 1 })
  }))
