/**
 * What a lean handler (see `RouteOverrides.ts`) needs to serve an endpoint of the API the way HttpApi
 * would: its request slots decoded with the endpoint's own schemas (the same 400 problems), the caller
 * resolved by the same authentication decision, JSON rendered as HttpApi renders it.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, Result, Schema, type SchemaIssue, SchemaParser } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { HttpApiEndpoint } from "effect/http-api"
import type { User } from "@live-events/domain"
import * as AuthMiddleware from "../Auth/Middleware.ts"
import type { ProvisionedUsers } from "../Auth/Provisioning.ts"
import type { TokenVerifier } from "../Auth/TokenVerifier.ts"
import * as Problem from "../Problem.ts"

/** The API's parse options (`HttpApi.ParseOptions` on `Api`): every issue reported. */
const parseOptions = { errors: "all" } as const

type Slot = "Params" | "Query"

/**
 * A synchronous decoder of one request slot with the endpoint's schema: the value, or the 400 problem
 * HttpApi would answer.
 *
 * @since 0.1.0
 */
export type Decoder<A> = (input: unknown) => Result.Result<A, Effect.Effect<HttpServerResponse.HttpServerResponse>>

const decoderOf = <A>(schema: Schema.Top, slot: Slot): Decoder<A> => {
  const decode = SchemaParser.decodeUnknownExit(schema as Schema.Codec<A, unknown>, parseOptions)
  return (input) => {
    const exit = decode(input)
    if (Exit.isSuccess(exit)) return Result.succeed(exit.value)
    const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    return Result.fail(
      failure === undefined
        ? Effect.failCause(exit.cause).pipe(Effect.orDie)
        : Problem.toResponse(Problem.fromDecodeIssue(slot, (failure as { readonly error: SchemaIssue.Issue }).error))
    )
  }
}

/**
 * The path parameters' decoder of an endpoint that declares them.
 *
 * @since 0.1.0
 */
export const paramsDecoder = <A>(endpoint: HttpApiEndpoint.Top): Decoder<A> => {
  if (endpoint.params === undefined) throw new Error(`${endpoint.name} declares no path parameters`)
  return decoderOf(endpoint.params, "Params")
}

/**
 * The query's decoder (a repeated key is an array, as HttpApi reads it).
 *
 * @since 0.1.0
 */
export const queryDecoder = <A>(endpoint: HttpApiEndpoint.Top): Decoder<A> => {
  if (endpoint.query === undefined) throw new Error(`${endpoint.name} declares no query`)
  return decoderOf(Schema.toCodecArrayFromSingle(endpoint.query), "Query")
}

/**
 * The current request, its route parameters and its parsed query.
 *
 * @since 0.1.0
 */
export interface Incoming {
  /** The fiber's clock (a test clock in tests). */
  readonly clock: Clock.Clock
  readonly request: HttpServerRequest.HttpServerRequest
  readonly params: Readonly<Record<string, string | undefined>>
  readonly query: Readonly<Record<string, string | ReadonlyArray<string>>>
}

/**
 * Runs `use` with the current request; nothing is added to the context.
 *
 * @since 0.1.0
 */
export const incoming = <A, E, R>(use: (incoming: Incoming) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const context = fiber.context as Context.Context<never>
    return use({
      clock: fiber.getRef(Clock.Clock),
      request: Context.getUnsafe(context, HttpServerRequest.HttpServerRequest),
      params: Context.getUnsafe(context, HttpRouter.RouteContext).params,
      query: Context.getUnsafe(context, HttpServerRequest.ParsedSearchParams)
    })
  })

/** How a handler authenticates: the services of `Auth/Middleware.ts`. @since 0.1.0 */
export interface Authenticator {
  readonly verifier: TokenVerifier["Service"]
  readonly provisioned: ProvisionedUsers["Service"]
}

/**
 * The caller, decided exactly as the `Authentication` middleware decides it; a refusal is answered.
 *
 * @since 0.1.0
 */
export const authenticated = <E, R>(
  auth: Authenticator,
  request: HttpServerRequest.HttpServerRequest,
  use: (actor: User.Actor) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  Effect.flatMap(
    AuthMiddleware.resolve(auth.verifier, auth.provisioned, request.headers["authorization"], true),
    (resolution) =>
      resolution._tag === "Authenticated"
        ? use(resolution.actor)
        : resolution._tag === "Refused"
        ? Effect.succeed(resolution.response)
        : Effect.die("a required token resolved to no actor")
  )

/**
 * As {@link authenticated}, for a handler whose use-case provisions a person seen for the first time
 * in its own unit of work: `use` also gets that person's candidate user (undefined for a known one;
 * see `AuthMiddleware.resolveDeferringProvisioning`).
 *
 * @since 0.2.0
 */
export const authenticatedOrNewcomer = <E, R>(
  auth: Authenticator,
  request: HttpServerRequest.HttpServerRequest,
  use: (actor: User.Actor, candidate: User.User | undefined) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  Effect.flatMap(
    AuthMiddleware.resolveDeferringProvisioning(auth.verifier, auth.provisioned, request.headers["authorization"]),
    (resolution) =>
      resolution._tag === "Refused"
        ? Effect.succeed(resolution.response)
        : use(resolution.actor, resolution._tag === "Newcomer" ? resolution.candidate : undefined)
  )

/**
 * The caller if a token was sent, as the `OptionalAuthentication` middleware decides it.
 *
 * @since 0.1.0
 */
export const optionallyAuthenticated = <E, R>(
  auth: Authenticator,
  request: HttpServerRequest.HttpServerRequest,
  use: (actor: User.Actor | undefined) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  request.headers["authorization"] === undefined
    ? use(undefined)
    : Effect.flatMap(
      AuthMiddleware.resolve(auth.verifier, auth.provisioned, request.headers["authorization"], false),
      (resolution) =>
        resolution._tag === "Refused" ? Effect.succeed(resolution.response) : use(
          resolution._tag === "Authenticated" ? resolution.actor : undefined
        )
    )

/**
 * A JSON answer as HttpApi renders a success: the text of the encoded value (`JSON.stringify`, here
 * done by the caller, who may have it rendered already).
 *
 * @since 0.1.0
 */
export const jsonText = (text: string, status = 200): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(text, { status, contentType: "application/json" })
