/**
 * The HTTP contract of registrations: sign-up under an event, the organiser's lists (JSON or CSV),
 * and actions on one registration.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { Ids, type Page, Registration } from "@live-events/domain"
import { authenticated } from "../Endpoint.ts"
import { EventIdParams, IdempotencyKey } from "../Events/Api.ts"
import * as Pagination from "../Pagination.ts"

/** @since 0.1.0 */
export const RegistrationJson = Schema.Struct({
  id: Schema.String,
  eventId: Schema.String,
  userId: Schema.String,
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
    text = JSON.stringify(encode(toJson(registration)))
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

const action = (identifier: "cancel" | "confirm") =>
  authenticated(HttpApiEndpoint.post(identifier, `/v1/registrations/:id/${identifier}`, {
    params: RegistrationIdParams,
    success: RegistrationJson
  }))

/**
 * @since 0.1.0
 */
export class RegistrationsApi extends HttpApiGroup.make("registrations").add(
  authenticated(HttpApiEndpoint.post("register", "/v1/events/:id/registrations", {
    params: EventIdParams,
    headers: { "idempotency-key": Schema.optionalKey(IdempotencyKey) },
    // The body is optional: `{}` or no body at all registers without notes.
    payload: [Registration.RegisterInput, Schema.Null],
    success: RegistrationJson.pipe(HttpApiSchema.status(201))
  })),
  authenticated(HttpApiEndpoint.get("listForEvent", "/v1/events/:id/registrations", {
    params: EventIdParams,
    query: { status: Schema.optionalKey(Registration.RegistrationStatus), ...Pagination.query },
    success: Pagination.PageJson(RegistrationJson)
  })),
  authenticated(HttpApiEndpoint.get("waitlist", "/v1/events/:id/waitlist", {
    params: EventIdParams,
    query: Pagination.query,
    success: Pagination.PageJson(RegistrationJson)
  })),
  authenticated(HttpApiEndpoint.get("get", "/v1/registrations/:id", {
    params: RegistrationIdParams,
    success: RegistrationJson
  })),
  action("cancel"),
  action("confirm"),
  authenticated(HttpApiEndpoint.post("attendance", "/v1/registrations/:id/attendance", {
    params: RegistrationIdParams,
    payload: Registration.AttendanceInput,
    success: RegistrationJson
  }))
) {}
