/**
 * Synchronous verification of the development mode's HS256 tokens with `node:crypto`.
 *
 * jose verifies through WebCrypto: a promise, a key import check and an async HMAC per token, about
 * 15 % of the CPU of a registration whose token is new (every first request of a user). Here the
 * HMAC is one `createHmac` call and the checks are jose's, for this one algorithm: the protected
 * header must say `HS256` and nothing critical, the signature must match in constant time, the payload
 * must be a JSON object, `iss` and `aud` must match, `exp` must lie ahead and `nbf` (if any) behind,
 * `iat` must be a number if present. A differential test holds it to jose's answers; the one difference
 * is stricter: base64url segments with padding (`=`, which RFC 7515 leaves out) are refused.
 *
 * Production tokens (asymmetric, from a JWKS) still go through jose.
 *
 * @since 0.1.0
 */
import type { JWTPayload } from "jose"
import { createHmac, type KeyObject, timingSafeEqual } from "node:crypto"

/** @since 0.1.0 */
export interface Expectations {
  readonly issuer: string
  readonly audience: string
}

/** The payload of a valid token, or why it is not one. @since 0.1.0 */
export type Verification =
  | { readonly _tag: "Valid"; readonly payload: JWTPayload }
  | { readonly _tag: "Invalid"; readonly reason: string }

const invalid = (reason: string): Verification => ({ _tag: "Invalid", reason })

const base64url = /^[A-Za-z0-9_-]*$/

const parseObject = (segment: string): Record<string, unknown> | undefined => {
  if (!base64url.test(segment)) return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"))
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value)

/**
 * Verifies `token` with `key` at `nowSeconds`.
 *
 * @since 0.1.0
 */
export const verify = (key: KeyObject, token: string, expect: Expectations, nowSeconds: number): Verification => {
  const first = token.indexOf(".")
  const second = first === -1 ? -1 : token.indexOf(".", first + 1)
  if (first <= 0 || second === -1 || token.indexOf(".", second + 1) !== -1) return invalid("ERR_JWS_INVALID")
  const header = parseObject(token.slice(0, first))
  if (header === undefined) return invalid("ERR_JWS_INVALID")
  if (header["alg"] !== "HS256") return invalid("ERR_JOSE_ALG_NOT_ALLOWED")
  if (header["crit"] !== undefined || header["b64"] !== undefined) return invalid("ERR_JWS_INVALID")
  const signature = token.slice(second + 1)
  if (!base64url.test(signature)) return invalid("ERR_JWS_INVALID")
  const expected = createHmac("sha256", key).update(token.slice(0, second)).digest()
  const given = Buffer.from(signature, "base64url")
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return invalid("ERR_JWS_SIGNATURE_VERIFICATION_FAILED")
  }
  const payload = parseObject(token.slice(first + 1, second))
  if (payload === undefined) return invalid("ERR_JWT_INVALID")
  if (payload["iss"] !== expect.issuer) return invalid("ERR_JWT_CLAIM_VALIDATION_FAILED")
  const audience = payload["aud"]
  if (!(audience === expect.audience || (Array.isArray(audience) && audience.includes(expect.audience)))) {
    return invalid("ERR_JWT_CLAIM_VALIDATION_FAILED")
  }
  if (payload["iat"] !== undefined && !isNumber(payload["iat"])) return invalid("ERR_JWT_CLAIM_VALIDATION_FAILED")
  const nbf = payload["nbf"]
  if (nbf !== undefined && (!isNumber(nbf) || nbf > nowSeconds)) return invalid("ERR_JWT_CLAIM_VALIDATION_FAILED")
  const exp = payload["exp"]
  if (exp !== undefined) {
    if (!isNumber(exp)) return invalid("ERR_JWT_CLAIM_VALIDATION_FAILED")
    if (exp <= nowSeconds) return invalid("ERR_JWT_EXPIRED")
  }
  return { _tag: "Valid", payload: payload as JWTPayload }
}
