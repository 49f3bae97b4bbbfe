/**
 * The whole engine as one layer: a store (memory, embedded PGlite or PostgreSQL) with its outbox
 * delivery, the resilience policies around every database call, the read cache in front of them, the
 * purge of stored idempotent responses, and the use-cases on top.
 *
 * ```ts
 * const engine = Engine.layer({ store: Engine.storeEmbedded({ dataDir: "./data" }) })
 * const runtime = ManagedRuntime.make(engine)
 * const event = await runtime.runPromise(Events.Events.use((events) => events.create(organizer, input)))
 * await runtime.dispose() // stops the relay, closes the database
 * ```
 *
 * Layering, from the bottom: the store's ports → {@link DatabasePolicies} (retries, timeouts,
 * circuit breaker, bulkheads) → {@link CachedStore} (a hit never touches the database or its
 * breaker) → the use-cases. Each piece is also exported on its own for hosts that compose
 * differently (the reference server does).
 *
 * @since 0.1.0
 */
import { TwoLevelCache } from "@live-events/cache"
import {
  AuditTrail,
  Events,
  Ids,
  Memory,
  PersonalDataCopies,
  Privacy,
  Registrations,
  Users
} from "@live-events/domain"
import type { OutboxStore } from "@live-events/outbox"
import type { Policy } from "@live-events/resilience"
import { IdempotencyKeys, PersonalDataKeys, SqlStore } from "@live-events/sql"
import { type Duration, Effect, Layer } from "effect"
import * as CachedStore from "./CachedStore.ts"
import * as DatabasePolicies from "./DatabasePolicies.ts"
import * as IdempotencyPurge from "./IdempotencyPurge.ts"
import type * as LiveFeed from "./LiveFeed.ts"
import * as OutboxDelivery from "./OutboxDelivery.ts"
import { Readiness } from "./Readiness.ts"
import * as Rotation from "./Rotation.ts"

/**
 * Everything the engine needs from storage: the domain's ports with the idempotency keys (those of
 * the SQL store), readiness, the outbox (store, live feed, lag) and key rotation.
 *
 * @since 0.1.0
 */
export type Store =
  | SqlStore.Ports
  | Readiness
  | OutboxStore.OutboxStore
  | LiveFeed.LiveFeed
  | OutboxDelivery.OutboxLag
  | Rotation.Rotation

/** The use-cases the engine provides. @since 0.1.0 */
export type UseCases =
  | Events.Events
  | Registrations.Registrations
  | Users.Users
  | Privacy.Privacy
  | AuditTrail.AuditTrail
  | Ids.Ids

/** What {@link layer} provides: the use-cases, the (decorated) store and the cache. @since 0.1.0 */
export type Services = UseCases | Store | TwoLevelCache.TwoLevelCache

/** The memory store's copies of personal data: those of the domain's memory store and the stored responses. */
const memoryPersonalDataCopies = Layer.effect(
  PersonalDataCopies.PersonalDataCopies,
  Effect.gen(function*() {
    const domain = yield* PersonalDataCopies.PersonalDataCopies
    const keys = yield* IdempotencyKeys.IdempotencyKeys
    return PersonalDataCopies.PersonalDataCopies.of({
      erase: (userId) => Effect.andThen(domain.erase(userId), keys.forgetOwner(userId)),
      messagesAbout: domain.messagesAbout
    })
  })
)

/**
 * Every port in memory, for tests and demos: nothing survives the process, and there is no outbox
 * table (so no relay and no live updates).
 *
 * @since 0.1.0
 */
export const storeMemory: Layer.Layer<Store | Memory.MemoryStore> = Layer.mergeAll(
  memoryPersonalDataCopies.pipe(Layer.provideMerge(Layer.merge(Memory.layer, IdempotencyKeys.layerMemory))),
  Readiness.layerMemory,
  OutboxDelivery.layerMemory,
  Rotation.layerMemory
)

/**
 * PostgreSQL 15+ (pool, migrations, ports) with its outbox delivered by a relay in this process
 * (`outbox`: see {@link OutboxDelivery.Options}). Personal data is sealed with `keyring`.
 *
 * @since 0.1.0
 */
export const storePostgres = (options: SqlStore.PostgresOptions & {
  readonly outbox?: OutboxDelivery.Options | undefined
}) =>
  Layer.mergeAll(Readiness.layerSql, OutboxDelivery.layerPostgres(options.outbox), Rotation.layerSql(options.keyring)).pipe(
    Layer.provideMerge(SqlStore.layerPostgres(options))
  )

