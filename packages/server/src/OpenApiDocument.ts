/**
 * What `/openapi.json` says beyond what the schemas and annotations of the `HttpApi` definition give
 * (applied as the API's `OpenApi.Transform`). Everything here is description only: request decoding
 * and response encoding keep using the endpoints' own schemas, so documenting a bound or a format
 * never changes what the server accepts.
 *
 * - the Bearer scheme as `http`/`bearer` with a JWT format (the scheme name lower-case, as the docs
 *   page needs to render `Authorization: Bearer …` snippets);
 * - the RFC 9457 problem body, a generic problem per 4xx/5xx class, and per operation the statuses
 *   with the stable `code`s it can answer;
 * - instants as `date-time`, entity ids as `uuid`, `limit` as an integer 1..100, no safe-integer
 *   bounds that only restate JavaScript's number range;
 * - no `x-effect-*` extensions (framework internals, not part of the contract).
 *
 * @since 0.1.0
 */
import * as Pagination from "./Pagination.ts"

type Json = Record<string, any>

const problemRef = { $ref: "#/components/schemas/Problem" }

const ProblemSchema = {
  type: "object",
  description: "RFC 9457 problem details; `code` is stable and meant for programs, `detail` for people.",
  required: ["type", "title", "status", "detail", "code", "instance", "traceId"],
  properties: {
    type: { type: "string", description: "A URN naming the problem type: `urn:live-events:problem:<code>`" },
    title: { type: "string" },
    status: { type: "integer", minimum: 400, maximum: 599 },
    detail: { type: "string" },
    code: { type: "string", description: "Stable kebab-case error code" },
    instance: { type: "string" },
    traceId: { type: "string" },
    errors: {
      type: "array",
      description: "The fields that failed validation",
      items: {
        type: "object",
        required: ["field", "message"],
        properties: { field: { type: "string" }, message: { type: "string" } }
      }
    }
  }
}

const problemResponse = (description: string, codes?: ReadonlyArray<string>) => ({
  description,
  content: {
    "application/problem+json": {
      schema: codes === undefined
        ? problemRef
        : { allOf: [problemRef, { type: "object", properties: { code: { type: "string", enum: [...codes] } } }] }
    }
  }
})

const statusTitles: Record<string, string> = {
  "400": "Bad request",
  "401": "Unauthenticated",
  "403": "Forbidden",
  "404": "Not found",
  "409": "Conflict",
  "412": "Precondition failed",
  "429": "Too many requests",
  "503": "Service unavailable"
}

/** The domain's answers per operation, beyond the ones every operation of its kind can give. */
const operationProblems: Record<string, Record<string, ReadonlyArray<string>>> = {
  "events.update": { "409": ["capacity-below-confirmed", "user-erased"], "412": ["precondition-failed"] },
  "events.delete": { "409": ["event-has-active-registrations"] },
  "events.publish": { "409": ["invalid-transition"] },
  "events.unpublish": { "409": ["invalid-transition"] },
  "events.cancel": { "409": ["invalid-transition"] },
  "registrations.register": {
    "403": ["user-erased"],
    "409": ["already-registered", "registration-closed", "waitlist-full", "waitlist-closed"]
  },
  "registrations.cancel": { "409": ["invalid-transition"] },
  "registrations.confirm": { "409": ["invalid-transition", "no-seat-available"] },
  "registrations.attendance": { "409": ["invalid-transition", "event-not-started"] },
  "live.event": { "429": ["too-many-streams"] },
  "live.me": { "429": ["too-many-streams"] },
  "users.update": { "409": ["user-erased"] },
  "me.update": { "403": ["user-erased"] }
}

/** The `404` code of a path with an `{id}`, by the resource it names. */
const notFoundCode = (path: string): string | undefined =>
  path.startsWith("/v1/events/{id}")
    ? "event-not-found"
    : path.startsWith("/v1/registrations/{id}")
    ? "registration-not-found"
    : path.startsWith("/v1/users/{id}")
    ? "user-not-found"
    : path.startsWith("/v1/admin/outbox/{id}")
    ? "dead-letter-not-found"
    : undefined

