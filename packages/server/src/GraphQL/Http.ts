/**
 * `/graphql` over HTTP, per the GraphQL-over-HTTP specification: `POST` with a JSON body runs any
 * operation, `GET` with `query`/`variables`/`operationName` parameters runs queries only (a mutation
 * over `GET` is 405), and a `POST` that accepts `text/event-stream` runs over Server-Sent Events in
 * graphql-sse's "distinct connections" mode (`next` events, then `complete`): how subscriptions pass
 * proxies that block WebSockets. A `GET` asking to upgrade is a graphql-ws connection (`WebSocket.ts`).
 * `GET /graphql/schema.graphql` serves the schema as SDL. A query the lean path covers (`LeanQuery.ts`:
 * the cached `event(id:)` read) is answered without graphql-js's executor, with the same bytes.
 *
 * Answers are `application/graphql-response+json` (`application/json` to clients that accept only
 * that): 200 when the operation ran, 4xx with GraphQL errors when the request was refused before it
 * ran (unreadable body, syntax, validation, limits, variables, a bad token), never 5xx for a request's
 * fault. The global middleware (security headers, CORS, telemetry) and the route rate limits apply as
 * on every route.
 *
 * @since 0.2.0
 */
import { Clock, Context, Duration, Effect, Layer, Stream } from "effect"
// Imported so the emitted declaration of the routes can name the use-cases they require.
import { Events, type User } from "@live-events/domain"
import type {
  AuditTrail as _AuditTrail,
  Privacy as _Privacy,
  Registrations as _Registrations,
  Users as _Users
} from "@live-events/domain"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { type ExecutionResult, GraphQLError } from "graphql"
import type { ProvisionedUsers } from "../Auth/Provisioning.ts"
import type { TokenVerifier } from "../Auth/TokenVerifier.ts"
import { sseResponse } from "../Live/Http.ts"
import { LiveFeed } from "@live-events/engine"
import * as CachedEvents from "../Events/CachedEvents.ts"
import * as StreamLimits from "../Live/StreamLimits.ts"
import * as Authentication from "./Authentication.ts"
import * as Engine from "./Engine.ts"
import * as Errors from "./Errors.ts"
import * as Execution from "./Execution.ts"
import * as LeanQuery from "./LeanQuery.ts"
import * as Refusals from "./Refusals.ts"
import * as WebSocket from "./WebSocket.ts"

const graphqlResponse = "application/graphql-response+json"
const graphqlResponseType = `${graphqlResponse}; charset=utf-8`
const legacyJson = "application/json"

// A client that accepts only application/json gets it for results; a refusal is always a GraphQL
// response (its status says what went wrong, the body the errors).
const contentTypeFor = (accept: string | undefined, status: number) =>
  status === 200 && accept !== undefined && accept.includes(legacyJson) && !accept.includes(graphqlResponse) &&
    !accept.includes("*/*")
    ? `${legacyJson}; charset=utf-8`
    : graphqlResponseType

const respond = (accept: string | undefined, status: number, result: ExecutionResult, headers?: Record<string, string>) =>
  HttpServerResponse.text(JSON.stringify(Engine.format(result)), {
    status,
    contentType: contentTypeFor(accept, status),
    ...(headers === undefined ? {} : { headers })
  })

const refuse = (accept: string | undefined, status: number, errors: ReadonlyArray<GraphQLError>, headers?: Record<string, string>) =>
  respond(accept, status, { errors }, headers)

const challenge = (status: number) =>
  status === 401 ? { "www-authenticate": `Bearer error="invalid_token"` } : undefined

const isPromiseLike = <A>(value: A | PromiseLike<A>): value is PromiseLike<A> =>
  typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"

const settle = <A>(value: A | PromiseLike<A>): Effect.Effect<A> =>
  isPromiseLike(value) ? Effect.promise(() => Promise.resolve(value)) : Effect.succeed(value)

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> =>
  typeof value === "object" && value !== null && Symbol.asyncIterator in value

const sseEvent = (event: "next" | "complete", data: unknown) =>
  event === "complete" ? "event: complete\ndata:\n\n" : `event: next\ndata: ${JSON.stringify(data)}\n\n`

