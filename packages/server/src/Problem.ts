/**
 * RFC 9457 problem details: the one shape of every error the server sends.
 *
 * `{ type, title, status, detail, code, instance, traceId, errors? }` as `application/problem+json`.
 * Handlers never fail: they turn domain errors into problem responses here (see {@link catchDomain}),
 * so the mapping lives in one place and stays the same for replayed idempotent responses. Request
 * decoding failures become 400 problems naming the field ({@link fromSchemaError}); unknown routes,
 * framework errors and defects are turned into problems by {@link middleware}, which also guarantees
 * that no stack trace and no internal message ever reaches a client.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Option, Schema, SchemaAST, SchemaIssue } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiMiddleware } from "effect/http-api"
import { contentType, type FieldError, type ProblemBody } from "@live-events/api/Problems"
import { RequestValidation } from "@live-events/api/Security"
import type { HttpApiError } from "effect/http-api"
import type { DomainError as Errors } from "@live-events/domain"
import { Policy } from "@live-events/resilience"

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
export interface Problem {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly errors?: ReadonlyArray<FieldError> | undefined
  /** Extension members (RFC 9457 §3.2), e.g. the existing registration of `already-registered`. */
  readonly extensions?: Record<string, unknown> | undefined
  readonly headers?: Record<string, string> | undefined
}

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

/** The title of a status (its reason phrase). @since 0.1.0 */
export const titleOf = (status: number): string => titles[status] ?? "Error"

/** The `type` URI of a code: a URN, so it claims no web address we do not serve. @since 0.1.0 */
export const typeOf = (code: string): string => `urn:live-events:problem:${code}`

/** @since 0.1.0 */
export const make = (status: number, code: string, detail: string, extra?: Partial<Problem>): Problem => ({
  status,
  code,
  detail,
  ...extra
})

const randomTraceId = () =>
  Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("")

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
  return match?.[1] ?? randomTraceId()
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
    return {
      ...problem.extensions,
      type: typeOf(problem.code),
      title: titles[problem.status] ?? "Error",
      status: problem.status,
      detail: problem.detail,
      code: problem.code,
      instance: yield* currentInstance,
      traceId: yield* currentTraceId,
      ...(problem.errors !== undefined ? { errors: problem.errors } : {})
    }
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

const isDomainError = (u: unknown): u is DomainError =>
  typeof u === "object" && u !== null && "_tag" in u && "code" in u && typeof (u as { code: unknown }).code === "string"

/**
 * Maps a domain error to its problem. The status comes from the error class's `httpApiStatus`
 * annotation, the `code` from the error itself, so a new domain error needs no change here.
 *
 * @since 0.1.0
 */
export const fromDomainError = (error: DomainError | { readonly _tag: "RepositoryError"; readonly code: string }): Problem => {
  const status = statusOf(error)
  switch (error._tag) {
    case "ValidationFailed":
      return make(400, error.code, error.message, { errors: error.errors })
    case "AlreadyRegistered":
      return make(status, error.code, error.message, {
        extensions: { registrationId: error.registrationId, registrationStatus: error.status }
      })
    case "InvalidCursor":
      return make(400, error.code, "The cursor is not valid for this list", {
        errors: [{ field: "cursor", message: "not a cursor returned by this list" }]
      })
    case "RepositoryError":
      return fromRepositoryError(error as Errors.RepositoryError)
    default:
      return make(status, error.code, status >= 500 ? "Internal error" : (error as { message: string }).message)
  }
}

/**
 * A storage failure's problem. The cause may name tables, hosts or values: never sent, but logged by
 * {@link logRepositoryError}. Only an outage is a 503 (clients may retry shortly, or when an open
 * circuit closes: the resilience policies put their rejection in the cause); a value the database
 * refused is the request's fault (400), a violated constraint a conflict with the stored state (409),
 * a statement that cannot run our bug (500).
 *
 * @since 0.1.0
 */
export const fromRepositoryError = (error: Errors.RepositoryError): Problem => {
  switch (error.reason) {
    case "invalid":
      return make(400, "invalid-input", "The request holds a value that cannot be stored")
    case "constraint":
      return make(409, "conflict", "The request conflicts with the current state of the resource")
    case "defect":
      return make(500, "internal-error", "An unexpected error occurred")
    default:
      return make(503, error.code, "The service is temporarily unavailable, please retry", {
        headers: { "retry-after": String(retryAfterOf(error.cause)) }
      })
  }
}

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

const retryAfterOf = (cause: unknown): number =>
  Policy.isPolicyError(cause) ? Option.getOrElse(Policy.retryAfterSeconds(cause), () => 1) : 1

const httpApiStatus = SchemaAST.resolveAt<number>("httpApiStatus")

const statusOf = (error: object): number => {
  const schema = error.constructor as Partial<Schema.Top>
  const status = schema.ast === undefined ? undefined : httpApiStatus(schema.ast)
  return typeof status === "number" ? status : 500
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

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

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
export const fieldErrors = (issue: SchemaIssue.Issue, root: string): ReadonlyArray<FieldError> =>
  formatIssues(issue).issues.map((entry) => {
    const path = (entry.path ?? []).map((segment) =>
      String(typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment)
    )
    return { field: path.length === 0 ? root : path.join("."), message: entry.message }
  })

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
export const fromDecodeIssue = (kind: HttpApiError.HttpApiSchemaError["kind"], issue: SchemaIssue.Issue): Problem => {
  const slot = slotNames[kind]
  const errors = fieldErrors(issue, slot)
  const fields = [...new Set(errors.map((e) => e.field))].join(", ")
  return make(400, "validation-failed", `Invalid ${slot === "body" ? "request body" : slot}: ${fields}`, { errors })
}

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
      return response.status >= 400 ? make(response.status, "error", titles[response.status] ?? "Error") : undefined
  }
}

/** A response that describes its own error: a problem, or a GraphQL response (errors in its body). */
const isProblemResponse = (response: HttpServerResponse.HttpServerResponse) => {
  const type = response.headers["content-type"] ?? ""
  return type.startsWith(contentType) || type.startsWith("application/graphql-response+json")
}

/**
 * Global router middleware: unknown routes become 404 problems, bodies of framework-made error responses
 * (415, 413, ...) become problems, and a defect becomes an opaque 500 problem after being logged.
 *
 * @since 0.1.0
 */
export const middleware = HttpRouter.middleware((httpEffect) =>
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
  ), { global: true })

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
