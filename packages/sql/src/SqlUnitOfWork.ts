/**
 * `UnitOfWork` as a PostgreSQL transaction (READ COMMITTED). Locks taken inside by `FOR UPDATE` are held
 * until commit. A unit of work that lost a race the database detected (deadlock, serialization failure,
 * the one-active-registration index) is run again from the start a few times: each attempt reads fresh
 * state, so the retry decides correctly instead of failing the request.
 *
 * @since 0.1.0
 */
import { DomainError, UnitOfWork } from "@live-events/domain"
import { Effect, Layer, Schedule } from "effect"
import { SqlClient, SqlError } from "effect/sql"
import { toRepositoryError } from "./SqlFailure.ts"

const isConflict = (error: unknown) => error instanceof DomainError.RepositoryError && error.reason === "conflict"

/** @since 0.1.0 */
export const make: Effect.Effect<UnitOfWork.UnitOfWork["Service"], never, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const transact: UnitOfWork.UnitOfWork["Service"]["transact"] = (effect) =>
      sql.withTransaction(effect).pipe(
        // Every SqlError in the cause, not only the first: when the connection dies mid-transaction the
        // statement's error and the failed ROLLBACK's arrive together.
        Effect.mapError((error) =>
          SqlError.isSqlError(error) ? toRepositoryError("UnitOfWork.transact")(error) : error
        ),
        Effect.retry({ while: isConflict, times: 3, schedule: Schedule.exponential("5 millis") })
      ) as any
    return UnitOfWork.UnitOfWork.of({ transact })
  }
)

/** @since 0.1.0 */
export const layer = Layer.effect(UnitOfWork.UnitOfWork, make)
