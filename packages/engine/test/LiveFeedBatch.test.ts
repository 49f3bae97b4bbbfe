/**
 * The PostgreSQL live feed carries a published batch in as few notifications as the 8000-byte
 * `NOTIFY` payload limit allows, not one per message, and the receiving feed fans them out in order
 * (a message too large for any payload travels by id and is read back from the outbox table).
 */
import { it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { OutboxStore } from "@live-events/outbox"
import { Context, Effect, Exit, Layer, Queue, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { expect } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import * as LiveFeed from "../src/LiveFeed.ts"

const eventually = (condition: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && !condition(); i++) yield* Effect.sleep(10)
    expect(condition()).toBe(true)
  })

const live = (i: number, pad = 0): LiveFeed.LiveMessage => ({
  id: crypto.randomUUID(),
  type: "RegistrationConfirmed",
  aggregateId: "0b7c2a58-5d43-4b5e-9d0e-2f1f4c1d9a10",
  data: { n: i, ...(pad > 0 ? { pad: "x".repeat(pad) } : {}) }
})

it("notifyPayloads: JSON arrays within the limit, in order, an oversized message by reference", () => {
  const messages = [...Array.from({ length: 120 }, (_, i) => live(i)), live(120, 9000), live(121)]
  const payloads = LiveFeed.notifyPayloads(messages, 2000)
  expect(payloads.length).toBeGreaterThan(1)
  for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(2000)
  const items = payloads.flatMap((payload) => JSON.parse(payload) as Array<Record<string, unknown>>)
  expect(items.map((item) => item.id ?? item.ref)).toEqual(messages.map((m) => m.id))
  expect(items[120]).toEqual({ ref: messages[120]!.id })
  expect(items[0]).toEqual(messages[0])
  // Greedy: every payload but the last is full enough that the next item did not fit.
  expect(payloads.length).toBeLessThanOrEqual(Math.ceil(payloads.join("").length / 1500) + 1)
})

it.live("a published batch is one notification per payload, and the feed fans it out in order", () =>
  Effect.gen(function*() {
    const { url } = yield* testDatabase("le_live_batch")
    const context = yield* Layer.build(PgClient.layer({ url, maxConnections: 4 }))
    const sql = Context.get(context, SqlClient.SqlClient)
    const pg = Context.get(context, PgClient.PgClient)
    for (const statement of OutboxStore.ddl) yield* sql.unsafe(statement)
    const channel = "live_batch_test"

    const raw = yield* pg.listen(channel)
    const feed = yield* LiveFeed.layerPgListen(channel).pipe(Layer.provide(Layer.succeedContext(context)), Layer.build)
    const publisher = yield* LiveFeed.publisherPgNotify(channel).pipe(Effect.provideContext(context))
    const received: Array<string> = []
    let probes = 0
    yield* Context.get(feed, LiveFeed.LiveFeed).subscribe().pipe(
      Effect.flatMap(Stream.runForEach((item) =>
        Effect.sync(() => {
          if (item._tag !== "Message") return
          if (item.message.type === "Probe") probes++
          else received.push(item.message.id)
        })
      )),
      Effect.forkScoped
    )
    // The feed listens once a notification comes back through it (until then they are lost).
    for (let i = 0; i < 100 && probes === 0; i++) {
      yield* sql`SELECT pg_notify(${channel}, ${JSON.stringify([{ ...live(-1), type: "Probe" }])})`
      yield* Effect.sleep(50)
    }
    expect(probes).toBeGreaterThan(0)
    yield* Effect.sleep(50)
    yield* Queue.clear(raw)

    // 300 messages of one batch, one of them too large for a notification (read back by id).
    const messages = Array.from({ length: 300 }, (_, i) => live(i, i === 150 ? 9000 : 0))
    const outbox = messages.map((m) => ({
      id: m.id,
      type: m.type,
      aggregateId: m.aggregateId,
      occurredAt: new Date(),
      schemaVersion: 1,
      payload: m
    }))
    yield* (yield* OutboxStore.makeSql().pipe(Effect.provideContext(context))).enqueue(outbox)
    const outcomes = yield* publisher.publishBatch(outbox)
    expect(outcomes.every((outcome) => outcome !== undefined && Exit.isSuccess(outcome))).toBe(true)

    yield* eventually(() => received.length >= messages.length)
    expect(received).toEqual(messages.map((m) => m.id))
    const notifications = Array.from(yield* Queue.takeAll(raw))
    const expected = LiveFeed.notifyPayloads(messages)
    expect(notifications.map((n) => n.payload)).toEqual(expected)
    expect(notifications.length).toBeLessThan(15)
  }))
