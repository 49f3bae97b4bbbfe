/**
 * The published domain events of *every* server process, as seen by this one: the source of the
 * live-update streams (`/v1/events/{id}/live`, `/v1/me/live`). See docs/adr/0006-live-updates.md.
 *
 * A feed reads one source (in-process PubSub when embedded, PostgreSQL `LISTEN` on a channel, or a
 * NATS core subscription), drops duplicates (delivery is at-least-once), and keeps a bounded ring of
 * recent messages so that a client reconnecting with `Last-Event-ID` gets what it missed within the
 * window. Only messages the relay has *published* reach a feed, never uncommitted changes.
 *
 * @since 0.1.0
 */
import type { PgClient } from "@effect/sql-pg"
import { OutboxBatch, type OutboxMessage as Outbox, OutboxPublisher } from "@live-events/outbox"
import { Clock, Config, Context, Duration, Effect, Layer, PubSub, Schedule, type Scope, Stream } from "effect"
import { SqlClient } from "effect/sql"

/**
 * A published domain event, reduced to what live streams need: the envelope's `data` carries ids and
 * counts, never PII.
 *
 * @since 0.1.0
 */
export interface LiveMessage {
  readonly id: string
  readonly type: string
  readonly aggregateId: string
  readonly data: Readonly<Record<string, unknown>>
}

/**
 * What a subscriber receives: messages, preceded by `Reset` when the `Last-Event-ID` it resumed from
 * is no longer (or was never) in this process's window — the client must then refetch its state.
 *
 * @since 0.1.0
 */
export type LiveItem =
  | { readonly _tag: "Message"; readonly message: LiveMessage }
  | { readonly _tag: "Reset" }

/**
 * @since 0.1.0
 */
export class LiveFeed extends Context.Service<LiveFeed, {
  /**
   * Subscribes now (in the scope): the stream replays the window after `lastEventId` (if given), then
   * every message published after the subscription, without duplicates. Read any snapshot *after*
   * subscribing, and nothing falls between the snapshot and the stream.
   */
  readonly subscribe: (lastEventId?: string | undefined) => Effect.Effect<Stream.Stream<LiveItem>, never, Scope.Scope>
}>()("@live-events/engine/LiveFeed") {}

/** @since 0.1.0 */
export interface Options {
  /** Messages kept for `Last-Event-ID` resumption (default 10,000). */
  readonly replaySize?: number | undefined
  /** And at most this old (default 5 minutes). */
  readonly replayWindow?: Duration.Input | undefined
  /** Messages buffered per slow subscriber before the oldest are dropped (default 4,096). */
  readonly subscriberBuffer?: number | undefined
}

/**
 * Live-update settings: `LIVE_REPLAY_SIZE` (10000), `LIVE_REPLAY_WINDOW` ("5 minutes"),
 * `LIVE_HEARTBEAT_INTERVAL` ("15 seconds").
 *
 * @since 0.1.0
 */
export const config = Config.all({
  replaySize: Config.Int("LIVE_REPLAY_SIZE").pipe(Config.withDefault(10_000)),
  replayWindow: Config.Duration("LIVE_REPLAY_WINDOW").pipe(Config.withDefault(Duration.minutes(5))),
  heartbeatInterval: Config.Duration("LIVE_HEARTBEAT_INTERVAL").pipe(Config.withDefault(Duration.seconds(15)))
})

/** The channel the relay notifies published messages on when there is no broker. @since 0.1.0 */
export const DEFAULT_CHANNEL = "live_events"

/**
 * Builds a feed over `source`, which it runs (and restarts on failure) for the lifetime of the scope.
 *
 * @since 0.1.0
 */
