/**
 * The statements that open a unit of work for a batch of registrations or cancellations: lock the
 * batch's events in id order and read what the domain plans over, in one round trip (see
 * `lockForRegistrations`). Part of the PostgreSQL `RegistrationRepository`.
 *
 * @since 0.2.0
 */
import type { Ids, Registration, RegistrationBatch, RegistrationRepository, User } from "@live-events/domain"
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import type { FieldSealing } from "./FieldSealing.ts"
import * as NewPeople from "./NewPeople.ts"
import * as OwnerKeys from "./OwnerKeys.ts"
import {
  eventColumns,
  eventFromJson,
  type EventJson,
  registrationColumns,
  registrationKeyColumns,
  type RegistrationRow,
  subjectArray
} from "./Rows.ts"
import { mapSqlError } from "./SqlFailure.ts"

/** A locked event as `row_to_json` writes it, with its version in the statement's snapshot. */
type LockedEventJson = EventJson & { readonly seen_version: number }

/** @since 0.2.0 */
export const make = (
  sql: SqlClient.SqlClient,
  sealing: FieldSealing,
  ownerKeys: ReturnType<typeof OwnerKeys.make>,
  toRegistration: (row: RegistrationRow) => Registration.Registration
): Required<
  Pick<
    RegistrationRepository.RegistrationRepository["Service"],
    "lockForRegistrations" | "provisionAndLockForRegistrations" | "lockForCancellations"
  >
