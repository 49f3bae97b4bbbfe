/**
 * Port: hands outbox messages to the outside world. The relay hands over each claimed batch at once
 * (`publishBatch`), in position order, and retries what failed, so implementations only need to be
 * honest about failure: report a message published only once the target has accepted it.
 *
 * - `layerInProcess`: an Effect `PubSub` in this process (the embedded default); live-update streams
 *   subscribe through {@link InProcessMessages}. A batch is one `publishAll`.
 * - `layerNats`: NATS JetStream, subject `<prefix>.<type>.<aggregateId>`, the message id as
 *   `Nats-Msg-Id` so the broker drops redeliveries within the stream's duplicate window. A batch is
 *   pipelined: every message is sent, then all acknowledgements are awaited together.
 * - `layerWebhook`: a signed HTTP `POST` (see {@link WebhookSignature} for the headers), one message
 *   at a time per aggregate (see {@link fromPublish}).
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Exit, Layer, PubSub, type Redacted, Schema, Stream } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import * as NatsAcks from "./NatsAcks.ts"
import * as OutboxBatch from "./OutboxBatch.ts"
import type { OutboxMessage } from "./OutboxMessage.ts"
import * as WebhookSignature from "./WebhookSignature.ts"

/**
 * A delivery failed, and whose fault it is:
 *
 * - `unavailable`: the target could not be reached (connection refused or lost, a broker without
 *   responders, no acknowledgement from a broker). An outage of the target, not a fault of the
 *   message: the relay gives the message back without counting an attempt and probes the target
 *   again within a second, so delivery resumes at once when it returns and an outage of any length
 *   dead-letters nothing.
 * - `timeout`, `failed` (the target answered but did not take the message this time, e.g. HTTP 5xx
 *   or a broker's error for this message): counted attempts, retried after the message's backoff,
 *   dead-lettered after `maxAttempts`.
 * - `rejected`: the target refused this message for good (retrying cannot help): dead-lettered at once.
 *
 * @since 0.1.0
 */
