/**
 * The security headers every response carries, computed from the request: a strict CSP for the API
 * (it serves JSON only) and one that lets the `/docs` page run its inline Scalar scripts (allowed by
 * their SHA-256 hashes, not by `'unsafe-inline'`), no framing, no sniffing, no referrer, every browser
 * feature denied, COOP/CORP, HSTS only when the request reached us over TLS (or a trusted proxy said
 * so), `Cache-Control: no-store` on authenticated responses, and no `Server` / `X-Powered-By`.
 *
 * @since 0.1.0
 */
import type { HttpServerResponse } from "effect/http"
import { createHash } from "node:crypto"

/** @since 0.1.0 */
export const apiCsp = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * Deny-all Permissions-Policy for the features browsers currently recognise.
 *
 * @since 0.1.0
 */
export const permissionsPolicy = [
  "accelerometer",
  "autoplay",
  "camera",
  "display-capture",
  "encrypted-media",
  "fullscreen",
  "geolocation",
  "gyroscope",
  "hid",
  "idle-detection",
  "magnetometer",
  "microphone",
  "midi",
  "payment",
  "picture-in-picture",
  "publickey-credentials-get",
  "screen-wake-lock",
  "serial",
  "usb",
  "web-share",
  "xr-spatial-tracking"
].map((feature) => `${feature}=()`).join(", ")

/** Headers identical on every response. @since 0.1.0 */
export const fixed: Readonly<Record<string, string>> = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "permissions-policy": permissionsPolicy,
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin"
}

const scriptPattern = /<script(?:\s[^>]*)?>([\s\S]*?)<\/script>/g

/**
 * The CSP of an HTML page whose inline scripts are exactly those of `html`: each allowed by its
 * hash. Scalar also injects inline styles and loads its fonts from fonts.scalar.com; it calls the API
 * on this origin only.
 *
 * @since 0.1.0
 */
export const docsCsp = (html: string): string => {
  const hashes = [...html.matchAll(scriptPattern)]
    .map((match) => match[1] ?? "")
    .filter((source) => source.length > 0)
    .map((source) => `'sha256-${createHash("sha256").update(source, "utf8").digest("base64")}'`)
  return [
    "default-src 'none'",
    `script-src ${hashes.length === 0 ? "'none'" : hashes.join(" ")}`,
    "style-src 'self' 'unsafe-inline' https://fonts.scalar.com",
    "font-src 'self' data: https://fonts.scalar.com",
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'"
  ].join("; ")
}

// The docs page is built once per process; so is its CSP.
const docsCspCache = new WeakMap<Uint8Array, string>()

/**
 * The CSP for a response: the docs CSP for an HTML page with inline scripts, the API CSP otherwise.
 *
 * @since 0.1.0
 */
export const cspFor = (response: HttpServerResponse.HttpServerResponse): string => {
  const body = response.body
  if (body._tag !== "Uint8Array" || !(body.contentType ?? "").startsWith("text/html")) return apiCsp
  let csp = docsCspCache.get(body.body)
  if (csp === undefined) {
    csp = docsCsp(new TextDecoder().decode(body.body))
    docsCspCache.set(body.body, csp)
  }
  return csp
}

/**
 * The response fields of every combination of TLS, authentication and an allowed CORS origin, built
 * once: a request picks its set instead of assembling it.
 *
 * @since 0.1.0
 */
export interface HeaderSets {
  readonly sets: ReadonlyArray<Readonly<Record<string, string>>>
}

/** @since 0.1.0 */
export const precompute = (hstsMaxAge: number, corsEnabled: boolean): HeaderSets => {
  const sets: Array<Readonly<Record<string, string>>> = []
  for (let index = 0; index < 8; index++) {
    const secure = (index & 1) !== 0
    const authenticated = (index & 2) !== 0
    const corsAllowed = (index & 4) !== 0
    sets.push({
      ...fixed,
      "content-security-policy": apiCsp,
      ...(secure ? { "strict-transport-security": `max-age=${hstsMaxAge}; includeSubDomains` } : {}),
      ...(authenticated ? { "cache-control": "no-store" } : {}),
      ...(corsEnabled ? { vary: "Origin" } : {}),
      ...(corsAllowed ? { "access-control-expose-headers": corsExposeHeaders } : {})
    })
  }
  return { sets }
}

/** @since 0.1.0 */
export const select = (
  headerSets: HeaderSets,
  secure: boolean,
  authenticated: boolean,
  corsAllowed: boolean
): Readonly<Record<string, string>> =>
  headerSets.sets[(secure ? 1 : 0) | (authenticated ? 2 : 0) | (corsAllowed ? 4 : 0)]!

/** Response headers a cross-origin script may read. @since 0.1.0 */
export const corsExposeHeaders =
  "Location, ETag, Retry-After, RateLimit, RateLimit-Policy, X-Correlation-Id, WWW-Authenticate"

/** Methods and request headers a browser may use cross-origin. @since 0.1.0 */
export const corsAllowMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"

/** @since 0.1.0 */
export const corsAllowHeaders =
  "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Correlation-Id, traceparent, tracestate"

/** The fields of a CORS preflight answer (the origin and the security headers are added like everywhere). @since 0.1.0 */
export const preflight: Readonly<Record<string, string>> = {
  "access-control-allow-methods": corsAllowMethods,
  "access-control-allow-headers": corsAllowHeaders,
  "access-control-max-age": "600",
  "vary": "Access-Control-Request-Method, Access-Control-Request-Headers"
}
