/**
 * Assembles the reference server from layers: the HttpApi with its handlers, the middleware, the
 * use-cases, a store (memory, embedded PGlite or PostgreSQL) and a token verifier, served by Node.
 *
 * {@link make} is the programmatic entry point (tests, the chaos harness, embedders);
 * {@link layerConfig} is what `npm start` runs, configured from the environment.
 *
 * @since 0.1.0
 */
import { Console, Duration, Effect, FileSystem, Layer, Option, Path } from "effect"
import { constTrue } from "effect/Function"
import { HttpMiddleware, HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { TwoLevelCache } from "@live-events/cache"
import { DatabasePolicies, Engine, OutboxDelivery } from "@live-events/engine"
import type { Policy } from "@live-events/resilience"
import type { SqlStore } from "@live-events/sql"
import { createServer } from "node:http"
// The ports and services this module's layers carry, bound here (and re-exported) so that its
// declarations can name them.
import type {
  Audit,
  EventRepository,
  Ids,
  Memory,
  RegistrationRepository,
  UnitOfWork,
  UserRepository
} from "@live-events/domain"
import type { Readiness, Rotation } from "@live-events/engine"
import type { OutboxStore } from "@live-events/outbox"
import type { IdempotencyKeys, PersonalDataKeys } from "@live-events/sql"
import { Api } from "@live-events/api/Api"
import { AuditLive } from "./Audit/Http.ts"
import * as AuthMiddleware from "./Auth/Middleware.ts"
import { TokenVerifier } from "./Auth/TokenVerifier.ts"
import * as CacheConfig from "./Cache/CacheConfig.ts"
import * as ServerConfig from "./Config.ts"
import { EventsLive } from "./Events/Http.ts"
import { GraphQLEngine } from "./GraphQL/Engine.ts"
import * as GraphQLHttp from "./GraphQL/Http.ts"
import { HealthLive } from "./Health/Http.ts"
import * as HotReads from "./HotPaths/Reads.ts"
import * as HotRegister from "./HotPaths/Register.ts"
import * as RouteOverrides from "./HotPaths/RouteOverrides.ts"
import { LiveLive } from "./Live/Http.ts"
import { MeLive } from "./Me/Http.ts"
import * as PublishBeforeCommit from "./Outbox/PublishBeforeCommit.ts"
import { OutboxAdminLive } from "./Outbox/Http.ts"
import { PrivacyLive } from "./Privacy/Http.ts"
import * as Keyring from "./Privacy/Keyring.ts"
import { KeysAdminLive } from "./Privacy/KeysHttp.ts"
import * as Problem from "./Problem.ts"
import * as HttpRateLimit from "./RateLimit/HttpRateLimit.ts"
import * as ClientErrors from "./Security/ClientErrors.ts"
import { OneWriteResponse } from "./Security/OneWriteResponse.ts"
import * as SecurityMiddleware from "./Security/Middleware.ts"
import * as SecuritySettings from "./Security/Settings.ts"
import { RegistrationsLive } from "./Registrations/Http.ts"
import * as DbMetrics from "./Telemetry/DbMetrics.ts"
import * as MetricsEndpoint from "./Telemetry/MetricsEndpoint.ts"
import * as Telemetry from "./Telemetry/Telemetry.ts"
import { UsersLive } from "./Users/Http.ts"

/** @since 0.1.0 */
export type {
  Audit,
  EventRepository,
  IdempotencyKeys,
  Ids,
  Memory,
  OutboxStore,
  PersonalDataKeys,
  Readiness,
  RegistrationRepository,
  Rotation,
  UnitOfWork,
  UserRepository
}

/**
 * Everything the server needs from storage (the engine's store).
 *
 * @since 0.1.0
 */
export type Store = Engine.Store

/** Every port in memory: for tests and demos. @since 0.1.0 */
export const storeMemory = Engine.storeMemory

/**
 * The outbox delivery as the environment configures it (`NATS_*`, `WEBHOOK_*`, `OUTBOX_*`,
 * `LIVE_REPLAY_*`; see `OutboxDelivery.config`).
 */
const withDeliveryConfig = <A, E, R>(build: (outbox: OutboxDelivery.Options) => Layer.Layer<A, E, R>) =>
  Layer.unwrap(Effect.map(OutboxDelivery.config, build))

/**
 * PostgreSQL (pool, migrations, ports), plus the pool-occupancy sampler of `/metrics`: the pool's
 * connections are tagged with a per-process `application_name` (unless the URL sets one) so they can
 * be counted in `pg_stat_activity`.
 *
 * @since 0.1.0
 */
export const storePostgres = (options: SqlStore.PostgresOptions & {
  /** How often pool occupancy is sampled (default 10 s; 0 turns the sampler off). */
  readonly poolSampleInterval?: Duration.Input | undefined
}) => {
  const applicationName = DbMetrics.applicationName(process.pid)
  const interval = Duration.fromInputUnsafe(options.poolSampleInterval ?? Duration.seconds(10))
  const sampler = Duration.isZero(interval) ? Layer.empty : DbMetrics.layerPoolSampler({
    applicationName,
    maxConnections: options.maxConnections ?? 8,
    interval
  })
  // The outbox relay, its publisher and the live feed run in every process (see the engine's OutboxDelivery).
  return withDeliveryConfig((outbox) =>
    Layer.provideMerge(
      // The writer as it is, unless the chaos harness's broken build asks otherwise (see the module).
      PublishBeforeCommit.layer,
      Layer.provideMerge(
        sampler,
        Engine.storePostgres({ ...options, url: DbMetrics.withApplicationName(options.url, applicationName), outbox })
      )
    )
  )
}

/**
 * Embedded PGlite in `dataDir` (`undefined`: in memory, thrown away at exit). Without a keyring, a
 * random one: only a database thrown away with the process may do without one.
 *
 * @since 0.1.0
 */
export const storeEmbedded = (options: Parameters<typeof Engine.storeEmbedded>[0]) =>
  withDeliveryConfig((outbox) =>
    // One process owns the embedded database: its relay polls often (there is no `LISTEN` to wake it).
    Engine.storeEmbedded({ ...options, outbox: { ...outbox, relay: { ...outbox.relay, pollInterval: Duration.millis(100) } } })
  )

/** `DATABASE_URL` → PostgreSQL; otherwise PGlite under `<DATA_DIR>/pglite`. @since 0.1.0 */
export const storeConfig = Layer.unwrap(Effect.gen(function*() {
  const config = yield* ServerConfig.database
  const keyring = yield* Keyring.fromConfig
  if (Option.isSome(config.url)) {
    const { dbPoolSampleSeconds } = yield* ServerConfig.telemetry
    return storePostgres({
      url: config.url.value,
      schema: config.schema,
      maxConnections: config.poolSize,
      startupWait: config.startupWait,
      poolSampleInterval: Duration.seconds(dbPoolSampleSeconds),
      keyring,
      sealingThread: config.sealingThread
    })
  }
  const path = yield* Path.Path
  const fs = yield* FileSystem.FileSystem
  // PGlite creates only the last directory level itself.
  yield* fs.makeDirectory(config.dataDir, { recursive: true })
  return storeEmbedded({ dataDir: path.join(config.dataDir, "pglite"), schema: config.schema, keyring, sealingThread: config.sealingThread })
}))

/**
 * Stages of the request pipeline that can be switched off; all on unless a benchmark prices them
 * (`bench/pipeline.ts`). Never switch them off in production.
 *
 * @since 0.1.0
 */
export interface PipelineStages extends SecurityMiddleware.Stages {
  /** The Node server's bound on receiving a request (`requestTimeout`). */
  readonly timeout: boolean
  /**
   * The hottest endpoints served by their lean handlers (`HotPaths/`); off, HttpApi serves them like
   * every other endpoint (the equivalence test compares the two).
   */
  readonly hotPaths: boolean
}

/** @since 0.1.0 */
export const allStages: PipelineStages = {
  ...SecurityMiddleware.allStages,
  timeout: true,
  hotPaths: true
}

/**
 * The routes: the HttpApi handlers behind rate limiting (route middleware, so limits key on the route
 * template), `/openapi.json`, `/docs`, `/graphql` (same use-cases, same limits), and the one global
 * middleware of the request pipeline (telemetry, secure defaults, problems: `Security/Middleware.ts`).
 *
 * @since 0.1.0
 */
export const routesWith = (stages: PipelineStages = allStages) =>
  Layer.mergeAll(
    HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
      Layer.provide(HttpRateLimit.routeMiddleware.layer),
      // The hottest endpoints are served by lean handlers (see `HotPaths/RouteOverrides.ts`).
      stages.hotPaths
        ? Layer.provide(RouteOverrides.router(RouteOverrides.combine(HotReads.overrides, HotRegister.overrides)))
        : (layer) => layer
    ),
    // Snippets carry `Authorization: Bearer …` (the only scheme), also on routes where a token is optional.
    HttpApiScalar.layer(Api, { path: "/docs", scalar: { authentication: { preferredSecurityScheme: "bearer" } } }),
    GraphQLHttp.layer.pipe(Layer.provide([GraphQLEngine.layer, HttpRateLimit.routeMiddleware.layer])),
    SecurityMiddleware.make(stages)
  ).pipe(
    Layer.provide([
      EventsLive,
      RegistrationsLive,
      MeLive,
      UsersLive,
      PrivacyLive,
      AuditLive,
      HealthLive,
      LiveLive,
      OutboxAdminLive,
      KeysAdminLive
    ]),
    Layer.provide([AuthMiddleware.layer, Problem.layerRequestValidation])
  )

