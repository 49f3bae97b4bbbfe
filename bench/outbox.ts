/**
 * bench:outbox — how fast does the outbox deliver on PostgreSQL? Goals: enqueue→publish p50 ≤ 5 ms
 * with NOTIFY; ≥ 10,000 messages/s to NATS JetStream with one relay, and two relays not slower than one.
 *
 * 1. Latency: one message at a time is written (its own transaction, with `pg_notify`) by a "writer"
 *    pool, and timed until the relay's in-process publisher hands it to a subscriber. Once with
 *    LISTEN/NOTIFY wake-ups, once with polling only (for comparison).
 * 2. Throughput: a backlog spread over many aggregates is drained by 1 relay, then by 2 relays on
 *    separate pools (like two processes); publishing to an in-process PubSub, and to NATS JetStream
 *    when it is reachable.
 *
 * Runs in its own scratch database, dropped at the end.
 *
 *   node --conditions=@live-events/source bench/outbox.ts
 *   BENCH_PG_URL=… BENCH_OUTBOX_SAMPLES=500 BENCH_OUTBOX_BACKLOG=20000 BENCH_OUTBOX_NATS=0 …
 *
 * Throughput is measured on the schema of migration 0001 and again with OutboxStore.recommendedIndexes.
 */
import { OutboxBatch, OutboxMessage, OutboxPublisher, OutboxRelay, OutboxSignal, OutboxStore } from "@live-events/outbox"
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Exit, Layer, Redacted, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { createScratchDatabase, serverVersion } from "./lib/db.ts"
import { boolEnv, intEnv } from "./lib/env.ts"

const SAMPLES = intEnv("BENCH_OUTBOX_SAMPLES", 500)
const POLL_SAMPLES = intEnv("BENCH_OUTBOX_POLL_SAMPLES", 40)
const BACKLOG = intEnv("BENCH_OUTBOX_BACKLOG", 20_000)
const AGGREGATES = intEnv("BENCH_OUTBOX_AGGREGATES", 500)
const BATCH = intEnv("BENCH_OUTBOX_BATCH", 500)
const WITH_NATS = boolEnv("BENCH_OUTBOX_NATS", true)
const CHANNEL = "outbox"

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const newMessage = (aggregateId: string, n: number): OutboxMessage.OutboxMessage => {
  const id = crypto.randomUUID()
  const occurredAt = new Date()
  return OutboxMessage.fromEnvelope({
    id,
    type: "RegistrationConfirmed",
    aggregateId,
    occurredAt,
    version: 1,
    data: { n, eventId: aggregateId, confirmedCount: n, capacity: 100_000, waitlistCount: 0 }
  } as never)
}

const pool = (url: string, maxConnections: number) =>
  PgClient.layer({ url: Redacted.make(url), maxConnections }).pipe(Layer.orDie)

/** Builds a layer in the current scope and returns its context. */
const build = <A, E>(layer: Layer.Layer<A, E>) => Layer.build(layer).pipe(Effect.orDie)

const latency = (url: string, wakeups: "notify" | "poll", samples: number) =>
  Effect.scoped(Effect.gen(function*() {
    const writerPool = yield* build(pool(url, 2))
    const relayPool = yield* build(pool(url, 4))
    const writer = yield* OutboxStore.makeSql(wakeups === "notify" ? { notifyChannel: CHANNEL } : {}).pipe(
      Effect.provideContext(writerPool)
    )
    const inProcess = yield* build(OutboxPublisher.layerInProcess())
    const signal = wakeups === "notify"
      ? OutboxSignal.layerListen(CHANNEL).pipe(Layer.provide(Layer.succeedContext(relayPool)))
      : OutboxSignal.layer
    yield* build(
      OutboxRelay.layer({ pollInterval: wakeups === "notify" ? Duration.seconds(1) : Duration.millis(100) }).pipe(
        Layer.provide(Layer.mergeAll(
          OutboxStore.layerSql().pipe(Layer.provide(Layer.succeedContext(relayPool))),
          Layer.succeedContext(inProcess),
          signal
        ))
      )
    )
    const received = new Map<string, (at: number) => void>()
    yield* Context.get(inProcess, OutboxPublisher.InProcessMessages).subscribe.pipe(
      Stream.runForEach((m) => Effect.sync(() => received.get(m.id)?.(performance.now()))),
      Effect.forkScoped
    )
    yield* Effect.sleep(300)
    const aggregate = crypto.randomUUID()
    const timings: Array<number> = []
    for (let i = 0; i < samples + 10; i++) {
      // An idle gap, so that every sample measures a relay woken from its wait (not one still looping).
      yield* Effect.sleep(Duration.millis(2 + Math.random() * 8))
      const m = newMessage(aggregate, i)
      const arrived = new Promise<number>((resolve) => received.set(m.id, resolve))
      const started = performance.now()
      yield* writer.enqueue([m]).pipe(Effect.orDie)
      const at = yield* Effect.promise(() => arrived)
      received.delete(m.id)
      if (i >= 10) timings.push(at - started) // the first few warm up prepared statements
    }
    return timings
  }))

