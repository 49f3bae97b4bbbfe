/**
 * The problems the API answers with: RFC 9457 `application/problem+json` bodies carrying a stable
 * kebab-case `code`, declared per endpoint so that `/openapi.json` lists them by status and a typed
 * client (`HttpApiClient`) decodes them into the error classes below instead of an "undeclared status".
 *
 * Each class is the decoded, typed form of one code; its wire form is the problem body with the class's
 * own extension members (e.g. `registrationId` of `already-registered`) and no `_tag`: the tag is added
 * when a client decodes a body, so the wire format stays exactly what every other client sees. The
 * server renders these bodies itself (it never fails a handler with them), so declaring a problem
 * documents and types an answer without changing how it is produced.
 *
 * @since 0.1.0
 */
import { Schema, SchemaTransformation } from "effect"
import { HttpApiSchema } from "effect/http-api"
import { Ids, Registration } from "@live-events/domain"

/** The media type of every problem. @since 0.1.0 */
export const contentType = "application/problem+json"

/** @since 0.1.0 */
export const FieldError = Schema.Struct({ field: Schema.String, message: Schema.String })
/** @since 0.1.0 */
export type FieldError = typeof FieldError.Type

const members = {
  type: Schema.String,
  title: Schema.String,
  status: Schema.Int,
  detail: Schema.String,
  instance: Schema.String,
  traceId: Schema.String,
  errors: Schema.optionalKey(Schema.Array(FieldError))
}

/**
 * The JSON body of any problem, whatever its code.
 *
 * @since 0.1.0
 */
export const ProblemBody = Schema.Struct({ ...members, code: Schema.String }).annotate({
  identifier: "Problem",
  description: "RFC 9457 problem details"
})
/** @since 0.1.0 */
export type ProblemBody = typeof ProblemBody.Type

const code = <const C extends string>(value: C) => ({ ...members, code: Schema.Literal(value) })

/** A request part failed to decode; `errors` names each field. @since 0.1.0 */
export class ValidationFailed extends Schema.TaggedError<ValidationFailed>()("ValidationFailed", code("validation-failed")) {}
/** A `cursor` that is not one this list returned. @since 0.1.0 */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", code("invalid-cursor")) {}
/** No bearer token, or one that is invalid or expired. @since 0.1.0 */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", code("unauthenticated")) {}
/** The caller may not do this. @since 0.1.0 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", code("forbidden")) {}
/** The caller's own account was erased. @since 0.1.0 */
export class UserErased extends Schema.TaggedError<UserErased>()("UserErased", code("user-erased")) {}
/** The target user was erased: their record can no longer change. @since 0.1.0 */
export class ErasedUserImmutable extends Schema.TaggedError<ErasedUserImmutable>()("ErasedUserImmutable", code("user-erased")) {}
/** @since 0.1.0 */
export class EventNotFound extends Schema.TaggedError<EventNotFound>()("EventNotFound", code("event-not-found")) {}
/** @since 0.1.0 */
export class RegistrationNotFound extends Schema.TaggedError<RegistrationNotFound>()("RegistrationNotFound", code("registration-not-found")) {}
/** @since 0.1.0 */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", code("user-not-found")) {}
/** @since 0.1.0 */
export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", code("dead-letter-not-found")) {}
/** The caller already holds an active registration for the event: which one, and its status. @since 0.1.0 */
export class AlreadyRegistered extends Schema.TaggedError<AlreadyRegistered>()("AlreadyRegistered", {
  ...code("already-registered"),
  registrationId: Ids.RegistrationId,
  registrationStatus: Registration.RegistrationStatus
}) {}
/** The event is not open for registration. @since 0.1.0 */
export class RegistrationClosed extends Schema.TaggedError<RegistrationClosed>()("RegistrationClosed", code("registration-closed")) {}
/** The event is full and so is its waitlist. @since 0.1.0 */
export class WaitlistFull extends Schema.TaggedError<WaitlistFull>()("WaitlistFull", code("waitlist-full")) {}
/** The event is full and has no waitlist. @since 0.1.0 */
export class WaitlistClosed extends Schema.TaggedError<WaitlistClosed>()("WaitlistClosed", code("waitlist-closed")) {}
/** The new capacity is below the confirmed registrations. @since 0.1.0 */
export class CapacityBelowConfirmed extends Schema.TaggedError<CapacityBelowConfirmed>()("CapacityBelowConfirmed", code("capacity-below-confirmed")) {}
/** The resource is not in a status this action applies to. @since 0.1.0 */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", code("invalid-transition")) {}
/** @since 0.1.0 */
export class EventHasActiveRegistrations
  extends Schema.TaggedError<EventHasActiveRegistrations>()("EventHasActiveRegistrations", code("event-has-active-registrations"))
{}
/** @since 0.1.0 */
export class NoSeatAvailable extends Schema.TaggedError<NoSeatAvailable>()("NoSeatAvailable", code("no-seat-available")) {}
/** @since 0.1.0 */
export class EventNotStarted extends Schema.TaggedError<EventNotStarted>()("EventNotStarted", code("event-not-started")) {}
/** `If-Match` named a version that has moved on. @since 0.1.0 */
export class PreconditionFailed extends Schema.TaggedError<PreconditionFailed>()("PreconditionFailed", code("precondition-failed")) {}
/** A request with the same `Idempotency-Key` is still running. @since 0.1.0 */
export class IdempotencyKeyInProgress
  extends Schema.TaggedError<IdempotencyKeyInProgress>()("IdempotencyKeyInProgress", code("idempotency-key-in-progress"))
{}
/** The `Idempotency-Key` was used for another request. @since 0.1.0 */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", code("idempotency-key-reused")) {}
/** This store keeps no personal data at rest, so there are no keys to show or rotate. @since 0.1.0 */
export class NoDataAtRest extends Schema.TaggedError<NoDataAtRest>()("NoDataAtRest", code("no-data-at-rest")) {}
/** Too many requests: retry after `Retry-After` seconds. @since 0.1.0 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", code("rate-limited")) {}
/** Too many live streams open at once. @since 0.1.0 */
export class TooManyStreams extends Schema.TaggedError<TooManyStreams>()("TooManyStreams", code("too-many-streams")) {}
/** The readiness probe: a dependency does not answer. @since 0.1.0 */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", code("not-ready")) {}
/** The readiness probe: the oldest unpublished outbox message is too old. @since 0.1.0 */
export class OutboxLagging extends Schema.TaggedError<OutboxLagging>()("OutboxLagging", code("outbox-lagging")) {}
/** A dependency is down or overloaded: retry after `Retry-After` seconds. @since 0.1.0 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", code("service-unavailable")) {}

/** A problem class: tagged, with a literal `code`. */
type ProblemClass =
  & Schema.Top
  & { readonly fields: Schema.Struct.Fields; readonly identifier: string }
  & (new(props: any) => { readonly _tag: string; readonly code: string })

