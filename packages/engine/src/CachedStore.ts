/**
 * Cache-aside over the domain's read ports, without the domain knowing: decorators of the store's
 * services that answer `findById` of events, users and registrations from a {@link TwoLevelCache}, and
 * drop what a unit of work made stale once it has committed.
 *
 * - **Reads** outside a unit of work go through `getOrSet` (single-flight, generation-guarded fill).
 *   Reads *inside* one (a use-case re-reading under its lock, or after its own writes) go straight to
 *   the store: they must see the transaction's own state, and must never fill the cache with data that
 *   is not committed yet. `EventRepository.lock` and `lockForRegistration` are never cached.
 * - **Invalidation** is driven by the domain events the unit of work records (the `OutboxWriter`
 *   decorator collects them, see `CacheKeys.collect`), plus the writes that raise none (event delete,
 *   profile update). It runs after `UnitOfWork.transact` ends — after COMMIT — and before the use-case
 *   returns, so the HTTP response to a write is never followed by a stale read from the same process;
 *   `TwoLevelCache.invalidate*` also drops the value in Redis and tells the other processes. A read that
 *   raced the write cannot leave the old value behind: its fill started before the invalidation, and
 *   the cache's generation guard discards it.
 * - **What is cached** is the repository's result (the entity), never a response: visibility rules
 *   (drafts, owners) run on it in the use-case, and the ETag derives from its `version`.
 * - **Absence is not cached**: a factory that finds nothing fails internally, and failures are never
 *   stored.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { TwoLevelCache } from "@live-events/cache"
import {
  DomainError,
  type Event,
  EventRepository,
  type Ids,
  type Page,
  type Registration,
  OutboxWriter,
  RegistrationRepository,
  UnitOfWork,
  type User,
  UserRepository
} from "@live-events/domain"
import * as CacheCodecs from "./CacheCodecs.ts"
import * as CacheKeys from "./CacheKeys.ts"
import { Readiness } from "./Readiness.ts"
import * as Sealing from "./Sealing.ts"
import { members } from "./ServiceMembers.ts"

/**
 * The invalidations collected by the unit of work the current fiber runs in; `undefined` outside one.
 *
 * @since 0.1.0
 */
export const CurrentUnitOfWork = Context.Reference<CacheKeys.Invalidations | undefined>(
  "@live-events/engine/CurrentUnitOfWork",
  { defaultValue: () => undefined }
)

/** The services this module decorates. @since 0.1.0 */
export type Decorated =
  | EventRepository.EventRepository
  | UserRepository.UserRepository
  | RegistrationRepository.RegistrationRepository
  | UnitOfWork.UnitOfWork
  | OutboxWriter.OutboxWriter
  | Readiness

/** The factory found nothing: not a value to keep. */
class Absent {
  readonly _tag = "Absent"
}
const absent = new Absent()

const orAbsent = <A, E>(found: Effect.Effect<Option.Option<A>, E>): Effect.Effect<A, E | Absent> =>
  Effect.flatMap(found, (option) => Option.isSome(option) ? Effect.succeed(option.value) : Effect.fail(absent))

/** Back to the port's shape: absence as `None`, the cache's hard timeout as a storage timeout. */
const toOption = <A, E>(
  read: Effect.Effect<A, E | Absent | TwoLevelCache.CacheTimeout>
): Effect.Effect<Option.Option<A>, E | DomainError.RepositoryError> =>
  Effect.catch(
    Effect.map(read, Option.some),
    (error): Effect.Effect<Option.Option<A>, E | DomainError.RepositoryError> => {
      if (error === absent) return Effect.succeedNone
      if (error instanceof TwoLevelCache.CacheTimeout) {
        return Effect.fail(
          new DomainError.RepositoryError({ reason: "timeout", operation: `cache ${error.key}`, cause: error })
        )
      }
      return Effect.fail(error as E)
    }
  )

/**
 * The event this process holds fresh in the cache — what `EventRepository.findById` would answer from
 * it — or `undefined` (then ask the repository, which loads and counts the miss). Synchronous: for the
 * hottest read, which renders once per cached event object, a hit is a map lookup.
 *
 * @since 0.1.0
 */
export const peekEvent = (
  cache: TwoLevelCache.TwoLevelCache["Service"],
  id: Ids.EventId,
  nowMillis: number
): Event.Event | undefined => cache.peek<Event.Event>(CacheKeys.eventKey(id), nowMillis, { category: "eventDetails" })

