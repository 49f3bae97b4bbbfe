/**
 * How the engine delivers its outbox: a relay in every process (they coordinate through the store's
 * leases, so any number of processes is safe), a publisher chosen by the options, the
 * live feed that turns published messages into live updates, and the lag that readiness reports.
 *
 * | database   | relay wake-up                         | publisher                    | live feed                    |
 * |------------|---------------------------------------|------------------------------|------------------------------|
 * | PGlite     | local signal, polls every 100 ms      | in-process PubSub            | the same PubSub              |
 * | PostgreSQL | `LISTEN outbox` (writer `pg_notify`s) | `pg_notify('live_events', …)`| `LISTEN live_events`         |
 * | + NATS     | `LISTEN outbox`                       | JetStream (dedup by id)      | NATS core sub `<prefix>.>`   |
 *
 * A webhook adds signed POSTs to any of them (fan-out). See docs/adr/0006-live-updates.md.
 *
 * @since 0.1.0
 */
import type { PgClient } from "@effect/sql-pg"
import { OutboxPublisher, OutboxRelay, OutboxSignal, OutboxStore } from "@live-events/outbox"
import { Clock, Config, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { FetchHttpClient } from "effect/http"
import type { SqlClient } from "effect/sql"
import * as LiveFeed from "./LiveFeed.ts"

/**
 * The outbox backlog as `/health/ready` reports it. `ok` is false when the oldest pending message is
 * older than the configured bound (`maxReadyLag`).
 *
 * @since 0.1.0
 */
export interface LagReport {
  readonly ok: boolean
  readonly lagSeconds: number
  readonly pending: number
  readonly deadLettered: number
}

/**
 * @since 0.1.0
 */
export class OutboxLag extends Context.Service<OutboxLag, {
  readonly check: Effect.Effect<LagReport, OutboxStore.OutboxStoreError>
}>()("@live-events/engine/OutboxLag") {}

/** What the engine gets from this module. @since 0.1.0 */
export type Services = OutboxStore.OutboxStore | LiveFeed.LiveFeed | OutboxLag

/**
 * How the outbox is delivered. Everything is optional: by default the relay runs with its defaults
 * (polling every 100 ms on PGlite), messages are published in process (PGlite) or on the database's
 * `live_events` channel (PostgreSQL), and readiness reports a lag above 60 seconds.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The relay's settings: batch size, poll interval, lease, retries, retention… */
  readonly relay?: OutboxRelay.Options | undefined
  /** The live feed's resumption window. */
  readonly live?: LiveFeed.Options | undefined
  /** Readiness reports the outbox as lagging past this age of the oldest pending message (default 60 s). */
  readonly maxReadyLag?: Duration.Input | undefined
  /** Publish to NATS JetStream (PostgreSQL only; the NATS client is an optional peer dependency). */
  readonly nats?: OutboxPublisher.NatsOptions | undefined
  /** Also POST every message, signed, to a webhook. */
  readonly webhook?: OutboxPublisher.WebhookOptions | undefined
}

/**
 * Delivery settings from configuration (environment variables by default): `NATS_URL` (unset: no
 * broker; comma-separated servers), `NATS_STREAM` ("LIVE_EVENTS"), `NATS_SUBJECT_PREFIX`
 * ("live-events"), `WEBHOOK_URL` with `WEBHOOK_SECRETS` (comma-separated, redacted, required with
 * the URL), `OUTBOX_READY_MAX_LAG` ("60 seconds"), the relay's `OUTBOX_*` (see `OutboxRelay.config`)
 * and the live feed's `LIVE_REPLAY_*` (see `LiveFeed.config`).
 *
 * @since 0.1.0
 */
export const config: Effect.Effect<Options, Config.ConfigError> = Effect.gen(function*() {
  const settings = yield* Config.all({
    natsUrl: Config.option(Config.String("NATS_URL")),
    natsStream: Config.String("NATS_STREAM").pipe(Config.withDefault("LIVE_EVENTS")),
    natsSubjectPrefix: Config.String("NATS_SUBJECT_PREFIX").pipe(Config.withDefault("live-events")),
    webhookUrl: Config.option(Config.URL("WEBHOOK_URL")),
    maxReadyLag: Config.Duration("OUTBOX_READY_MAX_LAG").pipe(Config.withDefault(Duration.seconds(60)))
  })
  const nats: OutboxPublisher.NatsOptions | undefined = Option.isNone(settings.natsUrl) ? undefined : {
    servers: settings.natsUrl.value.split(",").map((server) => server.trim()),
    stream: settings.natsStream,
    subjectPrefix: settings.natsSubjectPrefix,
    name: `live-events-${process.pid}`
  }
  let webhook: OutboxPublisher.WebhookOptions | undefined
  if (Option.isSome(settings.webhookUrl)) {
    // Required with WEBHOOK_URL: a missing value fails start-up with a ConfigError naming it.
    const secrets = Redacted.value(yield* Config.Redacted("WEBHOOK_SECRETS")).split(",")
      .map((secret) => secret.trim()).filter((secret) => secret !== "").map((secret) => Redacted.make(secret))
    webhook = { url: settings.webhookUrl.value, secrets }
  }
  const live = yield* LiveFeed.config
  return {
    relay: yield* OutboxRelay.config,
    live: { replaySize: live.replaySize, replayWindow: live.replayWindow },
    maxReadyLag: settings.maxReadyLag,
    nats,
    webhook
  }
})

