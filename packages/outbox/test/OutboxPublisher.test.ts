/**
 * The publishers against real targets: the in-process PubSub, NATS JetStream on 127.0.0.1:4222 (must
 * be running: these tests fail, never skip, without it) and a local webhook receiver that verifies
 * signatures. Plus the relay woken by PostgreSQL NOTIFY instead of polling.
 */
import { expect, it } from "@effect/vitest"
import { jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { Duration, Effect, Fiber, Layer, Redacted, References, Schedule, Stream } from "effect"
import { FetchHttpClient } from "effect/http"
import * as OutboxPublisher from "../src/OutboxPublisher.ts"
import * as OutboxRelay from "../src/OutboxRelay.ts"
import * as OutboxSignal from "../src/OutboxSignal.ts"
import * as OutboxStore from "../src/OutboxStore.ts"
import * as WebhookSignature from "../src/WebhookSignature.ts"
import { eventually, makeRecorder, message, postgresPools, recordingLayer, uuid } from "./Fixtures.ts"

it.live("in-process: subscribers receive what the publisher publishes", () =>
  Effect.gen(function*() {
    const context = yield* Layer.build(OutboxPublisher.layerInProcess())
    const publisher = yield* OutboxPublisher.OutboxPublisher.use(Effect.succeed).pipe(Effect.provideContext(context))
    const messages = yield* OutboxPublisher.InProcessMessages.use(Effect.succeed).pipe(Effect.provideContext(context))
    const received = yield* messages.subscribe.pipe(Stream.take(2), Stream.runCollect, Effect.forkScoped)
    yield* Effect.sleep(20)
    const sent = [message(uuid()), message(uuid())]
    for (const m of sent) yield* publisher.publish(m)
    const got = yield* Fiber.join(received)
    expect(Array.from(got).map((m) => m.id)).toEqual(sent.map((m) => m.id))
  }))

it.live("NATS JetStream: creates the stream, publishes with Nats-Msg-Id, the broker drops duplicates", () =>
  Effect.gen(function*() {
    const suffix = uuid().replaceAll("-", "").slice(0, 12)
    const stream = `OUTBOX_TEST_${suffix}`
    const prefix = `outbox-test-${suffix}`
    const context = yield* Layer.build(OutboxPublisher.layerNats({ stream, subjectPrefix: prefix }))
    const publisher = yield* OutboxPublisher.OutboxPublisher.use(Effect.succeed).pipe(Effect.provideContext(context))
    const nc = yield* Effect.acquireRelease(
      Effect.promise(() => connect({ servers: "127.0.0.1:4222" })),
      (nc) => Effect.promise(() => nc.close())
    )
    const jsm = yield* Effect.promise(() => jetstreamManager(nc))
    yield* Effect.addFinalizer(() => Effect.promise(() => jsm.streams.delete(stream).catch(() => false)))
    const a = message(uuid())
    const b = message(uuid())
    yield* publisher.publish(a)
    yield* publisher.publish(a) // a relay redelivery: same id
    yield* publisher.publish(b)
    const info = yield* Effect.promise(() => jsm.streams.info(stream))
    expect(info.state.messages).toBe(2)
    expect(info.config.subjects).toEqual([`${prefix}.>`])
    const first = yield* Effect.promise(() => jsm.streams.getMessage(stream, { seq: 1 }))
    expect(first!.subject).toBe(`${prefix}.${a.type}.${a.aggregateId}`)
    expect(first!.header.get("Nats-Msg-Id")).toBe(a.id)
    expect(first!.header.get("traceparent")).toBe(a.traceparent)
    expect(first!.json()).toEqual(a.payload)
  }))

/**
 * A stream of this test's own that refuses messages over 2 KiB (their acknowledgement is an error),
 * deleted with the scope, and a publisher on it.
 */
const smallMessageStream = (publisherOptions: Partial<OutboxPublisher.NatsOptions> = {}) =>
  Effect.gen(function*() {
    const suffix = uuid().replaceAll("-", "").slice(0, 12)
    const stream = `OUTBOX_TEST_${suffix}`
    const prefix = `outbox-test-${suffix}`
    const nc = yield* Effect.acquireRelease(
      Effect.promise(() => connect({ servers: "127.0.0.1:4222" })),
      (nc) => Effect.promise(() => nc.close())
    )
    const jsm = yield* Effect.promise(() => jetstreamManager(nc))
    yield* Effect.promise(() => jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], max_msg_size: 2048 }))
    yield* Effect.addFinalizer(() => Effect.promise(() => jsm.streams.delete(stream).catch(() => false)))
    const context = yield* Layer.build(OutboxPublisher.layerNats({ stream, subjectPrefix: prefix, ...publisherOptions }))
    const publisher = yield* OutboxPublisher.OutboxPublisher.use(Effect.succeed).pipe(Effect.provideContext(context))
    return { jsm, stream, publisher }
  })

