/**
 * Resolvers of subscriptions, fed by the process's live feed (the published domain events of every
 * process, see `Live/LiveFeed.ts`): `eventChanged` shows what `/v1/events/{id}/live` shows (counts,
 * status, waitlist shifts; no one's identity), `myRegistrationsChanged` what `/v1/me/live` shows. Each
 * subscribes to the feed *before* reading its snapshot, so nothing falls between the two; the
 * visibility check is the use-case's, as for the SSE streams.
 *
 * @since 0.2.0
 */
import { Effect, Result, Stream } from "effect"
import { type Event, Events } from "@live-events/domain"
import * as Frames from "../Live/Frames.ts"
import { LiveFeed } from "@live-events/engine"
import * as MyRegistrations from "../Live/MyRegistrations.ts"
import * as Arguments from "./Arguments.ts"
import type { RequestContext } from "./Execution.ts"
import { authenticated } from "./Queries.ts"

type Args = Record<string, any>

/** An `EventChange` as the schema has it. @since 0.2.0 */
export interface EventChange {
  readonly eventId: string
  readonly cause: string
  readonly counts: ReturnType<typeof Frames.counts> | null
  readonly status: string | null
  readonly waitlistShiftedFrom: number | null
}

/** The change one feed message makes to an event (none when it says nothing about it). @since 0.2.0 */
export const eventChange = (eventId: string, message: LiveFeed.LiveMessage): EventChange | undefined => {
  const updates = Frames.eventUpdates(eventId, message)
  if (updates.length === 0) return undefined
  let change: EventChange = { eventId, cause: message.type, counts: null, status: null, waitlistShiftedFrom: null }
  for (const update of updates) {
    if (update.event === "counts") change = { ...change, counts: update.data }
    else if (update.event === "event-status") change = { ...change, status: update.data.status }
    else change = { ...change, waitlistShiftedFrom: update.data.fromPosition }
  }
  return change
}

const snapshot = (event: Event.Event): EventChange => ({
  eventId: event.id,
  cause: "snapshot",
  counts: Frames.counts(event.id, event),
  status: event.status,
  waitlistShiftedFrom: null
})

const identity = <A>(payload: A) => payload

/** @since 0.2.0 */
export const Subscription = {
  eventChanged: {
    subscribe: (_: unknown, args: Args, request: RequestContext) =>
      request.run(Effect.gen(function*() {
        const id = yield* Arguments.eventId(args.id)
        const events = yield* Events.Events
        const feed = yield* LiveFeed.LiveFeed
        // Refused now (404 for a draft of someone else), as GET /v1/events/{id}/live is.
        yield* events.get(request.actor, id)
        const changes = Stream.unwrap(Effect.gen(function*() {
          const items = yield* feed.subscribe()
          const first = yield* Effect.option(events.get(request.actor, id))
          return Stream.concat(
            Stream.fromIterable(first._tag === "Some" ? [snapshot(first.value)] : []),
            Stream.filterMap(items, (item) => {
              const change = item._tag === "Message" ? eventChange(id, item.message) : undefined
              return change === undefined ? Result.fail(item) : Result.succeed(change)
            })
          )
        }))
        return Stream.toAsyncIterableWith(Stream.interruptWhen(changes, request.ended), request.context)
      })),
    resolve: identity
  },
  myRegistrationsChanged: {
    subscribe: (_: unknown, __: Args, request: RequestContext) =>
      authenticated(request, (actor) =>
        Effect.gen(function*() {
          const feed = yield* LiveFeed.LiveFeed
          const changes = Stream.unwrap(Effect.map(feed.subscribe(), (items) =>
            MyRegistrations.changes(actor, items).pipe(
              Stream.filterMap((change) =>
                change._tag === "Reset" ? Result.fail(change) : Result.succeed({ ...change.registration, cause: change.cause })
              )
            )))
          return Stream.toAsyncIterableWith(Stream.interruptWhen(changes, request.ended), request.context)
        })),
    resolve: identity
  }
}
