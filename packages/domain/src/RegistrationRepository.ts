/**
 * Port: where registrations are kept, and the waitlist order with them.
 *
 * Implementations derive `waitlistPosition` from join order when they read (1..w, contiguous), so
 * leaving the queue never rewrites the rows behind. `apply` writes a plan's changes and keeps the
 * event's `confirmedCount` / `waitlistCount` (and `version`) in step in the same unit of work. Seats are
 * held by `confirmed`, `attended` and `no_show`.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Option } from "effect"
import type { InvalidCursor, RepositoryError } from "./DomainError.ts"
import type { Event } from "./Event.ts"
import type { EventId, RegistrationId, UserId } from "./Ids.ts"
import type { Page, PageRequest } from "./Page.ts"
import type { Registration, RegistrationChange, RegistrationStatus } from "./Registration.ts"
import type { CancelSnapshot, Snapshot } from "./RegistrationBatch.ts"
import type { User } from "./User.ts"

/** @since 0.1.0 */
export class RegistrationRepository extends Context.Service<RegistrationRepository, {
  /**
   * Locks the event (as `EventRepository.lock`) and reads the user's active registration in the same
   * step: the hot path of "register" in one round trip. It also holds the user against erasure until
   * the unit of work ends and says whether the user is erased, so a registration can never commit
   * after the erase that should have cancelled it (see `Privacy.ts`). None when the event or the user
   * does not exist.
   */
  readonly lockForRegistration: (
    eventId: EventId,
    userId: UserId
  ) => Effect.Effect<
    Option.Option<{ readonly event: Event; readonly active: Registration | undefined; readonly userErased: boolean }>,
    RepositoryError
  >
  /**
   * The batch form of {@link lockForRegistration}: locks every named event (in id order, so batches of
   * several processes never deadlock) and share-locks the users, then reads the pairs' active
   * registrations and the users' erasure as they are once the locks are held.
   */
  readonly lockForRegistrations: (
    pairs: ReadonlyArray<{ readonly eventId: EventId; readonly userId: UserId }>
  ) => Effect.Effect<Snapshot, RepositoryError>
  /**
   * {@link lockForRegistrations} for a batch that names people seen for the first time: stores them as
   * `UserRepository.insertAllIfAbsent` would (a subject already stored keeps its user) and then locks
   * and reads, in one step — a batch of newcomers costs one statement fewer. A pair names a newcomer by
   * the newcomer's own id; `stored[i]` is the id `newcomers[i]` is stored under (that of an earlier
   * user with the same subject, if any), and the snapshot speaks of stored ids. A store without such a
   * step leaves it out (the use-case then provisions, then locks).
   */
  readonly provisionAndLockForRegistrations?:
    | ((
      newcomers: ReadonlyArray<User>,
      pairs: ReadonlyArray<{ readonly eventId: EventId; readonly userId: UserId }>
    ) => Effect.Effect<{ readonly stored: ReadonlyArray<UserId>; readonly snapshot: Snapshot }, RepositoryError>)
    | undefined
  /**
   * For a batch of cancellations: locks the events of the named registrations (in id order), then
   * reads those registrations and, per event, the head of its waitlist — twice as many waiting people
   * as the batch names registrations of that event, which covers every promotion the batch can make.
   */
  readonly lockForCancellations: (ids: ReadonlyArray<RegistrationId>) => Effect.Effect<CancelSnapshot, RepositoryError>
  readonly findById: (id: RegistrationId) => Effect.Effect<Option.Option<Registration>, RepositoryError>
  /** The first `count` waitlisted registrations of the event, in position order. */
  readonly waitlistHead: (eventId: EventId, count: number) => Effect.Effect<ReadonlyArray<Registration>, RepositoryError>
  /** Every confirmed or waitlisted registration of the event. */
  readonly listActive: (eventId: EventId) => Effect.Effect<ReadonlyArray<Registration>, RepositoryError>
  readonly apply: (
    eventId: EventId,
    changes: ReadonlyArray<RegistrationChange>
  ) => Effect.Effect<void, RepositoryError>
  /** `apply` for several events in one step (a batch's plans). */
  readonly applyMany: (
    batch: ReadonlyArray<{ readonly eventId: EventId; readonly changes: ReadonlyArray<RegistrationChange> }>
  ) => Effect.Effect<void, RepositoryError>
  readonly listByEvent: (
    eventId: EventId,
    request: PageRequest & { readonly status?: RegistrationStatus | undefined }
  ) => Effect.Effect<Page<Registration>, RepositoryError | InvalidCursor>
  /** Waitlisted registrations in position order. */
  readonly listWaitlist: (eventId: EventId, request: PageRequest) => Effect.Effect<Page<Registration>, RepositoryError | InvalidCursor>
  readonly listByUser: (userId: UserId, request: PageRequest) => Effect.Effect<Page<Registration>, RepositoryError | InvalidCursor>
  /**
   * Clears the free-text notes of every registration of the user (GDPR erase: notes may hold personal
   * data). Statuses, times and counters are untouched. Returns the ids of the registrations it changed.
   */
  readonly eraseNotes: (userId: UserId) => Effect.Effect<ReadonlyArray<RegistrationId>, RepositoryError>
}>()("@live-events/domain/RegistrationRepository") {}
