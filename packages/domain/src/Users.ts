/**
 * Use-cases of people: provisioning from a token's claims, the own profile, and admin management.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, Layer, Option, Request, RequestResolver, Result, Semaphore } from "effect"
import * as CommandBatching from "./CommandBatching.ts"
import { ErasedUserImmutable, Forbidden, type RepositoryError, UserErased, UserNotFound } from "./DomainError.ts"
import { Ids, type UserId } from "./Ids.ts"
import type { PageRequest } from "./Page.ts"
import * as Audit from "./Audit.ts"
import * as Policy from "./Policy.ts"
import * as Span from "./Span.ts"
import type { AdminUpdateUserInput, Claims, CreateUserInput, UpdateProfileInput, User } from "./User.ts"
import { type Actor, isAdmin } from "./User.ts"
import { UnitOfWork } from "./UnitOfWork.ts"
import { UserRepository } from "./UserRepository.ts"

const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

/** Which profile fields an admin input sets (names, never values). */
const profileFieldsSet = (input: { readonly email?: unknown; readonly name?: unknown; readonly phone?: unknown }) =>
  (["email", "name", "phone"] as const).filter((field) => input[field] !== undefined)

/** A first request's user on its way into a provisioning batch. */
class ProvisionRequest extends Request.Class<{ readonly user: User }, User, RepositoryError> {}

/** A profile read on behalf of someone, on its way into a batch of profile reads. */
class ProfileRequest extends Request.Class<
  { readonly actor: Actor; readonly userId: UserId },
  User,
  UserNotFound | Forbidden | RepositoryError
> {}