it.live("NATS: a pipelined batch with a failing ack loses nothing and marks nothing published without its ack", () =>
  Effect.gen(function*() {
    const { jsm, publisher, stream } = yield* smallMessageStream()
    const memory = yield* OutboxStore.makeMemory
    const marked: Array<string> = []
    const store = OutboxStore.OutboxStore.of({
      ...memory,
      markPublished: (positions) =>
        Effect.tap(memory.markPublished(positions), () => Effect.sync(() => marked.push(...positions.map(String))))
    })
    const a = uuid()
    const b = uuid()
    const tooLarge = message(a)
    const oversized = { ...tooLarge, payload: { ...(tooLarge.payload as object), pad: "x".repeat(4096) } }
    const written = [message(a), oversized, message(a), message(b), message(b)]
    const [a1, , a3, b1, b2] = written
    yield* store.enqueue(written)
    const positionOf = new Map(written.map((m, i) => [m.id, String(i + 1)]))
    const relay = yield* OutboxRelay.make({ maxAttempts: 2, retrySchedule: Schedule.spaced("1 millis") }).pipe(
      Effect.provideService(OutboxStore.OutboxStore, store),
      Effect.provideService(OutboxPublisher.OutboxPublisher, publisher)
    )
    const inBroker = () =>
      Effect.promise(async () => {
        const info = await jsm.streams.info(stream)
        const ids: Array<string> = []
        for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
          ids.push((await jsm.streams.getMessage(stream, { seq }))!.header.get("Nats-Msg-Id"))
        }
        return ids
      })

    // One batch of five, sent before any acknowledgement is awaited: a3 reaches the broker although
    // the message before it failed, but only a1, b1 and b2 are marked published.
    expect(yield* relay.runOnce).toBe(5)
    expect(marked).toEqual([a1, b1, b2].map((m) => positionOf.get(m!.id)))
    expect(yield* inBroker()).toEqual([a1, a3, b1, b2].map((m) => m!.id))
    expect(yield* store.stats).toMatchObject({ pending: 2, deadLettered: 0 })

    // The failed message is retried (failing again: dead-lettered after 2 attempts), a3 waits behind it.
    yield* Effect.sleep(5)
    expect(yield* relay.runOnce).toBe(2)
    expect(marked.length).toBe(3)
    const dead = yield* store.listDeadLetters({ limit: 10 })
    expect(dead.items.map((m) => [m.id, m.attempts])).toEqual([[oversized.id, 2]])
    expect(dead.items[0]!.lastError).toMatch(/maximum/i)

    // Then a3 is published again (the broker drops the copy by Nats-Msg-Id) and marked.
    expect(yield* relay.runOnce).toBe(1)
    expect(marked).toEqual([a1, b1, b2, a3].map((m) => positionOf.get(m!.id)))
    expect(yield* inBroker()).toEqual([a1, a3, b1, b2].map((m) => m!.id))
    expect(yield* store.stats).toMatchObject({ pending: 0, deadLettered: 1 })
  }).pipe(Effect.provideService(References.MinimumLogLevel, "Error")))

it.live("NATS: an unreachable server fails the layer with a typed error", () =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(Layer.build(OutboxPublisher.layerNats({ servers: "127.0.0.1:1" })))
    expect(error._tag).toBe("OutboxPublishError")
    expect(error.isRetryable).toBe(true)
  }))

it.live("NATS: no JetStream behind the subject is an outage (no attempt counted); a refused message is not", () =>
  Effect.gen(function*() {
    const { jsm, publisher, stream } = yield* smallMessageStream({ ackTimeout: "2 seconds" })
    const big = message(uuid())
    const refused = yield* Effect.flip(publisher.publish({ ...big, payload: { pad: "x".repeat(4096) } }))
    expect(refused.reason).toBe("failed")
    expect(refused.isOutage).toBe(false)
    // The stream is gone (as while a restarted broker recovers its streams): nobody answers the subject.
    yield* Effect.promise(() => jsm.streams.delete(stream))
    const down = yield* Effect.flip(publisher.publish(message(uuid())))
    expect(down.reason).toBe("unavailable")
    expect(down.isOutage).toBe(true)
  }))

interface Received {
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

/** A webhook receiver on 127.0.0.1 answering with the scripted statuses, then 204. */
const receiver = (statuses: Array<number>) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ url: string; received: Array<Received>; close: () => Promise<void> }>((resolve) => {
        const received: Array<Received> = []
        const server = createServer((req, res) => {
          let body = ""
          req.setEncoding("utf8")
          req.on("data", (chunk: string) => (body += chunk))
          req.on("end", () => {
            received.push({ headers: req.headers, body })
            res.statusCode = statuses.shift() ?? 204
            res.end()
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as AddressInfo
          resolve({
            url: `http://127.0.0.1:${port}/hooks/outbox`,
            received,
            close: () => new Promise((done) => server.close(() => done()))
          })
        })
      })
    ),
    (server) => Effect.promise(() => server.close())
  )

const header = (received: Received, name: string) => {
  const value = received.headers[name]
  return Array.isArray(value) ? value[0] : value
}

