/**
 * How cached read models cross the process boundary (Redis): Schema codecs of the domain's entities, so
 * a value read back from L2 has real `Date`s and branded ids, exactly as the repository returned it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Event, Ids, Registration, type User } from "@live-events/domain"

const NullableDate = Schema.NullOr(Schema.Date)

/** The event as stored, counters and `version` included (the ETag derives from it). @since 0.1.0 */
export const EventCodec: Schema.Codec<Event.Event, any> = Schema.Struct({
  id: Ids.EventId,
  organizerId: Ids.UserId,
  title: Schema.String,
  description: Schema.String,
  startsAt: Schema.Date,
  endsAt: Schema.Date,
  timeZone: Schema.String,
  location: Schema.String,
  capacity: Schema.Number,
  waitlist: Event.WaitlistSettings,
  registrationClosesAt: Schema.Date,
  status: Event.EventStatus,
  confirmedCount: Schema.Number,
  waitlistCount: Schema.Number,
  version: Schema.Number,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
})

/** A user profile. @since 0.1.0 */
export const UserCodec: Schema.Codec<User.User, any> = Schema.Struct({
  id: Ids.UserId,
  subject: Schema.String,
  email: Schema.NullOr(Schema.String),
  name: Schema.NullOr(Schema.String),
  phone: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  erasedAt: NullableDate
})

/** A registration with its derived waitlist position. @since 0.1.0 */
export const RegistrationCodec: Schema.Codec<Registration.Registration, any> = Schema.Struct({
  id: Ids.RegistrationId,
  eventId: Ids.EventId,
  userId: Ids.UserId,
  status: Registration.RegistrationStatus,
  waitlistPosition: Schema.NullOr(Schema.Number),
  notes: Schema.String,
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  confirmedAt: NullableDate,
  cancelledAt: NullableDate
})


/**
 * Which registrations make up the first page of a user's own list, in order (the registrations
 * themselves are cached one by one). @since 0.1.0
 */
export interface RegistrationIdsPage {
  readonly ids: ReadonlyArray<Ids.RegistrationId>
  readonly nextCursor: string | null
}

/** @since 0.1.0 */
export const RegistrationIdsPageCodec: Schema.Codec<RegistrationIdsPage, any> = Schema.Struct({
  ids: Schema.Array(Ids.RegistrationId),
  nextCursor: Schema.NullOr(Schema.String)
})