/**
 * A problem class as an endpoint declares it: answered with `status` as `application/problem+json`,
 * decoded by clients into an instance of the class.
 *
 * @since 0.1.0
 */
export interface Declared<C extends ProblemClass> extends Schema.decodeTo<Schema.toType<C>, ProblemWire> {}

/** The static wire type of a declared problem: every problem's members (its extensions are on the class). */
interface ProblemWire extends Schema.Struct<typeof members & { readonly code: Schema.String }> {}

const declare = <C extends ProblemClass>(problem: C, status: number, description: string): Declared<C> => {
  const { _tag, ...wire } = problem.fields
  return Schema.Struct(wire).annotate({ identifier: `${problem.identifier}Problem`, description }).pipe(
    Schema.decodeTo(
      Schema.toType(problem),
      SchemaTransformation.transform<C["Type"], Record<string, unknown>>({
        decode: (body) => new problem(body),
        encode: (instance) => {
          const { _tag, ...body } = instance as Record<string, unknown>
          return body
        }
      })
    ),
    // The response's description in `/openapi.json`: the codes of a status, joined.
    (schema) => schema.annotate({ description }),
    HttpApiSchema.status(status),
    HttpApiSchema.asJson({ contentType })
  ) as unknown as Declared<C>
}

/** @since 0.1.0 */
export const validationFailed = declare(ValidationFailed, 400, "`validation-failed`: a request part did not decode; `errors` names the fields")
/** @since 0.1.0 */
export const invalidCursor = declare(InvalidCursor, 400, "`invalid-cursor`: not a cursor this list returned")
/** @since 0.1.0 */
export const unauthenticated = declare(Unauthenticated, 401, "`unauthenticated`: no bearer token, or an invalid or expired one")
/** @since 0.1.0 */
export const forbidden = declare(Forbidden, 403, "`forbidden`: the caller may not do this")
/** @since 0.1.0 */
export const userErased = declare(UserErased, 403, "`user-erased`: the caller's account was erased")
/** @since 0.1.0 */
export const erasedUserImmutable = declare(ErasedUserImmutable, 409, "`user-erased`: the user was erased and can no longer change")
/** @since 0.1.0 */
export const eventNotFound = declare(EventNotFound, 404, "`event-not-found`")
/** @since 0.1.0 */
export const registrationNotFound = declare(RegistrationNotFound, 404, "`registration-not-found`")
/** @since 0.1.0 */
export const userNotFound = declare(UserNotFound, 404, "`user-not-found`")
/** @since 0.1.0 */
export const deadLetterNotFound = declare(DeadLetterNotFound, 404, "`dead-letter-not-found`")
/** @since 0.1.0 */
export const alreadyRegistered = declare(AlreadyRegistered, 409, "`already-registered`: the caller already holds an active registration (`registrationId`, `registrationStatus`)")
/** @since 0.1.0 */
export const registrationClosed = declare(RegistrationClosed, 409, "`registration-closed`: not published, cancelled or past its closing time")
/** @since 0.1.0 */
export const waitlistFull = declare(WaitlistFull, 409, "`waitlist-full`: the event and its waitlist are full")
/** @since 0.1.0 */
export const waitlistClosed = declare(WaitlistClosed, 409, "`waitlist-closed`: the event is full and has no waitlist")
/** @since 0.1.0 */
export const capacityBelowConfirmed = declare(CapacityBelowConfirmed, 409, "`capacity-below-confirmed`")
/** @since 0.1.0 */
export const invalidTransition = declare(InvalidTransition, 409, "`invalid-transition`: not in a status this action applies to")
/** @since 0.1.0 */
export const eventHasActiveRegistrations = declare(EventHasActiveRegistrations, 409, "`event-has-active-registrations`")
/** @since 0.1.0 */
export const noSeatAvailable = declare(NoSeatAvailable, 409, "`no-seat-available`: the event is full")
/** @since 0.1.0 */
export const eventNotStarted = declare(EventNotStarted, 409, "`event-not-started`")
/** @since 0.1.0 */
export const preconditionFailed = declare(PreconditionFailed, 412, "`precondition-failed`: `If-Match` names an older version")
/** @since 0.1.0 */
export const idempotencyKeyInProgress = declare(IdempotencyKeyInProgress, 409, "`idempotency-key-in-progress`: the first request with this key is still running")
/** @since 0.1.0 */
export const idempotencyKeyReused = declare(IdempotencyKeyReused, 422, "`idempotency-key-reused`: the key was used for another request")
/** @since 0.1.0 */
export const noDataAtRest = declare(NoDataAtRest, 404, "`no-data-at-rest`: this store keeps no personal data at rest")
/** @since 0.1.0 */
export const rateLimited = declare(RateLimited, 429, "`rate-limited`: retry after `Retry-After` seconds")
/** @since 0.1.0 */
export const tooManyStreams = declare(TooManyStreams, 429, "`too-many-streams`: too many live streams open at once")
/** @since 0.1.0 */
export const serviceUnavailable = declare(ServiceUnavailable, 503, "`service-unavailable`: retry after `Retry-After` seconds")
/** @since 0.1.0 */
export const notReady = declare(NotReady, 503, "`not-ready`: a dependency does not answer")
/** @since 0.1.0 */
export const outboxLagging = declare(OutboxLagging, 503, "`outbox-lagging`: the outbox backlog is older than allowed")

/**
 * What a cursor-paged list can answer besides its own problems: a bad parameter, a foreign cursor.
 *
 * @since 0.1.0
 */
export const paged = [validationFailed, invalidCursor] as const

/**
 * What a request with an `Idempotency-Key` can answer: the first attempt still runs, or the key was
 * used for another request.
 *
 * @since 0.1.0
 */
export const idempotent = [idempotencyKeyInProgress, idempotencyKeyReused] as const

/**
 * What every rate-limited route can answer, on top of its own problems: the rate limit and an outage.
 *
 * @since 0.1.0
 */
export const everyRoute = [rateLimited, serviceUnavailable] as const

/**
 * What every route that requires a token can answer, on top of its own problems.
 *
 * @since 0.1.0
 */
export const authenticated = [unauthenticated, forbidden, ...everyRoute] as const

/**
 * What a route open to anonymous callers can answer: a token that is sent must still be valid.
 *
 * @since 0.1.0
 */
export const optionallyAuthenticated = [unauthenticated, ...everyRoute] as const