/**
 * The problem codes an operation can answer with, by status: from what it takes (parameters, body,
 * cursor, token, an `{id}`), then the domain's own answers. A status the endpoint declares itself
 * keeps its declaration.
 */
const problemsOf = (path: string, operation: Json): Record<string, Set<string>> => {
  const problems: Record<string, Set<string>> = {}
  const add = (status: string, ...codes: ReadonlyArray<string>) => {
    const set = (problems[status] ??= new Set())
    for (const code of codes) set.add(code)
  }
  const parameters: ReadonlyArray<Json> = operation.parameters ?? []
  if (parameters.length > 0 || operation.requestBody !== undefined) add("400", "validation-failed")
  if (parameters.some((parameter) => parameter.name === "cursor")) add("400", "invalid-cursor")
  const secured = (operation.security ?? []).some((requirement: Json) => "bearer" in requirement)
  if (secured) add("401", "unauthenticated")
  const required = secured && !(operation.security as Array<Json>).some((requirement) => Object.keys(requirement).length === 0)
  if (required && !path.startsWith("/health")) add("403", "forbidden")
  const notFound = notFoundCode(path)
  if (notFound !== undefined) add("404", notFound)
  // Every route but the probes is rate limited.
  if (!path.startsWith("/health")) add("429", "rate-limited")
  for (const [status, codes] of Object.entries(operationProblems[operation.operationId] ?? {})) add(status, ...codes)
  if (!path.startsWith("/health")) add("503", "service-unavailable")
  return problems
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER
const instantName = /^(at|from|to|[a-zA-Z]+At)$/
const entityIdName = /^(eventId|userId|organizerId|registrationId)$/
/** Schemas whose `id` is a UUID (generated by `Ids`), and the properties of an export that hold them. */
const entitySchemas = new Set(["Event", "Registration", "User", "AuditEntry"])
const entityProperties = new Set(["user", "registrations", "audit"])

/**
 * Walks a JSON Schema (and what it nests), documenting formats and dropping safe-integer bounds;
 * `entity`: the `id`s at this level and below are entity ids.
 */
const refineSchema = (schema: unknown, entity: boolean): void => {
  if (Array.isArray(schema)) {
    for (const item of schema) refineSchema(item, entity)
    return
  }
  if (typeof schema !== "object" || schema === null) return
  const node = schema as Json
  if (node.type === "integer") {
    if (node.minimum === -MAX_SAFE) delete node.minimum
    if (node.maximum === MAX_SAFE) delete node.maximum
  }
  if (node.type === "object" && typeof node.properties === "object") {
    for (const [name, property] of Object.entries(node.properties as Record<string, Json>)) {
      for (const alternative of alternativesOf(property)) {
        if (alternative.type !== "string" || alternative.format !== undefined) continue
        if (instantName.test(name)) alternative.format = "date-time"
        else if (entityIdName.test(name) || (entity && name === "id")) alternative.format = "uuid"
      }
    }
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties") {
      for (const [name, property] of Object.entries(value as Json)) {
        refineSchema(property, entity || entityProperties.has(name))
      }
    } else if (typeof value === "object") refineSchema(value, entity)
  }
}

/** A schema and, for `anyOf` (nullable values), its alternatives. */
const alternativesOf = (schema: Json): ReadonlyArray<Json> =>
  Array.isArray(schema.anyOf) ? [schema, ...schema.anyOf] : [schema]

const parameterDescriptions: Record<string, string> = {
  id: "The resource's id",
  limit: "Page size",
  cursor: "The `nextCursor` of the previous page; absent for the first page",
  from: "Only from this instant on (an event's start, an audit entry's time)",
  to: "Only up to this instant (an event's start, an audit entry's time)",
  q: "Case-insensitive text to find in title and location",
  status: "Only this status",
  organizerId: "Only the events of this organizer",
  email: "The people with exactly this email address (one page, no cursor)",
  actor: "Only the entries of this actor",
  action: "Only the entries of this action",
  target: "Only the entries about this target id",
  lastEventId: "The last event id received, to resume a stream (same as the `Last-Event-ID` header)",
  "idempotency-key": "Repeating a request with the same key answers with the first result instead of acting twice",
  "if-match": "The ETag of the version this change is based on; 412 `precondition-failed` when it moved on",
  "if-none-match": "An ETag held by the client; 304 when it is still current"
}

