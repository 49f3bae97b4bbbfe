/**
 * Resolvers of queries and of the fields that load more: each calls the use-case the REST route
 * calls, with the caller, so visibility and authorization are the same by construction. A field the
 * caller may not see resolves to `null` with the REST code in its error (`event-not-found`,
 * `forbidden`, `unauthenticated`); nothing personal is ever read for such a caller.
 *
 * @since 0.2.0
 */
// Imported so the emitted declarations can name the domain types the resolvers return.
import type { Audit as _Audit, DomainError as _DomainError } from "@live-events/domain"
import type { Rotation as _Rotation } from "@live-events/engine"
import { Effect, Exit, SchemaParser } from "effect"
import {
  AuditTrail,
  Event as EventModule,
  Events,
  Ids,
  type Registration as RegistrationModule,
  Registrations,
  type User,
  Users
} from "@live-events/domain"
import * as KeysAdmin from "../Privacy/KeysAdmin.ts"
import * as Arguments from "./Arguments.ts"
import * as Errors from "./Errors.ts"
import type { RequestContext } from "./Execution.ts"

type Args = Record<string, any>

/**
 * A private field: the unauthenticated error without a token, otherwise `f` run with the caller.
 *
 * @since 0.2.0
 */
export const authenticated = <A>(
  request: RequestContext,
  f: (actor: User.Actor) => Effect.Effect<A, unknown, any>
) => request.actor === undefined ? Errors.unauthenticated() : request.run(f(request.actor))

const actorOrUndefined = (request: RequestContext) => request.actor

const decodeEventId = SchemaParser.decodeUnknownExit(Ids.EventId)

/**
 * `event(id:)`: the id decoded as REST decodes it, then the event the caller may see. The resolver and
 * the lean path of the same query (`LeanQuery.ts`) both read through it.
 *
 * @since 0.2.0
 */
export const readEvent = (events: Events.Events["Service"], actor: User.Actor | undefined, id: unknown) => {
  // A valid id (nearly every request) goes straight to the read; an invalid one takes the decoding
  // effect, which builds the validation error.
  const decoded = decodeEventId(id)
  return Exit.isSuccess(decoded)
    ? events.get(actor, decoded.value)
    : Effect.flatMap(Arguments.eventId(id), (eventId) => events.get(actor, eventId))
}

/** @since 0.2.0 */
export const Query = {
  event: (_: unknown, args: Args, request: RequestContext) =>
    request.run(Events.Events.use((events) => readEvent(events, actorOrUndefined(request), args.id))),
  events: (_: unknown, args: Args, request: RequestContext) =>
    request.run(Effect.gen(function*() {
      const filter = yield* Arguments.eventFilter(Arguments.withoutNulls(args.filter ?? {}))
      const page = yield* Arguments.page(args)
      const found = yield* (yield* Events.Events).list(actorOrUndefined(request), { ...filter, ...page })
      return Arguments.connection(found)
    })),
  registration: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.registrationId(args.id)
        return yield* (yield* Registrations.Registrations).get(actor, id)
      })),
  me: (_: unknown, __: Args, request: RequestContext) =>
    authenticated(request, (actor) => Users.Users.use((users) => users.me(actor))),
  users: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const page = yield* Arguments.page(args)
        const users = yield* Users.Users
        if (args.email !== undefined && args.email !== null) {
          // As `GET /v1/users?email=`: the people with that email, one page.
          const email = yield* Arguments.email(args.email)
          return Arguments.connection({ items: yield* users.findByEmail(actor, email), nextCursor: null })
        }
        return Arguments.connection(yield* users.list(actor, page))
      })),
  user: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.userId(args.id)
        return yield* (yield* Users.Users).get(actor, id)
      })),
  auditLog: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const filter = yield* Arguments.auditFilter(Arguments.withoutNulls(args.filter ?? {}))
        const page = yield* Arguments.page(args)
        const found = yield* (yield* AuditTrail.AuditTrail).list(actor, {
          actorId: filter.actor,
          action: filter.action,
          targetId: filter.target,
          from: filter.from,
          to: filter.to,
          ...page
        })
        return Arguments.connection(found)
      })),
  encryptionKeys: (_: unknown, __: Args, request: RequestContext) =>
    authenticated(request, (actor) => Errors.problemAsError(KeysAdmin.status(actor)))
}

const availableSeats = (event: EventModule.Event) => EventModule.availableSeats(event)

/** @since 0.2.0 */
export const Event = {
  availableSeats,
  registrations: (event: EventModule.Event, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const page = yield* Arguments.page(args)
        const status = args.status === null ? undefined : args.status as RegistrationModule.RegistrationStatus | undefined
        const found = yield* (yield* Registrations.Registrations).listForEvent(actor, event.id, { ...page, status })
        return Arguments.connection(found)
      })),
  waitingList: (event: EventModule.Event, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const page = yield* Arguments.page(args)
        return Arguments.connection(yield* (yield* Registrations.Registrations).waitlist(actor, event.id, page))
      }))
}

/** @since 0.2.0 */
export const Registration = {
  event: (registration: RegistrationModule.Registration, _: Args, request: RequestContext) =>
    request.once(`event:${registration.eventId}`, Events.Events.use((events) => events.get(request.actor, registration.eventId))),
  user: (registration: RegistrationModule.Registration, _: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Users.Users.use((users) => users.profile(actor, registration.userId as Ids.UserId)))
}

/** @since 0.2.0 */
export const Me = {
  profile: (user: User.User) => user,
  registrations: (_user: User.User, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const page = yield* Arguments.page(args)
        return Arguments.connection(yield* (yield* Registrations.Registrations).listMine(actor, page))
      }))
}

/**
 * Resolvers whose value depends on their parent value alone (no caller, no arguments, no reads): a
 * field resolved by one of these, like a field read from its parent, may be rendered once per parent
 * and reused (`LeanQuery.ts`). A resolver not listed keeps a query on graphql-js's executor.
 *
 * @since 0.2.0
 */
export const pureResolvers: ReadonlySet<unknown> = new Set<unknown>([availableSeats])
