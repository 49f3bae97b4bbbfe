/**
 * Development-mode bearer tokens (HS256, issuer `live-events-dev`, audience `live-events`), minted
 * with node:crypto so the harness needs no JWT library. The baseline server verifies the same tokens.
 */
import { createHmac, timingSafeEqual } from "node:crypto"

/** The claims the reference server reads. */
export interface TokenClaims {
  readonly sub: string
  readonly roles: ReadonlyArray<"admin" | "organizer" | "attendee">
  readonly email?: string
  readonly name?: string
}

const base64url = (input: string | Buffer): string => Buffer.from(input).toString("base64url")
const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))

/** Mints a token valid for `ttlSeconds` (default one hour). */
export const mintToken = (secret: string, claims: TokenClaims, ttlSeconds = 3600): string => {
  const now = Math.floor(Date.now() / 1000)
  const payload = base64url(
    JSON.stringify({ iss: "live-events-dev", aud: "live-events", iat: now, exp: now + ttlSeconds, ...claims })
  )
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url")
  return `${header}.${payload}.${signature}`
}

/** Verifies an HS256 token minted by {@link mintToken}; returns its claims or null. */
export const verifyToken = (secret: string, token: string): (TokenClaims & { exp?: number }) | null => {
  const parts = token.split(".")
  if (parts.length !== 3) return null
  const [head, payload, signature] = parts as [string, string, string]
  const expected = createHmac("sha256", secret).update(`${head}.${payload}`).digest()
  const given = Buffer.from(signature, "base64url")
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
    if (claims.iss !== "live-events-dev" || claims.aud !== "live-events" || typeof claims.sub !== "string") return null
    if (typeof claims.exp === "number" && claims.exp < Date.now() / 1000) return null
    return { ...claims, roles: Array.isArray(claims.roles) ? claims.roles : ["attendee"] }
  } catch {
    return null
  }
}
