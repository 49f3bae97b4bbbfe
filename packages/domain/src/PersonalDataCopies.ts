/**
 * Port: the copies of a person's data kept beside the domain's own records — stored responses replayed
 * to retried requests, messages in the outbox — so the GDPR use-cases reach every one of them.
 *
 * The erase runs {@link PersonalDataCopies.erase} inside its unit of work: a store that keeps a copy of
 * anything about the person (now or in a later version) deletes or anonymises it there, and an erase
 * repeated after a crash repeats it. The export lists the outbox messages that name the person.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { RepositoryError } from "./DomainError.ts"
import type { DomainEvent } from "./DomainEvent.ts"
import type { UserId } from "./Ids.ts"

/** @since 0.1.0 */
export class PersonalDataCopies extends Context.Service<PersonalDataCopies, {
  /** Removes every copy of the person's data this store keeps outside the domain's records. */
  readonly erase: (userId: UserId) => Effect.Effect<void, RepositoryError>
  /** The outbox messages whose data names the person, oldest first. */
  readonly messagesAbout: (userId: UserId) => Effect.Effect<ReadonlyArray<DomainEvent>, RepositoryError>
}>()("@live-events/domain/PersonalDataCopies") {}

/**
 * Whether a message's data names the person (as `userId`: messages carry ids, never PII).
 *
 * @since 0.1.0
 */
export const names = (event: DomainEvent, userId: UserId): boolean =>
  (event.data as { readonly userId?: unknown }).userId === userId
