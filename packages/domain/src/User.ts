/**
 * People: the profile we hold, the roles their token grants, and the actor of a use-case.
 *
 * Roles come from the identity provider's token on every request; they are not stored. A user row is
 * provisioned the first time a subject is seen.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { UserId } from "./Ids.ts"
import * as Text from "./Text.ts"

/** @since 0.1.0 */
export const Role = Schema.Literals(["admin", "organizer", "attendee"])
/** @since 0.1.0 */
export type Role = typeof Role.Type

/** @since 0.1.0 */
export interface User {
  readonly id: UserId
  /** The identity provider's subject (`sub` claim). */
  readonly subject: string
  readonly email: string | null
  readonly name: string | null
  readonly phone: string | null
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly erasedAt: Date | null
}

/**
 * Who is acting: the provisioned user and the roles of their token.
 *
 * @since 0.1.0
 */
export interface Actor {
  readonly userId: UserId
  readonly roles: ReadonlyArray<Role>
}

/** @since 0.1.0 */
export const hasRole = (actor: Actor, role: Role): boolean => actor.roles.includes(role)
/** @since 0.1.0 */
export const isAdmin = (actor: Actor): boolean => hasRole(actor, "admin")

/** @since 0.1.0 */
export const Email = Schema.Trim.check(
  Text.storable,
  Schema.isMaxLength(320),
  Schema.isPattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { expected: "an email address" })
)
/** @since 0.1.0 */
export const PersonName = Text.trimmed(1, 200)
/** @since 0.1.0 */
export const Phone = Schema.Trim.check(
  Text.storable,
  Schema.isMaxLength(32),
  Schema.isPattern(/^\+?[0-9 ()-]{3,32}$/, { expected: "a phone number" })
)

/**
 * How emails compare (lookups, the blind index of stores that seal them): trimmed, Unicode-normalised
 * (NFKC), lower case.
 *
 * @since 0.1.0
 */
export const normaliseEmail = (email: string): string => email.trim().normalize("NFKC").toLowerCase()

/** The claims a token carries, used to provision a user on first sight. @since 0.1.0 */
export interface Claims {
  readonly subject: string
  readonly email?: string | undefined
  readonly name?: string | undefined
}

/** Profile update by the user themself (name, phone; email is admin-only). @since 0.1.0 */
export const UpdateProfileInput = Schema.Struct({
  name: Schema.optionalKey(Schema.NullOr(PersonName)),
  phone: Schema.optionalKey(Schema.NullOr(Phone))
})
/** @since 0.1.0 */
export type UpdateProfileInput = typeof UpdateProfileInput.Type

/** Admin update: may also change the email. @since 0.1.0 */
export const AdminUpdateUserInput = Schema.Struct({
  name: Schema.optionalKey(Schema.NullOr(PersonName)),
  phone: Schema.optionalKey(Schema.NullOr(Phone)),
  email: Schema.optionalKey(Schema.NullOr(Email))
})
/** @since 0.1.0 */
export type AdminUpdateUserInput = typeof AdminUpdateUserInput.Type

/** Admin creation of a user ahead of their first login. @since 0.1.0 */
export const CreateUserInput = Schema.Struct({
  subject: Text.trimmed(1, 255),
  email: Schema.optionalKey(Email),
  name: Schema.optionalKey(PersonName),
  phone: Schema.optionalKey(Phone)
})
/** @since 0.1.0 */
export type CreateUserInput = typeof CreateUserInput.Type
