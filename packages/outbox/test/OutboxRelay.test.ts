/**
 * The relay end to end on every store: two relays at once deliver each message once and in order per
 * aggregate; a failing publisher shows retries in the metrics, dead-letters after maxAttempts, and a
 * redrive publishes; on PostgreSQL, LISTEN/NOTIFY wakes a relay without polling. Wake-ups are
 * debounced: signals during a cycle cost one follow-up claim, a cycle without signals none.
 */
import { expect, it, layer } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer, Metric, Schedule } from "effect"
import * as OutboxMetrics from "../src/OutboxMetrics.ts"
import * as OutboxPublisher from "../src/OutboxPublisher.ts"
import * as OutboxRelay from "../src/OutboxRelay.ts"
import * as OutboxSignal from "../src/OutboxSignal.ts"
import * as OutboxStore from "../src/OutboxStore.ts"
import {
  eventually,
  exec,
  makeRecorder,
  message,
  pglite,
  postgresPools,
  type Recorder,
  recordingLayer,
  shared,
  uuid
} from "./Fixtures.ts"

/** Starts a relay in the current scope over `store`, publishing through `recorder`. */
const startRelay = (
  store: Layer.Layer<OutboxStore.OutboxStore>,
  recorder: Recorder,
  name: string,
  options: OutboxRelay.Options = {},
  signal: Layer.Layer<OutboxSignal.OutboxSignal> = OutboxSignal.layer
) =>
  Layer.build(
    OutboxRelay.layer({ pollInterval: Duration.millis(10), owner: name, ...options }).pipe(
      Layer.provide(Layer.mergeAll(store, recordingLayer(recorder, name), signal))
    )
  )

const checkOnceAndInOrder = (recorder: Recorder, written: ReadonlyArray<{ id: string; aggregateId: string }>) => {
  const ids = recorder.published.map((entry) => entry.message.id)
  expect(new Set(ids).size).toBe(ids.length)
  expect(ids.length).toBe(written.length)
  const expected = new Map<string, Array<string>>()
  for (const m of written) expected.set(m.aggregateId, [...(expected.get(m.aggregateId) ?? []), m.id])
  const actual = new Map<string, Array<string>>()
  for (const { message: m } of recorder.published) actual.set(m.aggregateId, [...(actual.get(m.aggregateId) ?? []), m.id])
  expect(actual).toEqual(expected)
}

interface Setup {
  /** The store as seen by two independent "processes" (own pool each on SQL). */
  readonly stores: readonly [Layer.Layer<OutboxStore.OutboxStore>, Layer.Layer<OutboxStore.OutboxStore>]
  readonly reset: Effect.Effect<void>
}

