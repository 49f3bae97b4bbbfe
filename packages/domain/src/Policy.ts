/**
 * Who may do what. Pure predicates over the actor and the resource; the use-cases enforce
 * them so that every host (HTTP, GraphQL, an embedder's worker) applies the same rules.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Forbidden } from "./DomainError.ts"
import type { Event } from "./Event.ts"
import type { UserId } from "./Ids.ts"
import type { Registration } from "./Registration.ts"
import { type Actor, hasRole, isAdmin } from "./User.ts"

/** Organizers and admins create events. @since 0.1.0 */
export const canCreateEvent = (actor: Actor): boolean => isAdmin(actor) || hasRole(actor, "organizer")

/**
 * The event's organizer ("owner") or an admin manage it. Roles come from the current token: an owner
 * whose token no longer carries the organizer role has lost the right along with the role.
 *
 * @since 0.1.0
 */
export const canManageEvent = (actor: Actor, event: Event): boolean =>
  isAdmin(actor) || (event.organizerId === actor.userId && hasRole(actor, "organizer"))

/**
 * Drafts are visible to their owner and admins only (GET /v1/events/{id}: "anyone (drafts:
 * owner/admin)"). Cancelled events stay visible, so their attendees see the cancellation and a late
 * "register" gets 409 `registration-closed` rather than 404 (the register rules).
 *
 * @since 0.1.0
 */
export const canViewEvent = (actor: Actor | undefined, event: Event): boolean =>
  event.status !== "draft" || (actor !== undefined && canManageEvent(actor, event))

/** A registration is visible to its attendee, the event's owner and admins. @since 0.1.0 */
export const canViewRegistration = (actor: Actor, registration: Registration, event: Event): boolean =>
  registration.userId === actor.userId || canManageEvent(actor, event)

/**
 * A person's profile (name, email, phone) is visible to that person and to admins: an event's owner
 * sees who registered by id only.
 *
 * @since 0.2.0
 */
export const canViewProfile = (actor: Actor, userId: UserId): boolean => actor.userId === userId || isAdmin(actor)

/** @since 0.1.0 */
export const require = (allowed: boolean, message: string): Effect.Effect<void, Forbidden> =>
  allowed ? Effect.void : Effect.fail(new Forbidden({ message }))