export class PublishError extends Schema.TaggedError<PublishError>()("OutboxPublishError", {
  reason: Schema.Literals(["unavailable", "timeout", "failed", "rejected"]),
  target: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {
  get isRetryable(): boolean {
    return this.reason !== "rejected"
  }
  /** The target is out of reach: nothing to hold against the message. @since 0.2.0 */
  get isOutage(): boolean {
    return this.reason === "unavailable"
  }
  override get message() {
    return `Publishing to ${this.target} failed (${this.reason}): ${this.detail}`
  }
}

/**
 * What became of one message of a batch (see {@link OutboxBatch.Outcome}).
 *
 * @since 0.2.0
 */
export type Outcome = OutboxBatch.Outcome<PublishError>

/** @since 0.2.0 */
export type BatchOptions = OutboxBatch.BatchOptions

/**
 * @since 0.1.0
 */
export class OutboxPublisher extends Context.Service<OutboxPublisher, {
  readonly publish: (message: OutboxMessage) => Effect.Effect<void, PublishError>
  /**
   * Publishes a batch given in position order and reports one {@link Outcome} per message, in the
   * same order. A message is sent only after every earlier message of its aggregate in the batch was
   * sent (sent, not necessarily acknowledged: pipelining is allowed), and a failure of its aggregate
   * stops it. Never fails as a whole: a target that is down fails every message it was sent.
   */
  readonly publishBatch: (
    messages: ReadonlyArray<OutboxMessage>,
    options?: BatchOptions
  ) => Effect.Effect<ReadonlyArray<Outcome>>
}>()("@live-events/outbox/OutboxPublisher") {}

/**
 * A publisher from its one-message operation; batches go through {@link OutboxBatch.oneAtATime}.
 *
 * @since 0.2.0
 */
export const fromPublish = (
  publish: (message: OutboxMessage) => Effect.Effect<void, PublishError>
): OutboxPublisher["Service"] => OutboxPublisher.of({ publish, publishBatch: OutboxBatch.oneAtATime(publish) })

/**
 * The messages published in this process, for live-update streams.
 *
 * @since 0.1.0
 */
export class InProcessMessages extends Context.Service<InProcessMessages, {
  readonly pubsub: PubSub.PubSub<OutboxMessage>
  /** Every message published after the subscription starts. */
  readonly subscribe: Stream.Stream<OutboxMessage>
}>()("@live-events/outbox/InProcessMessages") {}

/** @since 0.1.0 */
export interface InProcessOptions {
  /**
   * Messages buffered per slow subscriber before the oldest are dropped (default 4096). A sliding
   * buffer never blocks the relay behind a stalled SSE client; such a client resumes by id instead.
   */
  readonly capacity?: number | undefined
}

/**
 * Publishes into an in-process `PubSub`. Messages published while nobody subscribes are gone, as with
 * any broadcast: durable consumers use a broker.
 *
 * @since 0.1.0
 */
export const layerInProcess = (
  options: InProcessOptions = {}
): Layer.Layer<OutboxPublisher | InProcessMessages> =>
  Layer.effectContext(Effect.gen(function*() {
    const pubsub = yield* Effect.acquireRelease(
      PubSub.sliding<OutboxMessage>(options.capacity ?? 4096),
      PubSub.shutdown
    )
    const publish = Effect.fn("OutboxPublisher.publish")(function*(message: OutboxMessage) {
      yield* PubSub.publish(pubsub, message)
    })
    const publishBatch = (messages: ReadonlyArray<OutboxMessage>, options?: BatchOptions) =>
      Effect.suspend(() => {
        const indexes = OutboxBatch.sendOrder(messages, options)
        const outcomes: Array<Outcome> = new Array(messages.length).fill(undefined)
        return PubSub.publishAll(pubsub, indexes.map((i) => messages[i]!)).pipe(Effect.map(() => {
          for (const i of indexes) {
            outcomes[i] = Exit.void
            options?.onOutcome?.(i, Exit.void)
          }
          return outcomes
        }))
      })
    return Context.make(OutboxPublisher, OutboxPublisher.of({ publish, publishBatch })).pipe(
      Context.add(InProcessMessages, InProcessMessages.of({ pubsub, subscribe: Stream.fromPubSub(pubsub) }))
    )
  }))

/** @since 0.1.0 */
export interface NatsOptions {
  /** Server URL(s); default `127.0.0.1:4222`. */
  readonly servers?: string | ReadonlyArray<string> | undefined
  /** JetStream stream name, created if missing; default `LIVE_EVENTS`. */
  readonly stream?: string | undefined
  /** Subjects are `<prefix>.<type>.<aggregateId>`; the stream captures `<prefix>.>`. Default `live-events`. */
  readonly subjectPrefix?: string | undefined
  /** The stream's dedup window when the layer creates it; default 2 minutes. */
  readonly duplicateWindow?: Duration.Input | undefined
  /** How long to wait for the broker's acknowledgement; default 5 seconds. */
  readonly ackTimeout?: Duration.Input | undefined
  /** Connection name shown by the server. */
  readonly name?: string | undefined
}

/**
 * Connection-level failures: the connection is down or reconnecting, no JetStream answers the subject
 * (a 503 status while the broker starts), or no acknowledgement came back in time (lost with the
 * connection, or buffered by the client until the broker returns). Anything else is the broker's answer
 * about this message (e.g. over the stream's size limit).
 */
const natsOutage = /timeout|no responders|\b503\b|clos|disconnect|reconnect|connection|ECONNREFUSED|ECONNRESET/i

const natsError = (detail: string, error: unknown): PublishError => {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return new PublishError({
    reason: natsOutage.test(text) ? "unavailable" : "failed",
    target: "nats",
    detail: `${detail}: ${text}`,
    cause: error
  })
}

/**
 * A message received on a NATS subscription: the part of `@nats-io/transport-node`'s `Msg` that
 * subscribers of {@link NatsConnectionService} use.
 *
 * @since 0.1.0
 */
export interface NatsMessage {
  readonly subject: string
  readonly data: Uint8Array
  readonly headers?: { get(key: string): string } | undefined
  json<T = unknown>(): T
  string(): string
}

/**
 * A NATS core subscription: async-iterable messages, ended by `unsubscribe`.
 *
 * @since 0.1.0
 */
export interface NatsSubscription extends AsyncIterable<NatsMessage> {
  unsubscribe(max?: number): void
}

/**
 * The connection {@link layerNats} opened, typed structurally: the NATS client is an optional peer, and
 * a published signature naming its types would break the type-check of consumers that do not install
 * it. The object is the client's `NatsConnection`; cast it to that type for the rest of its API.
 *
 * @since 0.1.0
 */
export interface NatsSubscriber {
  subscribe(subject: string): NatsSubscription
}

/**
 * The NATS connection and JetStream handles used by {@link layerNats}; exposed so that embedders can
 * subscribe on the same connection.
 *
 * @since 0.1.0
 */
export class NatsConnectionService extends Context.Service<NatsConnectionService, {
  readonly connection: NatsSubscriber
  readonly stream: string
  readonly subjectPrefix: string
}>()("@live-events/outbox/NatsConnection") {}

/**
 * Connects to NATS (failing the layer when the server cannot be reached), creates the stream if it is
 * missing, and publishes each message with its id as `Nats-Msg-Id`. A `duplicate` acknowledgement is
 * success: the broker already has the message. The client reconnects forever after a later loss;
 * publishes fail meanwhile and the relay retries them.
 *
 * A batch is pipelined (see {@link NatsAcks}): all messages are sent on the one connection in batch
 * order (so the broker stores each aggregate's messages in order), then the acknowledgements are
 * awaited together, for at most `ackTimeout`. A message whose acknowledgement failed is reported failed; later messages of its
 * aggregate may have been stored meanwhile, but the relay gives them back unpublished and sends them
 * again after it: the broker drops those copies by `Nats-Msg-Id`.
 *
 * @since 0.1.0
 */
export const layerNats = (
  options: NatsOptions = {}
): Layer.Layer<OutboxPublisher | NatsConnectionService, PublishError> =>
  Layer.effectContext(Effect.gen(function*() {
    // Imported lazily: the NATS client is an optional peer dependency.
    const transport = yield* Effect.promise(() => import("@nats-io/transport-node"))
    const { jetstreamManager } = yield* Effect.promise(() => import("@nats-io/jetstream"))
    const streamName = options.stream ?? "LIVE_EVENTS"
    const prefix = options.subjectPrefix ?? "live-events"
    const ackTimeout = Duration.toMillis(Duration.fromInputUnsafe(options.ackTimeout ?? Duration.seconds(5)))
    const servers = options.servers ?? "127.0.0.1:4222"
    const connection = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          transport.connect({
            servers: typeof servers === "string" ? servers : [...servers],
            name: options.name ?? "live-events-outbox",
            maxReconnectAttempts: -1,
            // A restarted broker is found within a quarter of a second (the client's default waits 2 s
            // between attempts); publishes made meanwhile are buffered and sent on reconnect.
            reconnectTimeWait: 250,
            reconnectJitter: 100,
            timeout: 5000
          }),
        catch: (error) => natsError("connect", error)
      }),
      (connection) => Effect.promise(() => connection.drain().catch(() => connection.close()))
    )
    const manager = yield* Effect.tryPromise({
      try: () => jetstreamManager(connection),
      catch: (error) => natsError("jetstream manager", error)
    })
    yield* Effect.tryPromise({
      try: async () => {
        try {
          await manager.streams.info(streamName)
        } catch {
          const window = Duration.toNanos(Duration.fromInputUnsafe(options.duplicateWindow ?? Duration.minutes(2)))
          await manager.streams.add({
            name: streamName,
            subjects: [`${prefix}.>`],
            duplicate_window: Number(window ?? 0n)
          })
        }
      },
      catch: (error) => natsError(`ensure stream ${streamName}`, error)
    })
    const acks = yield* Effect.acquireRelease(
      Effect.sync(() => NatsAcks.make(connection, transport.createInbox())),
      (acks) => Effect.sync(() => acks.close())
    )
    const outgoing = (message: OutboxMessage): NatsAcks.Outgoing => {
      const headers = transport.headers()
      headers.set("Nats-Msg-Id", message.id)
      headers.set("Outbox-Type", message.type)
      headers.set("Outbox-Aggregate-Id", message.aggregateId)
      if (message.traceparent !== undefined) headers.set("traceparent", message.traceparent)
      return { subject: `${prefix}.${message.type}.${message.aggregateId}`, data: JSON.stringify(message.payload), headers }
    }
    const publishBatch = (messages: ReadonlyArray<OutboxMessage>, options?: BatchOptions) =>
      Effect.promise(() => {
        const outcomes: Array<Outcome> = new Array(messages.length).fill(undefined)
        const indexes = OutboxBatch.sendOrder(messages, options)
        return acks.publishAll(indexes.map((i) => outgoing(messages[i]!)), ackTimeout, (k, error) => {
          const i = indexes[k]!
          const outcome = error === undefined ? Exit.void : Exit.fail(natsError(`publish ${messages[i]!.id}`, error))
          outcomes[i] = outcome
          options?.onOutcome?.(i, outcome)
        }).then(() => outcomes)
      }).pipe(Effect.withSpan("OutboxPublisher.publishBatch", { attributes: { messages: messages.length } }))
    const publish = Effect.fn("OutboxPublisher.publish")(function*(message: OutboxMessage) {
      const [outcome] = yield* publishBatch([message])
      if (outcome !== undefined) yield* outcome
    })
    return Context.make(OutboxPublisher, OutboxPublisher.of({ publish, publishBatch })).pipe(
      Context.add(
        NatsConnectionService,
        NatsConnectionService.of({ connection, stream: streamName, subjectPrefix: prefix })
      )
    )
  }))

