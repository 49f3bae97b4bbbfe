/**
 * A person's sign-up for an event, and its life cycle.
 *
 * `confirmed` and `waitlisted` are the *active* states: at most one active registration exists per
 * (event, user) (invariant I2). `waitlistPosition` is present only while waitlisted; it is derived from
 * join order by the repository, never stored as a number that later rows depend on.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { EventId, RegistrationId, UserId } from "./Ids.ts"
import * as Text from "./Text.ts"

/** @since 0.1.0 */
export const RegistrationStatus = Schema.Literals(["confirmed", "waitlisted", "cancelled", "attended", "no_show"])
/** @since 0.1.0 */
export type RegistrationStatus = typeof RegistrationStatus.Type

/** @since 0.1.0 */
export const isActive = (status: RegistrationStatus): boolean => status === "confirmed" || status === "waitlisted"

/** @since 0.1.0 */
export interface Registration {
  readonly id: RegistrationId
  readonly eventId: EventId
  readonly userId: UserId
  readonly status: RegistrationStatus
  /** 1-based, present only while `waitlisted`. */
  readonly waitlistPosition: number | null
  readonly notes: string
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly confirmedAt: Date | null
  readonly cancelledAt: Date | null
}

/** @since 0.1.0 */
export const Notes = Text.trimmed(0, 1000)

/** @since 0.1.0 */
export const RegisterInput = Schema.Struct({ notes: Schema.optionalKey(Notes) })
/** @since 0.1.0 */
export type RegisterInput = typeof RegisterInput.Type

/** @since 0.1.0 */
export const AttendanceInput = Schema.Struct({ attended: Schema.Boolean })
/** @since 0.1.0 */
export type AttendanceInput = typeof AttendanceInput.Type

/**
 * A write the repository applies atomically with the counters of the event it belongs to:
 * the repository derives `confirmedCount` / `waitlistCount` deltas from these, so the domain never
 * computes a counter it could get wrong twice.
 *
 * @since 0.1.0
 */
export type RegistrationChange =
  | { readonly _tag: "Insert"; readonly registration: Registration }
  | {
    readonly _tag: "Transition"
    readonly registration: Registration
    readonly to: RegistrationStatus
    readonly at: Date
  }

/** One step of a registration's life. @since 0.1.0 */
export interface StatusChange {
  readonly status: RegistrationStatus
  readonly at: Date
}

/**
 * The status history of a registration, derived from its timestamps (the store keeps no separate log):
 * joined as confirmed or waitlisted at `createdAt`; promoted at `confirmedAt` when that is later;
 * cancelled at `cancelledAt`; marked attended / no-show at `updatedAt`.
 *
 * @since 0.1.0
 */
export const statusHistory = (registration: Registration): ReadonlyArray<StatusChange> => {
  const { cancelledAt, confirmedAt, createdAt, status, updatedAt } = registration
  const joinedConfirmed = confirmedAt !== null && confirmedAt.getTime() <= createdAt.getTime()
  const history: Array<StatusChange> = [{ status: joinedConfirmed ? "confirmed" : "waitlisted", at: createdAt }]
  if (confirmedAt !== null && !joinedConfirmed) history.push({ status: "confirmed", at: confirmedAt })
  if (status === "cancelled" && cancelledAt !== null) history.push({ status: "cancelled", at: cancelledAt })
  if (status === "attended" || status === "no_show") history.push({ status, at: updatedAt })
  return history
}