const relaySuite = (name: string, setup: Layer.Layer<never>, makeSetup: Effect.Effect<Setup>) =>
  layer(setup, { excludeTestServices: true, timeout: 120_000 })(`OutboxRelay (${name})`, (it) => {
    it.effect("two relays publish every message once, in order per aggregate", () =>
      Effect.gen(function*() {
        const { reset, stores } = yield* makeSetup
        yield* reset
        const recorder = makeRecorder()
        recorder.delayMillis = 0
        yield* startRelay(stores[0], recorder, "relay-1", { batchSize: 50 })
        yield* startRelay(stores[1], recorder, "relay-2", { batchSize: 50 })
        const store = yield* OutboxStore.OutboxStore.use(Effect.succeed).pipe(Effect.provide(stores[0]))
        const aggregates = Array.from({ length: 25 }, uuid)
        const written: Array<{ id: string; aggregateId: string }> = []
        for (let round = 0; round < 40; round++) {
          const batch = Array.from({ length: 25 }, (_, i) => message(aggregates[(round * 7 + i * 3) % 25]!))
          yield* store.enqueue(batch)
          written.push(...batch)
          if (round % 4 === 0) yield* Effect.sleep(5)
        }
        yield* eventually(() => recorder.published.length >= written.length, 30_000, "all published")
        yield* Effect.sleep(100)
        checkOnceAndInOrder(recorder, written)
        const byRelay = new Set(recorder.published.map((entry) => entry.relay))
        expect(byRelay).toEqual(new Set(["relay-1", "relay-2"]))
        expect((yield* store.stats).pending).toBe(0)
      }))

    it.effect("a failing publisher: retries in metrics, dead letters after maxAttempts, redrive publishes", () =>
      Effect.gen(function*() {
        const { reset, stores } = yield* makeSetup
        yield* reset
        const retriedBefore = (yield* Metric.value(OutboxMetrics.retried)).count
        const deadBefore = (yield* Metric.value(OutboxMetrics.deadLettered)).count
        const recorder = makeRecorder()
        recorder.failing = "failed"
        const relay = yield* startRelay(stores[0], recorder, "relay-f", {
          maxAttempts: 3,
          retrySchedule: Schedule.spaced("50 millis")
        })
        const store = yield* OutboxStore.OutboxStore.use(Effect.succeed).pipe(Effect.provide(stores[0]))
        const a = uuid()
        const written = [message(a), message(a), message(uuid()), message(uuid())]
        yield* store.enqueue(written)
        // a1, b, c fail 3 times each and are dead-lettered; then a2 (freed) fails 3 times too.
        yield* Effect.gen(function*() {
          while ((yield* store.stats).deadLettered < 4) yield* Effect.sleep(20)
        }).pipe(Effect.timeout("15 seconds"))
        expect((yield* Metric.value(OutboxMetrics.retried)).count - retriedBefore).toBe(8)
        expect((yield* Metric.value(OutboxMetrics.deadLettered)).count - deadBefore).toBe(4)
        expect(recorder.published).toEqual([])
        expect(recorder.calls).toBe(12)
        const dead = yield* store.listDeadLetters({ limit: 10 })
        expect(dead.items.map((m) => m.id)).toEqual(written.map((m) => m.id))
        expect(dead.items.every((m) => m.attempts === 3 && /scripted failure/.test(m.lastError ?? ""))).toBe(true)
        // the gauges see them
        yield* OutboxRelay.OutboxRelay.use((r) => r.refreshStats).pipe(Effect.provideContext(relay))
        expect((yield* Metric.value(OutboxMetrics.deadLetters)).value).toBe(4)
        // broker back: redrive publishes them (a1 before a2: redriven in order)
        recorder.failing = false
        for (const m of dead.items) yield* store.redrive(m.id)
        yield* eventually(() => recorder.published.length === 4, 10_000, "redriven published")
        checkOnceAndInOrder(recorder, written)
        expect((yield* store.stats).deadLettered).toBe(0)
      }))

    it.effect("a broker outage loses nothing, keeps order and costs no attempt", () =>
      Effect.gen(function*() {
        const { reset, stores } = yield* makeSetup
        yield* reset
        const retriedBefore = (yield* Metric.value(OutboxMetrics.retried)).count
        const recorder = makeRecorder()
        recorder.failing = "unavailable"
        yield* startRelay(stores[0], recorder, "relay-o1", { retrySchedule: Schedule.spaced("30 millis") })
        yield* startRelay(stores[1], recorder, "relay-o2", { retrySchedule: Schedule.spaced("30 millis") })
        const store = yield* OutboxStore.OutboxStore.use(Effect.succeed).pipe(Effect.provide(stores[0]))
        const aggregates = Array.from({ length: 5 }, uuid)
        const written = Array.from({ length: 100 }, (_, i) => message(aggregates[i % 5]!))
        yield* store.enqueue(written.slice(0, 50))
        yield* Effect.sleep(150)
        yield* store.enqueue(written.slice(50))
        yield* Effect.sleep(100)
        recorder.failing = false
        yield* eventually(() => recorder.published.length >= 100, 15_000, "all published after the outage")
        yield* Effect.sleep(100)
        checkOnceAndInOrder(recorder, written)
        // The broker was out of reach: not the messages' fault, so no attempt counted and no backoff of theirs.
        expect(recorder.calls).toBeGreaterThan(100)
        expect((yield* Metric.value(OutboxMetrics.retried)).count - retriedBefore).toBe(0)
        expect((yield* store.stats).deadLettered).toBe(0)
      }))

    it.effect("a permanent rejection dead-letters at once", () =>
      Effect.gen(function*() {
        const { reset, stores } = yield* makeSetup
        yield* reset
        const recorder = makeRecorder()
        recorder.failing = "rejected"
        yield* startRelay(stores[0], recorder, "relay-r", { maxAttempts: 10 })
        const store = yield* OutboxStore.OutboxStore.use(Effect.succeed).pipe(Effect.provide(stores[0]))
        const m = message(uuid())
        yield* store.enqueue([m])
        yield* Effect.gen(function*() {
          while ((yield* store.stats).deadLettered < 1) yield* Effect.sleep(10)
        }).pipe(Effect.timeout("5 seconds"))
        expect(recorder.calls).toBe(1)
        expect((yield* store.listDeadLetters({ limit: 1 })).items[0]?.attempts).toBe(1)
      }))

    it.effect("shutdown gives the batch in flight back", () =>
      Effect.gen(function*() {
        const { reset, stores } = yield* makeSetup
        yield* reset
        const recorder = makeRecorder()
        recorder.delayMillis = 100
        const store = yield* OutboxStore.OutboxStore.use(Effect.succeed).pipe(Effect.provide(stores[0]))
        const a = uuid()
        const written = Array.from({ length: 10 }, () => message(a))
        yield* store.enqueue(written)
        yield* Effect.scoped(Effect.gen(function*() {
          yield* startRelay(stores[0], recorder, "relay-s", { lease: Duration.minutes(5) })
          yield* eventually(() => recorder.published.length >= 2, 5_000, "some published")
        }))
        const done = recorder.published.length
        expect(done).toBeLessThan(10)
        // without the release the rest would stay leased for 5 minutes
        const rest = yield* store.claim({ owner: "other", limit: 100, lease: Duration.seconds(5) })
        expect(rest.map((m) => m.id)).toEqual(written.slice(done).map((m) => m.id))
      }))
  })

