/**
 * Database calls through the resilience policies, as a decorator over the store's ports: the domain
 * and the SQL adapters stay unaware of retries, timeouts, the circuit breaker and the bulkheads.
 *
 * - `UnitOfWork.transact` runs the whole unit of work through `database-write` (a retry re-runs the
 *   transaction from the start; a statement inside a transaction is never retried on its own);
 * - repository reads and single-statement writes outside a transaction go through `database-read` /
 *   `database-write`; inside a transaction they run as they are (the transaction already holds a
 *   connection and a bulkhead slot: taking another slot there could deadlock against the pool);
 * - the idempotency-key store and the readiness probe go through them too.
 *
 * A policy rejection (open circuit, full bulkhead, timeout) becomes a `RepositoryError` with reason
 * `unavailable` and the rejection as its cause, so the ports keep their types and `Problem` answers
 * 503 with the `Retry-After` the rejection asks for.
 *
 * Contention is not an outage: deadlocks, serialization failures and the one-active-registration
 * index are `conflict` errors, which the breaker counts as successes (the database answered). Waiting
 * for a pool connection happens in the bulkhead queue, outside the per-attempt timeout, so a hot event
 * queueing hundreds of registrations does not turn into timeouts that would open the circuit.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Layer } from "effect"
import { SqlError } from "effect/sql"
import type { Config } from "effect"
import {
  Audit,
  DomainError,
  EventRepository,
  RegistrationRepository,
  UnitOfWork,
  UserRepository
} from "@live-events/domain"
import { Breaker, Policy } from "@live-events/resilience"
import { IdempotencyKeys } from "@live-events/sql"
import { Readiness } from "./Readiness.ts"
import { members } from "./ServiceMembers.ts"

/** Set inside a unit of work: calls made there are already covered by its policy. @since 0.1.0 */
export const InTransaction = Context.Reference<boolean>("@live-events/engine/InTransaction", {
  defaultValue: () => false
})

/**
 * The engine's policy defaults: the package's, with queues deep and patient enough for a hot event
 * (hundreds of registrations arriving at once wait for a slot rather than being refused), total
 * budgets that cover that wait, and a database circuit that probes at least once a second while open
 * (the package doubles its open time up to 4 s): after a restart of a few seconds the doubling had
 * reached 4 s, so requests were refused for up to 4 s after the database was back. A probe is one query
 * per process and second against a database that is down: nothing to protect it from.
 *
 * @since 0.1.0
 */
export const defaults: Policy.Settings = {
  ...Policy.defaults,
  circuits: {
    ...Policy.defaults.circuits,
    database: { ...Policy.defaults.circuits["database"]!, openDuration: "1 second", maxOpenDuration: "1 second" }
  },
  policies: {
    ...Policy.defaults.policies,
    "database-read": {
      ...Policy.defaults.policies["database-read"]!,
      timeout: "8 seconds",
      bulkhead: { maxConcurrent: 32, maxQueue: 4096, queueTimeout: "6 seconds" }
    },
    "database-write": {
      ...Policy.defaults.policies["database-write"]!,
      timeout: "10 seconds",
      bulkhead: { maxConcurrent: 16, maxQueue: 4096, queueTimeout: "8 seconds" }
    }
  }
}

/**
 * Policies from `settings` (default {@link defaults}), circuit state in this process.
 *
 * @since 0.1.0
 */
export const layerPolicies = (settings: Policy.Settings = defaults): Layer.Layer<Policy.Policies> =>
  Policy.layerMemory(settings)

/**
 * Policies from configuration (`RESILIENCE_*` variables) over {@link defaults}, circuit state in
 * this process.
 *
 * @since 0.1.0
 */
export const layerPoliciesConfig: Layer.Layer<Policy.Policies, Config.ConfigError> = Policy.layerConfig(defaults).pipe(
  Layer.provide(Breaker.layerStoreMemory)
)

const unavailable = (operation: string) => (error: Policy.PolicyError) =>
  new DomainError.RepositoryError({ reason: "unavailable", operation, cause: error })

/**
 * When the connection dies mid-transaction, the statement's failure and the failed `ROLLBACK`'s raw
 * `SqlError` arrive together in one cause; handlers expect one typed error. Keep the first typed
 * failure (a raw `SqlError` becomes an `unavailable` RepositoryError); defects stay defects.
 */