/** @since 0.1.0 */
export interface WebhookOptions {
  readonly url: string | URL
  /** Signing secrets; more than one during a rotation (each yields a `v1=` signature). */
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  /** Per-request timeout; default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * 408, 425, 429 and 5xx are worth retrying (as counted attempts: the receiver answered, and a receiver
 * that fails one message for ever must not hold its aggregate for ever); any other non-2xx is a refusal
 * of this message.
 */
const retryableStatus = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500

/**
 * POSTs each message's payload as JSON to one URL, signed (see {@link WebhookSignature}). A 2xx is
 * success; 408/425/429/5xx and timeouts are retried by the relay as counted attempts, network errors
 * (the receiver is unreachable) as an outage; other statuses dead-letter the message. Redirects are not followed.
 *
 * @since 0.1.0
 */
export const layerWebhook = (
  options: WebhookOptions
): Layer.Layer<OutboxPublisher, never, HttpClient.HttpClient> =>
  Layer.effect(
    OutboxPublisher,
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const timeout = Duration.fromInputUnsafe(options.timeout ?? Duration.seconds(10))
      const url = String(options.url)
      const fail = (reason: PublishError["reason"], detail: string, cause?: unknown) =>
        new PublishError({ reason, target: `webhook ${url}`, detail, cause })
      const publish = Effect.fn("OutboxPublisher.publish")(function*(message: OutboxMessage) {
        const body = JSON.stringify(message.payload)
        const timestamp = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const signature = yield* WebhookSignature.sign(options.secrets, timestamp, body).pipe(
          Effect.mapError((error) => fail("rejected", "signing failed", error))
        )
        const request = HttpClientRequest.post(url).pipe(
          HttpClientRequest.setHeaders({
            [WebhookSignature.HEADER_ID]: message.id,
            [WebhookSignature.HEADER_TIMESTAMP]: String(timestamp),
            [WebhookSignature.HEADER_SIGNATURE]: signature,
            [WebhookSignature.HEADER_TYPE]: message.type,
            ...(message.traceparent === undefined ? {} : { traceparent: message.traceparent })
          }),
          HttpClientRequest.bodyText(body, "application/json")
        )
        const response = yield* client.execute(request).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () => Effect.fail(fail("timeout", `no response within ${Duration.format(timeout)}`))
          }),
          Effect.mapError((error) =>
            error instanceof PublishError ? error : fail("unavailable", error.message, error)
          ),
          Effect.scoped
        )
        if (response.status >= 200 && response.status < 300) return
        return yield* fail(
          retryableStatus(response.status) ? "failed" : "rejected",
          `HTTP ${response.status} for message ${message.id}`
        )
      })
      return fromPublish(publish)
    })
  )