// memory: one store shared by both relays
const memoryStore = await shared(OutboxStore.layerMemory)
relaySuite(
  "memory",
  Layer.empty,
  Effect.succeed({ stores: [memoryStore, memoryStore] as const, reset: Effect.void })
)

// PGlite: one connection, so both relays share it (and the polling fallback is exercised)
const pgliteClient = await shared(pglite)
const pgliteStore = OutboxStore.layerSql().pipe(Layer.provide(pgliteClient))
relaySuite(
  "sql-pglite",
  Layer.empty,
  Effect.succeed({ stores: [pgliteStore, pgliteStore] as const, reset: exec(pgliteClient, "TRUNCATE outbox") })
)

// PostgreSQL: two independent pools on one database, like two processes
const [pool1, pool2] = await postgresPools(2)
relaySuite(
  "sql-postgres",
  Layer.empty,
  Effect.succeed({
    stores: [OutboxStore.layerSql().pipe(Layer.provide(pool1!)), OutboxStore.layerSql().pipe(Layer.provide(pool2!))] as const,
    reset: exec(pool1!, "TRUNCATE outbox")
  })
)

it.live("debounced wake-ups: any number of signals during a cycle cost one follow-up claim, none cost none", () =>
  Effect.gen(function*() {
    const memory = yield* OutboxStore.makeMemory
    let claims = 0
    const store = OutboxStore.OutboxStore.of({
      ...memory,
      claimBatch: (options) => Effect.suspend(() => (claims++, memory.claimBatch(options)))
    })
    const signal = yield* OutboxSignal.make
    const gate = yield* Deferred.make<void>()
    let published = 0
    const publisher = OutboxPublisher.fromPublish(() =>
      Effect.andThen(Deferred.await(gate), Effect.sync(() => void published++))
    )
    // Polling every 30 s: within this test every claim is a wake-up's.
    yield* Layer.build(
      OutboxRelay.layer({ pollInterval: Duration.seconds(30), owner: "relay-debounce" }).pipe(
        Layer.provide(Layer.mergeAll(
          Layer.succeed(OutboxStore.OutboxStore, store),
          Layer.succeed(OutboxPublisher.OutboxPublisher, publisher),
          Layer.succeed(OutboxSignal.OutboxSignal, signal)
        ))
      )
    )
    yield* eventually(() => claims === 1, 5_000, "the start-up claim")

    // A message and its signal; ten more signals while its delivery is in flight.
    yield* store.enqueue([message(uuid())])
    yield* signal.nudge
    yield* eventually(() => claims === 2, 5_000, "the woken claim")
    for (let i = 0; i < 10; i++) yield* signal.nudge
    yield* Deferred.succeed(gate, undefined)
    yield* eventually(() => published === 1, 5_000, "published")
    yield* Effect.sleep(300)
    expect(claims).toBe(3)

    // A message and its signal, nothing during the cycle: no follow-up claim after a partial batch.
    yield* store.enqueue([message(uuid())])
    yield* signal.nudge
    yield* eventually(() => published === 2, 5_000, "published")
    yield* Effect.sleep(300)
    expect(claims).toBe(4)
  }))