/** Reads a GET request's parameters; `variables` arrives as JSON text. */
const paramsOfUrl = (url: string): Engine.Params | GraphQLError => {
  const search = new URL(url, "http://localhost").searchParams
  const variables = search.get("variables")
  let parsed: unknown = undefined
  if (variables !== null && variables !== "") {
    try {
      parsed = JSON.parse(variables)
    } catch {
      return Errors.request(400, "invalid-request", "variables must be JSON")
    }
  }
  return { query: search.get("query") ?? undefined, operationName: search.get("operationName") ?? undefined, variables: parsed }
}

type Captured = Execution.Services | TokenVerifier | ProvisionedUsers

/**
 * The routes. Per-request requirements (the use-cases, the live feed, the token verifier) come from
 * the server's context.
 *
 * @since 0.2.0
 */
export const layer = Layer.unwrap(Effect.gen(function*() {
  const engine = yield* Engine.GraphQLEngine
  // The services resolvers use, captured once; each request adds its own (tracer span, annotations).
  const services = yield* Effect.context<Captured>()
  // The request's own context when it already holds the services (it does when served by
  // `Server.make`), so a request does not pay for a merge.
  const capturedEvents = Context.get(services, Events.Events)
  const servicesOf = (request: Context.Context<never>): Context.Context<Execution.Services> =>
    Context.getOrUndefined(request as Context.Context<Events.Events>, Events.Events) === undefined
      ? Context.merge(services, request)
      : request as Context.Context<Execution.Services>
  const withServices = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Captured>> =>
    Effect.contextWith((request: Context.Context<Exclude<R, Captured>>) =>
      Effect.provideContext(effect, Context.merge(services, request) as Context.Context<R>)
    )
  // A fresh cached event the caller may see is answered from the cache (see `LeanQuery.run`), as the
  // REST read is.
  const cachedEvent = yield* CachedEvents.visible
  const limits = yield* StreamLimits.make
  const { heartbeatInterval } = yield* LiveFeed.config
  const heartbeat = Duration.fromInputUnsafe(heartbeatInterval)

  // The lean answer's response, kept with its rendering (one per content type a client may get): a
  // polled event answers with the same immutable response object until the event changes.
  const leanResponses = new WeakMap<LeanQuery.Rendered, HttpServerResponse.HttpServerResponse>()
  const leanLegacyResponses = new WeakMap<LeanQuery.Rendered, HttpServerResponse.HttpServerResponse>()
  const leanResponse = (accept: string | undefined, rendered: LeanQuery.Rendered) => {
    const contentType = contentTypeFor(accept, 200)
    const kept = contentType === graphqlResponseType ? leanResponses : leanLegacyResponses
    let response = kept.get(rendered)
    if (response === undefined) {
      response = HttpServerResponse.text(rendered.body, { status: 200, contentType })
      kept.set(rendered, response)
    }
    return response
  }

  /** Executes with graphql-js: a query or mutation as JSON, or anything over Server-Sent Events. */
  const execute = (
    prepared: Engine.Prepared,
    vars: Record<string, unknown>,
    accept: string | undefined,
    streaming: boolean,
    actor: User.Actor | undefined,
    request: Context.Context<never>
  ) =>
    Effect.gen(function*() {
      const context = Execution.make(servicesOf(request), actor)
      if (!streaming) {
        const result = yield* settle(engine.execute(prepared, vars, context))
        return respond(accept, "data" in result && result.data !== undefined ? 200 : 400, result)
      }
      const outcome = yield* settle(
        prepared.kind === "subscription" ? engine.subscribe(prepared, vars, context) : engine.execute(prepared, vars, context)
      )
      if (!isAsyncIterable(outcome)) {
        if (!("data" in outcome) || outcome.data === undefined) return respond(accept, 400, outcome)
        return sseResponse(Stream.make(sseEvent("next", Engine.format(outcome)), sseEvent("complete", null)), heartbeat)
      }
      // A subscription holds a socket and a feed subscription: it takes a stream slot as /live does.
      const slot = yield* limits.acquire(actor?.userId)
      if (!("release" in slot)) return slot
      const events = Stream.fromAsyncIterable(outcome, (cause) => cause).pipe(
        Stream.map((result) => sseEvent("next", Engine.format(result))),
        Stream.catchCause((cause) => Stream.fromEffect(Effect.as(Effect.logWarning("GraphQL subscription failed", cause), sseEvent("complete", null)))),
        Stream.concat(Stream.succeed(sseEvent("complete", null))),
        Stream.ensuring(slot.release)
      )
      return sseResponse(events, heartbeat)
    })

  /**
   * The request's answer once its caller is known. Straight-line code until something must run, so a
   * lean query (the polled `event(id)`) pays for no generator and no context merge.
   */
  const answer = (
    method: "GET" | "POST",
    params: Engine.Params,
    accept: string | undefined,
    authenticated: Authentication.Authenticated,
    request: Context.Context<never>,
    peek: LeanQuery.CachedEvent | undefined
  ) => {
    if (authenticated._tag === "Refused") {
      return Effect.succeed(refuse(accept, authenticated.status, [authenticated.error], challenge(authenticated.status)))
    }
    const prepared = engine.prepare(params)
    if (prepared._tag === "Rejected") return Effect.succeed(refuse(accept, prepared.status, prepared.errors))
    if (method === "GET" && prepared.kind !== "query") {
      return Effect.succeed(
        refuse(accept, 405, [Errors.request(405, "method-not-allowed", "Only queries run over GET; send a POST")], {
          allow: "POST"
        })
      )
    }
    const variables = engine.variablesOf(params.variables)
    if (variables._tag === "Rejected") return Effect.succeed(refuse(accept, variables.status, variables.errors))
    const streaming = accept !== undefined && accept.includes("text/event-stream")
    if (prepared.kind === "subscription" && !streaming) {
      return Effect.succeed(refuse(accept, 400, [
        Errors.request(400, "invalid-request", "Subscribe over graphql-ws (WebSocket) or graphql-sse (Accept: text/event-stream)")
      ]))
    }
    const actor = authenticated._tag === "Caller" ? authenticated.caller.actor : undefined
    const vars = variables.values
    if (streaming || prepared.lean === undefined) return execute(prepared, vars, accept, streaming, actor, request)
    // The request's own `Events` when it holds the services (as served by `Server.make`), as
    // `servicesOf` would give it.
    const events = Context.getOrUndefined(request as Context.Context<Events.Events>, Events.Events) ?? capturedEvents
    return Effect.flatMap(LeanQuery.run(prepared.lean, vars, actor, events, peek), (lean) =>
      lean === undefined
        ? execute(prepared, vars, accept, streaming, actor, request)
        : Effect.succeed(lean._tag === "Body" ? leanResponse(accept, lean.rendered) : respond(accept, 200, lean.result)))
  }

  const run = (method: "GET" | "POST", params: Engine.Params) =>
    Effect.withFiber((fiber) => {
      const request = fiber.context as Context.Context<never>
      const headers = Context.getUnsafe(request, HttpServerRequest.HttpServerRequest).headers
      const accept = headers["accept"]
      const authorization = headers["authorization"]
      const visible = cachedEvent
      const peek = visible === undefined
        ? undefined
        : (actor: User.Actor | undefined, id: string) => visible(actor, id, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
      return authorization === undefined
        ? answer(method, params, accept, Authentication.anonymous, request, peek)
        : Effect.flatMap(
          withServices(Authentication.authenticate(authorization)),
          (authenticated) => answer(method, params, accept, authenticated, request, peek)
        )
    })

  const post = Effect.withFiber((fiber) => {
    const request = Context.getUnsafe(fiber.context as Context.Context<never>, HttpServerRequest.HttpServerRequest)
    const accept = request.headers["accept"]
    return Effect.matchEffect(request.text, {
      onFailure: () => Effect.succeed(refuse(accept, 413, [Errors.request(413, "payload-too-large", "The request body is too large")])),
      onSuccess: (text) => {
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {
          return Effect.succeed(refuse(accept, 400, [Errors.request(400, "invalid-request", "The body must be a JSON object")]))
        }
        if (typeof body !== "object" || body === null || Array.isArray(body)) {
          return Effect.succeed(
            refuse(accept, 400, [Errors.request(400, "invalid-request", "The body must be one GraphQL request object")])
          )
        }
        return run("POST", body as Engine.Params)
      }
    })
  })

  const get = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if ((request.headers["upgrade"] ?? "").toLowerCase() === "websocket") return yield* withServices(WebSocket.serve(engine, limits))
    const params = paramsOfUrl(request.url)
    if (params instanceof GraphQLError) return refuse(request.headers["accept"], 400, [params])
    return yield* run("GET", params)
  })

  const schema = HttpServerResponse.text(engine.sdl, { contentType: "text/plain; charset=utf-8" })

  return Layer.mergeAll(
    Refusals.middleware,
    HttpRouter.add("POST", "/graphql", post),
    HttpRouter.add("GET", "/graphql", get),
    HttpRouter.add("GET", "/graphql/schema.graphql", schema)
  )
}))