export const make = Effect.fn("LiveFeed.make")(function*<E>(source: Stream.Stream<LiveMessage, E>, options: Options = {}) {
  const replaySize = Math.max(1, options.replaySize ?? 10_000)
  const replayWindow = Duration.toMillis(Duration.fromInputUnsafe(options.replayWindow ?? Duration.minutes(5)))
  const pubsub = yield* Effect.acquireRelease(
    PubSub.sliding<LiveMessage>(options.subscriberBuffer ?? 4096),
    PubSub.shutdown
  )
  // The ring: `entries[head..]`, oldest first. `seen` holds exactly the ids in the ring (deduplication
  // window). Dropping advances `head` (a full ring drops one message per message: `shift` would copy the
  // whole window each time); the dropped prefix is cut off once it is as long as the rest.
  let entries: Array<{ readonly message: LiveMessage; readonly at: number }> = []
  let head = 0
  const seen = new Set<string>()
  const window = () => entries.slice(head)

  const ingest = (message: LiveMessage) =>
    Effect.gen(function*() {
      if (seen.has(message.id)) return
      const now = yield* Clock.currentTimeMillis
      entries.push({ message, at: now })
      seen.add(message.id)
      while (entries.length - head > replaySize || (entries.length > head && now - entries[head]!.at > replayWindow)) {
        seen.delete(entries[head++]!.message.id)
      }
      if (head > 1024 && head * 2 >= entries.length) {
        entries = entries.slice(head)
        head = 0
      }
      yield* PubSub.publish(pubsub, message)
    })

  yield* source.pipe(
    Stream.runForEach(ingest),
    Effect.tapCause((cause) => Effect.logWarning("Live feed source failed; restarting", cause)),
    Effect.sandbox,
    Effect.retry(Schedule.spaced(Duration.seconds(1))),
    Effect.ignore,
    Effect.annotateLogs({ module: "LiveFeed" }),
    Effect.forkScoped
  )

  const subscribe = (lastEventId?: string | undefined): Effect.Effect<Stream.Stream<LiveItem>, never, Scope.Scope> =>
    Effect.gen(function*() {
      // Subscribe first, then copy the ring: nothing falls between the two; overlaps are dropped by id.
      const subscription = yield* PubSub.subscribe(pubsub)
      let replay: ReadonlyArray<LiveMessage> = []
      let reset = false
      if (lastEventId !== undefined && lastEventId !== "") {
        const ring = window()
        const index = ring.findIndex((entry) => entry.message.id === lastEventId)
        if (index < 0) reset = true
        else replay = ring.slice(index + 1).map((entry) => entry.message)
      }
      const replayed = new Set(replay.map((message) => message.id))
      const head: Array<LiveItem> = reset ? [{ _tag: "Reset" }] : []
      for (const message of replay) head.push({ _tag: "Message", message })
      return Stream.concat(
        Stream.fromIterable(head),
        Stream.fromSubscription(subscription).pipe(
          Stream.filter((message) => !replayed.has(message.id)),
          Stream.map((message): LiveItem => ({ _tag: "Message", message }))
        )
      )
    })

  return LiveFeed.of({ subscribe })
})

/**
 * Reads a domain envelope (`{ id, type, aggregateId, data, … }`) as a {@link LiveMessage}.
 *
 * @since 0.1.0
 */
export const fromEnvelope = (
  envelope: unknown,
  fallback?: { readonly id?: string | undefined; readonly type?: string | undefined; readonly aggregateId?: string | undefined }
): LiveMessage | undefined => {
  const e = (typeof envelope === "object" && envelope !== null ? envelope : {}) as Record<string, unknown>
  const id = typeof e.id === "string" ? e.id : fallback?.id
  const type = typeof e.type === "string" ? e.type : fallback?.type
  const aggregateId = typeof e.aggregateId === "string" ? e.aggregateId : fallback?.aggregateId
  if (id === undefined || type === undefined || aggregateId === undefined) return undefined
  const data = typeof e.data === "object" && e.data !== null ? e.data as Record<string, unknown> : {}
  return { id, type, aggregateId, data }
}

const fromOutbox = (message: Outbox.OutboxMessage): LiveMessage | undefined =>
  fromEnvelope(message.payload, { id: message.id, type: message.type, aggregateId: message.aggregateId })

const defined = <A, E>(stream: Stream.Stream<A | undefined, E>): Stream.Stream<A, E> =>
  stream.pipe(Stream.filter((a): a is A => a !== undefined))

/**
 * Embedded: the messages this process's relay publishes in process.
 *
 * @since 0.1.0
 */