const fillBacklog = (url: string, total: number) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* build(pool(url, 2))
    const store = yield* OutboxStore.makeSql().pipe(Effect.provideContext(context))
    const aggregates = Array.from({ length: AGGREGATES }, () => crypto.randomUUID())
    for (let offset = 0; offset < total; offset += 1000) {
      const batch = Array.from({ length: Math.min(1000, total - offset) }, (_, i) => newMessage(aggregates[(offset + i) % AGGREGATES]!, offset + i))
      yield* store.enqueue(batch).pipe(Effect.orDie)
    }
    yield* Context.get(context, SqlClient.SqlClient)`ANALYZE outbox`.pipe(Effect.orDie)
  }))

interface Counter {
  /** Messages published. */
  n: number
  /** `publishBatch` calls. */
  batches: number
}

const countingPublisher = (counter: Counter) =>
  Layer.succeed(OutboxPublisher.OutboxPublisher, OutboxPublisher.OutboxPublisher.of({
    publish: () => Effect.sync(() => void counter.n++),
    publishBatch: (messages, options) =>
      Effect.sync(() => {
        counter.batches++
        const outcomes: Array<OutboxPublisher.Outcome> = new Array(messages.length).fill(undefined)
        for (const i of OutboxBatch.sendOrder(messages, options)) {
          outcomes[i] = Exit.void
          counter.n++
        }
        return outcomes
      })
  }))

