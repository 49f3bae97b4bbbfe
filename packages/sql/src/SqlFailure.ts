/**
 * Translates `SqlError` into the domain's {@link DomainError.RepositoryError}, keeping a `reason` that
 * resilience policies and hosts can act on: connection loss and timeouts are outages (retryable);
 * a value the database refuses (SQLSTATE class 22, data exception) is `invalid`; a violated constraint
 * (class 23) is `constraint`; a statement the database cannot run (class 42, 0A) is a `defect` of ours.
 * None of the last three is an outage, and none is retried.
 *
 * @since 0.1.0
 */
import { DomainError } from "@live-events/domain"
import { Effect } from "effect"
import type { SqlError } from "effect/sql"

/** The partial unique index that enforces one active registration per (event, user). @since 0.1.0 */
export const ONE_ACTIVE_REGISTRATION = "registrations_one_active"

/**
 * The SQLSTATE of a failed statement (`22021`, `23503`, …), when the driver reported one.
 *
 * @since 0.1.0
 */
export const sqlStateOf = (error: SqlError.SqlError): string | undefined => {
  const cause: unknown = error.reason.cause
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  return typeof cause.code === "string" && /^[0-9A-Z]{5}$/.test(cause.code) ? cause.code : undefined
}

/** Classes of SQLSTATE that say the database works and refused this statement or its data. */
const byClass = (sqlState: string | undefined): DomainError.RepositoryError["reason"] | undefined => {
  switch (sqlState?.slice(0, 2)) {
    case "22":
      return "invalid"
    case "23":
      return "constraint"
    case "0A":
    case "42":
      return "defect"
    case "53":
    case "57":
    case "58":
      // Insufficient resources, operator intervention (shutdown), system errors: an outage.
      return "unavailable"
    default:
      return undefined
  }
}

/** @since 0.1.0 */
export const toRepositoryError = (operation: string) => (error: SqlError.SqlError): DomainError.RepositoryError => {
  const reason = error.reason
  const make = (reason: DomainError.RepositoryError["reason"]) =>
    new DomainError.RepositoryError({ reason, operation, cause: error })
  switch (reason._tag) {
    case "ConnectionError":
    case "AuthenticationError":
      return make("unavailable")
    case "StatementTimeoutError":
    case "LockTimeoutError":
      return make("timeout")
    case "DeadlockError":
    case "SerializationError":
      return make("conflict")
    case "UniqueViolation":
      // A concurrent registration of the same person slipped past our snapshot: trying the unit of work
      // again reads it and answers "already registered".
      return make(reason.constraint === ONE_ACTIVE_REGISTRATION ? "conflict" : "constraint")
    case "ConstraintError":
      return make("constraint")
    case "SqlSyntaxError":
    case "AuthorizationError":
      return make("defect")
    default:
      return make(byClass(sqlStateOf(error)) ?? "unknown")
  }
}

/** Runs a statement and maps its failure. @since 0.1.0 */
export const mapSqlError = (operation: string) =>
<A, R>(effect: Effect.Effect<A, SqlError.SqlError, R>): Effect.Effect<A, DomainError.RepositoryError, R> =>
  Effect.mapError(effect, toRepositoryError(operation))
