/**
 * `EventRepository` on PostgreSQL. `lock` is `SELECT … FOR UPDATE` on the event row: one round trip,
 * and after waiting PostgreSQL re-reads the row, so the counters seen under the lock are current.
 *
 * @since 0.1.0
 */
import { type Event, EventRepository, Page } from "@live-events/domain"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { eventColumns, type EventRow, toEvent } from "./Rows.ts"
import { mapSqlError } from "./SqlFailure.ts"

/** @since 0.1.0 */
export const make: Effect.Effect<EventRepository.EventRepository["Service"], never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const one = (rows: ReadonlyArray<EventRow>) => Option.map(Option.fromNullishOr(rows[0]), toEvent)

  const insert = (event: Event.Event) =>
    sql`INSERT INTO events (id, organizer_id, title, description, starts_at, ends_at, time_zone, location, capacity,
        waitlist_enabled, waitlist_limit, registration_closes_at, status, confirmed_count, waitlist_count, version,
        created_at, updated_at)
      VALUES (${event.id}, ${event.organizerId}, ${event.title}, ${event.description}, ${event.startsAt},
        ${event.endsAt}, ${event.timeZone}, ${event.location}, ${event.capacity}, ${event.waitlist.enabled},
        ${event.waitlist.limit}, ${event.registrationClosesAt}, ${event.status}, ${event.confirmedCount},
        ${event.waitlistCount}, ${event.version}, ${event.createdAt}, ${event.updatedAt})`.pipe(
      Effect.asVoid,
      mapSqlError("EventRepository.insert")
    )

  const update = (event: Event.Event) =>
    sql<EventRow>`UPDATE events e SET title = ${event.title}, description = ${event.description},
        starts_at = ${event.startsAt}, ends_at = ${event.endsAt}, time_zone = ${event.timeZone},
        location = ${event.location}, capacity = ${event.capacity}, waitlist_enabled = ${event.waitlist.enabled},
        waitlist_limit = ${event.waitlist.limit}, registration_closes_at = ${event.registrationClosesAt},
        status = ${event.status}, version = e.version + 1, updated_at = ${event.updatedAt}
      WHERE e.id = ${event.id}
      RETURNING ${sql.literal(eventColumns)}`.pipe(
      Effect.map((rows) => toEvent(rows[0]!)),
      mapSqlError("EventRepository.update")
    )

  const remove = (id: string) =>
    sql`DELETE FROM events WHERE id = ${id}`.pipe(Effect.asVoid, mapSqlError("EventRepository.delete"))

  const findById = (id: string) =>
    sql<EventRow>`SELECT ${sql.literal(eventColumns)} FROM events e WHERE e.id = ${id}`.pipe(
      Effect.map(one),
      mapSqlError("EventRepository.findById")
    )

  const lock = (id: string) =>
    sql<EventRow>`SELECT ${sql.literal(eventColumns)} FROM events e WHERE e.id = ${id} FOR UPDATE`.pipe(
      Effect.map(one),
      mapSqlError("EventRepository.lock")
    )

  const list = Effect.fnUntraced(function*(query: Event.EventQuery) {
    const after = query.cursor === undefined ? undefined : yield* Page.decodeCursor(query.cursor, ["number", "uuid"])
    const conditions = [
      sql`e.status IN ${sql.in(query.statuses)}`,
      ...(query.from ? [sql`e.starts_at >= ${query.from}`] : []),
      ...(query.to ? [sql`e.starts_at < ${query.to}`] : []),
      ...(query.organizerId ? [sql`e.organizer_id = ${query.organizerId}`] : []),
      ...(query.q
        ? [sql`(e.title ILIKE ${"%" + escapeLike(query.q) + "%"} OR e.location ILIKE ${"%" + escapeLike(query.q) + "%"})`]
        : []),
      ...(after ? [sql`(e.starts_at, e.id) > (${new Date(Number(after[0]))}, ${String(after[1])}::uuid)`] : [])
    ]
    return yield* sql<EventRow>`SELECT ${sql.literal(eventColumns)} FROM events e WHERE ${sql.and(conditions)}
      ORDER BY e.starts_at, e.id LIMIT ${query.limit + 1}`.pipe(
      Effect.map((rows): Page.Page<Event.Event> => {
        const items = rows.slice(0, query.limit).map(toEvent)
        const last = items[items.length - 1]
        return {
          items,
          nextCursor: rows.length > query.limit && last ? Page.encodeCursor([last.startsAt.getTime(), last.id]) : null
        }
      }),
      mapSqlError("EventRepository.list")
    )
  })

  return EventRepository.EventRepository.of({ insert, update, delete: remove, findById, lock, list })
})

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`)

/** @since 0.1.0 */
export const layer = Layer.effect(EventRepository.EventRepository, make)
