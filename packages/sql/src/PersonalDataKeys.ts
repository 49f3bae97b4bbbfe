/**
 * The keys that keep personal data unreadable at rest, and the few synchronous operations on them.
 *
 * Envelope encryption in two levels:
 * - every person has a **data key** (32 random bytes) under which their fields are sealed: email, name
 *   and phone on the user row, the notes of each of their registrations. The data key is stored
 *   **wrapped** (AES-KW, RFC 3394) by a keyring key, in `person_keys`, with the id of the keyring key.
 *   Erasing a person deletes that row: every copy of their ciphertext, wherever it went, stops
 *   decrypting (crypto-shredding).
 * - the **keyring** (from configuration): several keys with ids, one of them active. New data keys are
 *   wrapped by the active key; rotation re-wraps the others (32 bytes per person, the sealed fields
 *   themselves are never rewritten), after which an old key can be retired.
 *
 * A sealed field is `v1.` + base64url(nonce ‖ ciphertext ‖ tag): AES-256-GCM with a random 96-bit nonce
 * and, as additional data, what the value is and whose (`user/<id>/email`,
 * `registration/<id>/notes`): a ciphertext copied into another row or another column does not open.
 *
 * Email lookups go through a **blind index**: HMAC-SHA-256 of the normalised email under an index key
 * of its own (a second keyring), stored as `<index key id>:<base64url mac>`. Equal emails give equal
 * index values, never equal ciphertexts.
 *
 * Everything here is synchronous `node:crypto` (the byte-level part is `SealingPrimitives.ts`): WebCrypto's
 * one promise per operation would cost more than the cipher (see ADR 0010). On the registration hot path
 * the same operations run in batches on a sealing thread when one is provided (`SealingThread.ts`).
 *
 * @since 0.1.0
 */
