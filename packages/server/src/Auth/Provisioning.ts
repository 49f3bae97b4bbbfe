/**
 * The user behind a verified token, without a write per request. The first request of a subject
 * provisions the user (`Users.provision`, one upsert); the subject → user id mapping it learns never
 * changes (an erase keeps the subject), so it is kept in a bounded process-local map. Every later
 * request reads the user by id through the read cache (`@live-events/engine` `CachedStore`): an erase or a profile
 * change invalidates that entry after its commit, in this process and — through the cache's
 * invalidation bus — in every other, so an erased user is refused on their next request anywhere.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { DomainError, type Ids, type User, UserRepository, Users } from "@live-events/domain"
import type { VerifiedToken } from "./TokenVerifier.ts"

/** Subjects remembered; past this the map starts over (each subject then costs one upsert again). */
const capacity = 100_000

/** @since 0.1.0 */
export class ProvisionedUsers extends Context.Service<ProvisionedUsers, {
  /** The user of a verified token: provisioned on first sight, refused once erased. */
  readonly userOf: (
    claims: VerifiedToken
  ) => Effect.Effect<User.User, DomainError.UserErased | DomainError.RepositoryError>
}>()("@live-events/server/ProvisionedUsers") {
  /** @since 0.1.0 */
  static readonly layer = Layer.effect(
    ProvisionedUsers,
    Effect.gen(function*() {
      const users = yield* Users.Users
      const repository = yield* UserRepository.UserRepository
      const idsBySubject = new Map<string, Ids.UserId>()

      const provision = (claims: VerifiedToken) =>
        Effect.tap(
          users.provision({ subject: claims.subject, email: claims.email, name: claims.name }),
          (user) =>
            Effect.sync(() => {
              if (idsBySubject.size >= capacity) idsBySubject.clear()
              idsBySubject.set(claims.subject, user.id)
            })
        )

      const userOf = (claims: VerifiedToken) => {
        const id = idsBySubject.get(claims.subject)
        if (id === undefined) return provision(claims)
        return Effect.flatMap(repository.findById(id), (found) => {
          if (Option.isNone(found)) {
            // Gone (deleted by an admin): provision again, as a first request would.
            idsBySubject.delete(claims.subject)
            return provision(claims)
          }
          return found.value.erasedAt !== null ? Effect.fail(new DomainError.UserErased({})) : Effect.succeed(found.value)
        })
      }
      return ProvisionedUsers.of({ userOf })
    })
  )
}