/**
 * Publishes to several publishers in turn (e.g. NATS for other processes and in-process for this
 * one's live streams). Fails on the first failure; since the relay retries the whole message, targets
 * must tolerate duplicates (NATS dedups by id, webhooks carry `Webhook-Id`). In a batch, each target
 * gets what every earlier target accepted (per aggregate, up to its first failure).
 *
 * @since 0.1.0
 */
export const fanOut = (
  publishers: ReadonlyArray<OutboxPublisher["Service"]>
): OutboxPublisher["Service"] =>
  OutboxPublisher.of({
    publish: (message) => Effect.forEach(publishers, (publisher) => publisher.publish(message), { discard: true }),
    publishBatch: Effect.fnUntraced(function*(messages: ReadonlyArray<OutboxMessage>, options?: BatchOptions) {
      const outcomes: Array<Outcome> = new Array(messages.length).fill(undefined)
      let indexes: ReadonlyArray<number> = messages.map((_, i) => i)
      for (const publisher of publishers) {
        if (indexes.length === 0) break
        const current = indexes
        const skip = options?.skip
        const onOutcome = options?.onOutcome
        const last = publisher === publishers[publishers.length - 1]
        const results = yield* publisher.publishBatch(current.map((i) => messages[i]!), {
          concurrency: options?.concurrency,
          skip: skip === undefined ? undefined : (k) => skip(current[k]!),
          // A message's outcome is known once the last target has it.
          onOutcome: onOutcome === undefined || !last ? undefined : (k, outcome) => onOutcome(current[k]!, outcome)
        })
        for (let k = 0; k < current.length; k++) outcomes[current[k]!] = results[k]
        indexes = OutboxBatch.acceptedPrefix(current, messages, outcomes)
      }
      return outcomes
    })
  })