> => {
  const columns = sql.literal(registrationColumns)
  const keyColumns = sql.literal(registrationKeyColumns)

  /**
   * A batch's pairs: their active registrations and their users, share-locked (an erase, which updates
   * the user, waits for the batch; a batch that starts after an erase sees `erased_at`).
   */
  const pairsQuery = (pairs: ReadonlyArray<{ readonly eventId: string; readonly userId: string }>, afterLocking = sql``) => sql`
    pairs AS (
      SELECT p.event_id, p.user_id FROM jsonb_to_recordset(${JSON.stringify(pairs.map((pair) => ({ event_id: pair.eventId, user_id: pair.userId })))}::jsonb)
        AS p(event_id uuid, user_id uuid) ${afterLocking}
    ), locked_users AS (
      SELECT u.id, u.erased_at IS NOT NULL AS erased, ${sql.literal(OwnerKeys.userKeyColumn)} AS user_key FROM users u
      WHERE u.id = ANY(ARRAY(SELECT user_id FROM pairs)) ORDER BY u.id FOR SHARE
    )`
  // Each pair's registration is looked up by index (LATERAL, and `= ANY(ARRAY(…))` for the users): joined
  // to the pairs as a set, the planner hashed them and scanned every active registration of the event
  // and every user, a cost that grew with the event (7 ms a batch at 8,000 registrations).
  const pairsRows = (extra = sql``) => sql`
    SELECT a.*, NULL::uuid AS known_user, NULL::boolean AS erased, NULL::text AS user_key, NULL::json AS locked_event ${extra}
    FROM (SELECT DISTINCT event_id, user_id FROM pairs) p CROSS JOIN LATERAL (
      SELECT ${columns} FROM registrations r
      WHERE r.event_id = p.event_id AND r.user_id = p.user_id AND r.status IN ('confirmed', 'waitlisted')
      OFFSET 0 -- keeps the subquery a subquery: pulled up, it became the hash join again
    ) a
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id, erased, user_key, NULL ${extra}
    FROM locked_users`
  type PairRow = RegistrationRow & {
    readonly known_user: string | null
    readonly erased: boolean | null
    readonly user_key: string | null
    readonly locked_event: LockedEventJson | null
  }
  const readPairs = (rows: ReadonlyArray<PairRow>) => {
    for (const row of rows) if (row.known_user !== null) ownerKeys.remember(row.known_user, row.user_key)
    return {
      active: rows.filter((row) => row.known_user === null && row.locked_event === null).map(toRegistration),
      users: rows.flatMap((row) =>
        row.known_user === null ? [] : [{ userId: row.known_user as Ids.UserId, erased: row.erased === true }]
      )
    }
  }

  /**
   * `locked`: the pairs' events, locked in id order, each with the version its snapshot saw; `after`
   * makes the locks wait for an earlier part of the statement.
   */
  const lockedEvents = (pairs: ReadonlyArray<{ readonly eventId: string }>, after = sql``) => sql`
    locked AS (
      SELECT ${sql.literal(eventColumns)}, (SELECT s.version FROM events s WHERE s.id = e.id) AS seen_version
      FROM events e
      WHERE e.id = ANY(string_to_array(${[...new Set(pairs.map((pair) => pair.eventId))].join(",")}, ',')::uuid[]) ${after}
      ORDER BY e.id FOR UPDATE
    )`

  /**
   * Locks a batch's events (newest rows, in id order) and reads its pairs in one round trip, like
   * `lockForRegistration`: the pairs are read from the statement's snapshot, taken before the locks
   * were granted (the pairs are not read before every event is locked), and `seen_version` (each event's version in that snapshot) tells whether another
   * unit of work committed to one of the events while this one waited. Only then are the pairs read
   * again, by a second statement whose snapshot holds that commit (every registration write bumps its
   * event's version under the event's lock). The events are locked before the users are
   * share-locked, as everywhere else.
   *
   * Planned at every execution (`unprepared`), as is provisioning (`SqlUserRepository`): both look
   * people up in `users` by a list, and a prepared statement keeps the generic plan it chose when the
   * table was small — a sequential scan, which on a table growing by a thousand people a second (an
   * on-sale on a new deployment) came to a quarter of PostgreSQL's work within twenty seconds, until
   * the next ANALYZE. A fresh plan sees the table's current size and takes the index.
   */
  const lockForRegistrations = (pairs: ReadonlyArray<{ readonly eventId: string; readonly userId: string }>) =>
    Effect.gen(function*() {
      const rows = yield* sql<PairRow>`
        WITH ${lockedEvents(pairs)}, ${pairsQuery(pairs, sql`WHERE (SELECT count(*) FROM locked) >= 0`)}
        ${pairsRows()}
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          row_to_json(l) FROM locked l`.unprepared
      const locked = rows.flatMap((row) => row.locked_event === null ? [] : [row.locked_event])
      const stale = locked.some((event) => event.seen_version !== event.version)
      const current = stale ? yield* sql<PairRow>`WITH ${pairsQuery(pairs)} ${pairsRows()}`.unprepared : rows
      return { events: locked.map(eventFromJson), ...readPairs(current) }
    }).pipe(mapSqlError("RegistrationRepository.lockForRegistrations"))

  /** The two columns of the people a batch provisions: a stored subject and its user's id. */
  const subjectColumns = sql`, NULL::text AS subject, NULL::uuid AS stored_id`
  type ProvisionedRow = PairRow & { readonly subject: string | null; readonly stored_id: string | null }

  /**
   * `lockForRegistrations` for a batch with newcomers, in the same round trip: the statement stores the
   * new people first (the events' locks wait for the inserts, as they would behind a provisioning of
   * its own), then locks and reads as `lockForRegistrations` does, the pairs of newcomers resolved to
   * the stored users by subject. The people it inserted are not in its own snapshot: they are answered
   * from its input (not erased, their new data key) and the users' index is not probed for them.
   *
   * A subject committed by another unit of work after the statement's snapshot was taken (the same
   * person's first requests on two processes at once) is neither inserted nor seen: it is looked up by
   * a statement of its own, and the pairs read again, as when an event's version moved.
   */
  const provisionAndLockForRegistrations = (
    newcomers: ReadonlyArray<User.User>,
    pairs: ReadonlyArray<{ readonly eventId: Ids.EventId; readonly userId: Ids.UserId }>
  ) =>
    Effect.gen(function*() {
      const people = yield* NewPeople.prepare(sealing, newcomers)
      const subjectOf = new Map<string, string>(newcomers.map((user) => [user.id, user.subject]))
      const named = pairs.map((pair) => ({ event_id: pair.eventId, user_id: pair.userId, subject: subjectOf.get(pair.userId) ?? null }))
      const rows = yield* sql<ProvisionedRow>`
        WITH ${NewPeople.insertCtes(sql, people)}, existing AS (
          SELECT u.id, u.subject FROM users u
          WHERE u.subject = ANY(ARRAY(SELECT subject FROM input EXCEPT ALL SELECT subject FROM inserted))
        ), stored AS (
          SELECT i.subject, coalesce(n.id, x.id) AS id, n.id IS NOT NULL AS new, i.key_id || ':' || i.wrapped AS user_key
          FROM input i LEFT JOIN inserted n ON n.subject = i.subject LEFT JOIN existing x ON x.subject = i.subject
        ), ${lockedEvents(pairs, sql`AND (SELECT count(*) FROM keyed) >= 0`)}, pairs AS (
          SELECT p.event_id, coalesce(s.id, p.user_id) AS user_id
          FROM jsonb_to_recordset(${JSON.stringify(named)}::jsonb) AS p(event_id uuid, user_id uuid, subject text)
            LEFT JOIN stored s ON s.subject = p.subject
          WHERE (SELECT count(*) FROM locked) >= 0
        ), locked_users AS (
          SELECT u.id, u.erased_at IS NOT NULL AS erased, ${sql.literal(OwnerKeys.userKeyColumn)} AS user_key FROM users u
          WHERE u.id = ANY(ARRAY(SELECT user_id FROM pairs EXCEPT SELECT id FROM stored WHERE new)) ORDER BY u.id FOR SHARE
        )
        ${pairsRows(subjectColumns)}
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, s.id, false, s.user_key, NULL, NULL, NULL
        FROM stored s WHERE s.new
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          row_to_json(l), NULL, NULL FROM locked l
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
          s.subject, s.id FROM stored s`.unprepared
      const storedIds = new Map<string, string | null>()
      for (const row of rows) if (row.subject !== null) storedIds.set(row.subject, row.stored_id)
      const missing = [...storedIds].flatMap(([subject, id]) => id === null ? [subject] : [])
      if (missing.length > 0) {
        const found = yield* sql<{ readonly id: string; readonly subject: string }>`
          SELECT u.id, u.subject FROM users u WHERE u.subject = ANY(${subjectArray(missing)}::text[])`
        for (const row of found) storedIds.set(row.subject, row.id)
      }
      // A newcomer's pair names the candidate's id; any other pair names a stored user already.
      const storedId = (userId: Ids.UserId): Ids.UserId => {
        const subject = subjectOf.get(userId)
        const stored = subject === undefined ? undefined : storedIds.get(subject)
        return (stored ?? userId) as Ids.UserId
      }
      const locked = rows.flatMap((row) => row.locked_event === null ? [] : [row.locked_event])
      const stale = missing.length > 0 || locked.some((event) => event.seen_version !== event.version)
      const current = stale
        ? yield* sql<PairRow>`WITH ${
          pairsQuery(pairs.map((pair) => ({ eventId: pair.eventId, userId: storedId(pair.userId) })))
        } ${pairsRows()}`.unprepared
        : rows.filter((row) => row.subject === null)
      const snapshot: RegistrationBatch.Snapshot = { events: locked.map(eventFromJson), ...readPairs(current) }
      return { stored: newcomers.map((user) => storedId(user.id)), snapshot }
    }).pipe(mapSqlError("RegistrationRepository.provisionAndLockForRegistrations"))

  /**
   * A cancellation batch's registrations, and per event the head of its waitlist: twice as many
   * waiting people as the batch names registrations of that event.
   */
  const cancellationRows = sql`
    SELECT ${columns}, false AS head, NULL::json AS locked_event FROM registrations r WHERE r.id = ANY(ARRAY(SELECT id FROM named))
    UNION ALL
    SELECT h.*, true, NULL FROM (SELECT event_id, count(*) AS named FROM named GROUP BY event_id) q,
      LATERAL (
        SELECT r.id, r.event_id, r.user_id, r.status, r.waitlist_seq, r.notes, r.created_at, r.updated_at,
          r.confirmed_at, r.cancelled_at, ${keyColumns}, (row_number() OVER (ORDER BY r.waitlist_seq))::int AS waitlist_position
        FROM registrations r
        WHERE r.event_id = q.event_id AND r.status = 'waitlisted'
        ORDER BY r.waitlist_seq LIMIT 2 * q.named
      ) h`
  const named = (list: string, afterLocking = sql``) => sql`named AS (
    SELECT r.id, r.event_id FROM registrations r WHERE r.id = ANY(string_to_array(${list}, ',')::uuid[]) ${afterLocking}
  )`
  type CancellationRow = RegistrationRow & { readonly head: boolean; readonly locked_event: LockedEventJson | null }

  /**
   * The events are found through the registrations (whose event never changes) and locked in id
   * order; the registrations and the waitlist heads are read in the same statement, after every event
   * is locked, from the statement's snapshot — and read again, as for registrations, only when
   * `seen_version` shows that another unit of work committed to one of the events meanwhile.
   */
  const lockForCancellations = (ids: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const list = [...new Set(ids)].join(",")
      const rows = yield* sql<CancellationRow>`
        WITH locked AS (
          SELECT ${sql.literal(eventColumns)}, (SELECT s.version FROM events s WHERE s.id = e.id) AS seen_version
          FROM events e
          WHERE e.id IN (SELECT event_id FROM registrations WHERE id = ANY(string_to_array(${list}, ',')::uuid[]))
          ORDER BY e.id FOR UPDATE
        ), ${named(list, sql`AND (SELECT count(*) FROM locked) >= 0`)}
        ${cancellationRows}
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, row_to_json(l)
        FROM locked l`
      const locked = rows.flatMap((row) => row.locked_event === null ? [] : [row.locked_event])
      const stale = locked.some((event) => event.seen_version !== event.version)
      const current = stale ? yield* sql<CancellationRow>`WITH ${named(list)} ${cancellationRows}` : rows
      const found = current.filter((row) => row.locked_event === null)
      return {
        events: locked.map(eventFromJson),
        registrations: found.filter((row) => !row.head).map(toRegistration),
        heads: found.filter((row) => row.head).map(toRegistration)
      }
    }).pipe(mapSqlError("RegistrationRepository.lockForCancellations"))

  return { lockForRegistrations, provisionAndLockForRegistrations, lockForCancellations }
}
