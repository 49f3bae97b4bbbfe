/**
 * What every resolver gets: the caller, and a way to run a use-case. graphql-js calls resolvers as
 * functions returning promises; {@link make} runs each resolver's effect in the context of the request
 * that started the operation (its services, tracer and log annotations), and turns a failure into the
 * GraphQL error with the REST code (see `Errors.ts`) that the field resolves to.
 *
 * @since 0.2.0
 */
import { type Context, Effect } from "effect"
import type { Audit, AuditTrail, Events, Ids, Privacy, Registrations, UnitOfWork, User, Users } from "@live-events/domain"
import type { GraphQLError } from "graphql"
import type { LiveFeed, Rotation as RotationModule } from "@live-events/engine"
import * as Errors from "./Errors.ts"

/** The services resolvers call: the use-cases, key administration and the live feed. @since 0.2.0 */
export type Services =
  | Events.Events
  | Registrations.Registrations
  | Users.Users
  | Privacy.Privacy
  | AuditTrail.AuditTrail
  | LiveFeed.LiveFeed
  | RotationModule.Rotation
  | UnitOfWork.UnitOfWork
  | Audit.AuditLog
  | Ids.Ids

/** @since 0.2.0 */
export interface RequestContext {
  /** The caller; `undefined` when the request carried no token. */
  readonly actor: User.Actor | undefined
  /** The resolver's value, or the GraphQL error it failed with (graphql-js reports a returned error). */
  readonly run: <A>(effect: Effect.Effect<A, unknown, Services>) => Promise<A | GraphQLError>
  /**
   * `run`, remembered for the request under `key`: the same read asked by many fields (the event of
   * each of a page of registrations) runs once.
   */
  readonly once: <A>(key: string, effect: Effect.Effect<A, unknown, Services>) => Promise<A | GraphQLError>
  /** The services, for subscriptions that turn a stream into an async iterable. */
  readonly context: Context.Context<Services>
  /** Completes when the transport that carries the operation ends: subscriptions stop then. */
  readonly ended: Effect.Effect<void>
}

/** @since 0.2.0 */
export const make = (
  context: Context.Context<Services>,
  actor: User.Actor | undefined,
  ended: Effect.Effect<void> = Effect.never
): RequestContext => {
  const runPromise = Effect.runPromiseWith(context)
  const run = <A>(effect: Effect.Effect<A, unknown, Services>) =>
    runPromise(Effect.matchCauseEffect(effect, {
      onSuccess: (value): Effect.Effect<A | GraphQLError> => Effect.succeed(value),
      onFailure: Errors.fromCause
    }))
  const remembered = new Map<string, Promise<unknown>>()
  const once = <A>(key: string, effect: Effect.Effect<A, unknown, Services>) => {
    let found = remembered.get(key) as Promise<A | GraphQLError> | undefined
    if (found === undefined) {
      found = run(effect)
      remembered.set(key, found)
    }
    return found
  }
  return { actor, run, once, context, ended }
}

/**
 * The caller, or the `unauthenticated` error for a field that needs one: resolvers of private fields
 * start with it, as REST routes start with their authentication middleware.
 *
 * @since 0.2.0
 */
export const requireActor = (request: RequestContext): User.Actor => {
  if (request.actor === undefined) throw Errors.unauthenticated()
  return request.actor
}
