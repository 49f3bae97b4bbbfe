/**
 * Handlers of the live-update streams (see `Live/Api.ts` for what they send).
 *
 * Each stream subscribes to the process's {@link LiveFeed} *before* reading its snapshot, so nothing
 * falls between the two. `/v1/me/live` tracks the caller's registrations: its own registration events
 * are shown as they are; a `WaitlistPositionsShifted` on an event where the caller waits behind the
 * gap re-reads that registration (positions are ranks, see docs/architecture.md), so a position shown
 * is always one that was true, never an arithmetic guess applied twice.
 *
 * @since 0.1.0
 */
import { Duration, Effect, type Option, Stream } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Events, type Ids, type Page, type Registration, Registrations } from "@live-events/domain"
import { Api } from "../Api.ts"
import { CurrentActor, MaybeActor } from "../Auth/Middleware.ts"
import * as Problem from "../Problem.ts"
import * as Frames from "./Frames.ts"
import * as LiveFeed from "./LiveFeed.ts"
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
          const body = Stream.unwrap(Effect.gen(function*() {
            const items = yield* feed.subscribe(lastEventId)
            // The caller's registrations by id (active ones matter; bounded to 20 pages of 100).
            const mine = new Map<string, Frames.MyRegistration>()
            let cursor: string | undefined = undefined
            for (let page = 0; page < 20; page++) {
              const result: Option.Option<Page.Page<Registration.Registration>> = yield* registrations.listMine(
                actor,
                cursor === undefined ? { limit: 100 } : { limit: 100, cursor }
              ).pipe(Effect.option)
              if (result._tag === "None") break
              for (const r of result.value.items) {
                mine.set(r.id, { registrationId: r.id, eventId: r.eventId, status: r.status, waitlistPosition: r.waitlistPosition })
              }
              if (result.value.nextCursor === null) break
              cursor = result.value.nextCursor
            }
            const snapshot = Array.from(mine.values())
              .filter((r) => r.status === "confirmed" || r.status === "waitlisted")
              .map((r) => Frames.registrationFrame(r, "snapshot"))

            const onMessage = (message: LiveFeed.LiveMessage) =>
              Effect.gen(function*() {
                const own = Frames.myRegistration(actor.userId, message)
                if (own !== undefined) {
                  mine.set(own.registrationId, own)
                  return [Frames.registrationFrame(own, message.type, message.id)]
                }
                if (message.type !== "WaitlistPositionsShifted") return []
                const fromPosition = message.data.fromPosition
                if (typeof fromPosition !== "number") return []
                const behind = Array.from(mine.values()).filter((r) =>
                  r.eventId === message.aggregateId && r.status === "waitlisted" &&
                  r.waitlistPosition !== null && r.waitlistPosition > fromPosition
                )
                const out: Array<string> = []
                for (const tracked of behind) {
                  const fresh = yield* registrations.get(actor, tracked.registrationId as Ids.RegistrationId).pipe(
                    Effect.option
                  )
                  if (fresh._tag === "None") continue
                  const now: Frames.MyRegistration = {
                    registrationId: fresh.value.id,
                    eventId: fresh.value.eventId,
                    status: fresh.value.status,
                    waitlistPosition: fresh.value.waitlistPosition
                  }
                  if (now.status === tracked.status && now.waitlistPosition === tracked.waitlistPosition) continue
                  mine.set(now.registrationId, now)
                  out.push(Frames.registrationFrame(now, message.type, message.id))
                }
                return out
              })

            return Stream.concat(
              Stream.fromIterable(snapshot),
              items.pipe(
                Stream.mapEffect((item) => item._tag === "Reset" ? Effect.succeed([Frames.reset]) : onMessage(item.message)),
                Stream.flattenIterable
              )
            )
          }))
          return yield* limited(actor.userId, body)
        }).pipe(Problem.catchDomain))
  }))
