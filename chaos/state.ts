/**
 * The final state a chaos run checks: the rows (read straight from PostgreSQL once the servers are
 * stopped) and what the API serves for each event once traffic has stopped.
 */
import pg from "pg"
import { requestJson } from "../bench/lib/http.ts"
import type { ApiView, CheckInput, RequestRecord } from "./checker.ts"

/** Reads each event's counts and whole waitlist through the API, in small pages to exercise the cursor. */
export const readApiViews = async (slots: ReadonlyArray<{ readonly port: number; readonly up: boolean }>, events: ReadonlyArray<string>, organizer: string): Promise<Array<ApiView>> => {
  const views: Array<ApiView> = []
  for (const [i, eventId] of events.entries()) {
    const slot = slots.filter((s) => s.up)[i % Math.max(1, slots.filter((s) => s.up).length)]
    if (slot === undefined) break
    const details = await requestJson(slot.port, "GET", `/v1/events/${eventId}`, { token: organizer })
    let waitlist: Array<{ id: string; position: number | null }> | null = []
    let cursor: string | null = null
    for (let page = 0; page < 1000; page++) {
      const query: string = cursor === null ? "?limit=7" : `?limit=7&cursor=${encodeURIComponent(cursor)}`
      const answer = await requestJson(slot.port, "GET", `/v1/events/${eventId}/waitlist${query}`, { token: organizer })
      if (answer.status !== 200 || !Array.isArray(answer.body?.items)) {
        waitlist = null
        break
      }
      for (const item of answer.body.items) waitlist.push({ id: item.id, position: item.waitlistPosition ?? null })
      cursor = typeof answer.body.nextCursor === "string" ? answer.body.nextCursor : null
      if (cursor === null) break
    }
    views.push({
      eventId,
      confirmedCount: details.status === 200 && typeof details.body?.confirmedCount === "number" ? details.body.confirmedCount : null,
      waitlistCount: details.status === 200 && typeof details.body?.waitlistCount === "number" ? details.body.waitlistCount : null,
      waitlist
    })
  }
  return views
}

export const readState = async (databaseUrl: string, server: "ours" | "baseline", requests: ReadonlyArray<RequestRecord>): Promise<CheckInput> => {
  const client = new pg.Client({ connectionString: databaseUrl, options: "-c search_path=live_events" })
  await client.connect()
  try {
    const number = (value: unknown) => (value === null || value === undefined ? null : Number(value))
    const time = (value: unknown) => (value instanceof Date ? value.getTime() : null)
    if (server === "ours") {
      const events = await client.query("SELECT id, capacity, confirmed_count, waitlist_count FROM events")
      const registrations = await client.query(
        `SELECT r.id, r.event_id, u.subject, r.status, r.waitlist_seq, r.confirmed_at
         FROM registrations r JOIN users u ON u.id = r.user_id`
      )
      const outbox = await client.query("SELECT type, aggregate_id, payload FROM outbox ORDER BY position")
      return {
        events: events.rows.map((r) => ({ id: r.id, capacity: r.capacity, confirmedCount: r.confirmed_count, waitlistCount: r.waitlist_count })),
        registrations: registrations.rows.map((r) => ({
          id: r.id, eventId: r.event_id, userKey: r.subject, status: r.status, waitlistSeq: number(r.waitlist_seq), confirmedAt: time(r.confirmed_at)
        })),
        requests,
        outbox: outbox.rows.map((r) => ({ type: r.type, aggregateId: r.aggregate_id, payload: r.payload }))
      }
    }
    const events = await client.query("SELECT id, capacity FROM baseline.events")
    const registrations = await client.query(
      `SELECT r.id, r.event_id, u.subject, r.status, r.waitlist_position, r.confirmed_at
       FROM baseline.registrations r JOIN baseline.users u ON u.id = r.user_id`
    )
    const outbox = await client.query("SELECT type, aggregate_id, payload FROM baseline.outbox ORDER BY position")
    return {
      events: events.rows.map((r) => ({ id: r.id, capacity: r.capacity, confirmedCount: null, waitlistCount: null })),
      registrations: registrations.rows.map((r) => ({
        id: r.id, eventId: r.event_id, userKey: r.subject, status: r.status, waitlistSeq: null,
        waitlistPosition: number(r.waitlist_position), confirmedAt: time(r.confirmed_at)
      })),
      requests,
      outbox: outbox.rows.map((r) => ({ type: r.type, aggregateId: r.aggregate_id, payload: r.payload }))
    }
  } finally {
    await client.end()
  }
}
