/**
 * Handlers of the events group: each decodes nothing itself (HttpApi did), calls one use-case with the
 * actor, and renders the result or its problem.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Event as EventModule, Events } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { CurrentActor, MaybeActor } from "../Auth/Middleware.ts"
// Imported so the emitted declaration of this layer can name the idempotency port it requires.
import type { IdempotencyKeys as _IdempotencyKeys } from "@live-events/sql"
import * as Idempotency from "../Idempotency.ts"
import * as Pagination from "@live-events/api/Pagination"
import * as Problem from "../Problem.ts"
import { EventJson, toJson } from "@live-events/api/EventsApi"
import * as ETag from "./ETag.ts"

const encodeEvent = Schema.encodeSync(Schema.toCodecJson(EventJson))
const encodeCreate = Schema.encodeSync(Schema.toCodecJson(EventModule.CreateEventInput))

/**
 * Rendered bodies, by event object. A cached read hands out the same (immutable) object for as long as
 * the cache holds it, so its JSON is encoded once rather than on every GET; a changed event is a new
 * object, and a dropped one takes its rendering with it. The plain `200` is kept too: responses are
 * immutable, so every read of a cached event hands out the same one (body bytes, ETag, content headers).
 */
// Kept as text: Node then writes the header block and the body in one `write`, where bytes take a
// `writev` of two buffers, which costs the kernel noticeably more per response on loopback.
const rendered = new WeakMap<EventModule.Event, {
  readonly body: string
  readonly etag: string
  ok: HttpServerResponse.HttpServerResponse | undefined
}>()

const renderingOf = (event: EventModule.Event) => {
  let found = rendered.get(event)
  if (found === undefined) {
    found = { body: JSON.stringify(encodeEvent(toJson(event))), etag: ETag.of(event), ok: undefined }
    rendered.set(event, found)
  }
  return found
}

/** A JSON event response with its ETag. @since 0.1.0 */
export const eventResponse = (event: EventModule.Event, status = 200, headers?: Record<string, string>) => {
  const rendering = renderingOf(event)
  if (status === 200 && headers === undefined) {
    return rendering.ok ??= HttpServerResponse.text(rendering.body, {
      contentType: "application/json",
      headers: { etag: rendering.etag }
    })
  }
  return HttpServerResponse.text(rendering.body, { status, contentType: "application/json", headers: { ...headers, etag: rendering.etag } })
}

/** @since 0.1.0 */
export const EventsLive = HttpApiBuilder.group(Api, "events", (handlers) =>
  Effect.gen(function*() {
    const events = yield* Events.Events
    return handlers
      .handle("list", ({ query }) =>
        Effect.gen(function*() {
          const actor = yield* MaybeActor
          const page = yield* events.list(actor._tag === "Some" ? actor.value : undefined, {
            from: query.from,
            to: query.to,
            organizerId: query.organizerId,
            q: query.q,
            status: query.status,
            ...Pagination.request(query)
          })
          return Pagination.map(page, toJson)
        }).pipe(Problem.catchDomain))
      .handle("create", ({ payload, headers }) =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          const produce = events.create(actor, payload).pipe(
            Effect.map((event) =>
              Idempotency.json(201, encodeEvent(toJson(event)), {
                location: `/v1/events/${event.id}`,
                etag: ETag.of(event)
              })
            ),
            Effect.catch((error) => Effect.flatMap(Problem.reported(error), Idempotency.problem))
          )
          return yield* Idempotency.run({
            key: headers["idempotency-key"],
            scope: `${actor.userId} POST /v1/events`,
            hash: () => Idempotency.requestHash("POST", "/v1/events", encodeCreate(payload))
          }, produce)
        }))
      .handle("get", ({ params, headers }) =>
        Effect.gen(function*() {
          const actor = yield* MaybeActor
          const event = yield* events.get(actor._tag === "Some" ? actor.value : undefined, params.id)
          const ifNoneMatch = headers["if-none-match"]
          if (ifNoneMatch !== undefined && ETag.noneMatch(ifNoneMatch, event)) {
            return HttpServerResponse.empty({ status: 304, headers: { etag: ETag.of(event) } })
          }
          return eventResponse(event)
        }).pipe(Problem.catchDomain))
      .handle("update", ({ params, headers, payload }) =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          const ifMatch = headers["if-match"]
          const expected = ifMatch === undefined ? "any" : ETag.expectedVersion(ifMatch)
          if (expected === "none") {
            return yield* Problem.respond(412, "precondition-failed", "If-Match does not name the current version")
          }
          const event = yield* events.update(actor, params.id, payload, expected === "any" ? undefined : expected)
          return eventResponse(event)
        }).pipe(Problem.catchDomain))
      .handle("delete", ({ params }) =>
        Effect.gen(function*() {
          yield* events.delete(yield* CurrentActor, params.id)
        }).pipe(Problem.catchDomain))
      .handle("publish", ({ params }) =>
        Effect.gen(function*() {
          return eventResponse(yield* events.publish(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
      .handle("unpublish", ({ params }) =>
        Effect.gen(function*() {
          return eventResponse(yield* events.unpublish(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
      .handle("cancel", ({ params }) =>
        Effect.gen(function*() {
          return eventResponse(yield* events.cancel(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
  }))
