/**
 * The catalogue of business errors with their stable, kebab-case codes.
 *
 * Codes are part of the public contract: clients switch on `code`, so a code is never renamed.
 * `httpApiStatus` is plain data read by HTTP hosts; the domain itself knows nothing of HTTP.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** @since 0.1.0 */
export const FieldIssue = Schema.Struct({ field: Schema.String, message: Schema.String })
/** @since 0.1.0 */
export type FieldIssue = typeof FieldIssue.Type

/** Input breaks a field rule that needs context the schema lacks (e.g. the clock). @since 0.1.0 */
export class ValidationFailed extends Schema.TaggedError<ValidationFailed>()("ValidationFailed", {
  message: Schema.String,
  errors: Schema.Array(FieldIssue)
}, { httpApiStatus: 400 }) {
  readonly code = "validation-failed"
}

/** @since 0.1.0 */
export class EventNotFound extends Schema.TaggedError<EventNotFound>()("EventNotFound", {
  eventId: Schema.String
}, { httpApiStatus: 404 }) {
  readonly code = "event-not-found"
  override get message() {
    return `Event ${this.eventId} does not exist`
  }
}

/** @since 0.1.0 */
export class RegistrationNotFound extends Schema.TaggedError<RegistrationNotFound>()("RegistrationNotFound", {
  registrationId: Schema.String
}, { httpApiStatus: 404 }) {
  readonly code = "registration-not-found"
  override get message() {
    return `Registration ${this.registrationId} does not exist`
  }
}

/** @since 0.1.0 */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", {
  userId: Schema.String
}, { httpApiStatus: 404 }) {
  readonly code = "user-not-found"
  override get message() {
    return `User ${this.userId} does not exist`
  }
}

/** The actor may not do this. @since 0.1.0 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}, { httpApiStatus: 403 }) {
  readonly code = "forbidden"
}

/** The event is not open for registration: not published, cancelled, or past its closing time. @since 0.1.0 */
export class RegistrationClosed extends Schema.TaggedError<RegistrationClosed>()("RegistrationClosed", {
  eventId: Schema.String,
  reason: Schema.Literals(["not-published", "cancelled", "closed"])
}, { httpApiStatus: 409 }) {
  readonly code = "registration-closed"
  override get message() {
    return this.reason === "closed"
      ? "Registration for this event has closed"
      : `Registration is not possible: the event is ${this.reason === "cancelled" ? "cancelled" : "not published"}`
  }
}

/** @since 0.1.0 */
export class AlreadyRegistered extends Schema.TaggedError<AlreadyRegistered>()("AlreadyRegistered", {
  registrationId: Schema.String,
  status: Schema.String
}, { httpApiStatus: 409 }) {
  readonly code = "already-registered"
  override get message() {
    return `An active registration ${this.registrationId} (${this.status}) already exists`
  }
}

/** @since 0.1.0 */
export class WaitlistFull extends Schema.TaggedError<WaitlistFull>()("WaitlistFull", {
  eventId: Schema.String,
  limit: Schema.Number
}, { httpApiStatus: 409 }) {
  readonly code = "waitlist-full"
  override get message() {
    return `The event is full and its waitlist of ${this.limit} is full too`
  }
}

/** @since 0.1.0 */
export class WaitlistClosed extends Schema.TaggedError<WaitlistClosed>()("WaitlistClosed", {
  eventId: Schema.String
}, { httpApiStatus: 409 }) {
  readonly code = "waitlist-closed"
  override get message() {
    return "The event is full and has no waitlist"
  }
}

/** @since 0.1.0 */
export class CapacityBelowConfirmed extends Schema.TaggedError<CapacityBelowConfirmed>()("CapacityBelowConfirmed", {
  capacity: Schema.Number,
  confirmedCount: Schema.Number
}, { httpApiStatus: 409 }) {
  readonly code = "capacity-below-confirmed"
  override get message() {
    return `Capacity ${this.capacity} is below the ${this.confirmedCount} confirmed registrations`
  }
}

/** A status change the life cycle does not allow (e.g. publishing a cancelled event). @since 0.1.0 */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  from: Schema.String,
  to: Schema.String
}, { httpApiStatus: 409 }) {
  readonly code = "invalid-transition"
  override get message() {
    return `Cannot go from ${this.from} to ${this.to}`
  }
}

