/**
 * Outbox rows that ride along the next write of their transaction instead of costing a statement of
 * their own.
 *
 * A unit of work on PostgreSQL opens a {@link Pending} buffer for its transaction. The outbox writer
 * puts the rows of `record` into it; the registration repository's set-based write (`applyMany`)
 * takes them into its own statement as one more data-modifying CTE; whatever is still pending when the
 * unit of work's effect ends is inserted in one statement before COMMIT. Either way the rows are
 * written inside the transaction that decided them, so "committed" and "in the outbox" stay one
 * atomic fact; only the number of round trips changes (a registration batch: one statement fewer
 * while its events are locked).
 *
 * Outside a unit of work there is no buffer and the writer inserts at once.
 *
 * @since 0.3.0
 */
import type { DomainEvent } from "@live-events/domain"
import { Context, Effect } from "effect"
import type { SqlClient, SqlError, Statement } from "effect/sql"

/** One outbox row as the insert reads it from JSON. @since 0.3.0 */
export interface OutboxRow {
  readonly n: number
  readonly id: string
  readonly aggregate_id: string
  readonly type: string
  readonly schema_version: number
  readonly occurred_at: string
  readonly payload: DomainEvent.DomainEvent
  readonly traceparent: string | null
}

/** The rows recorded in the current transaction and not written yet. @since 0.3.0 */
export interface Pending {
  readonly rows: Array<OutboxRow>
  /** The channel to `pg_notify` when the rows are written (PostgreSQL), if any. */
  channel: string | undefined
}

/**
 * The current transaction's buffer; `undefined` outside a unit of work.
 *
 * @since 0.3.0
 */
export const CurrentPending = Context.Reference<Pending | undefined>("@live-events/sql/PendingOutbox", {
  defaultValue: () => undefined
})

/** @since 0.3.0 */
export const empty = (): Pending => ({ rows: [], channel: undefined })

/** Rows for `events`, numbered after the rows already pending so that `position` keeps plan order. @since 0.3.0 */
export const rowsOf = (
  events: ReadonlyArray<DomainEvent.DomainEvent>,
  traceparent: string | null,
  first = 0
): Array<OutboxRow> =>
  events.map((event, i) => ({
    n: first + i,
    id: event.id,
    aggregate_id: event.aggregateId,
    type: event.type,
    schema_version: event.version,
    occurred_at: event.occurredAt.toISOString(),
    payload: event,
    traceparent
  }))

/**
 * The insert of `rows` (`n` orders them, so `position` — the relay's per-aggregate order — follows the
 * plan), usable alone or as a CTE.
 *
 * @since 0.3.0
 */
export const insert = (sql: SqlClient.SqlClient, rows: ReadonlyArray<OutboxRow>): Statement.Statement<unknown> =>
  sql`INSERT INTO outbox (id, aggregate_id, type, schema_version, occurred_at, payload, traceparent)
    SELECT m.id, m.aggregate_id, m.type, m.schema_version, m.occurred_at, m.payload, m.traceparent
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS m(id uuid, aggregate_id uuid, type text, schema_version int, occurred_at timestamptz, payload jsonb,
        traceparent text, n int)
    ORDER BY m.n`

/**
 * The insert as one statement, with the channel's notification queued in it (delivered on commit,
 * so relays listening on the channel wake at once).
 *
 * @since 0.3.0
 */
export const insertStatement = (
  sql: SqlClient.SqlClient,
  rows: ReadonlyArray<OutboxRow>,
  channel: string | undefined
): Statement.Statement<unknown> =>
  channel === undefined ? insert(sql, rows) : sql`WITH inserted AS (${insert(sql, rows)} RETURNING 1)
    SELECT pg_notify(${channel}, '') FROM (SELECT count(*) FROM inserted) AS c`

/**
 * Takes the pending rows for a statement that writes them itself (clearing the buffer), or
 * `undefined` when there are none.
 *
 * @since 0.3.0
 */
export const take = (pending: Pending | undefined): { readonly rows: ReadonlyArray<OutboxRow>; readonly channel: string | undefined } | undefined => {
  if (pending === undefined || pending.rows.length === 0) return undefined
  return { rows: pending.rows.splice(0), channel: pending.channel }
}

/**
 * Runs `effect` with a buffer of its own, then writes what is still pending, in the same transaction
 * (the caller runs this inside it).
 *
 * @since 0.3.0
 */
export const within = <A, E, R>(
  sql: SqlClient.SqlClient,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError.SqlError, R> =>
  Effect.suspend(() => {
    const pending = empty()
    return Effect.tap(Effect.provideService(effect, CurrentPending, pending), () => {
      const left = take(pending)
      return left === undefined ? Effect.void : insertStatement(sql, left.rows, left.channel)
    })
  })