/**
 * The user this process holds fresh in the cache — what `UserRepository.findById` would answer from
 * it — or `undefined` (then ask the repository). Synchronous, like {@link peekEvent}: an authenticated
 * request resolves its caller on every call.
 *
 * @since 0.2.0
 */
export const peekUser = (
  cache: TwoLevelCache.TwoLevelCache["Service"],
  id: Ids.UserId,
  nowMillis: number
): User.User | undefined => cache.peek<User.User>(CacheKeys.userKey(id), nowMillis, { category: "users" })

/**
 * The registration (with its waitlist position) this process holds fresh in the cache — what
 * `RegistrationRepository.findById` would answer from it — or `undefined` (then ask the repository).
 *
 * @since 0.2.0
 */
export const peekRegistration = (
  cache: TwoLevelCache.TwoLevelCache["Service"],
  id: Ids.RegistrationId,
  nowMillis: number
): Registration.Registration | undefined =>
  cache.peek<Registration.Registration>(CacheKeys.positionKey(id), nowMillis, { category: "waitlistPositions" })

/**
 * The first page (of `limit` items) of a user's own registrations when this process holds it fresh
 * — which registrations, and every one of them — as `RegistrationRepository.listByUser` would answer
 * it from the cache; `undefined` otherwise (then ask the repository). Each registration is its own
 * entry, so statuses and positions are as fresh as single reads.
 *
 * @since 0.2.0
 */
export const peekUserRegistrations = (
  cache: TwoLevelCache.TwoLevelCache["Service"],
  userId: Ids.UserId,
  limit: number,
  nowMillis: number
): Page.Page<Registration.Registration> | undefined => {
  const ids = cache.peek<CacheCodecs.RegistrationIdsPage>(CacheKeys.userRegistrationsKey(userId, limit), nowMillis)
  if (ids === undefined) return undefined
  const items: Array<Registration.Registration> = []
  for (const id of ids.ids) {
    const registration = peekRegistration(cache, id, nowMillis)
    if (registration === undefined) return undefined
    items.push(registration)
  }
  return { items, nextCursor: ids.nextCursor }
}

/** Registrations whose event we know, so their reads can carry the event's tags (bounded). */
const knownEventCapacity = 100_000