/**
 * Parameters: a description each; `limit` is an integer in 1..100 on the wire too (the query string
 * carries it as digits), instants are `date-time`.
 */
const refineParameter = (parameter: Json): void => {
  parameter.description ??= parameterDescriptions[parameter.name]
  if (parameter.in !== "query") return
  if (parameter.name === "limit") {
    parameter.schema = { type: "integer", minimum: 1, maximum: 100, default: Pagination.defaultLimit }
  } else if (instantName.test(parameter.name) && parameter.schema?.type === "string") {
    parameter.schema.format = "date-time"
  }
}

/**
 * Request examples, by operation: what a client sends in the common case (a test decodes each with the
 * endpoint's own payload schema).
 *
 * @since 0.1.0
 */
export const requestExamples: Record<string, unknown> = {
  "events.create": {
    title: "Effect meetup",
    description: "Talks and pizza",
    startsAt: "2030-05-01T18:00:00Z",
    endsAt: "2030-05-01T21:00:00Z",
    timeZone: "Europe/Berlin",
    location: "Main hall",
    capacity: 50,
    waitlist: { enabled: true, limit: 20 }
  },
  "events.update": { capacity: 60, location: "Large hall" },
  "registrations.register": { notes: "Vegetarian" },
  "registrations.attendance": { attended: true },
  "me.update": { name: "Ada Lovelace" },
  "users.create": { subject: "auth0|ada", email: "ada@example.com", name: "Ada Lovelace" },
  "users.update": { phone: "+49301234567" }
}

/** Removes every `x-effect-*` key, at any depth. */
const dropFrameworkExtensions = (value: unknown): void => {
  if (typeof value !== "object" || value === null) return
  for (const key of Object.keys(value)) {
    if (key.startsWith("x-effect-")) delete (value as Json)[key]
    else dropFrameworkExtensions((value as Json)[key])
  }
}

/**
 * The API's `OpenApi.Transform`.
 *
 * @since 0.1.0
 */
export const refine = (spec: Json): Json => {
  spec.components ??= {}
  spec.components.schemas ??= {}
  spec.components.schemas.Problem = ProblemSchema
  spec.components.securitySchemes = {
    ...spec.components.securitySchemes,
    bearer: {
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
      description: "A JWT from the identity provider: `Authorization: Bearer <token>`."
    }
  }
  for (const [name, schema] of Object.entries(spec.components.schemas)) refineSchema(schema, entitySchemas.has(name))
  for (const [path, item] of Object.entries(spec.paths ?? {}) as Array<[string, Json]>) {
    for (const operation of Object.values(item)) {
      if (typeof operation !== "object" || operation === null || !("responses" in operation)) continue
      for (const parameter of operation.parameters ?? []) refineParameter(parameter)
      for (const media of Object.values(operation.requestBody?.content ?? {}) as Array<Json>) {
        refineSchema(media.schema, false)
        if (operation.operationId in requestExamples) media.example = requestExamples[operation.operationId]
      }
      for (const response of Object.values(operation.responses) as Array<Json>) {
        for (const media of Object.values(response.content ?? {}) as Array<Json>) refineSchema(media.schema, false)
      }
      for (const [status, codes] of Object.entries(problemsOf(path, operation))) {
        operation.responses[status] ??= problemResponse(
          `${statusTitles[status] ?? "Problem"}: ${[...codes].map((code) => `\`${code}\``).join(", ")}`,
          [...codes]
        )
      }
      operation.responses["4XX"] ??= problemResponse("Client error (RFC 9457 problem details)")
      operation.responses["5XX"] ??= problemResponse("Server error (RFC 9457 problem details)")
    }
  }
  dropFrameworkExtensions(spec)
  return spec
}
