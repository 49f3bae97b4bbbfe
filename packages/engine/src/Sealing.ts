/**
 * Personal data never reaches Redis readable: cached user profiles (email, name, phone) and
 * registrations (free-text notes) are sealed with AES-256-GCM before they leave the process, and opened
 * when read back. Event details are public and stay plain. In-process (L1) entries are objects in this
 * process's memory and are not sealed.
 *
 * The key is derived (HKDF-SHA-256) from a secret shared by every process of a deployment
 * ({@link layerSecret}); without one, a random key of this process: still never plain text in Redis,
 * but another process cannot open what this one sealed (it sees a miss and reads the store).
 *
 * A sealed value is bound to its kind (`user`, `registration`) through the GCM additional data, so a
 * value of one kind can never be opened as another.
 *
 * @since 0.1.0
 */
import { Context, Layer, Redacted, Schema, SchemaTransformation } from "effect"
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto"

/** 32 bytes of AES-256 key. @since 0.1.0 */
export type Key = Uint8Array

/**
 * The sealing key of this process (default: a random one, see the module comment).
 *
 * @since 0.1.0
 */
export const CacheSealingKey = Context.Reference<Key>("@live-events/engine/CacheSealingKey", {
  defaultValue: () => new Uint8Array(randomBytes(32))
})

/**
 * Derives the sealing key from a secret (HKDF-SHA-256, fixed salt and purpose label).
 *
 * @since 0.1.0
 */
export const deriveKey = (secret: Uint8Array | string): Key =>
  new Uint8Array(hkdfSync("sha256", secret, "live-events", "cache-sealing v1", 32))

const version = "v1."
const ivBytes = 12
const tagBytes = 16

/**
 * Seals `plain` for `kind`: `v1.` + base64url(iv ‖ ciphertext ‖ tag).
 *
 * @since 0.1.0
 */
export const seal = (key: Key, kind: string, plain: string): string => {
  const iv = randomBytes(ivBytes)
  const cipher = createCipheriv("aes-256-gcm", key, iv)
  cipher.setAAD(Buffer.from(kind))
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
  return version + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")
}

/**
 * Opens what {@link seal} produced; throws when the key, the kind or a single byte differs.
 *
 * @since 0.1.0
 */
export const open = (key: Key, kind: string, sealed: string): string => {
  if (!sealed.startsWith(version)) throw new Error("not a sealed cache value")
  const raw = Buffer.from(sealed.slice(version.length), "base64url")
  if (raw.length < ivBytes + tagBytes) throw new Error("truncated sealed cache value")
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, ivBytes))
  decipher.setAAD(Buffer.from(kind))
  decipher.setAuthTag(raw.subarray(raw.length - tagBytes))
  return Buffer.concat([decipher.update(raw.subarray(ivBytes, raw.length - tagBytes)), decipher.final()]).toString("utf8")
}

/**
 * The codec the cache stores in Redis for a value of `kind`: the value's own JSON codec, sealed.
 *
 * @since 0.1.0
 */
export const sealed = <A>(codec: Schema.Codec<A, any>, key: Key, kind: string): Schema.Codec<A, string> =>
  Schema.String.pipe(
    Schema.decodeTo(
      Schema.toCodecJson(codec),
      SchemaTransformation.transform({
        decode: (text: string) => JSON.parse(open(key, kind, text)),
        encode: (json) => seal(key, kind, JSON.stringify(json))
      })
    )
  ) as unknown as Schema.Codec<A, string>

/**
 * The key derived from a secret shared by every process of a deployment (at least 32 characters),
 * so that what one process sealed into Redis another can open.
 *
 * @since 0.1.0
 */
export const layerSecret = (secret: Redacted.Redacted<string>): Layer.Layer<never> => {
  const value = Redacted.value(secret)
  if (value.length < 32) throw new Error("The cache sealing secret must be at least 32 characters long")
  return Layer.succeed(CacheSealingKey, deriveKey(value))
}
