/**
 * Signatures of outbox webhooks, for the sender ({@link OutboxPublisher.layerWebhook}) and for
 * receivers that verify them.
 *
 * Every delivery is a `POST` with a JSON body (the message payload) and these headers:
 *
 * | header | value |
 * |---|---|
 * | `Webhook-Id` | the message id: the same on every retry, deduplicate on it |
 * | `Webhook-Timestamp` | Unix time in seconds when this attempt was signed |
 * | `Webhook-Signature` | `v1=<hex>` where `<hex>` is lowercase hex of HMAC-SHA256(secret, `${timestamp}.${body}`); during a secret rotation one `v1=` entry per secret, separated by spaces |
 * | `Webhook-Type` | the message type, for routing without parsing the body |
 *
 * A receiver recomputes the HMAC over the exact raw body bytes it received, compares it in constant
 * time with any `v1=` entry, and rejects timestamps outside its tolerance (default 5 minutes) to
 * defeat replays.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Redacted } from "effect"
import { type CryptoError, Mac, SecureRandom } from "effect/crypto"

/** @since 0.1.0 */
export const HEADER_ID = "webhook-id"
/** @since 0.1.0 */
export const HEADER_TIMESTAMP = "webhook-timestamp"
/** @since 0.1.0 */
export const HEADER_SIGNATURE = "webhook-signature"
/** @since 0.1.0 */
export const HEADER_TYPE = "webhook-type"

const encoder = new TextEncoder()

const macLayer = Mac.layerWebCrypto.pipe(Layer.provide(SecureRandom.layerWebCrypto))

const toHex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")

const fromHex = (hex: string): Uint8Array | undefined => {
  if (!/^(?:[0-9a-f]{2})+$/.test(hex)) return undefined
  const bytes = new Uint8Array(hex.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return bytes
}

const keyOf = (secret: Redacted.Redacted<string>) => Mac.key(Mac.hmacSha256, encoder.encode(Redacted.value(secret)))

/**
 * The `Webhook-Signature` value for a body signed at `timestamp` (seconds) with every secret.
 *
 * @since 0.1.0
 */
export const sign = (
  secrets: ReadonlyArray<Redacted.Redacted<string>>,
  timestamp: number,
  body: string
): Effect.Effect<string, CryptoError.CryptoError> =>
  Effect.gen(function*() {
    const mac = yield* Mac.Mac
    const data = encoder.encode(`${timestamp}.${body}`)
    const signatures: Array<string> = []
    for (const secret of secrets) {
      signatures.push(`v1=${toHex(yield* mac.sign(yield* keyOf(secret), data))}`)
    }
    return signatures.join(" ")
  }).pipe(Effect.provide(macLayer))

/** @since 0.1.0 */
export interface VerifyOptions {
  readonly secret: Redacted.Redacted<string>
  /** Header values as received (names are case-insensitive in HTTP; pass them lower-cased). */
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The raw request body, exactly as received. */
  readonly body: string
  /** The receiver's current time in seconds. */
  readonly now: number
  /** Accepted clock difference in seconds; default 300. */
  readonly toleranceSeconds?: number | undefined
}

/**
 * `true` when the request carries a valid signature for `secret` and a timestamp within tolerance.
 *
 * @since 0.1.0
 */
export const verify = (options: VerifyOptions): Effect.Effect<boolean, CryptoError.CryptoError> =>
  Effect.gen(function*() {
    const timestampHeader = options.headers[HEADER_TIMESTAMP]
    const signatureHeader = options.headers[HEADER_SIGNATURE]
    if (timestampHeader === undefined || signatureHeader === undefined || !/^\d+$/.test(timestampHeader)) return false
    const timestamp = Number(timestampHeader)
    if (Math.abs(options.now - timestamp) > (options.toleranceSeconds ?? 300)) return false
    const mac = yield* Mac.Mac
    const key = yield* keyOf(options.secret)
    const data = encoder.encode(`${timestampHeader}.${options.body}`)
    for (const entry of signatureHeader.split(" ")) {
      if (!entry.startsWith("v1=")) continue
      const tag = fromHex(entry.slice(3))
      // Mac.verify compares in constant time.
      if (tag !== undefined && (yield* mac.verify(key, tag, data))) return true
    }
    return false
  }).pipe(Effect.provide(macLayer))