it.live("a woken relay waits its wake delay, so commits right behind the first are claimed with it", () =>
  Effect.gen(function*() {
    const memory = yield* OutboxStore.makeMemory
    const claimed: Array<number> = []
    const store = OutboxStore.OutboxStore.of({
      ...memory,
      claimBatch: (options) =>
        Effect.tap(memory.claimBatch(options), (batch) => Effect.sync(() => void claimed.push(batch.messages.length)))
    })
    const signal = yield* OutboxSignal.make
    const recorder = makeRecorder()
    const run = (wakeDelay: Duration.Input, owner: string) =>
      Layer.build(
        OutboxRelay.layer({ pollInterval: Duration.seconds(30), wakeDelay, owner }).pipe(
          Layer.provide(Layer.mergeAll(
            Layer.succeed(OutboxStore.OutboxStore, store),
            recordingLayer(recorder, owner),
            Layer.succeed(OutboxSignal.OutboxSignal, signal)
          ))
        )
      )
    // Five commits 5 ms apart, each with its signal.
    const burst = Effect.forEach(Array.from({ length: 5 }), () =>
      Effect.andThen(
        Effect.andThen(store.enqueue([message(uuid())]), signal.nudge),
        Effect.sleep(Duration.millis(5))
      ), { discard: true })

    yield* Effect.scoped(Effect.gen(function*() {
      yield* run(Duration.millis(200), "relay-wake-delay")
      yield* eventually(() => claimed.length === 1, 5_000, "the start-up claim")
      yield* burst
      yield* eventually(() => recorder.published.length === 5, 5_000, "published")
      // All five in the claim the first signal woke.
      expect(claimed.slice(1).filter((size) => size > 0)).toEqual([5])
    }))

    claimed.length = 0
    yield* Effect.scoped(Effect.gen(function*() {
      yield* run(Duration.zero, "relay-no-wake-delay")
      yield* eventually(() => claimed.length === 1, 5_000, "the start-up claim")
      yield* burst
      yield* eventually(() => recorder.published.length === 10, 5_000, "published")
      // Without the delay the burst takes several claims.
      expect(claimed.slice(1).filter((size) => size > 0).length).toBeGreaterThan(1)
    }))
  }))
