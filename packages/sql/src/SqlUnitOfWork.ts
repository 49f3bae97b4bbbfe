/**
 * `UnitOfWork` as a PostgreSQL transaction (READ COMMITTED). Locks taken inside by `FOR UPDATE` are held
 * until commit. A unit of work that lost a race the database detected (deadlock, serialization failure,
 * the one-active-registration index) is run again from the start a few times: each attempt reads fresh
 * state, so the retry decides correctly instead of failing the request.
 *
 * @since 0.1.0
 */
import { DomainError, UnitOfWork } from "@live-events/domain"
import { Cause, Effect, Layer, Schedule } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import * as PendingOutbox from "./PendingOutbox.ts"
import { toRepositoryError } from "./SqlFailure.ts"

const isConflict = (error: unknown) => error instanceof DomainError.RepositoryError && error.reason === "conflict"

/**
 * `effect/sql` turns a failed ROLLBACK into a *defect* beside the transaction's own failure, and after a
 * failed COMMIT whose cleanup failed too it turns every failure into a defect (the transaction's own
 * `RepositoryError` included). Here that means the connection died: an ordinary outage, not a bug. Left
 * as is, such a cause escapes every typed error handler and the request answers 500 instead of 503. So
 * a cause made only of failures, SQL errors and `RepositoryError`s (as failures or defects) becomes one
 * typed failure: the transaction's own error when there is one, else the SQL error as a
 * `RepositoryError`. Interruptions and any other defect are left untouched.
 *
 * @since 0.1.0
 */
export const settleCleanupDefects = <E>(cause: Cause.Cause<E>): Effect.Effect<never, E | DomainError.RepositoryError> => {
  let failure: E | DomainError.RepositoryError | undefined = undefined
  let sqlError: SqlError.SqlError | undefined = undefined
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason)) failure ??= reason.error
    else if (Cause.isDieReason(reason) && reason.defect instanceof DomainError.RepositoryError) failure ??= reason.defect
    else if (Cause.isDieReason(reason) && SqlError.isSqlError(reason.defect)) sqlError ??= reason.defect
    else return Effect.failCause(cause)
  }
  if (failure !== undefined) return Effect.fail(failure)
  if (sqlError !== undefined) return Effect.fail(toRepositoryError("UnitOfWork.transact")(sqlError))
  return Effect.failCause(cause)
}

/** @since 0.1.0 */
export const make: Effect.Effect<UnitOfWork.UnitOfWork["Service"], never, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const transact: UnitOfWork.UnitOfWork["Service"]["transact"] = (effect) =>
      sql.withTransaction(PendingOutbox.within(sql, effect)).pipe(
        // Every SqlError in the cause, not only the first: when the connection dies mid-transaction the
        // statement's error and the failed ROLLBACK's arrive together.
        Effect.mapError((error) =>
          SqlError.isSqlError(error) ? toRepositoryError("UnitOfWork.transact")(error) : error
        ),
        Effect.catchCause(settleCleanupDefects),
        Effect.retry({ while: isConflict, times: 3, schedule: Schedule.exponential("5 millis") })
      ) as any
    return UnitOfWork.UnitOfWork.of({ transact })
  }
)

/** @since 0.1.0 */
export const layer = Layer.effect(UnitOfWork.UnitOfWork, make)
