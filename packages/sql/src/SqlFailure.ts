/**
 * Translates `SqlError` into the domain's {@link DomainError.RepositoryError}, keeping a `reason` that
 * resilience policies can act on (connection loss and timeouts are retryable, constraint violations
 * are not).
 *
 * @since 0.1.0
 */
import { DomainError } from "@live-events/domain"
import { Effect } from "effect"
import type { SqlError } from "effect/sql"

/** The partial unique index that enforces one active registration per (event, user). @since 0.1.0 */
export const ONE_ACTIVE_REGISTRATION = "registrations_one_active"

/** @since 0.1.0 */
export const toRepositoryError = (operation: string) => (error: SqlError.SqlError): DomainError.RepositoryError => {
  const reason = error.reason
  switch (reason._tag) {
    case "ConnectionError":
    case "AuthenticationError":
      return new DomainError.RepositoryError({ reason: "unavailable", operation, cause: error })
    case "StatementTimeoutError":
    case "LockTimeoutError":
      return new DomainError.RepositoryError({ reason: "timeout", operation, cause: error })
    case "DeadlockError":
    case "SerializationError":
      return new DomainError.RepositoryError({ reason: "conflict", operation, cause: error })
    case "UniqueViolation":
      // A concurrent registration of the same person slipped past our snapshot: trying the unit of work
      // again reads it and answers "already registered".
      return new DomainError.RepositoryError({
        reason: reason.constraint === ONE_ACTIVE_REGISTRATION ? "conflict" : "constraint",
        operation,
        cause: error
      })
    case "ConstraintError":
      return new DomainError.RepositoryError({ reason: "constraint", operation, cause: error })
    default:
      return new DomainError.RepositoryError({ reason: "unknown", operation, cause: error })
  }
}

/** Runs a statement and maps its failure. @since 0.1.0 */
export const mapSqlError = (operation: string) =>
<A, R>(effect: Effect.Effect<A, SqlError.SqlError, R>): Effect.Effect<A, DomainError.RepositoryError, R> =>
  Effect.mapError(effect, toRepositoryError(operation))
