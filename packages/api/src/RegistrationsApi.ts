/**
 * The HTTP contract of registrations: sign-up under an event, the organiser's lists (JSON or CSV),
 * and actions on one registration.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Ids, type Page, Registration } from "@live-events/domain"
import { authenticated, describe } from "./Endpoint.ts"
import { EventIdParams, IdempotencyKey } from "./EventsApi.ts"
import * as Pagination from "./Pagination.ts"
import * as Problems from "./Problems.ts"

/** @since 0.1.0 */
export const RegistrationJson = Schema.Struct({
  id: Ids.RegistrationId,
  eventId: Ids.EventId,
  userId: Ids.UserId,
  status: Registration.RegistrationStatus,
  waitlistPosition: Schema.NullOr(Schema.Int),
  notes: Schema.String,
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  confirmedAt: Schema.NullOr(Schema.Date),
  cancelledAt: Schema.NullOr(Schema.Date)
}).annotate({ identifier: "Registration" })
/** @since 0.1.0 */
export type RegistrationJson = typeof RegistrationJson.Type

/** The wire form of a registration (what HttpApi encodes for a `RegistrationJson` success). @since 0.1.0 */
export const encode = Schema.encodeSync(Schema.toCodecJson(RegistrationJson))

// A batch's registrations share their timestamps (one Date object): its ISO text is made once.
let lastDate: Date | undefined = undefined
let lastText = ""
const isoText = (date: Date): string => {
  if (date !== lastDate) {
    lastText = date.toISOString()
    lastDate = date
  }
  return lastText
}

/**
 * The wire form of a registration, what `encode(toJson(registration))` gives, built field by field:
 * the schema's encoder walks its AST for every field, about twenty microseconds a registration where
 * this takes one — and every registration answered pays it. A property test holds the two to the same
 * output.
 *
 * @since 0.3.0
 */
export const wire = (registration: Registration.Registration): ReturnType<typeof encode> => ({
  ...toJson(registration),
  createdAt: isoText(registration.createdAt),
  updatedAt: isoText(registration.updatedAt),
  confirmedAt: registration.confirmedAt === null ? null : isoText(registration.confirmedAt),
  cancelledAt: registration.cancelledAt === null ? null : isoText(registration.cancelledAt)
})

/**
 * Rendered JSON text, by registration object. A cached read hands out the same (immutable) object for
 * as long as the cache holds it, so it is encoded once rather than on every read; a changed
 * registration is a new object.
 */
const rendered = new WeakMap<Registration.Registration, string>()

/**
 * A registration's JSON text: `JSON.stringify` of its wire form.
 *
 * @since 0.1.0
 */
export const render = (registration: Registration.Registration): string => {
  let text = rendered.get(registration)
  if (text === undefined) {
    text = JSON.stringify(wire(registration))
    rendered.set(registration, text)
  }
  return text
}

/**
 * A page's JSON text, made of its items' texts: what `JSON.stringify` of its wire form gives.
 *
 * @since 0.1.0
 */
export const renderPage = (page: Page.Page<Registration.Registration>): string =>
  `{"items":[${page.items.map(render).join(",")}],"nextCursor":${JSON.stringify(page.nextCursor)}}`

/** @since 0.1.0 */
export const toJson = (registration: Registration.Registration): RegistrationJson => ({
  id: registration.id,
  eventId: registration.eventId,
  userId: registration.userId,
  status: registration.status,
  waitlistPosition: registration.waitlistPosition,
  notes: registration.notes,
  createdAt: registration.createdAt,
  updatedAt: registration.updatedAt,
  confirmedAt: registration.confirmedAt,
  cancelledAt: registration.cancelledAt
})

const RegistrationIdParams = { id: Ids.RegistrationId }

const actions = {
  cancel: describe("Cancel a registration", "The registrant, the event's organizer or an admin. Cancels the registration; a freed seat goes to the waitlist."),
  confirm: describe("Confirm a registration", "The event's organizer or an admin. Confirms a waitlisted registration; `no-seat-available` when the event is full.")
}

