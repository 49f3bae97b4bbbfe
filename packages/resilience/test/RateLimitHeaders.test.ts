/**
 * The header formatter against the examples of draft-ietf-httpapi-ratelimit-headers-10 (§3.2, §4.2,
 * Appendix B), and against decisions taken by the limiter.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Base64 from "effect/encoding/Base64"
import { Result } from "effect"
import type * as RateLimit from "../src/RateLimit.ts"
import * as RateLimitHeaders from "../src/RateLimitHeaders.ts"

const bytes = (base64: string) => Result.getOrThrow(Base64.decode(base64))

const decision = (
  name: string,
  fields: Partial<RateLimit.Decision> & Pick<RateLimit.Decision, "limit" | "windowSeconds">
): RateLimit.Decision => ({
  allowed: true,
  remaining: fields.limit,
  resetSeconds: fields.windowSeconds,
  retryAfterSeconds: 0,
  policy: { name, algorithm: "fixed-window", limit: fields.limit, window: fields.windowSeconds * 1000 },
  degraded: undefined,
  ...fields
})

describe("RateLimit-Policy (draft-10 §3.2)", () => {
  it("formats the draft's examples", () => {
    expect(RateLimitHeaders.formatPolicy([{ name: "default", quota: 100, window: 10 }])).toBe(`"default";q=100;w=10`)
    // §3.2 writes the list without a space; RFC 9651 serialises ", " and both parse the same.
    expect(RateLimitHeaders.formatPolicy([
      { name: "permin", quota: 50, window: 60 },
      { name: "perhr", quota: 1000, window: 3600 }
    ])).toBe(`"permin";q=50;w=60, "perhr";q=1000;w=3600`)
    expect(RateLimitHeaders.formatPolicy([
      { name: "burst", quota: 100, window: 60 },
      { name: "daily", quota: 1000, window: 86400 }
    ]).replace(/, /g, ",")).toBe(`"burst";q=100;w=60,"daily";q=1000;w=86400`)
    // Appendix B.3.2, verbatim
    expect(RateLimitHeaders.formatPolicy([
      { name: "hour", quota: 1000, window: 3600 },
      { name: "day", quota: 5000, window: 86400 }
    ])).toBe(`"hour";q=1000;w=3600, "day";q=5000;w=86400`)
    // §3.2 quota unit, in the draft's parameter order q, qu, w, pk
    expect(RateLimitHeaders.formatPolicy([
      { name: "peruser", quota: 65535, quotaUnit: "content-bytes", window: 10 }
    ])).toBe(`"peruser";q=65535;qu="content-bytes";w=10`)
    expect(RateLimitHeaders.formatPolicy([
      { name: "peruser", quota: 100, window: 60, partitionKey: bytes("dHJpYWwxMjEzMjM=") }
    ])).toBe(`"peruser";q=100;w=60;pk=:dHJpYWwxMjEzMjM=:`)
    // "requests" is the default unit and is left out
    expect(RateLimitHeaders.formatPolicy([{ name: "basic", quota: 100, window: 60, quotaUnit: "requests" }]))
      .toBe(`"basic";q=100;w=60`)
  })
})

describe("RateLimit (draft-10 §4.2)", () => {
  it("formats the draft's examples", () => {
    expect(RateLimitHeaders.formatRateLimit([{ name: "default", remaining: 50, reset: 30 }])).toBe(`"default";r=50;t=30`)
    expect(RateLimitHeaders.formatRateLimit([
      { name: "default", remaining: 999, partitionKey: bytes("dHJpYWwxMjEzMjM=") }
    ])).toBe(`"default";r=999;pk=:dHJpYWwxMjEzMjM=:`)
    expect(RateLimitHeaders.formatRateLimit([
      { name: "default", remaining: 300000000, reset: 60, partitionKey: bytes("QXBwLTk5OQ==") }
    ])).toBe(`"default";r=300000000;t=60;pk=:QXBwLTk5OQ==:`)
    expect(RateLimitHeaders.formatRateLimit([{ name: "dayLimit", remaining: 100, reset: 36000 }]))
      .toBe(`"dayLimit";r=100;t=36000`)
  })

  it("keeps values within Structured Fields rules", () => {
    expect(RateLimitHeaders.formatRateLimit([{ name: `a"b\\c`, remaining: -3, reset: 1.7 }])).toBe(`"a\\"b\\\\c";r=0;t=1`)
    expect(() => RateLimitHeaders.sfString("café")).toThrow(RangeError)
    expect(RateLimitHeaders.sfInteger(1e20)).toBe("999999999999999")
  })
})

describe("fromDecisions", () => {
  it("B.2.1: a successful limited response", () => {
    expect(RateLimitHeaders.fromDecisions([
      decision("fixedwindow", { limit: 100, windowSeconds: 60, remaining: 99, resetSeconds: 50 })
    ])).toEqual({
      "RateLimit-Policy": `"fixedwindow";q=100;w=60`,
      "RateLimit": `"fixedwindow";r=99;t=50`
    })
  })

  it("B.1.4: a throttled response carries Retry-After, never earlier than the reset", () => {
    const headers = RateLimitHeaders.fromDecisions([
      decision("default", { limit: 100, windowSeconds: 60, allowed: false, remaining: 0, resetSeconds: 5, retryAfterSeconds: 5 })
    ])
    expect(headers).toEqual({
      "RateLimit-Policy": `"default";q=100;w=60`,
      "RateLimit": `"default";r=0;t=5`,
      "Retry-After": "5"
    })
  })

  it("lists every policy of a request; Retry-After is the longest wait among the rejections", () => {
    const headers = RateLimitHeaders.fromDecisions([
      decision("general", { limit: 100, windowSeconds: 60, remaining: 42, resetSeconds: 17 }),
      decision("register", { limit: 5, windowSeconds: 60, allowed: false, remaining: 0, resetSeconds: 12, retryAfterSeconds: 12 })
    ])
    expect(headers).toEqual({
      "RateLimit-Policy": `"general";q=100;w=60, "register";q=5;w=60`,
      "RateLimit": `"general";r=42;t=17, "register";r=0;t=12`,
      "Retry-After": "12"
    })
    expect(RateLimitHeaders.fromDecisions([])).toBeUndefined()
    expect(RateLimitHeaders.retryAfter(1_001)).toBe("2")
    expect(RateLimitHeaders.retryAfter(0)).toBe("1")
  })
})
