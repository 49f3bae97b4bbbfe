/**
 * Port: where user profiles are kept.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Option } from "effect"
import type { InvalidCursor, RepositoryError } from "./DomainError.ts"
import type { UserId } from "./Ids.ts"
import type { Page, PageRequest } from "./Page.ts"
import type { User } from "./User.ts"

/**
 * A registration about to be written for a person seen for the first time (see
 * `UserRepository.anticipate`).
 *
 * @since 0.3.0
 */
export interface AnticipatedRegistration {
  readonly id: string
  readonly notes: string
}

/** @since 0.1.0 */
export class UserRepository extends Context.Service<UserRepository, {
  /** Inserts unless a user with the same subject exists; returns the stored user either way. */
  readonly insertIfAbsent: (user: User) => Effect.Effect<User, RepositoryError>
  /**
   * `insertIfAbsent` for many users at once (one statement in SQL): the stored user of each input, in
   * input order; inputs sharing a subject get the same user.
   */
  readonly insertAllIfAbsent: (users: ReadonlyArray<User>) => Effect.Effect<ReadonlyArray<User>, RepositoryError>
  /**
   * A hint that `users` are about to be given to `insertAllIfAbsent` (new people waiting for their
   * batch): a store may start now what does not need the database, such as sealing their personal
   * fields. `registrations`, when given, holds for each user the registration their batch is about to
   * write (its id and notes), whose notes a store may seal with them. Stores nothing; a store without
   * such work leaves it out.
   */
  readonly anticipate?:
    | ((users: ReadonlyArray<User>, registrations?: ReadonlyArray<AnticipatedRegistration | undefined>) => void)
    | undefined
  /**
   * Stores the user's profile — unless the stored row is erased: an erased row is never changed, and is
   * returned as stored (callers compare `erasedAt`).
   */
  readonly update: (user: User) => Effect.Effect<User, RepositoryError>
  readonly findById: (id: UserId) => Effect.Effect<Option.Option<User>, RepositoryError>
  /** The users of `ids` that exist, each once, in no particular order (one statement in SQL: a batch of loads). */
  readonly findByIds: (ids: ReadonlyArray<UserId>) => Effect.Effect<ReadonlyArray<User>, RepositoryError>
  readonly findBySubject: (subject: string) => Effect.Effect<Option.Option<User>, RepositoryError>
  /**
   * People whose email equals `email` once both are normalised (trimmed, NFKC, lower case); at most
   * 100. Stores that seal emails answer through a blind index.
   */
  readonly findByEmail: (email: string) => Effect.Effect<ReadonlyArray<User>, RepositoryError>
  readonly list: (request: PageRequest) => Effect.Effect<Page<User>, RepositoryError | InvalidCursor>
}>()("@live-events/domain/UserRepository") {}