/**
 * Builds the decorated services over the store's ones found in the context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const cache = yield* TwoLevelCache.TwoLevelCache
  // `members`: the store's services may be class instances, whose methods a spread would lose.
  const events = members(yield* EventRepository.EventRepository)
  const users = members(yield* UserRepository.UserRepository)
  const registrations = members(yield* RegistrationRepository.RegistrationRepository)
  const unitOfWork = yield* UnitOfWork.UnitOfWork
  const outbox = yield* OutboxWriter.OutboxWriter
  const readiness = yield* Readiness
  // Personal data leaves the process sealed (see `Sealing.ts`); events are public.
  const sealingKey = yield* Sealing.CacheSealingKey
  const userCodec = Sealing.sealed(CacheCodecs.UserCodec, sealingKey, "user")
  const registrationCodec = Sealing.sealed(CacheCodecs.RegistrationCodec, sealingKey, "registration")

  const invalidateAll = (pending: CacheKeys.Invalidations): Effect.Effect<void> => {
    if (CacheKeys.isEmpty(pending)) return Effect.void
    return cache.invalidateAll(pending.keys, pending.tags)
  }

  /**
   * Runs a write and drops what it touched: after the enclosing unit of work ends when there is one,
   * at once (after the write, success or not) otherwise.
   */
  const afterWrite = <A, E>(
    write: Effect.Effect<A, E>,
    touched: (into: CacheKeys.Invalidations) => void
  ): Effect.Effect<A, E> =>
    Effect.flatMap(Effect.service(CurrentUnitOfWork), (pending) => {
      if (pending !== undefined) {
        touched(pending)
        return write
      }
      const own = CacheKeys.empty()
      touched(own)
      return Effect.onExit(write, () => invalidateAll(own))
    })

  /** Cached outside a unit of work, straight to the store inside one (both built only when chosen). */
  const cachedRead = <A, E>(
    direct: () => Effect.Effect<Option.Option<A>, E>,
    cached: () => Effect.Effect<Option.Option<A>, E>
  ): Effect.Effect<Option.Option<A>, E> =>
    Effect.flatMap(Effect.service(CurrentUnitOfWork), (pending) => pending === undefined ? cached() : direct())

  /**
   * The store's read, built only on a miss: building it (the SQL statement, its policy wrapper) costs
   * more than a hit itself.
   */
  const onMiss = <A, E>(read: () => Effect.Effect<Option.Option<A>, E>) => orAbsent(Effect.suspend(read))

  const transact: UnitOfWork.UnitOfWork["Service"]["transact"] = (effect) =>
    Effect.flatMap(Effect.service(CurrentUnitOfWork), (outer) => {
      // Nested: the outermost unit of work commits, and invalidates, for both.
      if (outer !== undefined) return unitOfWork.transact(effect)
      const pending = CacheKeys.empty()
      // On any exit: after a failure nothing changed, but a COMMIT whose answer was lost may have
      // succeeded; an extra invalidation only costs a miss. `onExit` also runs when the request is
      // interrupted right after the commit.
      return unitOfWork.transact(Effect.provideService(effect, CurrentUnitOfWork, pending)).pipe(
        Effect.onExit(() => invalidateAll(pending))
      )
    })

  const record: OutboxWriter.OutboxWriter["Service"]["record"] = (recorded) =>
    afterWrite(outbox.record(recorded), (into) => {
      for (const event of recorded) CacheKeys.collect(into, event)
    })

  const eventById = (id: Ids.EventId) =>
    cachedRead(() => events.findById(id), () =>
      toOption(cache.getOrSet(CacheKeys.eventKey(id), onMiss(() => events.findById(id)), {
        codec: CacheCodecs.EventCodec,
        category: "eventDetails",
        tags: [CacheKeys.eventTag(id)]
      })))

  const userById = (id: Ids.UserId) =>
    cachedRead(() => users.findById(id), () =>
      toOption(cache.getOrSet(CacheKeys.userKey(id), onMiss(() => users.findById(id)), {
        codec: userCodec,
        category: "users"
      })))

  // A registration's event never changes; its cached reads are tagged with that event, so the first
  // read of a registration (event unknown yet) goes to the store and later ones are cached.
  const eventOfRegistration = new Map<Ids.RegistrationId, Ids.EventId>()
  const rememberEvent = (id: Ids.RegistrationId, eventId: Ids.EventId) => {
    if (eventOfRegistration.size >= knownEventCapacity) eventOfRegistration.clear()
    eventOfRegistration.set(id, eventId)
  }
  const registrationById = (id: Ids.RegistrationId) =>
    cachedRead(() => registrations.findById(id), () => {
      const eventId = eventOfRegistration.get(id)
      if (eventId === undefined) {
        return Effect.tap(registrations.findById(id), (found) =>
          Effect.sync(() => {
            if (Option.isSome(found)) rememberEvent(id, found.value.eventId)
          }))
      }
      return toOption(cache.getOrSet(CacheKeys.positionKey(id), onMiss(() => registrations.findById(id)), {
        codec: registrationCodec,
        category: "waitlistPositions",
        tags: [CacheKeys.waitlistTag(eventId)]
      }))
    })

  /**
   * The first page of a user's own registrations: which ones (ids, in order) from the cache, under
   * the user's tag; each one through {@link registrationById}, so statuses and waitlist positions are
   * as fresh as single reads. Later pages, and any id the cache cannot resolve, go to the store.
   */
  const listByUser: RegistrationRepository.RegistrationRepository["Service"]["listByUser"] = (userId, request) => {
    const direct = () => registrations.listByUser(userId, request)
    if (request.cursor !== undefined) return direct()
    return cachedRead(
      () => Effect.map(direct(), Option.some),
      () =>
        Effect.flatMap(
          toOption(cache.getOrSet(
            CacheKeys.userRegistrationsKey(userId, request.limit),
            Effect.map(direct(), (page): CacheCodecs.RegistrationIdsPage => {
              for (const registration of page.items) rememberEvent(registration.id, registration.eventId)
              return { ids: page.items.map((registration) => registration.id), nextCursor: page.nextCursor }
            }),
            {
              codec: CacheCodecs.RegistrationIdsPageCodec,
              category: "default",
              tags: [CacheKeys.userRegistrationsTag(userId)]
            }
          )),
          (ids) =>
            Option.isNone(ids) ? Effect.map(direct(), Option.some) : Effect.map(
              Effect.forEach(ids.value.ids, registrationById),
              (found) =>
                found.every(Option.isSome)
                  ? Option.some({ items: found.map((item) => item.value), nextCursor: ids.value.nextCursor })
                  : Option.none()
            )
        )
    ).pipe(Effect.flatMap((page) => Option.isSome(page) ? Effect.succeed(page.value) : direct()))
  }

  const invalidateChanges = (
    into: CacheKeys.Invalidations,
    eventId: Ids.EventId,
    changes: ReadonlyArray<Registration.RegistrationChange>
  ) => {
    into.tags.add(CacheKeys.eventTag(eventId))
    for (const change of changes) {
      into.keys.add(CacheKeys.positionKey(change.registration.id))
      if (change._tag === "Insert") into.tags.add(CacheKeys.userRegistrationsTag(change.registration.userId))
      if (change._tag === "Transition" && change.registration.status === "waitlisted") {
        into.tags.add(CacheKeys.waitlistTag(eventId))
      }
    }
  }

  return Context.make(EventRepository.EventRepository, {
    ...events,
    findById: eventById,
    insert: (event) => afterWrite(events.insert(event), (into) => into.tags.add(CacheKeys.eventTag(event.id))),
    update: (event) => afterWrite(events.update(event), (into) => into.tags.add(CacheKeys.eventTag(event.id))),
    delete: (id) =>
      afterWrite(events.delete(id), (into) => {
        into.tags.add(CacheKeys.eventTag(id))
        into.tags.add(CacheKeys.waitlistTag(id))
      })
  }).pipe(
    Context.add(UserRepository.UserRepository, {
      ...users,
      findById: userById,
      update: (user) => afterWrite(users.update(user), (into) => into.keys.add(CacheKeys.userKey(user.id)))
    }),
    Context.add(RegistrationRepository.RegistrationRepository, {
      ...registrations,
      findById: registrationById,
      listByUser,
      // The changed ids are known only once the write answered (no domain event names them all).
      eraseNotes: (userId) =>
        Effect.flatMap(Effect.service(CurrentUnitOfWork), (pending) =>
          Effect.tap(registrations.eraseNotes(userId), (ids) => {
            const into = pending ?? CacheKeys.empty()
            for (const id of ids) into.keys.add(CacheKeys.positionKey(id))
            return pending === undefined ? invalidateAll(into) : Effect.void
          })),
      // A backstop of the domain events: the same invalidations, from the changes themselves.
      apply: (eventId, changes) =>
        afterWrite(registrations.apply(eventId, changes), (into) => invalidateChanges(into, eventId, changes)),
      applyMany: (batch) =>
        afterWrite(registrations.applyMany(batch), (into) => {
          for (const { changes, eventId } of batch) invalidateChanges(into, eventId, changes)
        })
    }),
    Context.add(UnitOfWork.UnitOfWork, { transact }),
    Context.add(OutboxWriter.OutboxWriter, { record }),
    Context.add(Readiness, {
      // Reported, never failing: a degraded cache still answers every read (L1 or the database).
      check: Effect.flatMap(readiness.check, (checks) =>
        Effect.map(cache.health, (health) => ({
          ...checks,
          cache: health.status === "up" ? "ok" as const : "degraded" as const
        })))
    })
  )
})