/** What an action on one registration can answer: it may not exist, or not be in a status the action applies to. */
const actionProblems = [
  ...Problems.authenticated,
  Problems.validationFailed,
  Problems.registrationNotFound,
  Problems.invalidTransition
] as const

/**
 * @since 0.1.0
 */
export class RegistrationsApi extends HttpApiGroup.make("registrations").add(
  authenticated(HttpApiEndpoint.post("register", "/v1/events/:id/registrations", {
    params: EventIdParams,
    headers: { "idempotency-key": Schema.optionalKey(IdempotencyKey) },
    // The body is optional: `{}` or no body at all registers without notes.
    payload: [Registration.RegisterInput, Schema.Null],
    success: RegistrationJson.pipe(HttpApiSchema.status(201)),
    error: [
      ...Problems.authenticated,
      Problems.validationFailed,
      Problems.eventNotFound,
      Problems.userErased,
      Problems.alreadyRegistered,
      Problems.registrationClosed,
      Problems.waitlistFull,
      Problems.waitlistClosed,
      ...Problems.idempotent
    ]
  })
    .annotate(OpenApi.Transform, (operation) => ({ ...operation, requestBody: { ...operation.requestBody, required: false } })).annotateMerge(describe("Register for an event", "Signs the caller up: confirmed while seats remain, then waitlisted. The body is optional: `{}`, an object with `notes`, or none."))),
  authenticated(HttpApiEndpoint.get("listForEvent", "/v1/events/:id/registrations", {
    params: EventIdParams,
    query: { status: Schema.optionalKey(Registration.RegistrationStatus), ...Pagination.query },
    success: Pagination.PageJson(RegistrationJson),
    error: [...Problems.authenticated, ...Problems.paged, Problems.eventNotFound]
  }).annotateMerge(describe("List an event's registrations", "The event's organizer or an admin. Filtered by status; cursor-paged. With `Accept: text/csv` the answer is a CSV export."))),
  authenticated(HttpApiEndpoint.get("waitlist", "/v1/events/:id/waitlist", {
    params: EventIdParams,
    query: Pagination.query,
    success: Pagination.PageJson(RegistrationJson),
    error: [...Problems.authenticated, ...Problems.paged, Problems.eventNotFound]
  }).annotateMerge(describe("List an event's waitlist", "The event's organizer or an admin. Waitlisted registrations in waitlist order; cursor-paged."))),
  authenticated(HttpApiEndpoint.get("get", "/v1/registrations/:id", {
    params: RegistrationIdParams,
    success: RegistrationJson,
    error: [...Problems.authenticated, Problems.validationFailed, Problems.registrationNotFound]
  }).annotateMerge(describe("Get a registration", "The registrant, the event's organizer or an admin."))),
  authenticated(HttpApiEndpoint.post("cancel", "/v1/registrations/:id/cancel", {
    params: RegistrationIdParams,
    success: RegistrationJson,
    error: actionProblems
  }).annotateMerge(actions.cancel)),
  authenticated(HttpApiEndpoint.post("confirm", "/v1/registrations/:id/confirm", {
    params: RegistrationIdParams,
    success: RegistrationJson,
    error: [...actionProblems, Problems.noSeatAvailable]
  }).annotateMerge(actions.confirm)),
  authenticated(HttpApiEndpoint.post("attendance", "/v1/registrations/:id/attendance", {
    params: RegistrationIdParams,
    payload: Registration.AttendanceInput,
    success: RegistrationJson,
    error: [...actionProblems, Problems.eventNotStarted]
  }).annotateMerge(describe("Record attendance", "The event's organizer or an admin. Marks a confirmed registration as attended or not, once the event has started.")))
).annotate(OpenApi.Description, "Registrations: sign-up, the waitlist, the organizer's lists and actions on one registration.") {}
