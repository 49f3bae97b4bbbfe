/**
 * The invariants I1–I4 checked by SQL on a database's state. Returns human-readable violations; an
 * empty list means every invariant holds for every event.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export const checkInvariants = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const violations: Array<string> = []
  const rows = yield* sql<{
    id: string
    capacity: number
    confirmed_count: number
    waitlist_count: number
    seated: number
    waiting: number
  }>`SELECT e.id, e.capacity, e.confirmed_count, e.waitlist_count,
      count(*) FILTER (WHERE r.status IN ('confirmed', 'attended', 'no_show'))::int AS seated,
      count(*) FILTER (WHERE r.status = 'waitlisted')::int AS waiting
    FROM events e LEFT JOIN registrations r ON r.event_id = e.id GROUP BY e.id`
  for (const e of rows) {
    if (e.seated > e.capacity) violations.push(`I1: event ${e.id} seats ${e.seated} > capacity ${e.capacity}`)
    if (e.seated !== e.confirmed_count) violations.push(`counter: event ${e.id} confirmed_count ${e.confirmed_count} ≠ ${e.seated}`)
    if (e.waiting !== e.waitlist_count) violations.push(`counter: event ${e.id} waitlist_count ${e.waitlist_count} ≠ ${e.waiting}`)
    if (e.seated < e.capacity && e.waiting > 0) violations.push(`I4: event ${e.id} has a free seat while ${e.waiting} wait`)
  }
  const duplicates = yield* sql<{ event_id: string; user_id: string; n: number }>`
    SELECT event_id, user_id, count(*)::int AS n FROM registrations
    WHERE status IN ('confirmed', 'waitlisted') GROUP BY event_id, user_id HAVING count(*) > 1`
  for (const d of duplicates) violations.push(`I2: user ${d.user_id} has ${d.n} active registrations on ${d.event_id}`)
  // Positions are ranks of join order; they are contiguous iff join orders are present and distinct.
  const queue = yield* sql<{ event_id: string; missing: number; distinct_seq: number; waiting: number }>`
    SELECT event_id, count(*) FILTER (WHERE waitlist_seq IS NULL)::int AS missing,
      count(DISTINCT waitlist_seq)::int AS distinct_seq, count(*)::int AS waiting
    FROM registrations WHERE status = 'waitlisted' GROUP BY event_id`
  for (const q of queue) {
    if (q.missing > 0 || q.distinct_seq !== q.waiting) violations.push(`I3: event ${q.event_id} has ambiguous queue order`)
  }
  const buckets = yield* sql<{ event_id: string; bucket: string }>`
    SELECT coalesce(b.event_id, w.event_id) AS event_id, coalesce(b.bucket, w.bucket)::text AS bucket
    FROM waitlist_buckets b
    FULL JOIN (SELECT event_id, waitlist_seq >> 8 AS bucket, count(*)::int AS waiting FROM registrations
      WHERE status = 'waitlisted' GROUP BY 1, 2) w ON w.event_id = b.event_id AND w.bucket = b.bucket
    WHERE coalesce(b.waiting, 0) <> coalesce(w.waiting, 0)`
  for (const b of buckets) violations.push(`I3: event ${b.event_id} bucket ${b.bucket} count is off`)
  return violations
})
