/**
 * `OutboxWriter` on PostgreSQL: the messages of a unit of work in one insert, inside its transaction.
 *
 * @since 0.1.0
 */
import { type DomainEvent, OutboxWriter } from "@live-events/domain"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { mapSqlError } from "./SqlFailure.ts"

/** @since 0.1.0 */
export const make: Effect.Effect<OutboxWriter.OutboxWriter["Service"], never, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const record = (events: ReadonlyArray<DomainEvent.DomainEvent>) => {
      if (events.length === 0) return Effect.void
      const rows = events.map((event, n) => ({
        n,
        id: event.id,
        aggregate_id: event.aggregateId,
        type: event.type,
        schema_version: event.version,
        occurred_at: event.occurredAt.toISOString(),
        payload: event
      }))
      // `n` keeps the plan's order in `position`, the relay's per-aggregate order.
      return sql`INSERT INTO outbox (id, aggregate_id, type, schema_version, occurred_at, payload)
        SELECT m.id, m.aggregate_id, m.type, m.schema_version, m.occurred_at, m.payload
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          AS m(id uuid, aggregate_id uuid, type text, schema_version int, occurred_at timestamptz, payload jsonb, n int)
        ORDER BY m.n`.pipe(Effect.asVoid, mapSqlError("OutboxWriter.record"))
    }
    return OutboxWriter.OutboxWriter.of({ record })
  }
)

/** @since 0.1.0 */
export const layer = Layer.effect(OutboxWriter.OutboxWriter, make)