/** @since 0.1.0 */
export const make = Effect.gen(function*() {
  const users = yield* UserRepository
  const ids = yield* Ids
  const requireAdmin = (actor: Actor) => Policy.require(isAdmin(actor), "Only admins may manage users")
  const unitOfWork = yield* UnitOfWork
  const auditContext = Context.make(Audit.AuditLog, yield* Audit.AuditLog).pipe(Context.add(Ids, ids))
  const audit = (actor: Actor, fact: Audit.AuditFact) => Effect.provideContext(Audit.record(actor, fact), auditContext)

  const newUser = Effect.fnUntraced(function*(subject: string, fields: { readonly email?: string | null | undefined; readonly name?: string | null | undefined; readonly phone?: string | null | undefined }) {
    const at = yield* now
    const user: User = {
      // From the service itself: `provideService` on a request's context would copy it whole.
      id: (yield* ids.next) as UserId,
      subject,
      email: fields.email ?? null,
      name: fields.name ?? null,
      phone: fields.phone ?? null,
      createdAt: at,
      updatedAt: at,
      erasedAt: null
    }
    return user
  })

  // First requests of many new people at once (a registration rush) provision in one statement: a
  // batch is what arrived while the previous one was being written.
  const provisioning = CommandBatching.resolver<ProvisionRequest, ReadonlyArray<User>>({
    name: "provision",
    slots: yield* Semaphore.make(1),
    maxBatchSize: 256,
    commit: (requests) => users.insertAllIfAbsent(requests.map((request) => request.user)),
    outcomes: (stored) => stored.map(Result.succeed)
  })

  /**
   * The user a token's claims provision, not stored: a host may hand it to a use-case that stores it
   * in its own unit of work (`Registrations.registerNewcomer`).
   */
  const candidate = (claims: Claims) => newUser(claims.subject, { email: claims.email, name: claims.name })

  /**
   * The user behind a token: created from the claims the first time, found by subject afterwards — one
   * `insertAllIfAbsent` for every first request of a batch (hosts cache the result per subject).
   */
  const provision = Effect.fnUntraced(function*(claims: Claims) {
    const user = yield* Effect.request(new ProvisionRequest({ user: yield* candidate(claims) }), provisioning)
    if (user.erasedAt !== null) return yield* new UserErased({})
    return user
  }, Span.named("Users.provision"))

  const load = (id: UserId) =>
    Effect.flatMap(
      users.findById(id),
      Option.match({ onNone: () => Effect.fail(new UserNotFound({ userId: id })), onSome: Effect.succeed })
    )

  /** Erase is irreversible: an erased record takes no further writes (checked again by the store). */
  const requireNotErased = (user: User) =>
    user.erasedAt === null ? Effect.succeed(user) : Effect.fail(new ErasedUserImmutable({ userId: user.id }))

  const me = Effect.fnUntraced(function*(actor: Actor) {
    return yield* load(actor.userId)
  }, Span.named("Users.me"))

  const updateMe = Effect.fnUntraced(function*(actor: Actor, input: UpdateProfileInput) {
    const user = yield* Effect.flatMap(load(actor.userId), requireNotErased)
    const updated = yield* users.update({
      ...user,
      name: input.name !== undefined ? input.name : user.name,
      phone: input.phone !== undefined ? input.phone : user.phone,
      updatedAt: yield* now
    })
    return yield* requireNotErased(updated)
  }, Span.named("Users.updateMe"))

  const create = Effect.fnUntraced(function*(actor: Actor, input: CreateUserInput) {
    yield* requireAdmin(actor)
    const candidate = yield* newUser(input.subject, input)
    return yield* unitOfWork.transact(Effect.gen(function*() {
      const user = yield* Effect.flatMap(users.insertIfAbsent(candidate), requireNotErased)
      // Field names only: the log is append-only, so it must never hold what an erase would remove.
      yield* audit(actor, { action: "user.create", targetType: "user", targetId: user.id, subjectUserId: user.id, after: { fields: profileFieldsSet(input) } })
      return user
    }))
  }, Span.named("Users.create"))

  const get = Effect.fnUntraced(function*(actor: Actor, id: UserId) {
    yield* requireAdmin(actor)
    return yield* load(id)
  }, Span.named("Users.get"))

  const list = Effect.fnUntraced(function*(actor: Actor, request: PageRequest) {
    yield* requireAdmin(actor)
    return yield* users.list(request)
  }, Span.named("Users.list"))

  /** People with `email` (normalised; stores that seal emails answer through a blind index). */
  const findByEmail = Effect.fnUntraced(function*(actor: Actor, email: string) {
    yield* requireAdmin(actor)
    return yield* users.findByEmail(email)
  }, Span.named("Users.findByEmail"))

  const update = Effect.fnUntraced(function*(actor: Actor, id: UserId, input: AdminUpdateUserInput) {
    yield* requireAdmin(actor)
    const user = yield* Effect.flatMap(load(id), requireNotErased)
    const at = yield* now
    return yield* unitOfWork.transact(Effect.gen(function*() {
      // Erased meanwhile: the store left the row alone; failing rolls the audit entry back.
      const updated = yield* Effect.flatMap(users.update({
        ...user,
        name: input.name !== undefined ? input.name : user.name,
        phone: input.phone !== undefined ? input.phone : user.phone,
        email: input.email !== undefined ? input.email : user.email,
        updatedAt: at
      }), requireNotErased)
      yield* audit(actor, { action: "user.update", targetType: "user", targetId: id, subjectUserId: id, after: { fields: profileFieldsSet(input) } })
      return updated
    }))
  }, Span.named("Users.update"))

  // Profiles asked for at once (a list of registrations with their people) are read in one statement.
  const profiles = RequestResolver.make<ProfileRequest>((entries) =>
    Effect.gen(function*() {
      const visible = entries.filter((entry) => Policy.canViewProfile(entry.request.actor, entry.request.userId))
      const found = visible.length === 0 ? [] : yield* users.findByIds(visible.map((entry) => entry.request.userId))
      const byId = new Map(found.map((user) => [user.id, user]))
      for (const entry of entries) {
        const { actor, userId } = entry.request
        const user = byId.get(userId)
        entry.completeUnsafe(
          !Policy.canViewProfile(actor, userId)
            ? Exit.fail(new Forbidden({ message: "Only the person themself or an admin may see a profile" }))
            : user === undefined
            ? Exit.fail(new UserNotFound({ userId }))
            : Exit.succeed(user)
        )
      }
    })
  )

  /** A person's profile as `actor` may see it (batched with the other profile reads of the moment). */
  const profile = (actor: Actor, userId: UserId) =>
    Effect.request(new ProfileRequest({ actor, userId }), profiles).pipe(Span.named("Users.profile"))

  return { provision, candidate, me, updateMe, create, get, list, findByEmail, update, profile } as const
})

/**
 * The user use-cases.
 *
 * @since 0.1.0
 */
export class Users extends Context.Service<Users, Effect.Success<typeof make>>()("@live-events/domain/Users") {
  /** @since 0.1.0 */
  static readonly layer = Layer.effect(Users, make)
}
