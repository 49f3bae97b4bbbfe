/**
 * The caller's registrations as they change, from the process's live feed: what `/v1/me/live` and the
 * GraphQL `myRegistrationsChanged` subscription send. Its own registration events are shown as they
 * are; a `WaitlistPositionsShifted` on an event where the caller waits behind the gap re-reads that
 * registration (positions are ranks, see docs/architecture.md), so a position shown is always one that
 * was true, never an arithmetic guess applied twice.
 *
 * @since 0.2.0
 */
import { Effect, type Option, Stream } from "effect"
import { type Ids, type Page, type Registration, Registrations, type User } from "@live-events/domain"
import * as Frames from "./Frames.ts"
import type { LiveFeed } from "@live-events/engine"

/** One item of the stream: a registration's state and why it is sent, or a resume gap. @since 0.2.0 */
export type Change =
  | {
    readonly _tag: "Registration"
    readonly registration: Frames.MyRegistration
    /** `snapshot`, or the domain event's type. */
    readonly cause: string
    /** The feed message's id (none for the snapshot). */
    readonly id?: string | undefined
  }
  | { readonly _tag: "Reset" }

const registration = (registration: Frames.MyRegistration, cause: string, id?: string): Change => ({
  _tag: "Registration",
  registration,
  cause,
  id
})

/**
 * The changes of `actor`'s registrations after `items` (a feed subscription taken *before* this
 * reads the snapshot, so nothing falls between the two): first the active registrations, then each
 * change.
 *
 * @since 0.2.0
 */
export const changes = (actor: User.Actor, items: Stream.Stream<LiveFeed.LiveItem>) =>
  Stream.unwrap(Effect.gen(function*() {
    const registrations = yield* Registrations.Registrations
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
      .map((r) => registration(r, "snapshot"))

    const onMessage = (message: LiveFeed.LiveMessage) =>
      Effect.gen(function*() {
        const own = Frames.myRegistration(actor.userId, message)
        if (own !== undefined) {
          mine.set(own.registrationId, own)
          return [registration(own, message.type, message.id)]
        }
        if (message.type !== "WaitlistPositionsShifted") return []
        const fromPosition = message.data.fromPosition
        if (typeof fromPosition !== "number") return []
        const behind = Array.from(mine.values()).filter((r) =>
          r.eventId === message.aggregateId && r.status === "waitlisted" &&
          r.waitlistPosition !== null && r.waitlistPosition > fromPosition
        )
        const out: Array<Change> = []
        for (const tracked of behind) {
          const fresh = yield* registrations.get(actor, tracked.registrationId as Ids.RegistrationId).pipe(Effect.option)
          if (fresh._tag === "None") continue
          const now: Frames.MyRegistration = {
            registrationId: fresh.value.id,
            eventId: fresh.value.eventId,
            status: fresh.value.status,
            waitlistPosition: fresh.value.waitlistPosition
          }
          if (now.status === tracked.status && now.waitlistPosition === tracked.waitlistPosition) continue
          mine.set(now.registrationId, now)
          out.push(registration(now, message.type, message.id))
        }
        return out
      })

    return Stream.concat(
      Stream.fromIterable(snapshot),
      items.pipe(
        Stream.mapEffect((item) => item._tag === "Reset" ? Effect.succeed([{ _tag: "Reset" } as const]) : onMessage(item.message)),
        Stream.flattenIterable
      )
    )
  }))
