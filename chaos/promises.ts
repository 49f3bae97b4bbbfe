/**
 * What the service promises while a dependency fails, checked over every exchange the harness had
 * with the servers (writes and reads): a pure function, unit-tested like the invariant checker.
 *
 * - Every answer is a success, a 4xx, or a 503 carrying `Retry-After`: never another 5xx, never a 503
 *   without the hint, never silence until the harness's request timeout (unless the process was
 *   SIGKILLed while the request was in flight: that request has no answer by design).
 * - Connection resets are retried: few requests see them (see {@link resetUnavailableBound}).
 * - After each fault, the processes it hit serve again within the recovery bound: recovery is how long
 *   after the dependency's return requests sent to them still failed (see {@link recoveryMs}).
 */

/** One request and its answer, as the harness saw it. */
export interface Exchange {
  readonly slot: number
  readonly route: "register" | "cancel" | "read" | "probe"
  readonly sentAt: number
  /** null: no answer (connection refused or reset, or the harness's timeout). */
  readonly answeredAt: number | null
  readonly status: number | null
  readonly retryAfter: boolean
  /** Its process was SIGKILLed (or down) while it was in flight. */
  readonly killed: boolean
}

export interface Window {
  readonly kind: string
  readonly target: string
  readonly affected: ReadonlyArray<number>
  readonly startedAt: number
  readonly healedAt: number
}

/** The figures of one fault occurrence. */
export interface WindowReport {
  readonly kind: string
  readonly target: string
  readonly startedAt: number
  readonly heldMs: number
  /** Exchanges sent while the fault held. */
  readonly sent: number
  readonly succeeded: number
  readonly unavailable: number
  readonly bad: number
  /** Slowest answer to an exchange sent while the fault held. */
  readonly maxLatencyMs: number
  /** null: no affected process answered after the fault (a failure). */
  readonly recoveryMs: number | null
}

/** Answers that break the promise (whole run). */
export const badExchanges = (exchanges: ReadonlyArray<Exchange>): Array<Exchange> =>
  exchanges.filter((e) => {
    if (e.status === null) return !e.killed
    if (e.status === 503) return !e.retryAfter
    return e.status >= 500
  })

/** How a bad exchange is described in the report. */
export const describeBad = (e: Exchange) =>
  e.status === null ? `${e.route} to process ${e.slot}: no answer` : `${e.route} to process ${e.slot}: ${e.status}${e.status === 503 ? " without Retry-After" : ""}`

const served = (e: Exchange) => e.status !== null && e.status < 500 && e.answeredAt !== null

/**
 * How long after the dependency returned fresh requests still failed: per affected process, the answer
 * time of the last 5xx (or unanswered request) *sent after* the healing, minus the healing time (0 when
 * none failed); the slowest process counts. null when an affected process served nothing after it.
 * Requests sent during the fault and answered late are not counted: they waited through the fault.
 * Nor are failures that happened once the next fault (`nextFaultAt`) started, even of requests sent just
 * before it: the next fault's cut ends requests in flight, and those failures are that fault's.
 */
export const recoveryMs = (
  window: Window,
  exchanges: ReadonlyArray<Exchange>,
  nextFaultAt: number = Infinity
): number | null => {
  let slowest = 0
  for (const slot of window.affected) {
    const after = exchanges.filter((e) =>
      e.slot === slot && e.sentAt >= window.healedAt && (served(e) ? e.sentAt : e.answeredAt ?? e.sentAt) < nextFaultAt &&
      !e.killed
    )
    // A process SIGKILLed in the meantime may have no exchange at all: it is not this fault's to judge.
    if (after.length === 0) continue
    if (!after.some(served)) return null
    const lastFailure = Math.max(window.healedAt, ...after.filter((e) => !served(e)).map((e) => e.answeredAt ?? e.sentAt))
    slowest = Math.max(slowest, lastFailure - window.healedAt)
  }
  return slowest
}

/** The start of the first fault after `window` healed, among `startTimes` (Infinity when none). */
export const nextFaultAfter = (window: Window, startTimes: ReadonlyArray<number>): number =>
  Math.min(Infinity, ...startTimes.filter((t) => t >= window.healedAt))

export const reportWindow = (
  window: Window,
  exchanges: ReadonlyArray<Exchange>,
  nextFaultAt: number = Infinity
): WindowReport => {
  const during = exchanges.filter((e) => e.sentAt >= window.startedAt && e.sentAt < window.healedAt)
  const bad = new Set(badExchanges(during))
  return {
    kind: window.kind,
    target: window.target,
    startedAt: window.startedAt,
    heldMs: window.healedAt - window.startedAt,
    sent: during.length,
    succeeded: during.filter((e) => e.status !== null && e.status < 300).length,
    unavailable: during.filter((e) => e.status === 503 && e.retryAfter).length,
    bad: bad.size,
    maxLatencyMs: Math.max(0, ...during.filter((e) => e.answeredAt !== null).map((e) => e.answeredAt! - e.sentAt)),
    recoveryMs: recoveryMs(window, exchanges, nextFaultAt)
  }
}

/**
 * A connection reset is retried by the server, so it stays invisible: over all reset windows of a run,
 * at most this share of the requests sent while resets happened may answer 503.
 */
export const resetUnavailableBound = 0.05

export const resetShare = (reports: ReadonlyArray<WindowReport>) => {
  const resets = reports.filter((r) => r.kind === "pg-reset")
  const sent = resets.reduce((n, r) => n + r.sent, 0)
  const unavailable = resets.reduce((n, r) => n + r.unavailable, 0)
  return { sent, unavailable, share: sent === 0 ? 0 : unavailable / sent }
}
