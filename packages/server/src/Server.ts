/**
 * Assembles the reference server from layers: the HttpApi with its handlers, the middleware, the
 * use-cases, a store (memory, embedded PGlite or PostgreSQL) and a token verifier, served by Node.
 *
 * {@link make} is the programmatic entry point (tests, the chaos harness, embedders);
 * {@link layerConfig} is what `npm start` runs, configured from the environment.
 *
 * @since 0.1.0
 */
import { Console, Effect, FileSystem, Layer, Option, Path } from "effect"
import { HttpMiddleware, HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder, HttpApiScalar } from "effect/http-api"
import { NodeHttpServer } from "@effect/platform-node"
import {
  type EventRepository,
  Events,
  Ids,
  Memory,
  type OutboxWriter,
  type RegistrationRepository,
  Registrations,
  type UnitOfWork,
  type UserRepository,
  Users
} from "@live-events/domain"
import { IdempotencyKeys, SqlStore } from "@live-events/sql"
import { createServer } from "node:http"
import { Api } from "./Api.ts"
import * as AuthMiddleware from "./Auth/Middleware.ts"
import { TokenVerifier } from "./Auth/TokenVerifier.ts"
import * as ServerConfig from "./Config.ts"
import { EventsLive } from "./Events/Http.ts"
import { HealthLive } from "./Health/Http.ts"
import { Readiness } from "./Health/Readiness.ts"
import { MeLive } from "./Me/Http.ts"
import * as Problem from "./Problem.ts"
import { RegistrationsLive } from "./Registrations/Http.ts"
import { UsersLive } from "./Users/Http.ts"

/**
 * Everything the server needs from storage.
 *
 * @since 0.1.0
 */
export type Store =
  | EventRepository.EventRepository
  | RegistrationRepository.RegistrationRepository
  | UserRepository.UserRepository
  | UnitOfWork.UnitOfWork
  | OutboxWriter.OutboxWriter
  | IdempotencyKeys.IdempotencyKeys
  | Readiness

/** Every port in memory: for tests and demos. @since 0.1.0 */
export const storeMemory: Layer.Layer<Store | Memory.MemoryStore> = Layer.mergeAll(
  Memory.layer,
  IdempotencyKeys.layerMemory,
  Readiness.layerMemory
)

/** PostgreSQL (pool, migrations, ports). @since 0.1.0 */
export const storePostgres = (options: SqlStore.PostgresOptions) =>
  Readiness.layerSql.pipe(Layer.provideMerge(SqlStore.layerPostgres(options)))

/** Embedded PGlite in `dataDir` (`undefined`: in memory, thrown away at exit). @since 0.1.0 */
export const storeEmbedded = (options: SqlStore.EmbeddedOptions) =>
  Readiness.layerSql.pipe(Layer.provideMerge(SqlStore.layerEmbedded(options)))

/** `DATABASE_URL` → PostgreSQL; otherwise PGlite under `<DATA_DIR>/pglite`. @since 0.1.0 */
export const storeConfig = Layer.unwrap(Effect.gen(function*() {
  const config = yield* ServerConfig.database
  if (Option.isSome(config.url)) return storePostgres({ url: config.url.value, maxConnections: config.poolSize })
  const path = yield* Path.Path
  const fs = yield* FileSystem.FileSystem
  // PGlite creates only the last directory level itself.
  yield* fs.makeDirectory(config.dataDir, { recursive: true })
  return storeEmbedded({ dataDir: path.join(config.dataDir, "pglite") })
}))

/** The use-cases over the store's ports. @since 0.1.0 */
export const useCases = Layer.mergeAll(Events.Events.layer, Registrations.Registrations.layer, Users.Users.layer).pipe(
  Layer.provideMerge(Ids.Ids.layer)
)

/**
 * The routes: the HttpApi handlers, `/openapi.json`, `/docs`, and the global problem middleware.
 *
 * @since 0.1.0
 */
export const routes = Layer.mergeAll(
  HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }),
  HttpApiScalar.layer(Api, { path: "/docs" }),
  Problem.middleware
).pipe(
  Layer.provide([EventsLive, RegistrationsLive, MeLive, UsersLive, HealthLive]),
  Layer.provide([AuthMiddleware.layer, Problem.layerRequestValidation])
)

/** @since 0.1.0 */
export interface Options<E1, E2, R1, R2> {
  /** Requirements may include Node's `FileSystem` / `Path`, provided by the server layer. */
  readonly store: Layer.Layer<Store, E1, R1>
  readonly auth: Layer.Layer<TokenVerifier, E2, R2>
  /** Default 3000; 0 picks a free port (tests). */
  readonly port?: number | undefined
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Log one line per request (default true). */
  readonly logRequests?: boolean | undefined
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
export const make = <E1, E2, R1, R2>(options: Options<E1, E2, R1, R2>) => {
  const services = Layer.mergeAll(useCases, options.auth).pipe(
    Layer.provideMerge(options.store),
    Layer.provideMerge(NodeHttpServer.layerHttpServices)
  )
  const serve = Layer.unwrap(Effect.gen(function*() {
    const handler = yield* HttpRouter.toHttpEffect(routes)
    const listener = NodeHttpServer.layerServer(createServer, {
      port: options.port ?? 3000,
      host: options.host ?? "127.0.0.1"
    })
    const served = options.logRequests === false
      ? HttpServer.serve(handler)
      : HttpServer.serve(handler, HttpMiddleware.logger)
    return Layer.provideMerge(served, listener)
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
    Layer.provideMerge(make({ store: storeConfig, auth: TokenVerifier.layerConfig, port: http.port, host: http.host }))
  )
}))
