/**
 * Handlers of the live-update streams (see `Live/Api.ts` for what they send).
 *
 * Each stream subscribes to the process's {@link LiveFeed} *before* reading its snapshot, so nothing
 * falls between the two. `/v1/me/live` tracks the caller's registrations: its own registration events
 * and their changes come from `MyRegistrations.ts`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Stream } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Events, Registrations } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { CurrentActor, MaybeActor } from "../Auth/Middleware.ts"
import * as Problem from "../Problem.ts"
import * as Frames from "./Frames.ts"
import { LiveFeed } from "@live-events/engine"
import * as MyRegistrations from "./MyRegistrations.ts"
import * as StreamLimits from "./StreamLimits.ts"

const lastEventIdOf = (query: { readonly lastEventId?: string | undefined }) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const header = request.headers["last-event-id"]
    return header !== undefined && header !== "" ? header : query.lastEventId
  })

/**
 * An SSE response: `body` (already framed), interleaved with heartbeat comments; ends when `body`
 * ends (the feed shuts down) or the client goes away.
 *
 * @since 0.1.0
 */
export const sseResponse = (body: Stream.Stream<string>, heartbeatInterval: Duration.Duration) =>
  HttpServerResponse.stream(
    Stream.concat(Stream.make(Frames.opening), body).pipe(
      Stream.merge(Stream.tick(heartbeatInterval).pipe(Stream.drop(1), Stream.map(() => Frames.heartbeat)), {
        haltStrategy: "left"
      }),
      Stream.encodeText
    ),
    {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
    }
  )

/** @since 0.1.0 */
export const LiveLive = HttpApiBuilder.group(Api, "live", (handlers) =>
  Effect.gen(function*() {
    const feed = yield* LiveFeed.LiveFeed
    const events = yield* Events.Events
    const registrations = yield* Registrations.Registrations
    const settings = yield* LiveFeed.config
    const heartbeatInterval = Duration.fromInputUnsafe(settings.heartbeatInterval)
    const limits = yield* StreamLimits.make

    /** The SSE response of `body` within a stream slot of the caller, released when the stream ends. */
    const limited = (userId: string | undefined, body: Stream.Stream<string>) =>
      Effect.flatMap(limits.acquire(userId), (slot) =>
        "release" in slot
          ? Effect.succeed(sseResponse(Stream.ensuring(body, slot.release), heartbeatInterval))
          : Effect.succeed(slot))

    return handlers
      .handle("event", ({ params, query }) =>
        Effect.gen(function*() {
          const maybeActor = yield* MaybeActor
          const actor = maybeActor._tag === "Some" ? maybeActor.value : undefined
          // Visibility as for GET /v1/events/{id}: a draft is 404 to anyone but its owner and admins.
          yield* events.get(actor, params.id)
          const lastEventId = yield* lastEventIdOf(query)
          const body = Stream.unwrap(Effect.gen(function*() {
            const items = yield* feed.subscribe(lastEventId)
            const snapshot = yield* events.get(actor, params.id).pipe(
              Effect.map((event) => [Frames.eventSnapshot(event)]),
              Effect.orElseSucceed((): Array<string> => [])
            )
            return Stream.concat(
              Stream.fromIterable(snapshot),
              items.pipe(
                Stream.map((item) => item._tag === "Reset" ? [Frames.reset] : Frames.forEvent(params.id, item.message)),
                Stream.flattenIterable
              )
            )
          }))
          return yield* limited(actor?.userId, body)
        }).pipe(Problem.catchDomain))
      .handle("me", ({ query }) =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          const lastEventId = yield* lastEventIdOf(query)
          const body = Stream.unwrap(Effect.map(feed.subscribe(lastEventId), (items) =>
            MyRegistrations.changes(actor, items).pipe(
              Stream.map((change) =>
                change._tag === "Reset" ? Frames.reset : Frames.registrationFrame(change.registration, change.cause, change.id)
              ),
              Stream.provideService(Registrations.Registrations, registrations)
            )))
          return yield* limited(actor.userId, body)
        }).pipe(Problem.catchDomain))
  }))
