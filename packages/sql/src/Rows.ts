/**
 * Row ↔ entity mapping. Column lists live here so every statement selects the same shape.
 *
 * @since 0.1.0
 */
import type { Event, Ids, Registration, User } from "@live-events/domain"

/** @since 0.1.0 */
export const eventColumns = `e.id, e.organizer_id, e.title, e.description, e.starts_at, e.ends_at, e.time_zone, e.location,
  e.capacity, e.waitlist_enabled, e.waitlist_limit, e.registration_closes_at, e.status, e.confirmed_count,
  e.waitlist_count, e.version, e.created_at, e.updated_at`

/** @since 0.1.0 */
export interface EventRow {
  readonly id: string
  readonly organizer_id: string
  readonly title: string
  readonly description: string
  readonly starts_at: Date
  readonly ends_at: Date
  readonly time_zone: string
  readonly location: string
  readonly capacity: number
  readonly waitlist_enabled: boolean
  readonly waitlist_limit: number | null
  readonly registration_closes_at: Date
  readonly status: Event.EventStatus
  readonly confirmed_count: number
  readonly waitlist_count: number
  readonly version: number
  readonly created_at: Date
  readonly updated_at: Date
}

/** @since 0.1.0 */
export const toEvent = (row: EventRow): Event.Event => ({
  id: row.id as Ids.EventId,
  organizerId: row.organizer_id as Ids.UserId,
  title: row.title,
  description: row.description,
  startsAt: row.starts_at,
  endsAt: row.ends_at,
  timeZone: row.time_zone,
  location: row.location,
  capacity: row.capacity,
  waitlist: { enabled: row.waitlist_enabled, limit: row.waitlist_limit },
  registrationClosesAt: row.registration_closes_at,
  status: row.status,
  confirmedCount: row.confirmed_count,
  waitlistCount: row.waitlist_count,
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at
})

/** An event row as `row_to_json` writes it: timestamps as ISO 8601 text. @since 0.2.0 */
export type EventJson = { readonly [K in keyof EventRow]: EventRow[K] extends Date ? string : EventRow[K] }

/**
 * An event from its JSON row (a statement that returns events beside rows of another shape). Dates
 * lose the microseconds, as the driver's own timestamp decoding does.
 *
 * @since 0.2.0
 */
export const eventFromJson = (json: EventJson): Event.Event =>
  toEvent({
    ...json,
    starts_at: new Date(json.starts_at),
    ends_at: new Date(json.ends_at),
    registration_closes_at: new Date(json.registration_closes_at),
    created_at: new Date(json.created_at),
    updated_at: new Date(json.updated_at)
  })

/**
 * Whether the notes are sealed, and the owner's wrapped data key when they are (`<key id>:<wrapped>`,
 * `NULL` once the owner is erased): read in the same statement, so opening them costs no round trip.
 *
 * @since 0.1.0
 */
export const registrationKeyColumns = `r.notes_sealed,
  CASE WHEN r.notes_sealed THEN (SELECT pk.key_id || ':' || pk.wrapped FROM person_keys pk WHERE pk.user_id = r.user_id) END
    AS owner_key`

/** Join-order numbers per waitlist bucket (see the migration). @since 0.1.0 */
export const BUCKET_BITS = 8

/**
 * Registration columns with the live waitlist position: the rank of the row's join order among the
 * event's waitlisted rows, summed from bucket counts before its bucket plus a count inside it.
 *
 * @since 0.1.0
 */
export const registrationColumns = `r.id, r.event_id, r.user_id, r.status, r.waitlist_seq, r.notes, r.created_at,
  r.updated_at, r.confirmed_at, r.cancelled_at, ${registrationKeyColumns},
  CASE WHEN r.status = 'waitlisted' THEN (
    (SELECT coalesce(sum(b.waiting), 0) FROM waitlist_buckets b
      WHERE b.event_id = r.event_id AND b.bucket < (r.waitlist_seq >> ${BUCKET_BITS}))
    + (SELECT count(*) FROM registrations w
      WHERE w.event_id = r.event_id AND w.status = 'waitlisted'
        AND w.waitlist_seq >= ((r.waitlist_seq >> ${BUCKET_BITS}) << ${BUCKET_BITS}) AND w.waitlist_seq <= r.waitlist_seq)
  )::int END AS waitlist_position`

/** @since 0.1.0 */
export interface RegistrationRow {
  readonly id: string
  readonly event_id: string
  readonly user_id: string
  readonly status: Registration.RegistrationStatus
  readonly waitlist_seq: bigint | string | null
  readonly waitlist_position: number | null
  /** Sealed when `notes_sealed` (see `FieldSealing.ts`). */
  readonly notes: string
  readonly notes_sealed: boolean
  readonly owner_key: string | null
  readonly created_at: Date
  readonly updated_at: Date
  readonly confirmed_at: Date | null
  readonly cancelled_at: Date | null
}

/** The row as stored, notes unopened (see `FieldSealing.openRegistration`). @since 0.1.0 */
export const toRegistration = (row: RegistrationRow): Registration.Registration => ({
  id: row.id as Ids.RegistrationId,
  eventId: row.event_id as Ids.EventId,
  userId: row.user_id as Ids.UserId,
  status: row.status,
  waitlistPosition: row.status === "waitlisted" ? row.waitlist_position : null,
  notes: row.notes,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  confirmedAt: row.confirmed_at,
  cancelledAt: row.cancelled_at
})

/** A user's own columns; the variants below differ in how they read the person's data key. */
const userFields = "u.id, u.subject, u.email, u.name, u.phone, u.created_at, u.updated_at, u.erased_at, u.sealed"

/** @since 0.1.0 */
export const userColumns = `${userFields},
  (SELECT pk.key_id || ':' || pk.wrapped FROM person_keys pk WHERE pk.user_id = u.id) AS person_key`

/**
 * {@link userColumns} of a row the statement has just inserted, answered from its input: the id and the
 * subject, nothing else read back (no sealed field to parse, no key lookup).
 *
 * @since 0.3.0
 */
export const insertedUserColumns = `u.id, u.subject, NULL::text AS email, NULL::text AS name, NULL::text AS phone,
  NULL::timestamptz AS created_at, NULL::timestamptz AS updated_at, NULL::timestamptz AS erased_at,
  NULL::boolean AS sealed, NULL::text AS person_key`

/** @since 0.1.0 */
export interface UserRow {
  readonly id: string
  readonly subject: string
  readonly email: string | null
  readonly name: string | null
  readonly phone: string | null
  readonly created_at: Date
  readonly updated_at: Date
  readonly erased_at: Date | null
  /** `email`, `name` and `phone` are sealed under the person's data key (see `FieldSealing.ts`). */
  readonly sealed: boolean
  /** `<key id>:<wrapped data key>`; `NULL` for a row written before sealing, or erased. */
  readonly person_key: string | null
}

/** The row as stored, personal fields unopened (see `FieldSealing.openUser`). @since 0.1.0 */
export const toUser = (row: UserRow): User.User => ({
  id: row.id as Ids.UserId,
  subject: row.subject,
  email: row.email,
  name: row.name,
  phone: row.phone,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  erasedAt: row.erased_at
})

/**
 * Subjects as a PostgreSQL array literal (a `text[]` parameter): each one quoted, its quotes and
 * backslashes escaped.
 *
 * @since 0.3.0
 */
export const subjectArray = (subjects: ReadonlyArray<string>): string =>
  `{${subjects.map((subject) => `"${subject.replaceAll("\\", "\\\\").replaceAll("\"", "\\\"")}"`).join(",")}}`
