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
 *   BENCH_ROUNDS=3 (throughput rounds; the goals use the medians) BENCH_OUTBOX_STAGES=1 (time per stage)
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
const ROUNDS = Math.max(1, intEnv("BENCH_ROUNDS", 1))
/** Print where the relays' time went (claim, publish, markPublished) for each throughput run. */
const STAGES = boolEnv("BENCH_OUTBOX_STAGES", false)
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

/** Time spent in each stage by all relays of one run, summed over relays (ms), and claim counts. */
interface Stages {
  claims: number
  emptyClaims: number
  claimMs: number
  publishMs: number
  markMs: number
  releaseMs: number
}

const newStages = (): Stages => ({ claims: 0, emptyClaims: 0, claimMs: 0, publishMs: 0, markMs: 0, releaseMs: 0 })

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>, add: (ms: number, result: A) => void) =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.tap(effect, (result) => Effect.sync(() => add(performance.now() - started, result)))
  })

/** The store, timing the statements of a relay's cycle. */
const timedStore = (store: OutboxStore.OutboxStore["Service"], stages: Stages): OutboxStore.OutboxStore["Service"] => ({
  ...store,
  claimBatch: (options) =>
    timed(store.claimBatch(options), (ms, batch) => {
      stages.claims++
      if (batch.messages.length === 0) stages.emptyClaims++
      stages.claimMs += ms
    }),
  markPublished: (positions) => timed(store.markPublished(positions), (ms) => void (stages.markMs += ms)),
  release: (owner, positions) => timed(store.release(owner, positions), (ms) => void (stages.releaseMs += ms))
})

const timedPublisher = (
  publisher: OutboxPublisher.OutboxPublisher["Service"],
  stages: Stages
): OutboxPublisher.OutboxPublisher["Service"] => ({
  ...publisher,
  publishBatch: (messages, options) =>
    timed(publisher.publishBatch(messages, options), (ms) => void (stages.publishMs += ms))
})

const describeStages = (stages: Stages) =>
  `claims ${stages.claims} (${stages.emptyClaims} empty) ${stages.claimMs.toFixed(0)} ms · publish ${
    stages.publishMs.toFixed(0)
  } ms · markPublished ${stages.markMs.toFixed(0)} ms · release ${stages.releaseMs.toFixed(0)} ms (summed over relays)`

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
    const stages = newStages()
    const published = yield* build(publisher(counter))
    const timedPublished = Layer.succeed(
      OutboxPublisher.OutboxPublisher,
      timedPublisher(Context.get(published, OutboxPublisher.OutboxPublisher), stages)
    )
    const started = performance.now()
    for (let i = 0; i < relays; i++) {
      const relayPool = yield* build(pool(url, 4))
      const store = yield* OutboxStore.makeSql().pipe(Effect.provideContext(relayPool))
      yield* build(
        OutboxRelay.layer({ batchSize: BATCH, pollInterval: Duration.millis(20), concurrency: 32 }).pipe(
          Layer.provide(Layer.mergeAll(
            Layer.succeed(OutboxStore.OutboxStore, timedStore(store, stages)),
            timedPublished,
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
    return { seconds, rate: BACKLOG / seconds, published: counter.n, batches: counter.batches, stages }
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
    const runSql = (statements: ReadonlyArray<string>) =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const context = yield* build(pool(database.url, 1))
        const sql = Context.get(context, SqlClient.SqlClient)
        for (const statement of statements) yield* sql.unsafe(statement).pipe(Effect.orDie)
      })))
    await runSql(OutboxStore.ddl)

    const results: Array<[string, string]> = []
    if (SAMPLES > 0) {
      const notify = await Effect.runPromise(latency(database.url, "notify", SAMPLES))
      results.push([
        "enqueue→publish latency, LISTEN/NOTIFY",
        `p50 ${percentile(notify, 50).toFixed(2)} ms · p99 ${percentile(notify, 99).toFixed(2)} ms · max ${
          Math.max(...notify).toFixed(2)
        } ms (n=${notify.length})`
      ])
    }
    if (POLL_SAMPLES > 0) {
      const poll = await Effect.runPromise(latency(database.url, "poll", POLL_SAMPLES))
      results.push([
        "enqueue→publish latency, polling 100 ms",
        `p50 ${percentile(poll, 50).toFixed(2)} ms · p99 ${percentile(poll, 99).toFixed(2)} ms (n=${poll.length})`
      ])
    }
    const nats = WITH_NATS && await natsReachable()
    if (WITH_NATS && !nats) results.push(["throughput, NATS JetStream", "skipped: nothing listens on 127.0.0.1:4222"])
    const goals: Array<string> = []
    const median = (values: ReadonlyArray<number>) => percentile(values, 50)
    // The schema of migration 0001 (what the server runs), then with the partial index recommended to
    // the schema's owner (OutboxStore.recommendedIndexes). Each round measures both schemas, 1 relay
    // and 2 relays, the order of 1 and 2 alternating between rounds so that neither always runs first.
    const schemas = ["schema 0001", "+ recommended index"] as const
    const natsRates = new Map<string, Array<[number, number]>>(schemas.map((schema) => [schema, []]))
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? [1, 2] : [2, 1]
      const tag = ROUNDS > 1 ? `round ${round}, ` : ""
      for (const schema of schemas) {
        await runSql(
          schema === "schema 0001"
            ? ["DROP INDEX IF EXISTS outbox_pending_by_aggregate"]
            : OutboxStore.recommendedIndexes
        )
        for (const relays of order) {
          const r = await Effect.runPromise(drain(database.url, relays, countingPublisher))
          results.push([
            `${tag}throughput, ${relays} relay(s), in-process, ${schema}`,
            `${Math.round(r.rate)} msg/s (${BACKLOG} in ${r.seconds.toFixed(2)} s, ${r.published} published in ${r.batches} batches)`
          ])
          if (STAGES) results.push(["", describeStages(r.stages)])
        }
        if (!nats) continue
        const rates = new Map<number, number>()
        for (const relays of order) {
          const stream = `BENCH_OUTBOX_${process.pid}_${streams.length}`
          streams.push(stream)
          const r = await Effect.runPromise(drain(database.url, relays, natsPublisher(stream)))
          rates.set(relays, r.rate)
          results.push([
            `${tag}throughput, ${relays} relay(s), NATS JetStream, ${schema}`,
            `${Math.round(r.rate)} msg/s (${BACKLOG} in ${r.seconds.toFixed(2)} s)`
          ])
          if (STAGES) results.push(["", describeStages(r.stages)])
        }
        natsRates.get(schema)!.push([rates.get(1)!, rates.get(2)!])
      }
    }
    for (const schema of schemas) {
      const pairs = natsRates.get(schema)!
      if (pairs.length === 0) continue
      const one = median(pairs.map(([a]) => a))
      const ratios = pairs.map(([a, b]) => b / a)
      const ratio = median(ratios)
      const perRound = pairs.length > 1
        ? ` (rounds: 1 relay ${pairs.map(([a]) => Math.round(a)).join(", ")}; ratio ${ratios.map((x) => x.toFixed(2)).join(", ")})`
        : ""
      goals.push(
        `NATS JetStream, ${schema}: 1 relay ${Math.round(one)} msg/s${pairs.length > 1 ? " (median)" : ""} ` +
          `(goal ≥ 10,000: ${one >= 10_000 ? "met" : "NOT met"}); ` +
          `2 relays ${ratio.toFixed(2)}× of 1 (goal ≥ 1.00: ${ratio >= 1 ? "met" : "NOT met"})${perRound}`
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
