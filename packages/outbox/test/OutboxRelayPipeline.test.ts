/**
 * Pipelining: while a full batch is out at the broker, the relay has already claimed the next one, of
 * other aggregates, and delivers it right after; a relay whose heartbeat finds a head's lease lost
 * sends nothing of that aggregate's run, though only the head carried the lease.
 */
import { expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer } from "effect"
import type { ClaimedMessage } from "../src/OutboxMessage.ts"
import * as OutboxPublisher from "../src/OutboxPublisher.ts"
import * as OutboxRelay from "../src/OutboxRelay.ts"
import * as OutboxSignal from "../src/OutboxSignal.ts"
import * as OutboxStore from "../src/OutboxStore.ts"
import { eventually, makeRecorder, message, recordingPublisher, uuid } from "./Fixtures.ts"

it.live("the next batch is claimed while the current one is published, and holds other aggregates", () =>
  Effect.gen(function*() {
    const memory = yield* OutboxStore.makeMemory
    const claims: Array<ReadonlyArray<ClaimedMessage>> = []
    const store = OutboxStore.OutboxStore.of({
      ...memory,
      claimBatch: (options) => Effect.tap(memory.claimBatch(options), (batch) => Effect.sync(() => claims.push(batch.messages)))
    })
    const gate = yield* Deferred.make<void>()
    const published: Array<ClaimedMessage> = []
    const publisher = OutboxPublisher.OutboxPublisher.of({
      publish: () => Effect.void,
      publishBatch: (messages) =>
        Effect.gen(function*() {
          // The first batch waits at the "broker" until the test has seen the claim ahead.
          if (published.length === 0) yield* Deferred.await(gate)
          published.push(...(messages as ReadonlyArray<ClaimedMessage>))
          return messages.map(() => Exit.void)
        })
    })
    const [a, b, c] = [uuid(), uuid(), uuid()]
    const written = [message(a), message(b), message(a), message(b), message(c), message(c)]
    yield* memory.enqueue(written)
    yield* Layer.build(
      OutboxRelay.layer({ owner: "relay-pipelined", batchSize: 2, pollInterval: Duration.millis(10) }).pipe(
        Layer.provide(Layer.mergeAll(
          Layer.succeed(OutboxStore.OutboxStore, store),
          Layer.succeed(OutboxPublisher.OutboxPublisher, publisher),
          OutboxSignal.layer
        ))
      )
    )
    yield* eventually(() => claims.length >= 2, 5_000, "the claim ahead")
    expect(published).toEqual([])
    const aggregates = (batch: ReadonlyArray<ClaimedMessage>) => new Set(batch.map((m) => m.aggregateId))
    expect(aggregates(claims[0]!)).toEqual(new Set([a]))
    expect(aggregates(claims[1]!)).toEqual(new Set([b]))
    yield* Deferred.succeed(gate, undefined)
    yield* eventually(() => published.length >= written.length, 5_000, "all published")
    expect(published.map((m) => m.id)).toEqual([a, b, c].flatMap((x) => written.filter((m) => m.aggregateId === x)).map((m) => m.id))
    expect(yield* memory.stats).toMatchObject({ pending: 0 })
  }))

it.live("a head's lease lost: nothing of its run is sent", () =>
  Effect.gen(function*() {
    const memory = yield* OutboxStore.makeMemory
    const recorder = makeRecorder()
    const relay = yield* OutboxRelay.make({ owner: "relay-slow", lease: Duration.millis(100) }).pipe(
      Effect.provideService(OutboxStore.OutboxStore, memory),
      Effect.provideService(OutboxPublisher.OutboxPublisher, recordingPublisher(recorder, "relay-slow"))
    )
    const a = uuid()
    yield* memory.enqueue([message(a), message(a), message(a)])
    // The relay stalls after its claim (publishing takes 300 ms per message); its lease expires and
    // another relay takes the aggregate from its head.
    recorder.delayMillis = 300
    const cycle = yield* Effect.forkChild(relay.runOnce)
    yield* Effect.sleep(150)
    const taken = yield* memory.claim({ owner: "relay-other", limit: 10, lease: Duration.seconds(30) })
    expect(taken.length).toBe(3)
    yield* relay.heartbeat
    expect(yield* Fiber.join(cycle)).toBe(3)
    // Only the head carried the relay's lease; its followers, unsent, stay with the other relay.
    expect(recorder.published.map((entry) => entry.message.id)).toEqual([taken[0]!.id])
  }))
