/**
 * `RegistrationRepository` on PostgreSQL.
 *
 * The waitlist is stored as join order (`waitlist_seq`); positions are ranks computed on read, so a
 * cancel touches one row however long the queue is. `applyMany` writes all of a batch's inserts and
 * transitions *and* the events' counters in one statement (data-modifying CTEs over a JSON batch),
 * which keeps the hot path at one round trip per batch of writes.
 *
 * Notes are sealed under their owner's data key (`FieldSealing.ts`). The lock statements that precede
 * every write already read the users' rows: they read the wrapped data keys with them, so sealing the
 * notes of a batch costs no round trip either.
 *
 * @since 0.1.0
 */
import { type Event, type Ids, Page, type Registration, RegistrationRepository } from "@live-events/domain"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import * as BatchLocks from "./BatchLocks.ts"
import * as FieldSealing from "./FieldSealing.ts"
import * as OwnerKeys from "./OwnerKeys.ts"
import * as PendingOutbox from "./PendingOutbox.ts"
import type * as Keys from "./PersonalDataKeys.ts"
import {
  BUCKET_BITS,
  eventColumns,
  type EventRow,
  registrationColumns,
  registrationKeyColumns,
  type RegistrationRow,
  toEvent
} from "./Rows.ts"
import { mapSqlError } from "./SqlFailure.ts"


const holdsSeat = (status: Registration.RegistrationStatus) =>
  status === "confirmed" || status === "attended" || status === "no_show"

/** Counter deltas implied by a batch of changes: the domain never computes counters itself. */
const counterDeltas = (changes: ReadonlyArray<Registration.RegistrationChange>) => {
  let seats = 0
  let waiting = 0
  for (const change of changes) {
    const from = change._tag === "Insert" ? undefined : change.registration.status
    const to = change._tag === "Insert" ? change.registration.status : change.to
    seats += (holdsSeat(to) ? 1 : 0) - (from !== undefined && holdsSeat(from) ? 1 : 0)
    waiting += (to === "waitlisted" ? 1 : 0) - (from === "waitlisted" ? 1 : 0)
  }
  return { seats, waiting }
}

/** @since 0.1.0 */
export const make: Effect.Effect<
  RegistrationRepository.RegistrationRepository["Service"],
  never,
  SqlClient.SqlClient | Keys.PersonalDataKeys
