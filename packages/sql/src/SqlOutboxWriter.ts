/**
 * `OutboxWriter` on PostgreSQL: the messages of a unit of work in one insert, inside its transaction.
 *
 * Each row also stores the W3C `traceparent` of the span that recorded it (the use-case's, inside the
 * request's trace), so the relay can hand it on to the broker and a registration can be followed from
 * the HTTP request to its published event. No current span: `NULL`.
 *
 * @since 0.1.0
 */
import { type DomainEvent, OutboxWriter } from "@live-events/domain"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { mapSqlError } from "./SqlFailure.ts"

/**
 * The W3C `traceparent` (`00-<trace id>-<span id>-<flags>`) of the current span, if any.
 *
 * @since 0.1.0
 */
export const currentTraceparent: Effect.Effect<string | null> = Effect.map(
  Effect.option(Effect.currentParentSpan),
  Option.match({
    onNone: () => null,
    onSome: (span) => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  })
)

/** @since 0.1.0 */
export interface Options {
  /**
   * PostgreSQL only (PGlite has no `LISTEN/NOTIFY`): `pg_notify(channel, '')` in the insert's statement,
   * so the notification is delivered on commit and relays listening on the channel wake at once.
   */
  readonly notifyChannel?: string | undefined
}

/** @since 0.1.0 */
export const makeWith = (
  options: Options = {}
): Effect.Effect<OutboxWriter.OutboxWriter["Service"], never, SqlClient.SqlClient> => Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const record = (events: ReadonlyArray<DomainEvent.DomainEvent>) => {
      if (events.length === 0) return Effect.void
      return Effect.flatMap(currentTraceparent, (traceparent) => insert(events, traceparent))
    }
    const insert = (events: ReadonlyArray<DomainEvent.DomainEvent>, traceparent: string | null) => {
      const rows = events.map((event, n) => ({
        n,
        id: event.id,
        aggregate_id: event.aggregateId,
        type: event.type,
        schema_version: event.version,
        occurred_at: event.occurredAt.toISOString(),
        payload: event,
        traceparent
      }))
      // `n` keeps the plan's order in `position`, the relay's per-aggregate order.
      const insert = sql`INSERT INTO outbox (id, aggregate_id, type, schema_version, occurred_at, payload, traceparent)
        SELECT m.id, m.aggregate_id, m.type, m.schema_version, m.occurred_at, m.payload, m.traceparent
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          AS m(id uuid, aggregate_id uuid, type text, schema_version int, occurred_at timestamptz, payload jsonb,
            traceparent text, n int)
        ORDER BY m.n`
      // One statement, no extra round trip: the notification is queued in the same transaction.
      const statement = options.notifyChannel === undefined ? insert : sql`WITH inserted AS (${insert} RETURNING 1)
        SELECT pg_notify(${options.notifyChannel}, '') FROM (SELECT count(*) FROM inserted) AS c`
      return statement.pipe(Effect.asVoid, mapSqlError("OutboxWriter.record"))
    }
    return OutboxWriter.OutboxWriter.of({ record })
  }
)

/** Without notifications. @since 0.1.0 */
export const make: Effect.Effect<OutboxWriter.OutboxWriter["Service"], never, SqlClient.SqlClient> = makeWith()

/** @since 0.1.0 */
export const layer = Layer.effect(OutboxWriter.OutboxWriter, make)

/** Notifies `channel` on commit of every insert (PostgreSQL only). @since 0.1.0 */
export const layerNotify = (channel: string) => Layer.effect(OutboxWriter.OutboxWriter, makeWith({ notifyChannel: channel }))
