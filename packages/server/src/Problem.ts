/**
 * RFC 9457 problem details: the one shape of every error the server sends.
 *
 * `{ type, title, status, detail, code, instance, traceId, errors? }` as `application/problem+json`.
 * Handlers never fail: they turn domain errors into problem responses here (see {@link catchDomain}),
 * with the mapping embedders use too (`@live-events/engine` `Problem`), so it lives in one place and
 * stays the same for replayed idempotent responses. Request
 * decoding failures become 400 problems naming the field ({@link fromSchemaError}); unknown routes,
 * framework errors and defects are turned into problems by {@link middleware}, which also guarantees
 * that no stack trace and no internal message ever reaches a client.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Option, type SchemaIssue } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiMiddleware } from "effect/http-api"
import { contentType, type ProblemBody } from "@live-events/api/Problems"
import { RequestValidation } from "@live-events/api/Security"
import type { HttpApiError } from "effect/http-api"
import type { DomainError as Errors } from "@live-events/domain"
import { Problem as EngineProblem } from "@live-events/engine"

type DomainError = Errors.DomainError

/** @since 0.1.0 */
export { contentType }

/** The problem body and its field errors, as the contract declares them. @since 0.1.0 */
export { FieldError, ProblemBody } from "@live-events/api/Problems"

/**
 * A problem before it knows which request it answers.
 *
 * @since 0.1.0
 */
export type Problem = EngineProblem.Problem

/** The title of a status (its reason phrase). @since 0.1.0 */
export const titleOf = EngineProblem.titleOf

/** The `type` URI of a code: a URN, so it claims no web address we do not serve. @since 0.1.0 */
export const typeOf = EngineProblem.typeOf

/** @since 0.1.0 */
export const make = EngineProblem.make

/**
 * The trace id of the current request: the active span's, else the W3C `traceparent` header's, else a
 * fresh random one (so a client can still quote it).
 *
 * @since 0.1.0
 */
export const currentTraceId: Effect.Effect<string> = Effect.gen(function*() {
  const span = yield* Effect.option(Effect.currentParentSpan)
  if (Option.isSome(span)) return span.value.traceId
  const request = yield* Effect.serviceOption(HttpServerRequest.HttpServerRequest)
  const traceparent = Option.isSome(request) ? request.value.headers["traceparent"] : undefined
  const match = traceparent === undefined ? null : /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent)
  return match?.[1] ?? EngineProblem.randomTraceId()
})

const currentInstance: Effect.Effect<string> = Effect.map(
  Effect.serviceOption(HttpServerRequest.HttpServerRequest),
  Option.match({ onNone: () => "", onSome: (request) => request.url.split("?")[0] ?? request.url })
)

/**
 * The wire body of a problem, completed with the request path and trace id.
 *
 * @since 0.1.0
 */
export const toBody = (problem: Problem): Effect.Effect<ProblemBody & Record<string, unknown>> =>
  Effect.gen(function*() {
    return EngineProblem.toBody(problem, { instance: yield* currentInstance, traceId: yield* currentTraceId }) as
      & ProblemBody
      & Record<string, unknown>
  })

/**
 * Renders a problem as an `application/problem+json` response.
 *
 * @since 0.1.0
 */
export const toResponse = (problem: Problem): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.map(toBody(problem), (body) =>
    HttpServerResponse.jsonUnsafe(body, {
      status: problem.status,
      contentType,
      ...(problem.headers !== undefined ? { headers: problem.headers } : {})
    }))

/** @since 0.1.0 */
export const respond = (status: number, code: string, detail: string, extra?: Partial<Problem>) =>
  toResponse(make(status, code, detail, extra))

const isDomainError = EngineProblem.isDomainError

/**
 * Maps a domain error to its problem (see `@live-events/engine` `Problem`).
 *
 * @since 0.1.0
 */
export const fromDomainError = EngineProblem.fromDomainError

/**
 * A storage failure's problem (see `@live-events/engine` `Problem`). The cause may name tables,
 * hosts or values: never sent, but logged by {@link logRepositoryError}.
 *
 * @since 0.1.0
 */
export const fromRepositoryError = EngineProblem.fromRepositoryError

/**
 * Logs a storage failure with its cause (operation, reason, SQLSTATE and the database's message), so a
 * 4xx/5xx answered for it can be explained: an outage as a warning, anything else as an error.
 *
 * @since 0.1.0
 */
export const logRepositoryError = (error: Errors.RepositoryError): Effect.Effect<void> => {
  const outage = error.isRetryable || error.reason === "unknown"
  const annotations = { operation: error.operation, reason: error.reason, ...describeCause(error.cause) }
  return (outage ? Effect.logWarning("Storage failure") : Effect.logError("Storage refused a statement")).pipe(
    Effect.annotateLogs(annotations)
  )
}

/**
 * {@link fromDomainError}, logging a storage failure first (see {@link logRepositoryError}): for the
 * handlers that render a failure themselves (stored idempotent responses) instead of {@link catchDomain}.
 *
 * @since 0.1.0
 */
export const reported = (error: DomainError | Errors.RepositoryError): Effect.Effect<Problem> =>
  error._tag === "RepositoryError"
    ? Effect.as(logRepositoryError(error), fromDomainError(error))
    : Effect.succeed(fromDomainError(error))

