/**
 * The HTTP contract of events: `/v1/events` and its status transitions.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Event, Ids, Text } from "@live-events/domain"
import { authenticated, describe, optionallyAuthenticated } from "./Endpoint.ts"
import * as Pagination from "./Pagination.ts"
import * as Problems from "./Problems.ts"

/**
 * An event as the API shows it: every field plus the read-model counts. Dates are ISO strings.
 *
 * @since 0.1.0
 */
export const EventJson = Schema.Struct({
  id: Ids.EventId,
  organizerId: Ids.UserId,
  title: Schema.String,
  description: Schema.String,
  startsAt: Schema.Date,
  endsAt: Schema.Date,
  timeZone: Schema.String,
  location: Schema.String,
  capacity: Schema.Int,
  waitlist: Event.WaitlistSettings,
  registrationClosesAt: Schema.Date,
  status: Event.EventStatus,
  confirmedCount: Schema.Int,
  waitlistCount: Schema.Int,
  availableSeats: Schema.Int,
  version: Schema.Int,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}).annotate({ identifier: "Event" })
/** @since 0.1.0 */
export type EventJson = typeof EventJson.Type

/** @since 0.1.0 */
export const toJson = (event: Event.Event): EventJson => ({
  id: event.id,
  organizerId: event.organizerId,
  title: event.title,
  description: event.description,
  startsAt: event.startsAt,
  endsAt: event.endsAt,
  timeZone: event.timeZone,
  location: event.location,
  capacity: event.capacity,
  waitlist: event.waitlist,
  registrationClosesAt: event.registrationClosesAt,
  status: event.status,
  confirmedCount: event.confirmedCount,
  waitlistCount: event.waitlistCount,
  availableSeats: Event.availableSeats(event),
  version: event.version,
  createdAt: event.createdAt,
  updatedAt: event.updatedAt
})

/** @since 0.1.0 */
export const EventIdParams = { id: Ids.EventId }

/** @since 0.1.0 */
export const IdempotencyKey = Text.plain(1, 255)

const transitions = {
  publish: describe("Publish an event", "Organizer or admin. Makes a draft event visible and open for registration."),
  unpublish: describe("Unpublish an event", "Organizer or admin. Returns a published event to draft."),
  cancel: describe("Cancel an event", "Organizer or admin. Cancels the event.")
}

const transition = (identifier: keyof typeof transitions) =>
  authenticated(HttpApiEndpoint.post(identifier, `/v1/events/:id/${identifier}`, {
    params: EventIdParams,
    success: EventJson,
    error: [...Problems.authenticated, Problems.validationFailed, Problems.eventNotFound, Problems.invalidTransition]
  }).annotateMerge(transitions[identifier]))

/**
 * @since 0.1.0
 */
export class EventsApi extends HttpApiGroup.make("events").add(
  optionallyAuthenticated(HttpApiEndpoint.get("list", "/v1/events", {
    query: {
      from: Schema.optionalKey(Event.Instant),
      to: Schema.optionalKey(Event.Instant),
      organizerId: Schema.optionalKey(Ids.UserId),
      q: Schema.optionalKey(Text.plain(0, 200)),
      status: Schema.optionalKey(Event.EventStatus),
      ...Pagination.query
    },
    success: Pagination.PageJson(EventJson),
    error: [...Problems.optionallyAuthenticated, ...Problems.paged]
  }).annotateMerge(describe("List events", "Published events for everyone; an organizer also sees their own drafts. Filtered by time range, organizer, text and status; cursor-paged."))),
  authenticated(HttpApiEndpoint.post("create", "/v1/events", {
    headers: { "idempotency-key": Schema.optionalKey(IdempotencyKey) },
    payload: Event.CreateEventInput,
    success: EventJson.pipe(HttpApiSchema.status(201)),
    error: [...Problems.authenticated, Problems.validationFailed, ...Problems.idempotent]
  }).annotateMerge(describe("Create an event", "Organizer or admin. Creates a draft event; an `Idempotency-Key` makes a retried request answer with the first result."))),
  optionallyAuthenticated(HttpApiEndpoint.get("get", "/v1/events/:id", {
    params: EventIdParams,
    headers: { "if-none-match": Schema.optionalKey(Schema.String) },
    success: EventJson,
    error: [...Problems.optionallyAuthenticated, Problems.validationFailed, Problems.eventNotFound]
  }).annotateMerge(describe("Get an event", "One event with its live counts. Answers 304 to a matching `If-None-Match`."))),
  authenticated(HttpApiEndpoint.patch("update", "/v1/events/:id", {
    params: EventIdParams,
    headers: { "if-match": Schema.optionalKey(Schema.String) },
    payload: Event.UpdateEventInput,
    success: EventJson,
    error: [
      ...Problems.authenticated,
      Problems.validationFailed,
      Problems.eventNotFound,
      Problems.capacityBelowConfirmed,
      Problems.erasedUserImmutable,
      Problems.preconditionFailed
    ]
  }).annotateMerge(describe("Update an event", "Organizer of the event or admin. Changes some fields; `If-Match` with the event's ETag guards against lost updates (412 on mismatch)."))),
  authenticated(HttpApiEndpoint.delete("delete", "/v1/events/:id", {
    params: EventIdParams,
    success: HttpApiSchema.NoContent,
    error: [...Problems.authenticated, Problems.validationFailed, Problems.eventNotFound, Problems.eventHasActiveRegistrations]
  }).annotateMerge(describe("Delete an event", "Organizer of the event or admin. Deletes an event that has no active registrations."))),
  transition("publish"),
  transition("unpublish"),
  transition("cancel")
).annotate(OpenApi.Description, "Events: creation, reading, updates and the draft, published and cancelled lifecycle.") {}