/**
 * The decorated ports; provide the store and a {@link TwoLevelCache} underneath. Composed with
 * `Layer.provideMerge(store)`, its services replace the store's undecorated ones.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  Decorated,
  never,
  Decorated | TwoLevelCache.TwoLevelCache
> = Layer.effectContext(make)

/**
 * Puts `cache` in front of `store` (`false`: no cache, the store as it is). The cache itself is
 * provided too (health, tests). `sealingKey` provides {@link Sealing.CacheSealingKey} when values
 * reach a shared tier (Redis) that other processes must open; without it each process seals with a
 * random key of its own.
 *
 * @since 0.1.0
 */
export const decorate = <A, E, R, E2 = never, R2 = never, E3 = never, R3 = never>(
  store: Layer.Layer<A | Decorated, E, R>,
  cache: Layer.Layer<TwoLevelCache.TwoLevelCache, E2, R2> | false,
  sealingKey: Layer.Layer<never, E3, R3> = Layer.empty as Layer.Layer<never, E3, R3>
): Layer.Layer<A | Decorated | TwoLevelCache.TwoLevelCache, E | E2 | E3, R | R2 | R3> => {
  if (cache === false) return store as Layer.Layer<A | Decorated | TwoLevelCache.TwoLevelCache, E, R>
  return layer.pipe(Layer.provide(sealingKey), Layer.provideMerge(cache), Layer.provideMerge(store))
}
