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
 * Everything here is synchronous `node:crypto`: these run inside the row mapping of the registration
 * hot path, where WebCrypto's one promise per operation would cost more than the cipher (see ADR 0010).
 * Per-call costs dominate for values this small, so keys are `KeyObject`s made once (a raw key makes
 * OpenSSL set one up on every call: measured 26 µs against 6 µs per seal), the HMAC reuses the keyed
 * hash states, and nonces come from a buffer of CSPRNG bytes drawn 4 KiB at a time.
 *
 * @since 0.1.0
 */
import { User } from "@live-events/domain"
import { Context, Data, Redacted } from "effect"
import { createCipheriv, createDecipheriv, createHash, type Hash, hkdfSync, type KeyObject, randomBytes, createSecretKey } from "node:crypto"

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

const KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16
const FORMAT = "v1."
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/
// RFC 3394's default initial value.
const WRAP_IV = Buffer.from("A6A6A6A6A6A6A6A6", "hex")

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

const keyObjects = new WeakMap<Uint8Array, KeyObject>()
const keyObjectOf = (ring: Ring, id: string): KeyObject => {
  const bytes = keyOf(ring, id)
  let key = keyObjects.get(bytes)
  if (key === undefined) {
    key = createSecretKey(bytes)
    keyObjects.set(bytes, key)
  }
  return key
}

let entropy = Buffer.alloc(0)
let drawn = 0
/** `length` fresh CSPRNG bytes (each handed out once; the pool is refilled, never reused). */
const random = (length: number): Buffer => {
  if (drawn + length > entropy.length) {
    entropy = randomBytes(4096)
    drawn = 0
  }
  const bytes = entropy.subarray(drawn, drawn + length)
  drawn += length
  return bytes
}

/** A data key, ready to seal and open with. @since 0.1.0 */
export type DataKey = KeyObject

/** A new person's data key. @since 0.1.0 */
export const newDataKey = (): DataKey => createSecretKey(random(KEY_BYTES))

/**
 * A new person's data key and its stored form, wrapped from the random bytes themselves (exporting a
 * `KeyObject` again costs as much as the wrap).
 *
 * @since 0.1.0
 */
export const newWrappedDataKey = (keyring: Keyring): { readonly dataKey: DataKey; readonly stored: WrappedKey } => {
  const bytes = random(KEY_BYTES)
  return { dataKey: createSecretKey(bytes), stored: wrapBytes(keyring, bytes) }
}

/** A data key as stored: the keyring key's id and the wrapped bytes. @since 0.1.0 */
export interface WrappedKey {
  readonly keyId: string
  readonly wrapped: string
}

/** Wraps a data key under the active keyring key. @since 0.1.0 */
export const wrap = (keyring: Keyring, dataKey: DataKey): WrappedKey => wrapBytes(keyring, dataKey.export())

const wrapBytes = (keyring: Keyring, dataKey: Uint8Array): WrappedKey => {
  const cipher = createCipheriv("id-aes256-wrap", keyObjectOf(keyring.data, keyring.data.active), WRAP_IV)
  return {
    keyId: keyring.data.active,
    wrapped: Buffer.concat([cipher.update(dataKey), cipher.final()]).toString("base64url")
  }
}

/**
 * Unwraps a stored data key (throws {@link SealedValueUnreadable} for an unknown key id or bytes that do
 * not unwrap under it).
 *
 * @since 0.1.0
 */
export const unwrap = (keyring: Keyring, stored: WrappedKey): DataKey => {
  try {
    const decipher = createDecipheriv("id-aes256-wrap", keyObjectOf(keyring.data, stored.keyId), WRAP_IV)
    return createSecretKey(Buffer.concat([decipher.update(Buffer.from(stored.wrapped, "base64url")), decipher.final()]))
  } catch (error) {
    if (error instanceof SealedValueUnreadable) throw error
    throw new SealedValueUnreadable({ message: `a data key does not unwrap under key "${stored.keyId}"` })
  }
}

/** What a sealed value is and whose: the GCM additional data. @since 0.1.0 */
export const context = (kind: "user" | "registration" | "response", id: string, field: string): string =>
  `${kind}/${id}/${field}`

/** Seals `plain` under `key` for `aad`. @since 0.1.0 */
export const seal = (key: DataKey, aad: string, plain: string): string => {
  const nonce = random(NONCE_BYTES)
  const cipher = createCipheriv("aes-256-gcm", key, nonce)
  cipher.setAAD(Buffer.from(aad, "utf8"))
  // GCM is a stream cipher: `update` returns every byte, `final` none; one buffer is encoded.
  const body = cipher.update(plain, "utf8")
  cipher.final()
  const out = Buffer.allocUnsafe(NONCE_BYTES + body.length + TAG_BYTES)
  nonce.copy(out, 0)
  body.copy(out, NONCE_BYTES)
  cipher.getAuthTag().copy(out, NONCE_BYTES + body.length)
  return FORMAT + out.toString("base64url")
}

/** Opens what {@link seal} made for the same `aad`; throws {@link SealedValueUnreadable} otherwise. @since 0.1.0 */
export const open = (key: DataKey, aad: string, sealed: string): string => {
  if (!sealed.startsWith(FORMAT)) throw new SealedValueUnreadable({ message: "not a sealed value" })
  const bytes = Buffer.from(sealed.slice(FORMAT.length), "base64url")
  if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new SealedValueUnreadable({ message: "a sealed value is truncated" })
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES))
    decipher.setAAD(Buffer.from(aad, "utf8"))
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
    return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()])
      .toString("utf8")
  } catch {
    throw new SealedValueUnreadable({ message: `a sealed value does not open as ${aad.split("/")[0]} data` })
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


/** HMAC-SHA-256 (RFC 2104) from the keyed inner and outer hash states, copied per message. */
const macStates = new WeakMap<Uint8Array, { readonly inner: Hash; readonly outer: Hash }>()
const mac = (key: Uint8Array, message: string) => {
  let states = macStates.get(key)
  if (states === undefined) {
    const block = Buffer.alloc(64)
    Buffer.from(key).copy(block)
    states = {
      inner: createHash("sha256").update(block.map((byte) => byte ^ 0x36)),
      outer: createHash("sha256").update(block.map((byte) => byte ^ 0x5c))
    }
    macStates.set(key, states)
  }
  return states.outer.copy().update(states.inner.copy().update(message, "utf8").digest()).digest("base64url")
}

const indexWith = (ring: Ring, id: string, email: string) => `${id}:${mac(keyOf(ring, id), User.normaliseEmail(email))}`

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
  return { unwrapped, remember }
}

/** `keyId:wrapped` as selected by the statements (see `Rows.ts`) → its parts. @since 0.1.0 */
export const parseStoredKey = (text: string): WrappedKey => {
  const separator = text.indexOf(":")
  return { keyId: text.slice(0, separator), wrapped: text.slice(separator + 1) }
}
