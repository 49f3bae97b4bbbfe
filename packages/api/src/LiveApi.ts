/**
 * The HTTP contract of live updates: Server-Sent Events fed from published domain events.
 *
 * - `GET /v1/events/{id}/live` (anyone who may see the event): `counts`
 *   `{ eventId, capacity, confirmedCount, waitlistCount, availableSeats }`, `waitlist-shifted`
 *   `{ eventId, fromPosition }` (the person at `fromPosition` left; everyone behind moved up one) and
 *   `event-status` `{ eventId, status }`. No user ids, no PII.
 * - `GET /v1/me/live` (authenticated): `registration`
 *   `{ registrationId, eventId, status, waitlistPosition, cause }` whenever one of the caller's
 *   registrations changes status or waitlist position.
 *
 * Both start with a snapshot (without `id`), send `: heartbeat` comments, and give every event the
 * id of the domain event that caused it: reconnecting with `Last-Event-ID` (header, or the
 * `lastEventId` query parameter) replays what was missed within the window, or sends `reset` when
 * that is not possible (the client should then refetch).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Sse } from "effect/encoding"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Ids } from "@live-events/domain"
import { authenticated, describe, optionallyAuthenticated } from "./Endpoint.ts"
import * as Problems from "./Problems.ts"

const query = { lastEventId: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(128))) }

const events = HttpApiSchema.StreamSse({ events: Sse.EventEncoded })

/**
 * @since 0.1.0
 */
export class LiveApi extends HttpApiGroup.make("live").add(
  optionallyAuthenticated(HttpApiEndpoint.get("event", "/v1/events/:id/live", {
    params: { id: Ids.EventId },
    query,
    success: events,
    error: [...Problems.optionallyAuthenticated, Problems.validationFailed, Problems.eventNotFound, Problems.tooManyStreams]
  }).annotateMerge(describe("Stream an event's live counts", "Server-Sent Events: `counts`, `waitlist-shifted` and `event-status` for one event, starting with a snapshot. Reconnect with `Last-Event-ID` to replay what was missed, or receive `reset`."))),
  authenticated(
    HttpApiEndpoint.get("me", "/v1/me/live", {
      query,
      success: events,
      error: [...Problems.authenticated, Problems.validationFailed, Problems.tooManyStreams]
    })
      .annotateMerge(describe("Stream my registration changes", "Server-Sent Events: a `registration` event whenever one of the caller's registrations changes status or waitlist position, starting with a snapshot."))
  )
).annotate(OpenApi.Description, "Live updates as Server-Sent Events.") {}