/** @since 0.1.0 */
export const routes = routesWith()

/** @since 0.1.0 */
export interface Options<E1, E2, R1, R2, E3 = never, R3 = never> {
  /** Requirements may include Node's `FileSystem` / `Path`, provided by the server layer. */
  readonly store: Layer.Layer<Store, E1, R1>
  readonly auth: Layer.Layer<TokenVerifier, E2, R2>
  /** Default 3000; 0 picks a free port (tests). */
  readonly port?: number | undefined
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Log one line per request (default true). Ignored when `telemetry` is given. */
  readonly logRequests?: boolean | undefined
  /**
   * Tracer, loggers and `/metrics` settings (see `Telemetry.ts`); default `Telemetry.layer()`: the
   * in-memory tracer, JSON logs on stdout, `/metrics` open.
   */
  readonly telemetry?: Layer.Layer<Telemetry.Telemetry, E3, R3> | undefined
  /**
   * Secure-defaults settings (CORS, trusted proxies, body limit, request timeout); default
   * `SecuritySettings.layerConfig` (environment).
   */
  readonly security?: Layer.Layer<SecuritySettings.HttpSecurity> | undefined
  /** Rate limiting; default `HttpRateLimit.layerConfig` (environment: on, memory or `REDIS_URL`). */
  readonly rateLimit?: Layer.Layer<HttpRateLimit.HttpRateLimit> | undefined
  /** Database resilience policies; default `DatabasePolicies.layerPoliciesConfig` (environment). */
  readonly policies?: Layer.Layer<Policy.Policies> | undefined
  /**
   * The read cache in front of the store (see the engine's `CachedStore`); `false` turns it off; default
   * from the environment (`CACHE_ENABLED`, `REDIS_URL`, `CACHE_*`).
   */
  readonly cache?: Layer.Layer<TwoLevelCache.TwoLevelCache> | false | undefined
  /** Pipeline stages to switch off (benchmarks only); default all on. */
  readonly pipeline?: Partial<PipelineStages> | undefined
  /** Other routes instead of the API's (benchmarks: the pipeline around a fixed answer). */
  readonly routes?: Layer.Layer<never, never, HttpRouter.HttpRouter> | undefined
}

