/**
 * The cache of verified tokens: a repeated token is verified once, the least recently used token is
 * dropped past the bound, an expired verification is not reused, a failure is not remembered.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { cached, InvalidToken, type VerifiedToken } from "../src/Auth/TokenVerifier.ts"

const inAnHour = () => Math.floor(Date.now() / 1000) + 3_600

const counting = (expiresAt: (token: string) => number = inAnHour) => {
  const calls: Array<string> = []
  const verify = (token: string): Effect.Effect<VerifiedToken, InvalidToken> =>
    Effect.suspend(() => {
      calls.push(token)
      return token.startsWith("bad")
        ? Effect.fail(new InvalidToken({ reason: "invalid token" }))
        : Effect.succeed({ subject: token, roles: ["attendee"], expiresAt: expiresAt(token) })
    })
  return { calls, verify }
}

describe("cached token verification", () => {
  it("verifies a repeated token once and drops the least recently used past its bound", () => {
    const { calls, verify } = counting()
    const check = cached(verify, { size: 2 })
    const run = (token: string) => Effect.runSync(check(token)).subject
    expect(["a", "b", "a"].map(run)).toEqual(["a", "b", "a"])
    expect(calls).toEqual(["a", "b"])
    run("c") // b is the least recently used
    run("a")
    expect(calls).toEqual(["a", "b", "c"])
    run("b")
    expect(calls).toEqual(["a", "b", "c", "b"])
  })

  it("stays bounded through many new tokens", () => {
    const { calls, verify } = counting()
    const check = cached(verify, { size: 100 })
    for (let i = 0; i < 5_000; i++) Effect.runSync(check(`t${i}`))
    Effect.runSync(check("t4999"))
    Effect.runSync(check("t4900"))
    Effect.runSync(check("t4899"))
    expect(calls.slice(5_000)).toEqual(["t4899"])
  })

  it("does not reuse an expired verification nor remember a failure", () => {
    const { calls, verify } = counting(() => Math.floor(Date.now() / 1000) - 1)
    const check = cached(verify, { size: 10 })
    Effect.runSync(check("old"))
    Effect.runSync(check("old"))
    expect(Effect.runSync(Effect.flip(check("bad")))).toBeInstanceOf(InvalidToken)
    expect(Effect.runSync(Effect.flip(check("bad")))).toBeInstanceOf(InvalidToken)
    expect(calls).toEqual(["old", "old", "bad", "bad"])
  })
})