const singleFailure = (operation: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | DomainError.RepositoryError, R> =>
  Effect.catchCause(self, (cause): Effect.Effect<never, E | DomainError.RepositoryError> => {
    const failures = cause.reasons.filter(Cause.isFailReason)
    if (failures.length === 0 || cause.reasons.some((reason) => !Cause.isFailReason(reason))) {
      return Effect.failCause(cause)
    }
    if (failures.length === 1 && !SqlError.isSqlError(failures[0]!.error)) return Effect.failCause(cause)
    const typed = failures.find((reason) => !SqlError.isSqlError(reason.error))
    return typed !== undefined
      ? Effect.fail(typed.error)
      : Effect.fail(new DomainError.RepositoryError({ reason: "unavailable", operation, cause: failures[0]!.error }))
  })

type Guard = <A, E, R>(
  name: "database-read" | "database-write",
  operation: string,
  self: Effect.Effect<A, E, R>
) => Effect.Effect<A, E | DomainError.RepositoryError, R>

const makeGuard = (policies: Policy.Policies["Service"]): Guard => (name, operation, self) =>
  Effect.withFiber((fiber) =>
    fiber.getRef(InTransaction)
      ? self
      : policies.run(name, self).pipe(
        Effect.catchIf(Policy.isPolicyError, (error) => Effect.fail(unavailable(operation)(error)))
      ))

/**
 * Wraps every method of a port, inherited ones included (a class-based implementation keeps its
 * methods on the prototype): `reads` through `database-read`, the others through `database-write`.
 */
const decorate = <S extends Record<string, any>>(
  guard: Guard,
  port: string,
  service: S,
  reads: ReadonlyArray<keyof S>
): S => {
  const decorated: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(members(service))) {
    decorated[name] = typeof method === "function"
      ? (...args: Array<unknown>) =>
        guard(reads.includes(name) ? "database-read" : "database-write", `${port}.${name}`, method(...args))
      : method
  }
  return decorated as S
}

/**
 * The store's ports, decorated. Provide it over the undecorated store and under the use-cases.
 *
 * @since 0.1.0
 */
export const layerStore: Layer.Layer<
  | Audit.AuditLog
  | EventRepository.EventRepository
  | RegistrationRepository.RegistrationRepository
  | UserRepository.UserRepository
  | UnitOfWork.UnitOfWork
  | IdempotencyKeys.IdempotencyKeys
  | Readiness,
  never,
  | Audit.AuditLog
  | EventRepository.EventRepository
  | RegistrationRepository.RegistrationRepository
  | UserRepository.UserRepository
  | UnitOfWork.UnitOfWork
  | IdempotencyKeys.IdempotencyKeys
  | Readiness
  | Policy.Policies
> = Layer.effectContext(Effect.gen(function*() {
  const policies = yield* Policy.Policies
  const guard = makeGuard(policies)
  const events = yield* EventRepository.EventRepository
  const registrations = yield* RegistrationRepository.RegistrationRepository
  const users = yield* UserRepository.UserRepository
  const unitOfWork = yield* UnitOfWork.UnitOfWork
  const idempotency = yield* IdempotencyKeys.IdempotencyKeys
  const auditLog = yield* Audit.AuditLog
  const readiness = yield* Readiness
  return Context.make(UnitOfWork.UnitOfWork, {
    transact: (effect) =>
      guard(
        "database-write",
        "UnitOfWork.transact",
        unitOfWork.transact(Effect.provideService(effect, InTransaction, true)).pipe(singleFailure("UnitOfWork.transact"))
      )
  }).pipe(
    Context.add(
      EventRepository.EventRepository,
      decorate(guard, "EventRepository", events, ["findById", "list"])
    ),
    Context.add(
      RegistrationRepository.RegistrationRepository,
      decorate(guard, "RegistrationRepository", registrations, [
        "findById",
        "waitlistHead",
        "listActive",
        "listByEvent",
        "listWaitlist",
        "listByUser"
      ])
    ),
    Context.add(
      UserRepository.UserRepository,
      decorate(guard, "UserRepository", users, ["findById", "findByIds", "findBySubject", "findByEmail", "list"])
    ),
    Context.add(IdempotencyKeys.IdempotencyKeys, decorate(guard, "IdempotencyKeys", idempotency, [])),
    Context.add(Audit.AuditLog, decorate(guard, "AuditLog", auditLog, ["list"])),
    Context.add(Readiness, {
      check: Effect.catchIf(
        policies.run("database-read", readiness.check),
        Policy.isPolicyError,
        (error) => Effect.fail(unavailable("health.ready")(error))
      )
    })
  )
}))
