/**
 * A fresh cached event the caller may see, answered without the use-case: the read cache's copy and
 * the use-case's own visibility rule (`Policy.canViewEvent`). Used by the REST event read and the
 * GraphQL `event(id)` read alike; when the cache is not consulted, see `Cache/Peekable.ts`.
 *
 * @since 0.2.0
 */
import { type Event, type Ids, Policy, type User } from "@live-events/domain"
import { CachedStore } from "@live-events/engine"
import { Effect } from "effect"
import * as Peekable from "../Cache/Peekable.ts"

/**
 * The cached event of `id` when it is fresh at `nowMillis` and `actor` may see it; `undefined` sends
 * the read to the use-case (not cached, stale, not visible, or not an event id at all).
 *
 * @since 0.2.0
 */
export type Visible = (actor: User.Actor | undefined, id: string, nowMillis: number) => Event.Event | undefined

/** The lookup, or `undefined` when there is no cache to look in or spans are exported. @since 0.2.0 */
export const visible: Effect.Effect<Visible | undefined> = Effect.map(Peekable.cache, (cache) =>
  cache === undefined ? undefined : (actor, id, nowMillis) => {
    const cached = CachedStore.peekEvent(cache, id as Ids.EventId, nowMillis)
    return cached !== undefined && Policy.canViewEvent(actor, cached) ? cached : undefined
  })