/**
 * Embedded PGlite in `dataDir` (`undefined`: in memory, thrown away at exit), its outbox delivered
 * in process. Without a keyring, a random one: only a database thrown away with the process may do
 * without one (a data directory sealed with a lost key cannot be read again).
 *
 * @since 0.1.0
 */
export const storeEmbedded = (
  options:
    & (
      | Omit<SqlStore.EmbeddedOptions, "keyring"> & { readonly dataDir: undefined; readonly keyring?: PersonalDataKeys.Keyring }
      | SqlStore.EmbeddedOptions
    )
    & { readonly outbox?: OutboxDelivery.Options | undefined }
) => {
  const keyring = options.keyring ?? PersonalDataKeys.generate()
  return Layer.mergeAll(Readiness.layerSql, OutboxDelivery.layerEmbedded(options.outbox), Rotation.layerSql(keyring)).pipe(
    Layer.provideMerge(SqlStore.layerEmbedded({ ...options, keyring }))
  )
}

/**
 * The use-cases over the store's ports; `batching` tunes how registrations are committed together.
 *
 * @since 0.1.0
 */
export const useCases = (batching: Registrations.Options = {}): Layer.Layer<UseCases, never, SqlStore.Ports> =>
  Layer.mergeAll(
    Events.Events.layer,
    Registrations.Registrations.layerWith(batching),
    Users.Users.layer,
    Privacy.Privacy.layer,
    AuditTrail.AuditTrail.layer
  ).pipe(Layer.provideMerge(Ids.Ids.layer))

/**
 * The store's ports through the resilience policies (default {@link DatabasePolicies.layerPolicies}).
 *
 * @since 0.1.0
 */
export const withPolicies = <E, R, E2 = never>(
  store: Layer.Layer<Store, E, R>,
  policies: Layer.Layer<Policy.Policies, E2> = DatabasePolicies.layerPolicies() as Layer.Layer<Policy.Policies, E2>
): Layer.Layer<Store | Policy.Policies, E | E2, R> =>
  DatabasePolicies.layerStore.pipe(Layer.provideMerge(store), Layer.provideMerge(policies))

/** @since 0.1.0 */
export interface Options<E, R, E2 = never, E3 = never, E4 = never, R3 = never> {
  /** {@link storeMemory}, {@link storeEmbedded}, {@link storePostgres}, or a store of your own. */
  readonly store: Layer.Layer<Store, E, R>
  /**
   * The read cache in front of the store; `false` for none. Default: in process only
   * (`TwoLevelCache.layerMemory()`), right for a single process. Processes sharing a database need a
   * shared cache (`TwoLevelCache.layerRedis`) or an invalidation bus ({@link PgInvalidationBus}).
   */
  readonly cache?: Layer.Layer<TwoLevelCache.TwoLevelCache, E2> | false | undefined
  /** The key sealing personal data in a shared cache tier (`Sealing.layerSecret`); default a random one. */
  readonly sealingKey?: Layer.Layer<never, E3, R3> | undefined
  /** The resilience policies; default {@link DatabasePolicies.layerPolicies}, circuit state in process. */
  readonly policies?: Layer.Layer<Policy.Policies, E4> | undefined
  /** How registrations are batched into commits (default 64 per batch, one lane). */
  readonly batching?: Registrations.Options | undefined
  /** How often expired idempotent responses are purged (default 10 minutes); `false`: never. */
  readonly idempotencyPurge?: Duration.Input | false | undefined
}

/**
 * The engine: the use-cases over the store, through the policies and the cache, with the outbox
 * relay and the idempotency purge running for as long as the layer's scope (a `ManagedRuntime`
 * until `dispose()`).
 *
 * @since 0.1.0
 */
export const layer = <E, R, E2 = never, E3 = never, E4 = never, R3 = never>(
  options: Options<E, R, E2, E3, E4, R3>
): Layer.Layer<Services | Policy.Policies, E | E2 | E3 | E4, R | R3> => {
  const store = CachedStore.decorate(
    withPolicies(options.store, options.policies),
    options.cache ?? TwoLevelCache.layerMemory(),
    options.sealingKey
  )
  const purge = options.idempotencyPurge === false ? Layer.empty : IdempotencyPurge.layer(options.idempotencyPurge)
  return Layer.mergeAll(useCases(options.batching), purge).pipe(Layer.provideMerge(store))
}
