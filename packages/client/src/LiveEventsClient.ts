/**
 * The typed client of the Live Event Service, derived from the API definition (`@live-events/api`)
 * with Effect's `HttpApiClient`: one method per endpoint (`client.registrations.register(...)`), the
 * request and answer schemas of the server, and every problem an endpoint declares as a typed failure
 * (`AlreadyRegistered`, `WaitlistFull`, …, each with its stable `code`), matched with `Effect.catchTag`.
 *
 * Requests carry the bearer token given in the options; 429 and 503 answers are retried as
 * `Retry.withRetries` says.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Redacted } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Api } from "@live-events/api/Api"
import * as Retry from "./Retry.ts"

/** The client's methods, by group and endpoint. @since 0.1.0 */
export interface Client extends HttpApiClient.ForApi<typeof Api> {}

/** @since 0.1.0 */
export interface Options {
  /** Where the API is served, e.g. `http://127.0.0.1:3000`. */
  readonly baseUrl: string | URL
  /**
   * The bearer token sent with every request: a value, or an effect or a function asked before each
   * request (a token that is refreshed). None: anonymous requests.
   */
  readonly token?:
    | Token
    | Effect.Effect<Token>
    | (() => Token | PromiseLike<Token>)
    | undefined
  /** Retries of 429 and 503 answers; `false` turns them off. */
  readonly retry?: Retry.Options | false | undefined
}

/** A bearer token, as a string or redacted. @since 0.1.0 */
export type Token = string | Redacted.Redacted<string>

const tokenOf = (token: NonNullable<Options["token"]>): Effect.Effect<string> => {
  const value: Effect.Effect<Token> = Effect.isEffect(token)
    ? token
    : typeof token === "function"
    ? Effect.promise(async () => await token())
    : Effect.succeed(token)
  return Effect.map(value, (token) => Redacted.isRedacted(token) ? Redacted.value(token) : token)
}

/**
 * The `HttpClient` the typed client sends through: the token as `Authorization: Bearer …`, then the
 * retries.
 *
 * @since 0.1.0
 */
export const transformClient = (options: Omit<Options, "baseUrl">) => (client: HttpClient.HttpClient): HttpClient.HttpClient => {
  const token = options.token
  const authorized = token === undefined
    ? client
    : HttpClient.mapRequestEffect(client, (request) => Effect.map(tokenOf(token), (value) => HttpClientRequest.bearerToken(request, value)))
  return options.retry === false ? authorized : Retry.withRetries(options.retry)(authorized)
}

/**
 * Builds the typed client over the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Client, never, HttpClient.HttpClient> =>
  HttpApiClient.make(Api, { baseUrl: options.baseUrl, transformClient: transformClient(options) })

/**
 * The typed client as a service.
 *
 * @since 0.1.0
 */
export class LiveEventsClient extends Context.Service<LiveEventsClient, Client>()("@live-events/client/LiveEventsClient") {
  /** The client over the `HttpClient` in context. @since 0.1.0 */
  static readonly layer = (options: Options): Layer.Layer<LiveEventsClient, never, HttpClient.HttpClient> =>
    Layer.effect(LiveEventsClient, make(options))

  /** The client over `fetch`. @since 0.1.0 */
  static readonly layerFetch = (options: Options): Layer.Layer<LiveEventsClient> =>
    LiveEventsClient.layer(options).pipe(Layer.provide(FetchHttpClient.layer))
}
