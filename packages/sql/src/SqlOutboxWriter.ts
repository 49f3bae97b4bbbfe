/**
 * `OutboxWriter` on PostgreSQL: the messages of a unit of work in one insert, inside its transaction —
 * within a unit of work, as part of its next write statement (see `PendingOutbox`).
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
import * as PendingOutbox from "./PendingOutbox.ts"
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
      return Effect.flatMap(currentTraceparent, (traceparent) =>
        Effect.flatMap(Effect.service(PendingOutbox.CurrentPending), (pending) => {
          // Inside a unit of work: the rows ride along the transaction's next write (see PendingOutbox).
          if (pending !== undefined) {
            pending.rows.push(...PendingOutbox.rowsOf(events, traceparent, pending.rows.length))
            pending.channel = options.notifyChannel
            return Effect.void
          }
          return PendingOutbox.insertStatement(sql, PendingOutbox.rowsOf(events, traceparent), options.notifyChannel).pipe(
            Effect.asVoid,
            mapSqlError("OutboxWriter.record")
          )
        }))
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