/**
 * A listening server. Provides `HttpServer` (its address) and the use-cases, so a test can also
 * drive the domain directly.
 *
 * Order matters: the store, the use-cases and the routes are all built before the socket listens, so
 * a request never reaches a port without a handler behind it (a probe during PGlite's start-up would
 * otherwise hang). Closing the layer's scope stops accepting connections and waits for in-flight
 * requests (up to 20 s) before releasing the store.
 *
 * @since 0.1.0
 */
export const make = <E1, E2, R1, R2, E3 = never, R3 = never>(options: Options<E1, E2, R1, R2, E3, R3>) => {
  const telemetry: Layer.Layer<Telemetry.Telemetry, E3, R3> = options.telemetry ??
    Telemetry.layer({ logRequests: options.logRequests ?? true })
  // Telemetry goes underneath everything: the tracer and loggers are then those of every fiber.
  // The engine: the store's ports through the resilience policies, the cache above them (a hit never
  // touches the database or its breaker), the use-cases on top; configured from the environment.
  const engine = Layer.unwrap(Effect.gen(function*() {
    const cache = options.cache ?? (yield* CacheConfig.fromConfig)
    return Engine.layer({
      store: options.store,
      policies: options.policies ?? DatabasePolicies.layerPoliciesConfig,
      cache,
      sealingKey: CacheConfig.sealingKey,
      batching: yield* ServerConfig.batching
    })
  }))
  const services = Layer.mergeAll(
    options.auth,
    options.security ?? SecuritySettings.layerConfig,
    options.rateLimit ?? HttpRateLimit.layerConfig
  ).pipe(
    Layer.provideMerge(engine),
    Layer.provideMerge(NodeHttpServer.layerHttpServices),
    Layer.provideMerge(telemetry)
  )
  const stages: PipelineStages = { ...allStages, ...options.pipeline }
  const app = options.routes === undefined
    ? routesWith(stages)
    : Layer.merge(options.routes, SecurityMiddleware.make(stages))
  const serve = Layer.unwrap(Effect.gen(function*() {
    const settings = yield* Telemetry.Telemetry
    const security = yield* SecuritySettings.HttpSecurity
    const handler = yield* HttpRouter.toHttpEffect(Layer.merge(app, MetricsEndpoint.layer(settings.metrics)))
    // The request timeout is the Node server's: how long a request may take to arrive (a slow client
    // holds a socket, not a fiber). Handlers wait only on I/O that has its own timeout.
    const requestTimeout = Math.max(1, Duration.toMillis(security.requestTimeout))
    const listener = NodeHttpServer.layerServer(
      () =>
        ClientErrors.install(
          stages.timeout
            ? createServer({ requestTimeout, ServerResponse: OneWriteResponse })
            : createServer({ requestTimeout: 0, headersTimeout: 0, ServerResponse: OneWriteResponse })
        ),
      { port: options.port ?? 3000, host: options.host ?? "127.0.0.1" }
    )
    // Requests are served in the context the serving layer is built with: the body limit goes there.
    const bodyLimit = SecurityMiddleware.layerBodyLimit(stages)
    // No middleware at this level: telemetry is the outermost stage of the router's one middleware
    // (`Security/Middleware.ts`), and Effect serves a request without server middleware in a single
    // continuation frame. When spans stay in the process, Effect's server span is switched off too (it
    // would parse the URL and copy every header into attributes nobody reads): the request's own
    // native span carries the ids of its log line and problems instead.
    const served = HttpServer.serve(handler)
    const edge = settings.enabled && settings.tracesExported
      ? bodyLimit
      : Layer.merge(bodyLimit, Layer.succeed(HttpMiddleware.TracerDisabledWhen, constTrue))
    return Layer.provideMerge(served.pipe(Layer.provide(edge)), listener)
  }))
  return Layer.provideMerge(serve, services)
}

const banner = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const url = HttpServer.formatAddress(server.address)
  const mode = yield* ServerConfig.authMode
  yield* Console.log([
    `Live Event Service listening on ${url}`,
    `  API docs:  ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
    mode === "development"
      ? `  Token:     npx live-events token --sub alice --role organizer   (development auth mode)`
      : `  Auth:      production mode (JWKS)`
  ].join("\n"))
})

/**
 * The server as configured by the environment (see the README): what `npm start` runs.
 *
 * @since 0.1.0
 */
export const layerConfig = Layer.unwrap(Effect.gen(function*() {
  const http = yield* ServerConfig.http
  return Layer.effectDiscard(banner).pipe(
    Layer.provideMerge(make({
      store: storeConfig,
      auth: TokenVerifier.layerConfig,
      telemetry: Telemetry.layerConfig(),
      port: http.port,
      host: http.host
    }))
  )
}))