const drain = (
  url: string,
  relays: number,
  publisher: (counter: Counter) => Layer.Layer<OutboxPublisher.OutboxPublisher, unknown>
) =>
  Effect.scoped(Effect.gen(function*() {
    yield* fillBacklog(url, BACKLOG)
    const counter: Counter = { n: 0, batches: 0 }
    const published = yield* build(publisher(counter))
    const started = performance.now()
    for (let i = 0; i < relays; i++) {
      const relayPool = yield* build(pool(url, 4))
      yield* build(
        OutboxRelay.layer({ batchSize: BATCH, pollInterval: Duration.millis(20), concurrency: 32 }).pipe(
          Layer.provide(Layer.mergeAll(
            OutboxStore.layerSql().pipe(Layer.provide(Layer.succeedContext(relayPool))),
            Layer.succeedContext(published),
            OutboxSignal.layer
          ))
        )
      )
    }
    const check = yield* build(pool(url, 1))
    const sql = Context.get(check, SqlClient.SqlClient)
    while (true) {
      const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox
        WHERE published_at IS NULL AND dead_lettered_at IS NULL`.pipe(Effect.orDie)
      if (row!.n === 0) break
      yield* Effect.sleep(5)
    }
    const seconds = (performance.now() - started) / 1000
    yield* sql`TRUNCATE outbox`.pipe(Effect.orDie)
    return { seconds, rate: BACKLOG / seconds, published: counter.n, batches: counter.batches }
  }))

const natsPublisher = (stream: string) => () =>
  OutboxPublisher.layerNats({ stream, subjectPrefix: stream.toLowerCase() })

const natsReachable = () =>
  new Promise<boolean>((resolve) => {
    import("node:net").then(({ connect }) => {
      const socket = connect({ host: "127.0.0.1", port: 4222 })
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
  })

const main = async () => {
  const database = await createScratchDatabase("le_bench_outbox")
  const streams: Array<string> = []
  try {
    console.log(`bench:outbox on PostgreSQL ${await serverVersion()} (database ${database.name})`)
    console.log(
      `samples=${SAMPLES} backlog=${BACKLOG} aggregates=${AGGREGATES} batch=${BATCH} node=${process.version}`
    )
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const context = yield* build(pool(database.url, 1))
      const sql = Context.get(context, SqlClient.SqlClient)
      for (const statement of OutboxStore.ddl) yield* sql.unsafe(statement).pipe(Effect.orDie)
    })))

    const results: Array<[string, string]> = []
    const notify = await Effect.runPromise(latency(database.url, "notify", SAMPLES))
    results.push([
      "enqueue→publish latency, LISTEN/NOTIFY",
      `p50 ${percentile(notify, 50).toFixed(2)} ms · p99 ${percentile(notify, 99).toFixed(2)} ms · max ${
        Math.max(...notify).toFixed(2)
      } ms (n=${notify.length})`
    ])
    const poll = await Effect.runPromise(latency(database.url, "poll", POLL_SAMPLES))
    results.push([
      "enqueue→publish latency, polling 100 ms",
      `p50 ${percentile(poll, 50).toFixed(2)} ms · p99 ${percentile(poll, 99).toFixed(2)} ms (n=${poll.length})`
    ])
    const nats = WITH_NATS && await natsReachable()
    if (WITH_NATS && !nats) results.push(["throughput, NATS JetStream", "skipped: nothing listens on 127.0.0.1:4222"])
    const goals: Array<string> = []
    // The schema of migration 0001 (what the server runs), then with the partial index recommended to
    // the schema's owner (OutboxStore.recommendedIndexes).
    for (const schema of ["schema 0001", "+ recommended index"]) {
      if (schema !== "schema 0001") {
        await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const context = yield* build(pool(database.url, 1))
          const sql = Context.get(context, SqlClient.SqlClient)
          for (const statement of OutboxStore.recommendedIndexes) yield* sql.unsafe(statement).pipe(Effect.orDie)
        })))
      }
      for (const relays of [1, 2]) {
        const r = await Effect.runPromise(drain(database.url, relays, countingPublisher))
        results.push([
          `throughput, ${relays} relay(s), in-process, ${schema}`,
          `${Math.round(r.rate)} msg/s (${BACKLOG} in ${r.seconds.toFixed(2)} s, ${r.published} published in ${r.batches} batches)`
        ])
      }
      if (!nats) continue
      const rates: Array<number> = []
      for (const relays of [1, 2]) {
        const stream = `BENCH_OUTBOX_${process.pid}_${streams.length}`
        streams.push(stream)
        const r = await Effect.runPromise(drain(database.url, relays, natsPublisher(stream)))
        rates.push(r.rate)
        results.push([
          `throughput, ${relays} relay(s), NATS JetStream, ${schema}`,
          `${Math.round(r.rate)} msg/s (${BACKLOG} in ${r.seconds.toFixed(2)} s)`
        ])
      }
      const [one, two] = rates as [number, number]
      goals.push(
        `NATS JetStream, ${schema}: 1 relay ${Math.round(one)} msg/s (goal ≥ 10,000: ${one >= 10_000 ? "met" : "NOT met"}); ` +
          `2 relays ${(two / one).toFixed(2)}× of 1 (goal ≥ 1.00: ${two >= one ? "met" : "NOT met"})`
      )
    }
    console.log("")
    for (const [what, figure] of results) console.log(`${what.padEnd(58)} ${figure}`)
    if (goals.length > 0) console.log("")
    for (const goal of goals) console.log(goal)
  } finally {
    if (streams.length > 0) {
      const { connect } = await import("@nats-io/transport-node")
      const { jetstreamManager } = await import("@nats-io/jetstream")
      const nc = await connect({ servers: "127.0.0.1:4222" })
      const jsm = await jetstreamManager(nc)
      for (const stream of streams) await jsm.streams.delete(stream).catch(() => false)
      await nc.close()
    }
    await database.drop()
  }
}

await main()
