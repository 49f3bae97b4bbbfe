/**
 * The fault promises must flag what breaks them and nothing else, or a green matrix proves nothing.
 */
import { describe, expect, it } from "vitest"
import {
  badExchanges,
  type Exchange,
  nextFaultAfter,
  recoveryMs,
  reportWindow,
  resetShare,
  type Window
} from "../promises.ts"

const exchange = (slot: number, sentAt: number, status: number | null, extra: Partial<Exchange> = {}): Exchange => ({
  slot,
  route: "register",
  sentAt,
  answeredAt: status === null ? null : sentAt + 10,
  status,
  retryAfter: status === 503,
  killed: false,
  ...extra
})

const window: Window = { kind: "pg-blackhole", target: "PostgreSQL", affected: [0, 1], startedAt: 1000, healedAt: 2000 }

describe("fault promises", () => {
  it("allows successes, 4xx and 503 with Retry-After; flags other 5xx, a 503 without the hint and silence", () => {
    const fine = [exchange(0, 1, 201), exchange(0, 2, 409), exchange(0, 3, 503)]
    const broken = [exchange(0, 4, 500), exchange(0, 5, 503, { retryAfter: false }), exchange(1, 6, null)]
    expect(badExchanges([...fine, ...broken])).toEqual(broken)
  })

  it("excuses an unanswered request whose process was SIGKILLed while it was in flight", () => {
    expect(badExchanges([exchange(0, 1, null, { killed: true })])).toEqual([])
  })

  it("measures recovery from the healing to the last failure of a request sent after it, slowest process counting", () => {
    const exchanges = [
      exchange(0, 1500, 503), // during the fault: not counted
      exchange(0, 2100, 503), // answered at 2110
      exchange(0, 2200, 201),
      exchange(1, 2050, 503), // answered at 2060
      exchange(1, 2300, 503), // answered at 2310: process 1 failed longest
      exchange(1, 2400, 200)
    ]
    expect(recoveryMs(window, exchanges)).toBe(310)
    expect(recoveryMs(window, [exchange(0, 2100, 201), exchange(1, 2100, 201)])).toBe(0)
  })

  it("leaves failures from the next fault's start on (requests in flight when it cut them too) to that fault", () => {
    const exchanges = [
      exchange(0, 2100, 201),
      exchange(1, 2100, 503), // answered at 2110: this fault's
      exchange(1, 2200, 201),
      exchange(1, 3995, 503), // sent before the next fault (from 4000 on), ended by its cut at 4005
      exchange(1, 5000, 503), // the next fault's
      exchange(1, 9000, 201)
    ]
    expect(recoveryMs(window, exchanges, nextFaultAfter(window, [1000, 4000, 8000]))).toBe(110)
    expect(nextFaultAfter(window, [1000])).toBe(Infinity)
    // Without the next fault's start the last failure would count: 3010 ms.
    expect(recoveryMs(window, exchanges)).toBe(3010)
  })

  it("reports no recovery while an affected process serves nothing after the healing", () => {
    expect(recoveryMs(window, [exchange(0, 2100, 201), exchange(1, 2100, 503), exchange(1, 2200, null)])).toBeNull()
  })

  it("counts the 503 share of requests sent during connection resets", () => {
    const reset: Window = { ...window, kind: "pg-reset" }
    const exchanges = [exchange(0, 1100, 201), exchange(0, 1200, 503), exchange(1, 1300, 201), exchange(1, 1400, 201)]
    const report = reportWindow(reset, exchanges)
    expect(report).toMatchObject({ sent: 4, succeeded: 3, unavailable: 1, bad: 0 })
    expect(resetShare([report]).share).toBe(0.25)
    expect(resetShare([reportWindow(window, exchanges)]).sent).toBe(0)
  })
})
