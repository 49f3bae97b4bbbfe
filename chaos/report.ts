/**
 * What a chaos run prints and writes into its folder (result.json): the traffic by status, the
 * faults with their figures, and every broken promise with a few examples per rule.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { type RequestRecord, summarize, type Violation } from "./checker.ts"
import type { WindowReport } from "./promises.ts"

const classify = (status: number | null) => (status === null ? "no answer" : status >= 500 ? "5xx" : status >= 400 ? "4xx" : status >= 200 && status < 300 ? "2xx" : "other")

export const printTraffic = (requests: ReadonlyArray<RequestRecord>, reads: { sent: number; ok: number; failed: number }) => {
  const byRoute = new Map<string, Map<string, number>>()
  for (const r of requests) {
    const counts = byRoute.get(r.route) ?? new Map<string, number>()
    const key = classify(r.httpStatus)
    counts.set(key, (counts.get(key) ?? 0) + 1)
    byRoute.set(r.route, counts)
  }
  console.log(`requests sent: ${requests.length} writes + ${reads.sent} reads (${reads.ok} ok, ${reads.failed} failed)`)
  for (const [route, counts] of byRoute) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0)
    const codes = new Map<string, number>()
    for (const r of requests.filter((x) => x.route === route)) codes.set(String(r.httpStatus ?? "none"), (codes.get(String(r.httpStatus ?? "none")) ?? 0) + 1)
    console.log(
      `  ${route.padEnd(8)} ${String(total).padStart(6)}: ` + ["2xx", "4xx", "5xx", "no answer"].map((k) => `${k} ${counts.get(k) ?? 0}`).join(", ") +
        `  (by status: ${[...codes.entries()].sort().map(([c, n]) => `${c}×${n}`).join(" ")})`
    )
  }
  const outcomes = new Map<string, number>()
  for (const r of requests) if (r.route === "register" && r.answeredStatus !== null) outcomes.set(r.answeredStatus, (outcomes.get(r.answeredStatus) ?? 0) + 1)
  console.log(`  register outcomes: ${[...outcomes.entries()].map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`)
}

/** One fault occurrence with its figures (SIGKILLs have no recovery figure of this kind). */
export interface FaultLine extends Partial<WindowReport> {
  readonly kind: string
  readonly target: string
  readonly startedAt: number
  readonly heldMs: number
  /** Time from the dependency's return until no outbox message older than it was unpublished. */
  readonly outboxRecoveryMs?: number | null
}

const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? "never" : `${(ms / 1000).toFixed(2)} s`)

export const printFaults = (faults: ReadonlyArray<FaultLine>, start: number) => {
  console.log(`faults injected: ${faults.length}`)
  for (const f of [...faults].sort((a, b) => a.startedAt - b.startedAt)) {
    const figures = f.sent === undefined
      ? ""
      : `; during it ${f.sent} requests: ${f.succeeded} 2xx, ${f.unavailable} 503+Retry-After, ${f.bad} bad, slowest ${seconds(f.maxLatencyMs)}; ` +
        `recovery ${seconds(f.recoveryMs)}${f.outboxRecoveryMs !== undefined ? `, outbox caught up ${seconds(f.outboxRecoveryMs)}` : ""}`
    console.log(`  t+${((f.startedAt - start) / 1000).toFixed(1)}s ${f.kind} ${f.target}, held ${seconds(f.heldMs)}${figures}`)
  }
}

export const printViolations = (violations: ReadonlyArray<Violation>) => {
  const summary = summarize(violations)
  console.log(`violations: ${violations.length}${violations.length > 0 ? ` ${JSON.stringify(summary)}` : ""}`)
  // A few examples per rule: one systemic bug must not hide the others.
  for (const rule of Object.keys(summary)) {
    for (const v of violations.filter((x) => x.rule === rule).slice(0, 5)) {
      console.log(`  [${v.rule}]${v.eventId !== undefined ? ` event ${v.eventId}` : ""}${v.registrationId !== undefined ? ` registration ${v.registrationId}` : ""}: ${v.message}`)
    }
  }
}

export const writeResult = (folder: string, result: unknown) => {
  writeFileSync(join(folder, "result.json"), JSON.stringify(result, null, 2))
}
