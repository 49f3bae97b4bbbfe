/**
 * A fresh cached event the caller may see, answered without the use-case: the read cache's copy and
 * the use-case's own visibility rule (`Policy.canViewEvent`). Used by the REST event read and the
 * GraphQL `event(id)` read alike. Not while spans are exported: the use-case's span is then part of
 * every read's trace.
 *
 * @since 0.2.0
 */
import { TwoLevelCache } from "@live-events/cache"
import { type Event, type Ids, Policy, type User } from "@live-events/domain"
import { CachedStore } from "@live-events/engine"
import { Effect, Option } from "effect"
import { Telemetry } from "../Telemetry/Telemetry.ts"

/**
 * The cached event of `id` when it is fresh at `nowMillis` and `actor` may see it; `undefined` sends
 * the read to the use-case (not cached, stale, not visible, or not an event id at all).
 *
 * @since 0.2.0
 */
export type Visible = (actor: User.Actor | undefined, id: string, nowMillis: number) => Event.Event | undefined

/** The lookup, or `undefined` when there is no cache to look in or spans are exported. @since 0.2.0 */
export const visible: Effect.Effect<Visible | undefined> = Effect.gen(function*() {
  const cache = Option.getOrUndefined(yield* Effect.serviceOption(TwoLevelCache.TwoLevelCache))
  const telemetry = Option.getOrUndefined(yield* Effect.serviceOption(Telemetry))
  if (cache === undefined || telemetry?.tracesExported === true) return undefined
  return (actor, id, nowMillis) => {
    const cached = CachedStore.peekEvent(cache, id as Ids.EventId, nowMillis)
    return cached !== undefined && Policy.canViewEvent(actor, cached) ? cached : undefined
  }
})
