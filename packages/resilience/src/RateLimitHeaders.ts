/**
 * A pure formatter for the rate-limit fields of the IETF httpapi draft
 * `draft-ietf-httpapi-ratelimit-headers-10`, and for `Retry-After`.
 *
 * Both fields are Structured Field Lists (RFC 9651) of Items whose value is a String naming the policy:
 *
 * - `RateLimit-Policy: "general";q=100;w=60` — quota `q` (Integer), optional quota unit `qu` (String,
 *   default "requests"), window `w` (Integer seconds), partition key `pk` (Byte Sequence);
 * - `RateLimit: "general";r=42;t=17` — remaining `r` (Integer), reset `t` (Integer seconds), `pk`.
 *
 * When both `Retry-After` and `RateLimit` are sent, `Retry-After` is never earlier than the reset
 * (draft §6): a rejected decision already has `resetSeconds == retryAfterSeconds`, and `Retry-After`
 * is the largest among the rejected decisions.
 *
 * @since 0.1.0
 */
import * as Base64 from "effect/encoding/Base64"
import type { Decision } from "./RateLimit.ts"

/** @since 0.1.0 */
export interface QuotaPolicy {
  readonly name: string
  readonly quota: number
  /** Seconds. */
  readonly window?: number | undefined
  readonly quotaUnit?: "requests" | "content-bytes" | "concurrent-requests" | undefined
  readonly partitionKey?: Uint8Array | undefined
}

/** @since 0.1.0 */
export interface ServiceLimit {
  readonly name: string
  readonly remaining: number
  /** Seconds. */
  readonly reset?: number | undefined
  readonly partitionKey?: Uint8Array | undefined
}

/**
 * An sf-string: printable ASCII only, `"` and `\` escaped (RFC 9651 §4.1.6).
 *
 * @since 0.1.0
 */
export const sfString = (value: string): string => {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new RangeError(`Not a Structured Field String: ${JSON.stringify(value)}`)
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

/**
 * An sf-integer; negatives and fractions are clamped and rounded down, as every field here is a
 * non-negative count or a number of seconds (RFC 9651 §4.1.4 caps at 15 digits).
 *
 * @since 0.1.0
 */
export const sfInteger = (value: number): string =>
  String(Math.min(999_999_999_999_999, Math.max(0, Math.floor(Number.isFinite(value) ? value : 0))))

/** An sf-binary (RFC 9651 §4.1.8). @since 0.1.0 */
export const sfBinary = (bytes: Uint8Array): string => `:${Base64.encode(bytes)}:`

/**
 * `RateLimit-Policy` field value.
 *
 * @since 0.1.0
 */
export const formatPolicy = (policies: ReadonlyArray<QuotaPolicy>): string =>
  policies.map((policy) => {
    let item = `${sfString(policy.name)};q=${sfInteger(policy.quota)}`
    if (policy.quotaUnit !== undefined && policy.quotaUnit !== "requests") item += `;qu=${sfString(policy.quotaUnit)}`
    if (policy.window !== undefined) item += `;w=${sfInteger(Math.max(1, policy.window))}`
    if (policy.partitionKey !== undefined) item += `;pk=${sfBinary(policy.partitionKey)}`
    return item
  }).join(", ")

/**
 * `RateLimit` field value.
 *
 * @since 0.1.0
 */
export const formatRateLimit = (limits: ReadonlyArray<ServiceLimit>): string =>
  limits.map((limit) => {
    let item = `${sfString(limit.name)};r=${sfInteger(limit.remaining)}`
    if (limit.reset !== undefined) item += `;t=${sfInteger(limit.reset)}`
    if (limit.partitionKey !== undefined) item += `;pk=${sfBinary(limit.partitionKey)}`
    return item
  }).join(", ")

/** @since 0.1.0 */
export interface Headers {
  readonly "RateLimit-Policy": string
  readonly "RateLimit": string
  /** Present when at least one decision rejected the request. */
  readonly "Retry-After"?: string
}

/**
 * The fields for the decisions taken on one request (e.g. the per-IP and the per-user policy), on a
 * success as on a 429. Returns no field for an empty list.
 *
 * @since 0.1.0
 */
export const fromDecisions = (
  decisions: ReadonlyArray<Decision>,
  options?: { readonly partitionKey?: Uint8Array | undefined }
): Headers | undefined => {
  if (decisions.length === 0) return undefined
  const partitionKey = options?.partitionKey
  const policy = formatPolicy(decisions.map((decision) => ({
    name: decision.policy.name,
    quota: decision.limit,
    window: decision.windowSeconds,
    partitionKey
  })))
  const rateLimit = formatRateLimit(decisions.map((decision) => ({
    name: decision.policy.name,
    remaining: decision.allowed ? decision.remaining : 0,
    reset: decision.resetSeconds,
    partitionKey
  })))
  const rejected = decisions.filter((decision) => !decision.allowed)
  if (rejected.length === 0) return { "RateLimit-Policy": policy, "RateLimit": rateLimit }
  const retryAfter = Math.max(...rejected.map((decision) => decision.retryAfterSeconds))
  return { "RateLimit-Policy": policy, "RateLimit": rateLimit, "Retry-After": String(Math.max(1, retryAfter)) }
}

/**
 * `Retry-After` as delay-seconds for a duration in milliseconds: rounded up, at least 1.
 *
 * @since 0.1.0
 */
export const retryAfter = (millis: number): string => String(Math.max(1, Math.ceil(millis / 1000)))