/** @since 0.1.0 */
export class EventHasActiveRegistrations
  extends Schema.TaggedError<EventHasActiveRegistrations>()("EventHasActiveRegistrations", {
    eventId: Schema.String,
    activeCount: Schema.Number
  }, { httpApiStatus: 409 })
{
  readonly code = "event-has-active-registrations"
  override get message() {
    return `The event has ${this.activeCount} active registrations; cancel the event instead`
  }
}

/** Manual confirmation asked while every seat is taken. @since 0.1.0 */
export class NoSeatAvailable extends Schema.TaggedError<NoSeatAvailable>()("NoSeatAvailable", {
  eventId: Schema.String
}, { httpApiStatus: 409 }) {
  readonly code = "no-seat-available"
  override get message() {
    return "No seat is free"
  }
}

/** Attendance can only be recorded once the event has started. @since 0.1.0 */
export class EventNotStarted extends Schema.TaggedError<EventNotStarted>()("EventNotStarted", {
  eventId: Schema.String
}, { httpApiStatus: 409 }) {
  readonly code = "event-not-started"
  override get message() {
    return "Attendance can be marked once the event has started"
  }
}

/** The caller's precondition (`If-Match`) no longer holds. @since 0.1.0 */
export class VersionMismatch extends Schema.TaggedError<VersionMismatch>()("VersionMismatch", {
  expected: Schema.Number,
  actual: Schema.Number
}, { httpApiStatus: 412 }) {
  readonly code = "precondition-failed"
  override get message() {
    return "The event changed since it was read"
  }
}

/** A pagination cursor that this service did not produce. @since 0.1.0 */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {}, { httpApiStatus: 400 }) {
  readonly code = "invalid-cursor"
  override get message() {
    return "The cursor is not one this service returned"
  }
}

/** An erased user's token can no longer act. @since 0.1.0 */
export class UserErased extends Schema.TaggedError<UserErased>()("UserErased", {}, { httpApiStatus: 403 }) {
  readonly code = "user-erased"
  override get message() {
    return "This account has been erased"
  }
}

/**
 * An erased user's record is final: an admin cannot write personal data back onto it (GDPR:
 * erase is irreversible).
 *
 * @since 0.1.0
 */
export class ErasedUserImmutable extends Schema.TaggedError<ErasedUserImmutable>()("ErasedUserImmutable", {
  userId: Schema.String
}, { httpApiStatus: 409 }) {
  readonly code = "user-erased"
  override get message() {
    return "This user has been erased; their record can no longer be changed"
  }
}

/**
 * Infrastructure failure behind a port (database, network). Carries a `reason`; `isRetryable` tells
 * resilience policies whether trying again can help.
 *
 * @since 0.1.0
 */
export class RepositoryError extends Schema.TaggedError<RepositoryError>()("RepositoryError", {
  /**
   * `unavailable`, `timeout`: an outage (retryable); `conflict`: a concurrent writer won (retryable);
   * `constraint`: the data contradicts a database constraint; `invalid`: the database refused a value
   * (its data-exception class); `defect`: the statement itself is wrong (a bug); `unknown`: anything else.
   * Only outages and unknown failures are reported to clients as the service being unavailable.
   */
  reason: Schema.Literals(["unavailable", "timeout", "conflict", "constraint", "invalid", "defect", "unknown"]),
  operation: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}, { httpApiStatus: 503 }) {
  readonly code = "service-unavailable"
  get isRetryable(): boolean {
    return this.reason === "unavailable" || this.reason === "timeout" || this.reason === "conflict"
  }
  override get message() {
    return `Storage ${this.reason} during ${this.operation}`
  }
}

/** Every error a use-case can raise, for hosts that map them to responses. @since 0.1.0 */
export type DomainError =
  | ValidationFailed
  | EventNotFound
  | RegistrationNotFound
  | UserNotFound
  | Forbidden
  | RegistrationClosed
  | AlreadyRegistered
  | WaitlistFull
  | WaitlistClosed
  | CapacityBelowConfirmed
  | InvalidTransition
  | EventHasActiveRegistrations
  | NoSeatAvailable
  | EventNotStarted
  | VersionMismatch
  | UserErased
  | ErasedUserImmutable
  | InvalidCursor
