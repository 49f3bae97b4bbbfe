/**
 * Database metrics: statement latency (from the statement spans `effect/sql` opens for every query, see
 * `Tracing.ts`) and pool occupancy.
 *
 * `@effect/sql-pg` does not expose its pool, so occupancy is read from the database's side:
 * {@link layerPoolSampler} samples `pg_stat_activity` for the connections of this process (told apart
 * by the `application_name` the server sets on its pool URL, see {@link withApplicationName}) and
 * publishes how many are busy (`active` or `idle in transaction`) next to the configured maximum.
 *
 * @since 0.1.0
 */
import { Cause, type Context, type Duration, Effect, Layer, Metric, Redacted, Schedule } from "effect"
import { SqlClient } from "effect/sql"

const queryDurationOptions = {
  description: "Duration of SQL statements, by operation (SELECT, INSERT, UPDATE, DELETE, WITH, BEGIN, COMMIT…) and outcome",
  boundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
}

const transactionDurationOptions = {
  description: "Duration of database transactions (units of work, lock waits included), by outcome (commit, rollback)",
  boundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
}

/** @since 0.1.0 */
export const queryDuration = Metric.histogram("db_client_operation_duration_seconds", queryDurationOptions)

/** @since 0.1.0 */
export const transactionDuration = Metric.histogram("db_client_transaction_duration_seconds", transactionDurationOptions)

/** @since 0.1.0 */
export const poolConnections = Metric.gauge("db_client_connections", {
  description: "Connections of this process's pool seen by PostgreSQL, by state (used: running a statement or inside a transaction; idle)"
})

/** @since 0.1.0 */
export const poolMax = Metric.gauge("db_client_connections_max", {
  description: "Configured maximum size of this process's connection pool"
})

/** @since 0.1.0 */
export const poolSampleErrors = Metric.counter("db_client_pool_sample_errors_total", {
  description: "Pool occupancy samples that failed (the database was unreachable)",
  incremental: true
})

const operations = new Set([
  "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "LISTEN",
  "NOTIFY", "CREATE", "ALTER", "DROP", "LOCK", "SET", "SHOW"
])

/**
 * The operation label of a statement: its first keyword when it is a known one, else `OTHER`, so the
 * label stays bounded whatever SQL runs.
 *
 * @since 0.1.0
 */
export const operationOf = (sql: string): string => {
  // A scan of the first word rather than a regex or a lookup keyed by the text: it runs for every
  // statement, and statement texts are long.
  let at = 0
  while (at < sql.length && (sql.charCodeAt(at) <= 32 || sql[at] === "(")) at++
  let end = at
  while (end < sql.length && end - at <= 9 && isLetter(sql.charCodeAt(end))) end++
  const keyword = sql.slice(at, end).toUpperCase()
  return operations.has(keyword) ? keyword : "OTHER"
}

const isLetter = (code: number): boolean => (code >= 65 && code <= 90) || (code >= 97 && code <= 122)

// One metric object per series (attributes given at construction), so an update never re-derives the
// series key, as `Metric.withAttributes` over one shared metric would when updates alternate series.
const bound = new Map<string, Metric.Metric<number, unknown>>()

/**
 * Records one statement. Label sets are few (operations × outcomes), so their metrics are cached.
 *
 * @since 0.1.0
 */
export const recordStatement = (
  operation: string,
  outcome: "success" | "error",
  seconds: number,
  context: Context.Context<never>
): void => {
  const key = `${operation}|${outcome}`
  let metric = bound.get(key)
  if (metric === undefined) {
    metric = Metric.histogram("db_client_operation_duration_seconds", { ...queryDurationOptions, attributes: { operation, outcome } })
    bound.set(key, metric)
  }
  metric.updateUnsafe(seconds, context)
}

const committed = Metric.histogram("db_client_transaction_duration_seconds", {
  ...transactionDurationOptions,
  attributes: { outcome: "commit" }
})
const rolledBack = Metric.histogram("db_client_transaction_duration_seconds", {
  ...transactionDurationOptions,
  attributes: { outcome: "rollback" }
})

/**
 * Records one transaction.
 *
 * @since 0.1.0
 */
export const recordTransaction = (
  outcome: "commit" | "rollback",
  seconds: number,
  context: Context.Context<never>
): void => (outcome === "commit" ? committed : rolledBack).updateUnsafe(seconds, context)

/**
 * Adds `application_name` to a PostgreSQL URL (unless it has one) so this process's connections can be
 * found in `pg_stat_activity`.
 *
 * @since 0.1.0
 */
export const withApplicationName = (url: Redacted.Redacted<string>, name: string): Redacted.Redacted<string> => {
  try {
    const parsed = new URL(Redacted.value(url))
    if (parsed.searchParams.has("application_name")) return url
    parsed.searchParams.set("application_name", name)
    return Redacted.make(parsed.toString())
  } catch {
    return url
  }
}

/**
 * The `application_name` of this process: unique per process, so that several servers on one database
 * each report their own pool.
 *
 * @since 0.1.0
 */
export const applicationName = (pid: number): string => `live-events-${pid}`

const used = Metric.withAttributes(poolConnections, { state: "used" })
const idle = Metric.withAttributes(poolConnections, { state: "idle" })

/**
 * Samples pool occupancy every `interval` while the layer lives. A failed sample counts an error and
 * is tried again at the next tick (the database may be down; that is what the other alerts are for).
 *
 * @since 0.1.0
 */
export const layerPoolSampler = (options: {
  readonly applicationName: string
  readonly maxConnections: number
  readonly interval: Duration.Input
}): Layer.Layer<never, never, SqlClient.SqlClient> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* Metric.update(poolMax, options.maxConnections)
    const sample = sql<{ readonly used: number; readonly idle: number }>`
      SELECT count(*) FILTER (WHERE state IN ('active', 'idle in transaction', 'idle in transaction (aborted)'))::int AS used,
             count(*) FILTER (WHERE state = 'idle')::int AS idle
      FROM pg_stat_activity
      WHERE application_name = ${options.applicationName} AND pid <> pg_backend_pid()`.pipe(
      Effect.flatMap(([row]) =>
        Effect.andThen(
          Metric.update(used, row?.used ?? 0),
          // The sampler's own connection is busy right now, but it is an idle pool member otherwise.
          Metric.update(idle, (row?.idle ?? 0) + 1)
        )
      ),
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.andThen(Metric.update(poolSampleErrors, 1), Effect.logDebug("Pool sample failed"))
      ),
      Effect.withTracerEnabled(false)
    )
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(options.interval)))
  }))