it.live("webhook: signed POST verified by the receiver; 5xx retryable, 4xx rejected", () =>
  Effect.gen(function*() {
    const server = yield* receiver([204, 503, 400])
    const secret = Redacted.make("whsec-test-secret")
    const context = yield* Layer.build(
      OutboxPublisher.layerWebhook({ url: server.url, secrets: [secret] }).pipe(Layer.provide(FetchHttpClient.layer))
    )
    const publisher = yield* OutboxPublisher.OutboxPublisher.use(Effect.succeed).pipe(Effect.provideContext(context))
    const m = message(uuid())
    yield* publisher.publish(m)
    const delivery = server.received[0]!
    expect(header(delivery, "webhook-id")).toBe(m.id)
    expect(header(delivery, "webhook-type")).toBe(m.type)
    expect(header(delivery, "content-type")).toMatch(/application\/json/)
    expect(JSON.parse(delivery.body)).toEqual(m.payload)
    const headers = {
      "webhook-timestamp": header(delivery, "webhook-timestamp"),
      "webhook-signature": header(delivery, "webhook-signature")
    }
    const now = Math.floor(Date.now() / 1000)
    expect(yield* WebhookSignature.verify({ secret, headers, body: delivery.body, now })).toBe(true)
    // tampered body, wrong secret, stale timestamp: refused
    expect(yield* WebhookSignature.verify({ secret, headers, body: delivery.body + " ", now })).toBe(false)
    expect(yield* WebhookSignature.verify({ secret: Redacted.make("other"), headers, body: delivery.body, now })).toBe(
      false
    )
    expect(yield* WebhookSignature.verify({ secret, headers, body: delivery.body, now: now + 3600 })).toBe(false)
    // an independent HMAC implementation agrees on the format
    const { createHmac } = yield* Effect.promise(() => import("node:crypto"))
    const expected = createHmac("sha256", "whsec-test-secret")
      .update(`${headers["webhook-timestamp"]}.${delivery.body}`)
      .digest("hex")
    expect(headers["webhook-signature"]).toBe(`v1=${expected}`)

    // The receiver answered 5xx: a counted attempt, not an outage.
    const failed = yield* Effect.flip(publisher.publish(message(uuid())))
    expect(failed.reason).toBe("failed")
    expect(failed.isRetryable).toBe(true)
    expect(failed.isOutage).toBe(false)
    const rejected = yield* Effect.flip(publisher.publish(message(uuid())))
    expect(rejected.reason).toBe("rejected")
    expect(rejected.isRetryable).toBe(false)
  }))

it.live("webhook: signs with every secret during a rotation; a dead receiver is retryable", () =>
  Effect.gen(function*() {
    const server = yield* receiver([])
    const old = Redacted.make("old-secret")
    const fresh = Redacted.make("new-secret")
    const context = yield* Layer.build(
      OutboxPublisher.layerWebhook({ url: server.url, secrets: [fresh, old] }).pipe(Layer.provide(FetchHttpClient.layer))
    )
    const publisher = yield* OutboxPublisher.OutboxPublisher.use(Effect.succeed).pipe(Effect.provideContext(context))
    yield* publisher.publish(message(uuid()))
    const delivery = server.received[0]!
    const headers = {
      "webhook-timestamp": header(delivery, "webhook-timestamp"),
      "webhook-signature": header(delivery, "webhook-signature")
    }
    const now = Math.floor(Date.now() / 1000)
    expect(headers["webhook-signature"]?.split(" ").length).toBe(2)
    expect(yield* WebhookSignature.verify({ secret: old, headers, body: delivery.body, now })).toBe(true)
    expect(yield* WebhookSignature.verify({ secret: fresh, headers, body: delivery.body, now })).toBe(true)

    const down = yield* Layer.build(
      OutboxPublisher.layerWebhook({ url: "http://127.0.0.1:1/nothing", secrets: [fresh], timeout: "2 seconds" }).pipe(
        Layer.provide(FetchHttpClient.layer)
      )
    )
    const error = yield* OutboxPublisher.OutboxPublisher.use((p) => Effect.flip(p.publish(message(uuid())))).pipe(
      Effect.provideContext(down)
    )
    expect(error.isRetryable).toBe(true)
  }))

const [pool] = await postgresPools(1)

it.live("PostgreSQL LISTEN/NOTIFY wakes the relay at once (polling every 30 s)", () =>
  Effect.gen(function*() {
    const recorder = makeRecorder()
    const store = OutboxStore.layerSql({ notifyChannel: "outbox_test" }).pipe(Layer.provide(pool!))
    yield* Layer.build(
      OutboxRelay.layer({ pollInterval: Duration.seconds(30) }).pipe(
        Layer.provide(Layer.mergeAll(store, recordingLayer(recorder), OutboxSignal.layerListen("outbox_test"))),
        Layer.provide(pool!)
      )
    )
    const enqueue = OutboxStore.OutboxStore.use((s) => s.enqueue([message(uuid())])).pipe(Effect.provide(store))
    // the relay's first (empty) cycle is done; it now waits on the signal
    yield* Effect.sleep(200)
    const latencies: Array<number> = []
    for (let i = 1; i <= 5; i++) {
      const started = performance.now()
      yield* enqueue
      yield* eventually(() => recorder.published.length === i, 5_000, "published")
      latencies.push(performance.now() - started)
    }
    expect(Math.max(...latencies)).toBeLessThan(500)
  }))