export const layerInProcess = (
  options: Options = {}
): Layer.Layer<LiveFeed, never, OutboxPublisher.InProcessMessages> =>
  Layer.effect(
    LiveFeed,
    Effect.gen(function*() {
      const messages = yield* OutboxPublisher.InProcessMessages
      return yield* make(defined(Stream.map(messages.subscribe, fromOutbox)), options)
    })
  )

// `pg_notify` payloads are limited to 8000 bytes (with the channel name): leave headroom.
const NOTIFY_LIMIT = 7900

/**
 * The `pg_notify` payloads for a batch: JSON arrays of live messages in batch order, each at most
 * `limit` bytes, as few as fit. A message too large for a payload of its own travels as `{"ref": id}`
 * and the receiver reads it back from the outbox table.
 *
 * @since 0.2.0
 */
export const notifyPayloads = (messages: ReadonlyArray<LiveMessage>, limit: number = NOTIFY_LIMIT): Array<string> => {
  const payloads: Array<string> = []
  let parts: Array<string> = []
  let bytes = 2 // the brackets
  for (const live of messages) {
    let text = JSON.stringify(live)
    let size = Buffer.byteLength(text)
    if (size + 2 > limit) {
      text = JSON.stringify({ ref: live.id })
      size = Buffer.byteLength(text)
    }
    if (parts.length > 0 && bytes + 1 + size > limit) {
      payloads.push(`[${parts.join(",")}]`)
      parts = []
      bytes = 2
    }
    bytes += (parts.length > 0 ? 1 : 0) + size
    parts.push(text)
  }
  if (parts.length > 0) payloads.push(`[${parts.join(",")}]`)
  return payloads
}

/**
 * An `OutboxPublisher` that broadcasts published messages on a PostgreSQL channel (no broker): every
 * process's {@link layerPgListen} receives them. Not transactional — it runs after the relay
 * delivered the messages, which is exactly "published". A batch is one statement sending as few
 * notifications as the payload limit allows (see {@link notifyPayloads}), not one per message.
 *
 * @since 0.1.0
 */
export const publisherPgNotify = (
  channel: string = DEFAULT_CHANNEL
): Effect.Effect<OutboxPublisher.OutboxPublisher["Service"], never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const notify = Effect.fnUntraced(function*(messages: ReadonlyArray<Outbox.OutboxMessage>) {
      const live: Array<LiveMessage> = []
      for (const message of messages) {
        const one = fromOutbox(message)
        if (one !== undefined) live.push(one)
      }
      if (live.length === 0) return
      const payloads = notifyPayloads(live)
      // One round trip; the notifications are sent in array order.
      yield* sql`SELECT pg_notify(${channel}, p.payload)
        FROM json_array_elements_text(${JSON.stringify(payloads)}::json) AS p(payload)`.pipe(
        Effect.mapError((error) =>
          new OutboxPublisher.PublishError({
            // Out of reach (an outage: no attempt counted), or refused this message (e.g. a payload
            // over the server's limit: counted, so that it is dead-lettered instead of retried for ever).
            reason: error.reason._tag === "ConnectionError" ? "unavailable" : "failed",
            target: `pg_notify ${channel}`,
            detail: error.message,
            cause: error
          })
        )
      )
    })
    return OutboxPublisher.OutboxPublisher.of({
      publish: (message) => notify([message]).pipe(Effect.withSpan("LiveFeed.notify")),
      publishBatch: (messages, options) =>
        Effect.gen(function*() {
          const indexes = OutboxBatch.sendOrder(messages, options)
          const exit = yield* Effect.exit(notify(indexes.map((i) => messages[i]!)))
          // All or nothing: one statement.
          const outcomes: Array<OutboxPublisher.Outcome> = new Array(messages.length).fill(undefined)
          for (const i of indexes) {
            outcomes[i] = exit
            options?.onOutcome?.(i, exit)
          }
          return outcomes
        }).pipe(Effect.withSpan("LiveFeed.notifyBatch", { attributes: { messages: messages.length } }))
    })
  })

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const isRef = (item: unknown): item is { readonly ref: string } =>
  typeof item === "object" && item !== null && typeof (item as { ref?: unknown }).ref === "string"

