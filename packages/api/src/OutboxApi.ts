/**
 * The HTTP contract of outbox administration (admins only): the dead letters and their redrive.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { authenticated, describe } from "./Endpoint.ts"
import * as Pagination from "./Pagination.ts"
import * as Problems from "./Problems.ts"

/** @since 0.1.0 */
export const DeadLetterJson = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  aggregateId: Schema.String,
  occurredAt: Schema.Date,
  attempts: Schema.Int,
  lastError: Schema.NullOr(Schema.String),
  deadLetteredAt: Schema.Date,
  payload: Schema.Unknown
}).annotate({ identifier: "DeadLetter" })
/** @since 0.1.0 */
export type DeadLetterJson = typeof DeadLetterJson.Type

/** A dead letter of the outbox (any value with its fields) as the API shows it. @since 0.1.0 */
export const toJson = (letter: DeadLetterJson): DeadLetterJson => ({
  id: letter.id,
  type: letter.type,
  aggregateId: letter.aggregateId,
  occurredAt: letter.occurredAt,
  attempts: letter.attempts,
  lastError: letter.lastError,
  deadLetteredAt: letter.deadLetteredAt,
  payload: letter.payload
})

/** @since 0.1.0 */
export const RedriveJson = Schema.Struct({ id: Schema.String, status: Schema.Literal("pending") })

/**
 * @since 0.1.0
 */
export class OutboxAdminApi extends HttpApiGroup.make("outboxAdmin").add(
  authenticated(HttpApiEndpoint.get("list", "/v1/admin/outbox", {
    query: {
      ...Pagination.query,
      // The outbox pages by its `bigint` position: digits that fit one, never a value the database refuses.
      cursor: Schema.optionalKey(
        Schema.String.check(Schema.isPattern(/^\d{1,18}$/, { expected: "a cursor returned by this list" }))
      )
    },
    success: Pagination.PageJson(DeadLetterJson),
    error: [...Problems.authenticated, ...Problems.paged]
  }).annotateMerge(describe("List dead letters", "Admins only. Outbox messages that exhausted their delivery attempts; cursor-paged."))),
  authenticated(HttpApiEndpoint.post("retry", "/v1/admin/outbox/:id/retry", {
    params: { id: Schema.String.check(Schema.isMaxLength(64)) },
    success: RedriveJson.pipe(HttpApiSchema.status(202)),
    error: [...Problems.authenticated, Problems.validationFailed, Problems.deadLetterNotFound]
  }).annotateMerge(describe("Redrive a dead letter", "Admins only. Puts a dead-lettered message back in the outbox for delivery.")))
).annotate(OpenApi.Description, "Outbox administration: dead letters and their redrive (admins only).") {}
