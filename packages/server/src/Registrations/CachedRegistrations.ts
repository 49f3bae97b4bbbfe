/**
 * The authenticated reads clients poll most, answered from the read cache without their use-cases
 * (`Registrations.get`, `Registrations.listMine`) when everything they need is fresh there: the
 * registration (with its waitlist position), its event when the caller is not its attendee, the ids of
 * the caller's first page. The same rule decides (`Policy.canViewRegistration`); anything not cached,
 * stale or refused goes to the use-case, which answers as before (a 404 for someone else's
 * registration). When the cache is not consulted, see `Cache/Peekable.ts`.
 *
 * @since 0.2.0
 */
import { type Ids, type Page, Policy, type Registration, type User } from "@live-events/domain"
import { CachedStore } from "@live-events/engine"
import { Effect } from "effect"
import * as Peekable from "../Cache/Peekable.ts"

/**
 * Lookups of fresh cached reads; `undefined` sends the read to its use-case.
 *
 * @since 0.2.0
 */
export interface Visible {
  /**
   * Registration `id` when `actor` may see it; `id` may be a raw path segment (a cached registration's
   * id was decoded when it was stored, so anything else simply misses).
   */
  readonly registration: (
    actor: User.Actor,
    id: string,
    nowMillis: number
  ) => Registration.Registration | undefined
  /** The first page (of `limit` items) of `actor`'s own registrations. */
  readonly firstPageOfOwn: (
    actor: User.Actor,
    limit: number,
    nowMillis: number
  ) => Page.Page<Registration.Registration> | undefined
}

/** The lookups, or `undefined` when there is no cache to look in or spans are exported. @since 0.2.0 */
export const visible: Effect.Effect<Visible | undefined> = Effect.map(Peekable.cache, (cache) =>
  cache === undefined ? undefined : {
    registration: (actor, id, nowMillis) => {
      const registration = CachedStore.peekRegistration(cache, id as Ids.RegistrationId, nowMillis)
      if (registration === undefined) return undefined
      // Its attendee sees it whatever the event; anyone else by the event (its organizer, admins).
      if (registration.userId === actor.userId) return registration
      const event = CachedStore.peekEvent(cache, registration.eventId, nowMillis)
      return event !== undefined && Policy.canViewRegistration(actor, registration, event) ? registration : undefined
    },
    firstPageOfOwn: (actor, limit, nowMillis) => CachedStore.peekUserRegistrations(cache, actor.userId, limit, nowMillis)
  })
