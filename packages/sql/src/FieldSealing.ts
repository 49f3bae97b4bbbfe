/**
 * Personal fields between rows and entities: sealed on the way in, opened on the way out, under each
 * person's data key (see `PersonalDataKeys.ts`). Rows written before sealing existed (`sealed` /
 * `notes_sealed` false) are read as stored.
 *
 * @since 0.1.0
 */
import { type Ids, type Registration, User, type UserRepository } from "@live-events/domain"
import { Effect } from "effect"
import * as Keys from "./PersonalDataKeys.ts"
import { type Client as SealingThreadClient, inline, SealingThread } from "./SealingThread.ts"
import type * as SealingWorker from "./SealingWorker.ts"
import { toRegistration, toUser, type RegistrationRow, type UserRow } from "./Rows.ts"

/** A new person's data key, plain and as stored. @since 0.1.0 */
export interface PersonKey {
  readonly dataKey: Keys.DataKey
  readonly stored: Keys.WrappedKey
}

/** The sealed columns of a user. @since 0.1.0 */
export interface SealedUserFields {
  readonly email: string | null
  readonly name: string | null
  readonly phone: string | null
  readonly email_index: string | null
}

type AnticipatedRegistration = UserRepository.AnticipatedRegistration

/** One cache of unwrapped data keys per keyring, shared by every repository of a store. */
const caches = new WeakMap<Keys.Keyring, ReturnType<typeof Keys.unwrapCache>>()

/** What sealing a new person reads. */
type NewUser = { readonly id: string } & Pick<User.User, "email" | "name" | "phone">

/** A new person's sealed columns and the stored form of their new data key (none when unsealed). @since 0.3.0 */
export interface NewPerson {
  readonly fields: SealedUserFields
  readonly key: { readonly stored: Keys.WrappedKey } | undefined
}

/** Notes to seal: the registration, its owner's stored data key (`<key id>:<wrapped>`), the notes. @since 0.3.0 */
export interface NotesToSeal {
  readonly registrationId: string
  readonly ownerKey: string
  readonly notes: string
}

/**
 * @param thread where the batch operations of the registration path run (`SealingThread`); inline when `undefined`.
 * @since 0.1.0
 */
export const make = (keyring: Keys.Keyring, thread?: SealingThreadClient | undefined) => {
  let cache = caches.get(keyring)
  if (cache === undefined) {
    cache = Keys.unwrapCache(keyring)
    caches.set(keyring, cache)
  }
  const unwrap = cache
  const dataKeyOf = (stored: string | null): Keys.DataKey | undefined =>
    stored === null ? undefined : unwrap.unwrapped(Keys.parseStoredKey(stored))
  const required = (key: Keys.DataKey | undefined, what: string) => {
    if (key === undefined) throw new Keys.SealedValueUnreadable({ message: `${what} is sealed but its data key is gone` })
    return key
  }

  /** Whether personal data is sealed (always, but in a benchmark pricing it: `Keyring.unsealed`). */
  const enabled = keyring.unsealed !== true

  const newPersonKey = (): PersonKey => {
    const { dataKey, stored } = Keys.newWrappedDataKey(keyring)
    // Whatever reads this person back in a moment finds the key unwrapped.
    unwrap.remember(stored, dataKey)
    return { dataKey, stored }
  }

  const sealUser = (user: { readonly id: string } & Pick<User.User, "email" | "name" | "phone">, dataKey: Keys.DataKey): SealedUserFields => ({
    email: Keys.sealNullable(dataKey, Keys.context("user", user.id, "email"), user.email),
    name: Keys.sealNullable(dataKey, Keys.context("user", user.id, "name"), user.name),
    phone: Keys.sealNullable(dataKey, Keys.context("user", user.id, "phone"), user.phone),
    email_index: user.email === null ? null : Keys.emailIndex(keyring, user.email)
  })

  const openUser = (row: UserRow): User.User => {
    const user = toUser(row)
    if (!row.sealed || (row.email === null && row.name === null && row.phone === null)) return user
    const key = required(dataKeyOf(row.person_key), "a user")
    return {
      ...user,
      email: Keys.openNullable(key, Keys.context("user", row.id, "email"), row.email),
      name: Keys.openNullable(key, Keys.context("user", row.id, "name"), row.name),
      phone: Keys.openNullable(key, Keys.context("user", row.id, "phone"), row.phone)
    }
  }

  const sealNotes = (registrationId: Ids.RegistrationId | string, dataKey: Keys.DataKey, notes: string) =>
    Keys.seal(dataKey, Keys.context("registration", registrationId, "notes"), notes)

  const openRegistration = (row: RegistrationRow): Registration.Registration => {
    const registration = toRegistration(row)
    if (!row.notes_sealed) return registration
    const key = required(dataKeyOf(row.owner_key), "a registration's notes")
    return { ...registration, notes: Keys.open(key, Keys.context("registration", row.id, "notes"), row.notes) }
  }

  // The batch operations of the registration path: on the sealing thread, or the same code inline.
  const batches = thread ?? inline(keyring)

  const personInput = (user: NewUser, registration?: AnticipatedRegistration): SealingWorker.PersonInput => {
    const fields = [user.id, user.email, user.name, user.phone, user.email === null ? null : User.normaliseEmail(user.email)] as const
    return registration === undefined ? fields : [...fields, [registration.id, registration.notes]]
  }

  /** New people's columns as they are written: sealed under a new data key each, or plain when disabled. */
  const sealNewUsers = (users: ReadonlyArray<NewUser>): Effect.Effect<ReadonlyArray<NewPerson>> =>
    !enabled
      ? Effect.succeed(users.map((user) => ({ fields: { email: user.email, name: user.name, phone: user.phone, email_index: null }, key: undefined })))
      : Effect.map(
        batches.people(users.map((user) => personInput(user))),
        (sealed) =>
          sealed.map(([keyId, wrapped, email, name, phone, email_index]) => ({
            fields: { email, name, phone, email_index },
            key: { stored: { keyId, wrapped } }
          }))
      )

  /**
   * People about to be provisioned (`sealNewUsers`): their sealing may start now (on the thread), with
   * the notes of the registration each is about to make (`sealNotesMany` then takes them).
   */
  const anticipateNewUsers = (
    users: ReadonlyArray<NewUser>,
    registrations?: ReadonlyArray<AnticipatedRegistration | undefined>
  ) => {
    if (enabled) batches.anticipate(users.map((user, i) => personInput(user, registrations?.[i])))
  }

  /** Notes sealed under their owners' data keys. */
  const sealNotesMany = (items: ReadonlyArray<NotesToSeal>): Effect.Effect<ReadonlyArray<string>> =>
    batches.notes(items.map((item) => [item.registrationId, item.ownerKey, item.notes]))

  /** An erased person's data key (`<key id>:<wrapped>`) leaves this process's memory: here and on the thread. */
  const forgetKey = (stored: string) => {
    unwrap.forget(Keys.parseStoredKey(stored))
    batches.forget(stored)
  }

  return {
    keyring,
    enabled,
    forgetKey,
    dataKeyOf,
    newPersonKey,
    sealUser,
    sealNewUsers,
    anticipateNewUsers,
    openUser,
    sealNotes,
    sealNotesMany,
    openRegistration
  } as const
}

/** @since 0.1.0 */
export type FieldSealing = ReturnType<typeof make>

/** The field sealing of the store's keyring, on the store's sealing thread if it has one. @since 0.1.0 */
export const fromContext = Effect.gen(function*() {
  return make(yield* Keys.PersonalDataKeys, yield* SealingThread)
})