/** `OutboxLag` over the store's stats. @since 0.1.0 */
export const layerLag = (maxLag: Duration.Input): Layer.Layer<OutboxLag, never, OutboxStore.OutboxStore> =>
  Layer.effect(
    OutboxLag,
    Effect.gen(function*() {
      const store = yield* OutboxStore.OutboxStore
      const bound = Duration.toMillis(Duration.fromInputUnsafe(maxLag))
      return OutboxLag.of({
        check: Effect.gen(function*() {
          const stats = yield* store.stats
          const now = yield* Clock.currentTimeMillis
          const lagMillis = stats.oldestPendingAt === null ? 0 : Math.max(0, now - stats.oldestPendingAt.getTime())
          return {
            ok: lagMillis <= bound,
            lagSeconds: Math.round(lagMillis) / 1000,
            pending: stats.pending,
            deadLettered: stats.deadLettered
          }
        })
      })
    })
  )

/**
 * Adds signed webhooks (when configured) after the primary publisher, keeping the primary layer's
 * other services (`InProcessMessages`, `NatsConnectionService`).
 */
const withWebhook = <A, E, R>(
  primary: Layer.Layer<A | OutboxPublisher.OutboxPublisher, E, R>,
  webhook: OutboxPublisher.WebhookOptions | undefined
): Layer.Layer<A | OutboxPublisher.OutboxPublisher, E, R> => {
  if (webhook === undefined) return primary
  return Layer.effectContext(Effect.gen(function*() {
    const context = yield* Layer.build(primary)
    const webhookContext = yield* Layer.build(
      OutboxPublisher.layerWebhook(webhook).pipe(Layer.provide(FetchHttpClient.layer))
    )
    const publisher = OutboxPublisher.fanOut([
      Context.get(context, OutboxPublisher.OutboxPublisher),
      Context.get(webhookContext, OutboxPublisher.OutboxPublisher)
    ])
    return Context.add(context, OutboxPublisher.OutboxPublisher, publisher)
  })) as any
}

/**
 * PGlite (no `LISTEN/NOTIFY`): relay polling every 100 ms unless `relay.pollInterval` says
 * otherwise, in-process publishing, in-process live feed.
 *
 * @since 0.1.0
 */
export const layerEmbedded = (options: Options = {}): Layer.Layer<Services, never, SqlClient.SqlClient> => {
  const foundation = Layer.mergeAll(
    OutboxStore.layerSql(),
    OutboxSignal.layer,
    withWebhook(OutboxPublisher.layerInProcess(), options.webhook)
  )
  return Layer.mergeAll(
    OutboxRelay.layer({ pollInterval: Duration.millis(100), ...options.relay }),
    LiveFeed.layerInProcess(options.live),
    layerLag(options.maxReadyLag ?? Duration.seconds(60))
  ).pipe(Layer.provideMerge(foundation))
}

/**
 * PostgreSQL: relays woken by `LISTEN outbox` (the writer notifies on commit; the listener holds one
 * pool connection), publishing to NATS JetStream when `nats` is given (an unreachable broker at
 * start-up is a defect: the process exits and its supervisor retries), otherwise broadcasting on
 * `live_events` (one more held connection for the live feed's `LISTEN`): keep the pool at 3 or more.
 *
 * @since 0.1.0
 */
export const layerPostgres = (
  options: Options = {}
): Layer.Layer<Services, never, SqlClient.SqlClient | PgClient.PgClient> => {
  const relayAndLag = (publisher: Layer.Layer<OutboxPublisher.OutboxPublisher, any, any>) =>
    Layer.mergeAll(OutboxRelay.layer(options.relay), layerLag(options.maxReadyLag ?? Duration.seconds(60))).pipe(
      Layer.provideMerge(Layer.mergeAll(
        OutboxStore.layerSql({ notifyChannel: OutboxSignal.DEFAULT_CHANNEL }),
        OutboxSignal.layerListen(OutboxSignal.DEFAULT_CHANNEL),
        publisher
      ))
    )
  if (options.nats !== undefined) {
    const nats = withWebhook(OutboxPublisher.layerNats(options.nats), options.webhook)
    return Layer.merge(relayAndLag(nats), LiveFeed.layerNats(options.live)).pipe(
      Layer.provideMerge(nats),
      Layer.orDie
    ) as any
  }
  const notify = withWebhook(
    Layer.effect(OutboxPublisher.OutboxPublisher, LiveFeed.publisherPgNotify(LiveFeed.DEFAULT_CHANNEL)),
    options.webhook
  )
  return Layer.merge(relayAndLag(notify), LiveFeed.layerPgListen(LiveFeed.DEFAULT_CHANNEL, options.live)) as any
}

/**
 * The memory store has no outbox table and no relay: an empty in-memory outbox (the admin endpoints
 * answer, with nothing in them) and a live feed without a source.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Services> = Layer.mergeAll(LiveFeed.layerEmpty, layerLag(Duration.infinity)).pipe(
  Layer.provideMerge(OutboxStore.layerMemory)
)
