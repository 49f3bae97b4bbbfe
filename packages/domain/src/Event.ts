/**
 * The event aggregate: what an organiser publishes and people sign up for.
 *
 * The schemas here are the single source of the field rules (lengths, trimming, time zones,
 * capacity bounds, cross-field time rules), so the HTTP layer, the SQL layer and embedders validate
 * exactly the same way. Rules that need the clock ("starts in the future") live in the use-case.
 *
 * @since 0.1.0
 */
import { Schema, SchemaTransformation } from "effect"
import { EventId, UserId } from "./Ids.ts"
import * as Text from "./Text.ts"

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/

/**
 * An ISO-8601 instant with an explicit offset (`Z` or `±hh:mm`), decoded to a `Date`.
 *
 * @since 0.1.0
 */
export const Instant = Schema.String.check(
  Schema.isPattern(ISO_INSTANT, { expected: "an ISO-8601 instant with offset, e.g. 2030-05-01T18:00:00Z" }),
  Schema.makeFilter((s: string) => !Number.isNaN(new Date(s).getTime()) || "not a valid calendar instant")
).pipe(Schema.decodeTo(Schema.Date, SchemaTransformation.dateFromString))

// Constructing an Intl.DateTimeFormat costs tens of microseconds: remember the zones seen valid.
const knownTimeZones = new Set<string>()
const isTimeZone = (zone: string): boolean => {
  if (knownTimeZones.has(zone)) return true
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
    if (zone.length === 0) return false
    if (knownTimeZones.size < 1_000) knownTimeZones.add(zone)
    return true
  } catch {
    return false
  }
}

/**
 * A valid IANA time zone name, as known to the platform's `Intl`.
 *
 * @since 0.1.0
 */
export const TimeZone = Schema.String.check(
  Schema.isMaxLength(64),
  Schema.makeFilter((zone: string) => isTimeZone(zone) || `"${zone}" is not an IANA time zone`)
)

const trimmed = Text.trimmed

/** @since 0.1.0 */
export const Title = trimmed(1, 200)
/** @since 0.1.0 */
export const Description = trimmed(0, 4000)
/** @since 0.1.0 */
export const Location = trimmed(1, 500)
/** @since 0.1.0 */
export const Capacity = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000 }))

/** @since 0.1.0 */
export const EventStatus = Schema.Literals(["draft", "published", "cancelled"])
/** @since 0.1.0 */
export type EventStatus = typeof EventStatus.Type

/**
 * Waitlist settings. `limit: null` means unlimited; `limit: 0` with `enabled: true` behaves as closed.
 *
 * @since 0.1.0
 */
export const WaitlistSettings = Schema.Struct({
  enabled: Schema.Boolean,
  limit: Schema.NullOr(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})
/** @since 0.1.0 */
export type WaitlistSettings = typeof WaitlistSettings.Type

/**
 * The event as stored and read, with its counters (the read model).
 *
 * @since 0.1.0
 */
export interface Event {
  readonly id: EventId
  readonly organizerId: UserId
  readonly title: string
  readonly description: string
  readonly startsAt: Date
  readonly endsAt: Date
  readonly timeZone: string
  readonly location: string
  readonly capacity: number
  readonly waitlist: WaitlistSettings
  readonly registrationClosesAt: Date
  readonly status: EventStatus
  readonly confirmedCount: number
  readonly waitlistCount: number
  /** Bumped on every change of the event or its counters; the HTTP ETag derives from it. */
  readonly version: number
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** @since 0.1.0 */
export const availableSeats = (event: Event): number => Math.max(0, event.capacity - event.confirmedCount)

const timeRules = Schema.makeFilter(
  (input: { readonly startsAt?: Date; readonly endsAt?: Date; readonly registrationClosesAt?: Date | undefined }) => {
    const issues: Array<{ path: ReadonlyArray<PropertyKey>; issue: string }> = []
    if (input.startsAt && input.endsAt && input.endsAt.getTime() <= input.startsAt.getTime()) {
      issues.push({ path: ["endsAt"], issue: "endsAt must be after startsAt" })
    }
    if (input.startsAt && input.registrationClosesAt && input.registrationClosesAt > input.startsAt) {
      issues.push({ path: ["registrationClosesAt"], issue: "registrationClosesAt must not be after startsAt" })
    }
    return issues.length === 0 ? true : issues
  }
)

const waitlistInput = Schema.Struct({
  enabled: Schema.optionalKey(Schema.Boolean),
  limit: Schema.optionalKey(Schema.NullOr(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))))
})

/**
 * Input of "create event". `description` defaults to empty, `waitlist` to enabled and unlimited,
 * `registrationClosesAt` to `startsAt`.
 *
 * @since 0.1.0
 */
export const CreateEventInput = Schema.Struct({
  title: Title,
  description: Schema.optionalKey(Description),
  startsAt: Instant,
  endsAt: Instant,
  timeZone: TimeZone,
  location: Location,
  capacity: Capacity,
  waitlist: Schema.optionalKey(waitlistInput),
  registrationClosesAt: Schema.optionalKey(Instant)
}).check(timeRules)
/** @since 0.1.0 */
export type CreateEventInput = typeof CreateEventInput.Type

/**
 * Input of "update event" (PATCH): every field optional. Capacity changes go through the capacity rules
 * of the waitlist (promotion, no decrease below the confirmed count).
 *
 * @since 0.1.0
 */
export const UpdateEventInput = Schema.Struct({
  title: Schema.optionalKey(Title),
  description: Schema.optionalKey(Description),
  startsAt: Schema.optionalKey(Instant),
  endsAt: Schema.optionalKey(Instant),
  timeZone: Schema.optionalKey(TimeZone),
  location: Schema.optionalKey(Location),
  capacity: Schema.optionalKey(Capacity),
  waitlist: Schema.optionalKey(waitlistInput),
  registrationClosesAt: Schema.optionalKey(Instant)
}).check(timeRules)
/** @since 0.1.0 */
export type UpdateEventInput = typeof UpdateEventInput.Type

/**
 * Filters of the event list. Times are instants; `q` matches title and location case-insensitively.
 *
 * @since 0.1.0
 */
export interface EventQuery {
  readonly from?: Date | undefined
  readonly to?: Date | undefined
  readonly organizerId?: UserId | undefined
  readonly q?: string | undefined
  readonly statuses: ReadonlyArray<EventStatus>
  readonly limit: number
  readonly cursor?: string | undefined
}

