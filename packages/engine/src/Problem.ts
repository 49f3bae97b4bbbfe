/**
 * Errors as RFC 9457 problem details, for any host: the engine's use-cases fail with typed domain
 * errors carrying stable kebab-case codes, and this module maps each one to an HTTP status and a
 * problem body, without depending on an HTTP library. A Fastify, Express or plain Node host answers
 * with `status`, `headers` and `toBody(problem)` as `application/problem+json`.
 *
 * - A domain error's status comes from its class (`httpApiStatus`), its `code` from the error.
 * - A storage failure: only an outage is a 503 (with `retry-after`); a value the database refused
 *   is a 400, a violated constraint a 409, a broken statement a 500. Its cause (tables, hosts,
 *   values) is never put in the problem.
 * - Input that failed a schema (the library's own: `Ids.EventId`, `Registration.RegisterInput`…) is
 *   a 400 `validation-failed` naming each field.
 * - Anything else is an opaque 500 `internal-error`.
 *
 * @since 0.1.0
 */
import { DomainError as Errors } from "@live-events/domain"
import { Policy } from "@live-events/resilience"
import { Effect, Option, Schema, SchemaAST, SchemaIssue } from "effect"

type DomainError = Errors.DomainError

/** @since 0.1.0 */
export const contentType = "application/problem+json"

/** One invalid field: `title`, `waitlist.limit`, `id`. @since 0.1.0 */
export interface FieldError {
  readonly field: string
  readonly message: string
}

/**
 * A problem before it knows which request it answers.
 *
 * @since 0.1.0
 */
export interface Problem {
  readonly status: number
  /** Stable: clients switch on it. */
  readonly code: string
  readonly detail: string
  readonly errors?: ReadonlyArray<FieldError> | undefined
  /** Extension members (RFC 9457 §3.2), e.g. the existing registration of `already-registered`. */
  readonly extensions?: Record<string, unknown> | undefined
  /** Headers to send with it (`retry-after` of an outage). */
  readonly headers?: Record<string, string> | undefined
}

/** The JSON body of a problem. @since 0.1.0 */
export interface ProblemBody {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly code: string
  readonly instance: string
  readonly traceId: string
  readonly errors?: ReadonlyArray<FieldError>
  readonly [extension: string]: unknown
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

/** The `type` URI of a code: a URN, so it claims no web address nobody serves. @since 0.1.0 */
export const typeOf = (code: string): string => `urn:live-events:problem:${code}`

/** @since 0.1.0 */
export const make = (status: number, code: string, detail: string, extra?: Partial<Problem>): Problem => ({
  status,
  code,
  detail,
  ...extra
})

/** A typed failure of a use-case (it carries a stable `code`). @since 0.1.0 */
export const isDomainError = (u: unknown): u is DomainError =>
  typeof u === "object" && u !== null && "_tag" in u && "code" in u && typeof (u as { code: unknown }).code === "string"

const httpApiStatus = SchemaAST.resolveAt<number>("httpApiStatus")

const statusOf = (error: object): number => {
  const schema = error.constructor as Partial<Schema.Top>
  const status = schema.ast === undefined ? undefined : httpApiStatus(schema.ast)
  return typeof status === "number" ? status : 500
}

const retryAfterOf = (cause: unknown): number =>
  Policy.isPolicyError(cause) ? Option.getOrElse(Policy.retryAfterSeconds(cause), () => 1) : 1

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
 * A storage failure's problem. Only an outage is a 503 (clients may retry shortly, or when an open
 * circuit closes: the resilience policies put their rejection in the cause); a value the database
 * refused is the request's fault (400), a violated constraint a conflict with the stored state (409),
 * a statement that cannot run a bug (500).
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

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Field problems of a failed decode: `title`, `waitlist.limit`, `id`; an issue with no path is
 * reported on `root` (`body`, `path`…).
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
 * The 400 problem of a part of a request (`slot`: "body", "path", "query", "header") that failed to
 * decode.
 *
 * @since 0.1.0
 */
export const fromDecodeIssue = (slot: string, issue: SchemaIssue.Issue): Problem => {
  const errors = fieldErrors(issue, slot)
  const fields = [...new Set(errors.map((e) => e.field))].join(", ")
  return make(400, "validation-failed", `Invalid ${slot === "body" ? "request body" : slot}: ${fields}`, { errors })
}

/**
 * Decodes untrusted input (a path parameter, a JSON body) with one of the library's schemas, failing
 * with the domain's `ValidationFailed` (a 400 `validation-failed` naming each field, under `slot`)
 * so that a host handles bad input and refused commands in one place.
 *
 * ```ts
 * const eventId = yield* Problem.decode(Ids.EventId, request.params.id, "id")
 * const input = yield* Problem.decode(Registration.RegisterInput, request.body, "body")
 * ```
 *
 * @since 0.1.0
 */
export const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  input: unknown,
  slot: string = "body"
): Effect.Effect<S["Type"], Errors.ValidationFailed> =>
  Effect.mapError(Schema.decodeUnknownEffect(schema)(input), (error) => {
    const problem = fromDecodeIssue(slot, error.issue)
    return new Errors.ValidationFailed({ message: problem.detail, errors: problem.errors ?? [] })
  })

/**
 * The problem of any failure a host may meet around the engine: a domain error or storage failure,
 * a schema decoding failure (reported on `slot`, default "body"), or anything else (an opaque 500).
 *
 * @since 0.1.0
 */
export const fromUnknown = (error: unknown, slot: string = "body"): Problem => {
  if (Schema.isSchemaError(error)) return fromDecodeIssue(slot, error.issue)
  if (isDomainError(error)) return fromDomainError(error)
  return make(500, "internal-error", "An unexpected error occurred")
}

/**
 * The wire body of a problem. `instance` is the request path, `traceId` the one a client can quote
 * (default: a random one).
 *
 * @since 0.1.0
 */
export const toBody = (
  problem: Problem,
  request: { readonly instance?: string | undefined; readonly traceId?: string | undefined } = {}
): ProblemBody => ({
  ...problem.extensions,
  type: typeOf(problem.code),
  title: titleOf(problem.status),
  status: problem.status,
  detail: problem.detail,
  code: problem.code,
  instance: request.instance ?? "",
  traceId: request.traceId ?? randomTraceId(),
  ...(problem.errors !== undefined ? { errors: problem.errors } : {})
})

/** A W3C trace id (32 hex digits). @since 0.1.0 */
export const randomTraceId = (): string =>
  Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("")