const describeCause = (cause: unknown): Record<string, string> => {
  const described: Record<string, string> = {}
  let current: unknown = cause
  // SqlError → its reason → the driver's error: the first SQLSTATE and message found.
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const record = current as Record<string, unknown>
    const code = record["code"]
    if (described["sqlState"] === undefined && typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) described["sqlState"] = code
    if (described["cause"] === undefined && typeof record["_tag"] === "string") described["cause"] = record["_tag"]
    if (typeof record["message"] === "string" && record["message"].length > 0) described["message"] = record["message"].slice(0, 300)
    current = "reason" in record && typeof record["reason"] === "object" ? record["reason"] : record["cause"]
  }
  return described
}

/**
 * Turns the typed failures of a use-case into problem responses, so that handlers never fail.
 *
 * @since 0.1.0
 */
export const catchDomain = <A, E extends DomainError | { readonly _tag: "RepositoryError"; readonly code: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A | HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.catch(effect, (error) =>
    !isDomainError(error)
      ? Effect.die(error)
      : (error as { readonly _tag: string })._tag === "RepositoryError"
      ? Effect.andThen(logRepositoryError(error as unknown as Errors.RepositoryError), toResponse(fromDomainError(error)))
      : toResponse(fromDomainError(error)))

const slotNames: Record<HttpApiError.HttpApiSchemaError["kind"], string> = {
  Params: "path",
  Query: "query",
  Headers: "header",
  Payload: "body",
  Body: "response",
  ResponseHeaders: "response"
}

/**
 * Field problems of a failed decode: `title`, `waitlist.limit`, `id`; the whole body is `body`.
 *
 * @since 0.1.0
 */
export const fieldErrors = EngineProblem.fieldErrors

/**
 * The 400 problem of a request that failed to decode.
 *
 * @since 0.1.0
 */
export const fromSchemaError = (error: HttpApiError.HttpApiSchemaError): Problem =>
  fromDecodeIssue(error.kind, error.cause.issue)

/**
 * The 400 problem of a request slot that failed to decode (what {@link fromSchemaError} answers for
 * HttpApi, for handlers that decode themselves).
 *
 * @since 0.1.0
 */
export const fromDecodeIssue = (kind: HttpApiError.HttpApiSchemaError["kind"], issue: SchemaIssue.Issue): Problem =>
  EngineProblem.fromDecodeIssue(slotNames[kind], issue)

const frameworkProblem = (response: HttpServerResponse.HttpServerResponse): Problem | undefined => {
  switch (response.status) {
    case 404:
      return make(404, "not-found", "No such resource")
    case 405:
      return make(405, "method-not-allowed", "Method not allowed")
    case 413:
      return make(413, "payload-too-large", "The request body is too large")
    case 415:
      return make(415, "unsupported-media-type", "Send the request body as application/json")
    default:
      return response.status >= 400 ? make(response.status, "error", titleOf(response.status)) : undefined
  }
}

/** A response that describes its own error: a problem, or a GraphQL response (errors in its body). */
const isProblemResponse = (response: HttpServerResponse.HttpServerResponse) => {
  const type = response.headers["content-type"] ?? ""
  return type.startsWith(contentType) || type.startsWith("application/graphql-response+json")
}

/**
 * The problem stage of the request pipeline: unknown routes become 404 problems, bodies of framework-made
 * error responses (415, 413, ...) become problems, and a defect becomes an opaque 500 problem after being
 * logged.
 *
 * @since 0.1.0
 */
export const mapFailures = <E, R>(
  httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
  httpEffect.pipe(
    Effect.flatMap((response) => {
      if (response.status < 400 || isProblemResponse(response)) return Effect.succeed(response)
      const problem = frameworkProblem(response)
      return problem === undefined ? Effect.succeed(response) : toResponse(problem)
    }),
    Effect.catchCause((cause) => {
      const failure = Cause.findErrorOption(cause)
      if (Option.isSome(failure) && HttpServerError.isHttpServerError(failure.value)) {
        const reason = failure.value.reason
        if (reason._tag === "RouteNotFound") return respond(404, "not-found", "No such route")
        if (reason._tag === "RequestParseError") {
          return reason.reason === "BodyTooLarge"
            ? respond(413, "payload-too-large", "The request body is too large")
            : respond(400, "bad-request", "The request could not be read")
        }
      }
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      return Effect.logError("Unhandled error while serving a request", cause).pipe(
        Effect.andThen(respond(500, "internal-error", "An unexpected error occurred"))
      )
    })
  )

/**
 * {@link mapFailures} as a global router middleware of its own. The server runs it inside its one
 * request middleware instead (`Security/Middleware.ts`), where its place among the stages is written
 * down.
 *
 * @since 0.1.0
 */
export const middleware = HttpRouter.middleware(mapFailures, { global: true })

/**
 * HttpApi middleware turning request decoding failures into 400 problems that name each field.
 *
 * @since 0.1.0
 */
export { RequestValidation }

/** @since 0.1.0 */
export const layerRequestValidation = HttpApiMiddleware.layerSchemaErrorTransform(
  RequestValidation,
  (error) =>
    error.kind === "Body" || error.kind === "ResponseHeaders"
      // A response that does not fit its own schema is our bug: report it, answer an opaque 500.
      ? Effect.logError("Response failed to encode", error.cause).pipe(
        Effect.andThen(respond(500, "internal-error", "An unexpected error occurred"))
      )
      : toResponse(fromSchemaError(error))
)