import { User } from "@live-events/domain"
import { Context, Data, Redacted } from "effect"
import { createSecretKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto"
import * as Primitives from "./SealingPrimitives.ts"

/** A keyring: keys by id (32 bytes each), one active. @since 0.1.0 */
export interface Ring {
  readonly active: string
  readonly keys: ReadonlyMap<string, Redacted.Redacted<Uint8Array>>
}

/** The field keyring and the blind-index keyring. @since 0.1.0 */
export interface Keyring {
  readonly data: Ring
  readonly index: Ring
  /**
   * Benchmarks only: write personal data in plain text, as before sealing existed, to price sealing
   * within one run. Rows written so are sealed by the next rotation.
   */
  readonly unsealed?: boolean | undefined
}

/**
 * The keyring the SQL store seals personal data with.
 *
 * @since 0.1.0
 */
export class PersonalDataKeys extends Context.Service<PersonalDataKeys, Keyring>()("@live-events/sql/PersonalDataKeys") {}

/** A keyring specification that cannot be used (the message never holds key material). @since 0.1.0 */
export class KeyringInvalid extends Data.TaggedError("KeyringInvalid")<{ readonly message: string }> {}

/** A sealed value that does not open: wrong row, wrong key, tampered, or its data key was erased. @since 0.1.0 */
export class SealedValueUnreadable extends Data.TaggedError("SealedValueUnreadable")<{ readonly message: string }> {}

const KEY_BYTES = Primitives.KEY_BYTES
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/

const ring = (active: string, keys: ReadonlyArray<readonly [string, Uint8Array]>): Ring => ({
  active,
  keys: new Map(keys.map(([id, key]) => [id, Redacted.make(key)]))
})

/**
 * Parses `id=<base64 of 32 bytes>,id2=…` with the active key's id. Every problem is reported by key id
 * and position, never with the key's text.
 *
 * @since 0.1.0
 */
export const parseRing = (name: string, spec: string, active: string | undefined): Ring | KeyringInvalid => {
  const entries: Array<readonly [string, Uint8Array]> = []
  const parts = spec.split(",").map((part) => part.trim()).filter((part) => part.length > 0)
  if (parts.length === 0) return new KeyringInvalid({ message: `${name} holds no key` })
  for (const [position, part] of parts.entries()) {
    const separator = part.indexOf("=")
    const id = separator < 0 ? "" : part.slice(0, separator)
    if (!KEY_ID.test(id)) {
      return new KeyringInvalid({ message: `${name}: entry ${position + 1} is not <id>=<base64 key> (id: 1-32 of A-Z a-z 0-9 _ -)` })
    }
    const text = part.slice(separator + 1)
    const key = Buffer.from(text, "base64")
    if (key.length !== KEY_BYTES || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
      return new KeyringInvalid({ message: `${name}: key "${id}" is not ${KEY_BYTES} bytes of base64` })
    }
    if (entries.some(([known]) => known === id)) return new KeyringInvalid({ message: `${name}: key id "${id}" appears twice` })
    entries.push([id, new Uint8Array(key)])
  }
  const chosen = active ?? entries[0]![0]
  if (!entries.some(([id]) => id === chosen)) {
    return new KeyringInvalid({ message: `${name}: the active key "${chosen}" is not among its keys` })
  }
  return ring(chosen, entries)
}

/**
 * A keyring derived from one secret (development: the development signing secret), with key ids that
 * name their origin so that a production keyring never mistakes them for its own.
 *
 * @since 0.1.0
 */
export const fromSecret = (secret: Uint8Array | string): Keyring => ({
  data: ring("dev", [["dev", new Uint8Array(hkdfSync("sha256", secret, "live-events", "personal-data keyring v1", KEY_BYTES))]]),
  index: ring("dev", [["dev", new Uint8Array(hkdfSync("sha256", secret, "live-events", "email blind index v1", KEY_BYTES))]])
})

/** A fresh random keyring (throw-away databases, tests). @since 0.1.0 */
export const generate = (ids: { readonly data?: string; readonly index?: string } = {}): Keyring => ({
  data: ring(ids.data ?? "k1", [[ids.data ?? "k1", new Uint8Array(randomBytes(KEY_BYTES))]]),
  index: ring(ids.index ?? "i1", [[ids.index ?? "i1", new Uint8Array(randomBytes(KEY_BYTES))]])
})

/** `keyring` with `key` added under `id` and made active (a rotation's first step). @since 0.1.0 */
export const withActiveKey = (keyring: Keyring, part: "data" | "index", id: string, key: Uint8Array = new Uint8Array(randomBytes(KEY_BYTES))): Keyring => ({
  ...keyring,
  [part]: { active: id, keys: new Map([...keyring[part].keys, [id, Redacted.make(key)]]) }
})

const keyOf = (ring: Ring, id: string) => {
  const key = ring.keys.get(id)
  if (key === undefined) throw new SealedValueUnreadable({ message: `no key "${id}" in the keyring` })
  return Redacted.value(key)
}

const keyObjectOf = (ring: Ring, id: string): KeyObject => Primitives.keyObject(keyOf(ring, id))

/** A data key, ready to seal and open with. @since 0.1.0 */
export type DataKey = KeyObject

/** A new person's data key. @since 0.1.0 */
export const newDataKey = (): DataKey => createSecretKey(Primitives.random(KEY_BYTES))

/**
 * A new person's data key and its stored form, wrapped from the random bytes themselves (exporting a
 * `KeyObject` again costs as much as the wrap).
 *
 * @since 0.1.0
 */
export const newWrappedDataKey = (keyring: Keyring): { readonly dataKey: DataKey; readonly stored: WrappedKey } => {
  const bytes = Primitives.random(KEY_BYTES)
  return { dataKey: createSecretKey(bytes), stored: wrapBytes(keyring, bytes) }
}

/** A data key as stored: the keyring key's id and the wrapped bytes. @since 0.1.0 */
export interface WrappedKey {
  readonly keyId: string
  readonly wrapped: string
}

/** Wraps a data key under the active keyring key. @since 0.1.0 */
export const wrap = (keyring: Keyring, dataKey: DataKey): WrappedKey => wrapBytes(keyring, dataKey.export())

const wrapBytes = (keyring: Keyring, dataKey: Uint8Array): WrappedKey => ({
  keyId: keyring.data.active,
  wrapped: Primitives.wrap(keyObjectOf(keyring.data, keyring.data.active), dataKey)
})

/**
 * Unwraps a stored data key (throws {@link SealedValueUnreadable} for an unknown key id or bytes that do
 * not unwrap under it).
 *
 * @since 0.1.0
 */
export const unwrap = (keyring: Keyring, stored: WrappedKey): DataKey => {
  try {
    return Primitives.unwrap(keyObjectOf(keyring.data, stored.keyId), stored.wrapped)
  } catch (error) {
    if (error instanceof SealedValueUnreadable) throw error
    throw new SealedValueUnreadable({ message: `a data key does not unwrap under key "${stored.keyId}"` })
  }
}

/** What a sealed value is and whose: the GCM additional data. @since 0.1.0 */
export const context: (kind: "user" | "registration" | "response", id: string, field: string) => string =
  Primitives.context

/** Seals `plain` under `key` for `aad`. @since 0.1.0 */
export const seal: (key: DataKey, aad: string, plain: string) => string = Primitives.seal

/** Opens what {@link seal} made for the same `aad`; throws {@link SealedValueUnreadable} otherwise. @since 0.1.0 */
export const open = (key: DataKey, aad: string, sealed: string): string => {
  try {
    return Primitives.open(key, aad, sealed)
  } catch {
    throw new SealedValueUnreadable({
      message: !sealed.startsWith(Primitives.FORMAT) ? "not a sealed value" : `a sealed value does not open as ${aad.split("/")[0]} data`
    })
  }
}

/** `null` stays `null`. @since 0.1.0 */
export const sealNullable = (key: DataKey, aad: string, plain: string | null): string | null =>
  plain === null ? null : seal(key, aad, plain)

/** @since 0.1.0 */
export const openNullable = (key: DataKey, aad: string, sealed: string | null): string | null =>
  sealed === null ? null : open(key, aad, sealed)

/**
 * A response-sealing key of keyring key `keyId`, derived (HKDF) so that the keyring keys themselves
 * only ever wrap data keys.
 *
 * @since 0.1.0
 */
export const responseKey = (keyring: Keyring, keyId: string): DataKey =>
  createSecretKey(new Uint8Array(hkdfSync("sha256", keyOf(keyring.data, keyId), "live-events", "stored responses v1", KEY_BYTES)))


const indexWith = (ring: Ring, id: string, email: string) => `${id}:${Primitives.mac(keyOf(ring, id), User.normaliseEmail(email))}`

/** The blind index of `email` under the active index key. @since 0.1.0 */
export const emailIndex = (keyring: Keyring, email: string): string => indexWith(keyring.index, keyring.index.active, email)

/** The blind index of `email` under every index key (a lookup during an index-key rotation). @since 0.1.0 */
export const emailIndexes = (keyring: Keyring, email: string): ReadonlyArray<string> =>
  [...keyring.index.keys.keys()].map((id) => indexWith(keyring.index, id, email))

/**
 * Unwrapped data keys by their stored form, so that reading a person's rows again does not unwrap again.
 * Bounded; cleared whole when full (cheap, and a key is unwrapped again in microseconds). Keyed by the
 * wrapped bytes, so a re-wrapped or deleted key is never served from here for the new stored form.
 *
 * @since 0.1.0
 */
export const unwrapCache = (keyring: Keyring, capacity = 10_000) => {
  const known = new Map<string, DataKey>()
  const remember = (stored: WrappedKey, key: DataKey) => {
    if (known.size >= capacity) known.clear()
    known.set(`${stored.keyId}:${stored.wrapped}`, key)
  }
  const unwrapped = (stored: WrappedKey): DataKey => {
    const hit = known.get(`${stored.keyId}:${stored.wrapped}`)
    if (hit !== undefined) return hit
    const key = unwrap(keyring, stored)
    remember(stored, key)
    return key
  }
  return { unwrapped, remember, forget: (stored: WrappedKey) => known.delete(`${stored.keyId}:${stored.wrapped}`) }
}

/** `keyId:wrapped` as selected by the statements (see `Rows.ts`) → its parts. @since 0.1.0 */
export const parseStoredKey = (text: string): WrappedKey => {
  const separator = text.indexOf(":")
  return { keyId: text.slice(0, separator), wrapped: text.slice(separator + 1) }
}
