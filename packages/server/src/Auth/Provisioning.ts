/**
 * The user behind a verified token, without a write per request. The first request of a subject
 * provisions the user (`Users.provision`, one upsert); the subject → user id mapping it learns never
 * changes (an erase keeps the subject), so it is kept in a bounded process-local map. Every later
 * request reads the user by id through the read cache (`@live-events/engine` `CachedStore`): an erase or a profile
 * change invalidates that entry after its commit, in this process and — through the cache's
 * invalidation bus — in every other, so an erased user is refused on their next request anywhere.
 * A registration provisions a first-seen person in its own unit of work instead (`userOrNewcomer`):
 * one commit for both.
 *
 * @since 0.1.0
 */
import { TwoLevelCache } from "@live-events/cache"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { DomainError, type Ids, type User, UserRepository, Users } from "@live-events/domain"
import { CachedStore } from "@live-events/engine"
import type { VerifiedToken } from "./TokenVerifier.ts"

/** Subjects remembered; past this the map starts over (each subject then costs one upsert again). */
const capacity = 100_000

/**
 * A token's person as `ProvisionedUsers.userOrNewcomer` finds them: stored, or seen for the first time.
 *
 * @since 0.2.0
 */
export type Sighting =
  | { readonly _tag: "Stored"; readonly user: User.User }
  | { readonly _tag: "Newcomer"; readonly candidate: User.User }

/** @since 0.1.0 */
export class ProvisionedUsers extends Context.Service<ProvisionedUsers, {
  /** The user of a verified token: provisioned on first sight, refused once erased. */
  readonly userOf: (
    claims: VerifiedToken
  ) => Effect.Effect<User.User, DomainError.UserErased | DomainError.RepositoryError>
  /**
   * As `userOf`, but a subject this process has not seen yet is not provisioned: its candidate user
   * (`Users.candidate`) comes back, for a use-case that provisions it in its own unit of work; once that
   * has committed, `remember` the stored user's id.
   */
  readonly userOrNewcomer: (
    claims: VerifiedToken
  ) => Effect.Effect<Sighting, DomainError.UserErased | DomainError.RepositoryError>
  /** Records the stored user of a subject provisioned elsewhere (see `userOrNewcomer`). */
  readonly remember: (subject: string, userId: Ids.UserId) => void
}>()("@live-events/server/ProvisionedUsers") {
  /** @since 0.1.0 */
  static readonly layer = Layer.effect(
    ProvisionedUsers,
    Effect.gen(function*() {
      const users = yield* Users.Users
      const repository = yield* UserRepository.UserRepository
      const idsBySubject = new Map<string, Ids.UserId>()
      // A user this process holds fresh is taken from the cache directly (what the repository's cached
      // read would answer, without building its effect): every authenticated request resolves one.
      const cache = Option.getOrUndefined(yield* Effect.serviceOption(TwoLevelCache.TwoLevelCache))

      const remember = (subject: string, userId: Ids.UserId) => {
        if (idsBySubject.size >= capacity) idsBySubject.clear()
        idsBySubject.set(subject, userId)
      }
      const claimsOf = (claims: VerifiedToken) => ({ subject: claims.subject, email: claims.email, name: claims.name })
      const provision = (claims: VerifiedToken) =>
        Effect.tap(users.provision(claimsOf(claims)), (user) => Effect.sync(() => remember(claims.subject, user.id)))

      /** The stored user of a subject seen before; `onUnseen` for one never seen (or deleted since). */
      const known = <A>(
        claims: VerifiedToken,
        onUnseen: (claims: VerifiedToken) => Effect.Effect<A, DomainError.UserErased | DomainError.RepositoryError>,
        onStored: (user: User.User) => A
      ) => {
        const id = idsBySubject.get(claims.subject)
        if (id === undefined) return onUnseen(claims)
        const stored = (user: User.User) =>
          user.erasedAt !== null ? Effect.fail(new DomainError.UserErased({})) : Effect.succeed(onStored(user))
        const fromRepository = () =>
          Effect.flatMap(repository.findById(id), (found) => {
            if (Option.isNone(found)) {
              // Gone (deleted by an admin): provision again, as a first request would.
              idsBySubject.delete(claims.subject)
              return onUnseen(claims)
            }
            return stored(found.value)
          })
        if (cache === undefined) return fromRepository()
        return Effect.withFiber((fiber) => {
          const cached = CachedStore.peekUser(cache, id, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
          return cached !== undefined ? stored(cached) : fromRepository()
        })
      }

      const userOf = (claims: VerifiedToken) => known(claims, provision, (user) => user)
      const userOrNewcomer = (claims: VerifiedToken) =>
        known(
          claims,
          (unseen): Effect.Effect<Sighting> =>
            Effect.map(users.candidate(claimsOf(unseen)), (candidate) => ({ _tag: "Newcomer", candidate })),
          (user): Sighting => ({ _tag: "Stored", user })
        )
      return ProvisionedUsers.of({ userOf, userOrNewcomer, remember })
    })
  )
}