> =
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sealing = yield* FieldSealing.fromContext
    const toRegistration = sealing.openRegistration
    const columns = sql.literal(registrationColumns)
    const keyColumns = sql.literal(registrationKeyColumns)

    const ownerKeys = OwnerKeys.make(sql, sealing)
    const userKeyColumn = OwnerKeys.userKeyColumn

    /**
     * Lock and read in one round trip. After waiting for the lock, PostgreSQL hands back the newest event
     * row, but the joined registration was read from the statement's older snapshot. `seen_version` (the
     * event's version in that snapshot) tells whether anything changed in between: every registration
     * write bumps the event's version under this lock. Only then is the active registration read again,
     * by a new statement that sees the committed change.
     */
    // The user's row is share-locked too: an erase (which updates it) waits for this unit of work, and a
    // unit of work that starts after the erase sees `erased_at` once the erase commits.
    const lockForRegistration = (eventId: string, userId: string) =>
      sql<
        EventRow & {
          readonly active_id: string | null
          readonly seen_version: number | null
          readonly user_erased: boolean | null
          readonly user_key: string | null
        }
      >`
        SELECT ${sql.literal(eventColumns)}, r.id AS active_id,
          (SELECT s.version FROM events s WHERE s.id = ${eventId}) AS seen_version,
          u.erased_at IS NOT NULL AS user_erased, ${sql.literal(userKeyColumn)} AS user_key
        FROM events e
        CROSS JOIN users u
        LEFT JOIN registrations r
          ON r.event_id = e.id AND r.user_id = ${userId} AND r.status IN ('confirmed', 'waitlisted')
        WHERE e.id = ${eventId} AND u.id = ${userId}
        FOR UPDATE OF e FOR SHARE OF u`.pipe(
        Effect.flatMap((rows) => {
          const row = rows[0]
          if (row === undefined) return Effect.succeed(Option.none())
          ownerKeys.remember(userId, row.user_key)
          const event: Event.Event = toEvent(row)
          const userErased = row.user_erased === true
          const stale = row.seen_version !== row.version
          if (!stale && row.active_id === null) return Effect.succeed(Option.some({ event, active: undefined, userErased }))
          const active = stale
            ? sql<RegistrationRow>`SELECT ${columns} FROM registrations r
                WHERE r.event_id = ${eventId} AND r.user_id = ${userId} AND r.status IN ('confirmed', 'waitlisted')`.pipe(
              Effect.map((found) => Option.map(Option.fromNullishOr(found[0]), toRegistration))
            )
            : findById(row.active_id!)
          return Effect.map(active, (found) => Option.some({ event, active: Option.getOrUndefined(found), userErased }))
        }),
        mapSqlError("RegistrationRepository.lockForRegistration")
      )

    const findById = (id: string) =>
      sql<RegistrationRow>`SELECT ${columns} FROM registrations r WHERE r.id = ${id}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), toRegistration))
      )

    const waitlistHead = (eventId: string, count: number) =>
      count <= 0 ? Effect.succeed([]) : sql<RegistrationRow>`
        SELECT r.id, r.event_id, r.user_id, r.status, r.waitlist_seq, r.notes, r.created_at, r.updated_at,
          r.confirmed_at, r.cancelled_at, ${keyColumns}, (row_number() OVER (ORDER BY r.waitlist_seq))::int AS waitlist_position
        FROM registrations r
        WHERE r.event_id = ${eventId} AND r.status = 'waitlisted'
        ORDER BY r.waitlist_seq
        LIMIT ${count}`.pipe(
        Effect.map((rows) => rows.map(toRegistration)),
        mapSqlError("RegistrationRepository.waitlistHead")
      )

    const listActive = (eventId: string) =>
      sql<RegistrationRow>`SELECT ${columns} FROM registrations r
        WHERE r.event_id = ${eventId} AND r.status IN ('confirmed', 'waitlisted')
        ORDER BY r.created_at, r.id`.pipe(
        Effect.map((rows) => rows.map(toRegistration)),
        mapSqlError("RegistrationRepository.listActive")
      )

    const { lockForCancellations, lockForRegistrations, provisionAndLockForRegistrations } = BatchLocks.make(
      sql,
      sealing,
      ownerKeys,
      toRegistration
    )

    /**
     * All of a batch's inserts and transitions, the waitlist buckets and every event's counters in
     * one statement (data-modifying CTEs over JSON arrays): one round trip per batch, whatever its
     * size and however many events it touches. Insert rows are listed in plan order, so waitlist_seq
     * (join order) follows it.
     */
    const applyMany = (batch: ReadonlyArray<{ readonly eventId: string; readonly changes: ReadonlyArray<Registration.RegistrationChange> }>) => {
      const inserts: Array<{ n: number; id: string; event_id: string; user_id: string; status: string; notes: string; notes_sealed: boolean; at: string }> = []
      const transitions = new Map<string, {
        readonly id: string
        readonly event_id: string
        readonly from_status: string
        readonly to_status: string
        readonly at: string
        readonly confirmed_at: string | null
        readonly cancelled_at: string | null
      }>()
      const deltas: Array<unknown> = []
      for (const { changes, eventId } of batch) {
        if (changes.length === 0) continue
        let at = new Date(0)
        for (const change of changes) {
          if (change._tag === "Insert") {
            const registration = change.registration
            inserts.push({
              n: inserts.length,
              id: registration.id,
              event_id: eventId,
              user_id: registration.userId,
              status: registration.status,
              notes: registration.notes,
              notes_sealed: false,
              at: registration.createdAt.toISOString()
            })
            if (registration.createdAt > at) at = registration.createdAt
          } else {
            // A registration changed twice in one batch (promoted, then cancelled) is one row update:
            // from its first status to its last, with every timestamp the steps set.
            const earlier = transitions.get(change.registration.id)
            const stamp = change.at.toISOString()
            transitions.set(change.registration.id, {
              id: change.registration.id,
              event_id: eventId,
              from_status: earlier?.from_status ?? change.registration.status,
              to_status: change.to,
              at: stamp,
              confirmed_at: change.to === "confirmed" ? stamp : earlier?.confirmed_at ?? null,
              cancelled_at: change.to === "cancelled" ? stamp : earlier?.cancelled_at ?? null
            })
            if (change.at > at) at = change.at
          }
        }
        deltas.push({ event_id: eventId, ...counterDeltas(changes), at: at.toISOString() })
      }
      if (deltas.length === 0) return Effect.void
      // Empty notes say nothing about anyone and stay empty; the others are sealed under the owner's key.
      const withNotes = sealing.enabled ? inserts.filter((insert) => insert.notes !== "") : []
      const sealed = Effect.flatMap(ownerKeys.load(withNotes.map((insert) => insert.user_id)), () => {
        const owned = withNotes.filter((insert) => ownerKeys.get(insert.user_id) !== undefined)
        return Effect.map(
          sealing.sealNotesMany(owned.map((insert) => ({ registrationId: insert.id, ownerKey: ownerKeys.get(insert.user_id)!, notes: insert.notes }))),
          (notes) =>
            owned.forEach((insert, i) => {
              insert.notes = notes[i]!
              insert.notes_sealed = true
            })
        )
      })
      const write = (outbox: ReturnType<typeof PendingOutbox.take>) => sql`
        WITH inserted AS (
          INSERT INTO registrations (id, event_id, user_id, status, waitlist_seq, notes, notes_sealed, created_at,
            updated_at, confirmed_at)
          SELECT c.id, c.event_id, c.user_id, c.status,
            CASE WHEN c.status = 'waitlisted' THEN nextval('registration_join_seq') END,
            c.notes, c.notes_sealed, c.at, c.at, CASE WHEN c.status = 'confirmed' THEN c.at END
          FROM jsonb_to_recordset(${JSON.stringify(inserts)}::jsonb)
            AS c(id uuid, event_id uuid, user_id uuid, status text, notes text, notes_sealed boolean, at timestamptz,
              n int)
          ORDER BY c.n
          RETURNING event_id, waitlist_seq
        ), joined AS (
          INSERT INTO waitlist_buckets (event_id, bucket, waiting)
          SELECT event_id, waitlist_seq >> ${sql.literal(String(BUCKET_BITS))}, count(*) FROM inserted
          WHERE waitlist_seq IS NOT NULL GROUP BY 1, 2
          ON CONFLICT (event_id, bucket) DO UPDATE SET waiting = waitlist_buckets.waiting + EXCLUDED.waiting
          RETURNING 1
        ), transitioned AS (
          UPDATE registrations r SET status = c.to_status, updated_at = c.at,
            confirmed_at = coalesce(c.confirmed_at, r.confirmed_at),
            cancelled_at = coalesce(c.cancelled_at, r.cancelled_at)
          FROM jsonb_to_recordset(${JSON.stringify([...transitions.values()])}::jsonb)
            AS c(id uuid, event_id uuid, from_status text, to_status text, at timestamptz, confirmed_at timestamptz,
              cancelled_at timestamptz)
          WHERE r.id = c.id AND r.event_id = c.event_id
          RETURNING r.event_id, r.waitlist_seq, c.from_status, c.to_status
        ), left_queue AS (
          UPDATE waitlist_buckets b SET waiting = b.waiting - x.leaving
          FROM (
            SELECT event_id, waitlist_seq >> ${sql.literal(String(BUCKET_BITS))} AS bucket, count(*) AS leaving
            FROM transitioned WHERE from_status = 'waitlisted' AND to_status <> 'waitlisted' GROUP BY 1, 2
          ) x
          WHERE b.event_id = x.event_id AND b.bucket = x.bucket
          RETURNING 1
        )${outbox === undefined ? sql`` : sql`, outboxed AS (${PendingOutbox.insert(sql, outbox.rows)} RETURNING 1)`}${
        outbox?.channel === undefined ? sql`` : sql`, notified AS (
          SELECT pg_notify(${outbox.channel}, '') FROM (SELECT count(*) FROM outboxed) AS c
        )`}
        UPDATE events e SET confirmed_count = e.confirmed_count + d.seats, waitlist_count = e.waitlist_count + d.waiting,
          version = e.version + 1, updated_at = GREATEST(e.updated_at, d.at)
        FROM jsonb_to_recordset(${JSON.stringify(deltas)}::jsonb) AS d(event_id uuid, seats int, waiting int, at timestamptz)
          ${outbox?.channel === undefined ? sql`` : sql`CROSS JOIN notified`}
        WHERE e.id = d.event_id`
      // The unit of work's outbox rows ride along (see PendingOutbox): one statement fewer per batch.
      return Effect.andThen(withNotes.length === 0 ? Effect.void : sealed, () =>
        Effect.flatMap(Effect.service(PendingOutbox.CurrentPending), (pending) => write(PendingOutbox.take(pending)))).pipe(
          Effect.asVoid,
          mapSqlError("RegistrationRepository.apply")
        )
    }

    const apply = (eventId: string, changes: ReadonlyArray<Registration.RegistrationChange>) =>
      applyMany([{ eventId, changes }])

    const page = (rows: ReadonlyArray<RegistrationRow>, limit: number, key: (row: RegistrationRow) => ReadonlyArray<string | number>) => {
      const items = rows.slice(0, limit)
      const last = items[items.length - 1]
      return {
        items: items.map(toRegistration),
        nextCursor: rows.length > limit && last ? Page.encodeCursor(key(last)) : null
      }
    }
    const byCreation = (row: RegistrationRow) => [row.created_at.getTime(), row.id]

    const listByEvent = Effect.fnUntraced(function*(
      eventId: string,
      request: Page.PageRequest & { readonly status?: Registration.RegistrationStatus | undefined }
    ) {
      const after = request.cursor === undefined ? undefined : yield* Page.decodeCursor(request.cursor, ["number", "uuid"])
      const rows = yield* sql<RegistrationRow>`SELECT ${columns} FROM registrations r
        WHERE r.event_id = ${eventId}
          ${request.status ? sql`AND r.status = ${request.status}` : sql``}
          ${after ? sql`AND (r.created_at, r.id) > (${new Date(Number(after[0]))}, ${String(after[1])}::uuid)` : sql``}
        ORDER BY r.created_at, r.id LIMIT ${request.limit + 1}`.pipe(mapSqlError("RegistrationRepository.listByEvent"))
      return page(rows, request.limit, byCreation)
    })

    const listWaitlist = Effect.fnUntraced(function*(eventId: string, request: Page.PageRequest) {
      const after = request.cursor === undefined ? undefined : yield* Page.decodeCursor(request.cursor, ["number"])
      const afterSeq = after ? Number(after[0]) : 0
      const rows = yield* sql<RegistrationRow>`
        SELECT r.id, r.event_id, r.user_id, r.status, r.waitlist_seq, r.notes, r.created_at, r.updated_at,
          r.confirmed_at, r.cancelled_at, ${keyColumns},
          (${afterSeq === 0 ? sql`0` : sql`(
            (SELECT coalesce(sum(b.waiting), 0) FROM waitlist_buckets b
              WHERE b.event_id = ${eventId} AND b.bucket < (${afterSeq}::bigint >> ${sql.literal(String(BUCKET_BITS))}))
            + (SELECT count(*) FROM registrations w WHERE w.event_id = ${eventId} AND w.status = 'waitlisted'
              AND w.waitlist_seq >= ((${afterSeq}::bigint >> ${sql.literal(String(BUCKET_BITS))}) << ${sql.literal(String(BUCKET_BITS))})
              AND w.waitlist_seq <= ${afterSeq}))`}
            + row_number() OVER (ORDER BY r.waitlist_seq))::int AS waitlist_position
        FROM registrations r
        WHERE r.event_id = ${eventId} AND r.status = 'waitlisted' AND r.waitlist_seq > ${afterSeq}
        ORDER BY r.waitlist_seq LIMIT ${request.limit + 1}`.pipe(mapSqlError("RegistrationRepository.listWaitlist"))
      return page(rows, request.limit, (row) => [Number(row.waitlist_seq)])
    })

    const listByUser = Effect.fnUntraced(function*(userId: string, request: Page.PageRequest) {
      const after = request.cursor === undefined ? undefined : yield* Page.decodeCursor(request.cursor, ["number", "uuid"])
      const rows = yield* sql<RegistrationRow>`SELECT ${columns} FROM registrations r
        WHERE r.user_id = ${userId}
          ${after ? sql`AND (r.created_at, r.id) > (${new Date(Number(after[0]))}, ${String(after[1])}::uuid)` : sql``}
        ORDER BY r.created_at, r.id LIMIT ${request.limit + 1}`.pipe(mapSqlError("RegistrationRepository.listByUser"))
      return page(rows, request.limit, byCreation)
    })

    // `updated_at` is left alone: it belongs to the status history the export reports.
    // The person's data key leaves this process's memory too (the store deletes it in the same unit of work).
    const eraseNotes = (userId: string) =>
      sql<{ readonly id: string }>`UPDATE registrations SET notes = '', notes_sealed = false
        WHERE user_id = ${userId} AND notes <> '' RETURNING id`.pipe(
        Effect.tap(() => Effect.sync(() => ownerKeys.forget(userId))),
        Effect.map((rows) => rows.map((row) => row.id as Ids.RegistrationId)),
        mapSqlError("RegistrationRepository.eraseNotes")
      )

    return RegistrationRepository.RegistrationRepository.of({
      lockForRegistration,
      lockForRegistrations,
      provisionAndLockForRegistrations,
      lockForCancellations,
      findById: (id) => findById(id).pipe(mapSqlError("RegistrationRepository.findById")),
      waitlistHead,
      listActive,
      apply,
      applyMany,
      listByEvent,
      listWaitlist,
      listByUser,
      eraseNotes
    })
  })

/** @since 0.1.0 */
export const layer = Layer.effect(RegistrationRepository.RegistrationRepository, make)