/**
 * PostgreSQL `LISTEN` on `channel` (what {@link publisherPgNotify} sends). Holds one pool connection;
 * re-listens after a connection loss (messages published meanwhile are not replayed: clients resuming
 * with an id older than the gap get a reset). A notification carries a JSON array of messages, fanned
 * out in order (references read back in one query), or a single message as older senders wrote.
 *
 * @since 0.1.0
 */
export const layerPgListen = (
  channel: string = DEFAULT_CHANNEL,
  options: Options = {}
): Layer.Layer<LiveFeed, never, PgClient.PgClient | SqlClient.SqlClient> =>
  Layer.effect(
    LiveFeed,
    Effect.gen(function*() {
      const { PgClient } = yield* Effect.promise(() => import("@effect/sql-pg"))
      const pg = yield* PgClient.PgClient
      const sql = yield* SqlClient.SqlClient
      const readBack = (ids: ReadonlyArray<string>) =>
        sql<{ id: string; type: string; aggregate_id: string; payload: unknown }>`SELECT id, type, aggregate_id, payload
          FROM outbox WHERE id = ANY(string_to_array(${ids.join(",")}, ',')::uuid[])`.pipe(
          Effect.map((rows) =>
            new Map(rows.map((row) => [
              row.id.toLowerCase(),
              fromEnvelope(
                typeof row.payload === "string" ? JSON.parse(row.payload) : row.payload,
                { id: row.id, type: row.type, aggregateId: row.aggregate_id }
              )
            ]))
          )
        )
      const decode = (payload: string) =>
        Effect.gen(function*() {
          const parsed = yield* Effect.try(() => JSON.parse(payload) as unknown)
          const items: ReadonlyArray<unknown> = Array.isArray(parsed) ? parsed : [parsed]
          const refs = items.flatMap((item) => isRef(item) && UUID.test(item.ref) ? [item.ref] : [])
          const found = refs.length === 0 ? new Map<string, LiveMessage | undefined>() : yield* readBack(refs)
          const messages: Array<LiveMessage> = []
          for (const item of items) {
            const live = isRef(item) ? found.get(item.ref.toLowerCase()) : fromEnvelope(item)
            if (live !== undefined) messages.push(live)
          }
          return messages
        }).pipe(
          Effect.tapCause((cause) => Effect.logWarning("Live feed: unreadable notification", cause)),
          Effect.orElseSucceed((): ReadonlyArray<LiveMessage> => [])
        )
      const source = Stream.unwrap(Effect.map(pg.listen(channel), Stream.fromQueue)).pipe(
        Stream.mapEffect((notification) => decode(notification.payload)),
        Stream.flattenIterable
      )
      return yield* make(source, options)
    })
  )

/**
 * NATS: a core (non-durable) subscription to `<subjectPrefix>.>` on the publisher's connection. Live
 * streams need no durability: the JetStream stream holds the history, the ring the resume window.
 *
 * @since 0.1.0
 */
export const layerNats = (options: Options = {}): Layer.Layer<LiveFeed, never, OutboxPublisher.NatsConnectionService> =>
  Layer.effect(
    LiveFeed,
    Effect.gen(function*() {
      const nats = yield* OutboxPublisher.NatsConnectionService
      const source = Stream.unwrap(
        Effect.acquireRelease(
          Effect.sync(() => nats.connection.subscribe(`${nats.subjectPrefix}.>`)),
          (subscription) => Effect.sync(() => subscription.unsubscribe())
        ).pipe(Effect.map((subscription) =>
          Stream.fromAsyncIterable(subscription, (error) => error).pipe(
            Stream.map((message) => {
              try {
                return fromEnvelope(message.json(), {
                  id: message.headers?.get("Nats-Msg-Id") || undefined,
                  type: message.headers?.get("Outbox-Type") || undefined,
                  aggregateId: message.headers?.get("Outbox-Aggregate-Id") || undefined
                })
              } catch {
                return undefined
              }
            })
          )
        ))
      )
      return yield* make(defined(source), options)
    })
  )

/**
 * A feed with no source (the memory store has no relay): streams carry only their snapshot and
 * heartbeats.
 *
 * @since 0.1.0
 */
export const layerEmpty: Layer.Layer<LiveFeed> = Layer.effect(LiveFeed, make(Stream.never))
