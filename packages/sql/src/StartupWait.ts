/**
 * A store that starts while its database is away (a restart, a failover, a host that booted before
 * PostgreSQL) waits for it instead of failing the process: the store's layer is built again, each
 * attempt in a scope of its own (what a failed attempt opened is closed at once), every 100 ms at
 * first and at most a second apart, for up to `wait`. Only an unreachable database is waited for: a
 * wrong password, a missing database or a failed migration fail the start at once.
 *
 * @since 0.2.0
 */
import { Duration, Effect, Exit, Layer, Schedule, Scope } from "effect"
import { Migrator, SqlError } from "effect/sql"
import { sqlStateOf } from "./SqlFailure.ts"

/**
 * Whether a failure to start means the database cannot be reached yet: a connection that failed,
 * or a server that refuses connections while it starts or stops (SQLSTATE classes 08, 53 and 57).
 *
 * @since 0.2.0
 */
export const isUnreachable = (error: unknown): boolean => {
  if (SqlError.isSqlError(error)) {
    if (error.reason._tag === "ConnectionError") return true
    const sqlClass = sqlStateOf(error)?.slice(0, 2)
    return sqlClass === "08" || sqlClass === "53" || sqlClass === "57"
  }
  return error instanceof Migrator.MigrationError && isUnreachable(error.cause)
}

const retries = Schedule.min([Schedule.exponential(Duration.millis(100)), Schedule.spaced(Duration.seconds(1))])

/**
 * `layer`, built again while its failure says the database is unreachable, for up to `wait`.
 *
 * @since 0.2.0
 */
export const waitingForDatabase = <A, E, R>(layer: Layer.Layer<A, E, R>, wait: Duration.Input): Layer.Layer<A, E, R> =>
  Layer.effectContext(Effect.gen(function*() {
    const scope = yield* Effect.scope
    const attempt = Effect.gen(function*() {
      const own = yield* Scope.fork(scope)
      return yield* Layer.buildWithScope(layer, own).pipe(
        Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(own, exit) : Effect.void)
      )
    })
    // One line when the wait starts, not one per attempt.
    let told = false
    return yield* attempt.pipe(
      Effect.tapError((error) => {
        if (told || !isUnreachable(error)) return Effect.void
        told = true
        return Effect.logWarning(`The database is unreachable; the store waits for it (up to ${Duration.format(Duration.fromInputUnsafe(wait))})`)
      }),
      Effect.retry({ while: isUnreachable, schedule: Schedule.upTo(retries, { duration: wait }) })
    )
  }))
