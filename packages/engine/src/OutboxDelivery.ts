/**
 * How the reference server delivers its outbox: a relay in every process (they coordinate through
 * the store's leases, so any number of processes is safe), a publisher chosen by configuration, the
 * live feed that turns published messages into live updates, and the lag that readiness reports.
 *
 * | database   | relay wake-up                         | publisher                    | live feed                    |
 * |------------|---------------------------------------|------------------------------|------------------------------|
 * | PGlite     | local signal, polls every 100 ms      | in-process PubSub            | the same PubSub              |
 * | PostgreSQL | `LISTEN outbox` (writer `pg_notify`s) | `pg_notify('live_events', …)`| `LISTEN live_events`         |
 * | + NATS     | `LISTEN outbox`                       | JetStream (dedup by id)      | NATS core sub `<prefix>.>`   |
 *
 * `WEBHOOK_URL` adds signed webhooks to any of them (fan-out). See docs/adr/0006-live-updates.md.
 *
 * @since 0.1.0
 */
import type { PgClient } from "@effect/sql-pg"
import { OutboxPublisher, OutboxRelay, OutboxSignal, OutboxStore } from "@live-events/outbox"
import { Clock, Config, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { FetchHttpClient } from "effect/http"
import type { SqlClient } from "effect/sql"
import * as LiveFeed from "../Live/LiveFeed.ts"

/**
 * The outbox backlog as `/health/ready` reports it. `ok` is false when the oldest pending message is
 * older than the configured bound (`OUTBOX_READY_MAX_LAG`).
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
}>()("@live-events/server/OutboxLag") {}

/** What the server gets from this module. @since 0.1.0 */
export type Services = OutboxStore.OutboxStore | LiveFeed.LiveFeed | OutboxLag

/**
 * Delivery settings: `NATS_URL` (unset: no broker), `NATS_STREAM` ("LIVE_EVENTS"),
 * `NATS_SUBJECT_PREFIX` ("live-events"), `WEBHOOK_URL`, `WEBHOOK_SECRETS` (comma-separated, redacted),
 * `OUTBOX_READY_MAX_LAG` ("60 seconds"). The relay itself reads `OUTBOX_*` (see `OutboxRelay.config`).
 *
 * @since 0.1.0
 */
export const config = Config.all({
  natsUrl: Config.option(Config.String("NATS_URL")),
  natsStream: Config.String("NATS_STREAM").pipe(Config.withDefault("LIVE_EVENTS")),
  natsSubjectPrefix: Config.String("NATS_SUBJECT_PREFIX").pipe(Config.withDefault("live-events")),
  webhookUrl: Config.option(Config.URL("WEBHOOK_URL")),
  maxReadyLag: Config.Duration("OUTBOX_READY_MAX_LAG").pipe(Config.withDefault(Duration.seconds(60)))
})

/** @since 0.1.0 */
export type DeliveryConfig = Config.Success<typeof config>

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
 * Adds signed webhooks (when `WEBHOOK_URL` is set) after the primary publisher, keeping the primary
 * layer's other services (`InProcessMessages`, `NatsConnectionService`).
 */
const withWebhook = <A, E, R>(
  primary: Layer.Layer<A | OutboxPublisher.OutboxPublisher, E, R>,
  settings: DeliveryConfig
): Layer.Layer<A | OutboxPublisher.OutboxPublisher, E | Config.ConfigError, R> => {
  if (Option.isNone(settings.webhookUrl)) return primary
  const url = settings.webhookUrl.value
  return Layer.effectContext(Effect.gen(function*() {
    const context = yield* Layer.build(primary)
    // Required with WEBHOOK_URL: a missing value fails start-up with a ConfigError naming it.
    const secrets = Redacted.value(yield* Config.Redacted("WEBHOOK_SECRETS")).split(",")
      .map((secret) => secret.trim()).filter((secret) => secret !== "").map((secret) => Redacted.make(secret))
    const webhookContext = yield* Layer.build(
      OutboxPublisher.layerWebhook({ url, secrets }).pipe(Layer.provide(FetchHttpClient.layer))
    )
    const publisher = OutboxPublisher.fanOut([
      Context.get(context, OutboxPublisher.OutboxPublisher),
      Context.get(webhookContext, OutboxPublisher.OutboxPublisher)
    ])
    return Context.add(context, OutboxPublisher.OutboxPublisher, publisher)
  })) as any
}

/**
 * PGlite (no `LISTEN/NOTIFY`): relay polling every 100 ms, in-process publishing, in-process live feed.
 *
 * @since 0.1.0
 */
export const layerEmbedded: Layer.Layer<Services, Config.ConfigError, SqlClient.SqlClient> = Layer.unwrap(
  Effect.gen(function*() {
    const settings = yield* config
    const live = yield* LiveFeed.config
    const foundation = Layer.mergeAll(
      OutboxStore.layerSql(),
      OutboxSignal.layer,
      withWebhook(OutboxPublisher.layerInProcess(), settings)
    )
    return Layer.mergeAll(
      OutboxRelay.layerConfig({ pollInterval: Duration.millis(100) }),
      LiveFeed.layerInProcess(live),
      layerLag(settings.maxReadyLag)
    ).pipe(Layer.provideMerge(foundation))
  })
)

/**
 * PostgreSQL: relays woken by `LISTEN outbox` (the writer notifies on commit; the listener holds one
 * pool connection), publishing to NATS JetStream when `NATS_URL` is set (an unreachable broker at
 * start-up is a defect: the process exits and its supervisor retries), otherwise broadcasting on
 * `live_events` (one more held connection for the live feed's `LISTEN`): keep the pool at 3 or more.
 *
 * @since 0.1.0
 */
export const layerPostgres: Layer.Layer<
  Services,
  Config.ConfigError,
  SqlClient.SqlClient | PgClient.PgClient
> = Layer.unwrap(
  Effect.gen(function*() {
    const settings = yield* config
    const live = yield* LiveFeed.config
    const relayAndLag = (publisher: Layer.Layer<OutboxPublisher.OutboxPublisher, any, any>) =>
      Layer.mergeAll(OutboxRelay.layerConfig(), layerLag(settings.maxReadyLag)).pipe(
        Layer.provideMerge(Layer.mergeAll(
          OutboxStore.layerSql({ notifyChannel: OutboxSignal.DEFAULT_CHANNEL }),
          OutboxSignal.layerListen(OutboxSignal.DEFAULT_CHANNEL),
          publisher
        ))
      )
    if (Option.isSome(settings.natsUrl)) {
      const nats = withWebhook(
        OutboxPublisher.layerNats({
          servers: settings.natsUrl.value.split(",").map((s) => s.trim()),
          stream: settings.natsStream,
          subjectPrefix: settings.natsSubjectPrefix,
          name: `live-events-server-${process.pid}`
        }),
        settings
      )
      return Layer.merge(relayAndLag(nats), LiveFeed.layerNats(live)).pipe(Layer.provideMerge(nats), Layer.orDie)
    }
    const notify = withWebhook(
      Layer.effect(OutboxPublisher.OutboxPublisher, LiveFeed.publisherPgNotify(LiveFeed.DEFAULT_CHANNEL)),
      settings
    )
    return Layer.merge(relayAndLag(notify), LiveFeed.layerPgListen(LiveFeed.DEFAULT_CHANNEL, live))
  })
) as any

/**
 * The memory store has no outbox table and no relay: an empty in-memory outbox (the admin endpoints
 * answer, with nothing in them) and a live feed without a source.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Services> = Layer.mergeAll(LiveFeed.layerEmpty, layerLag(Duration.infinity)).pipe(
  Layer.provideMerge(OutboxStore.layerMemory)
)
