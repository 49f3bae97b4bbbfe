/**
 * The fault matrix: one chaos run per fault, then one with every fault in turn (plus SIGKILLs), each in
 * a folder of its own under `.tmp/chaos/matrix-<time>/`; prints the table docs/reliability.md keeps
 * (figures per row) and writes it to matrix.md. Exits non-zero when any run failed.
 *
 *   node chaos/matrix.ts                     every fault, 40 s of traffic each, then all for 150 s
 *   node chaos/matrix.ts pg-reset nats-restart    only these rows
 *
 * CHAOS_MATRIX_DURATION (seconds per single-fault run, default 40), CHAOS_MATRIX_ALL_DURATION (150).
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { intEnv, repoRoot } from "../bench/lib/env.ts"
import * as Faults from "./faults.ts"

interface Result {
  readonly writes: number
  readonly exchanges: number
  readonly unavailable: number
  readonly badAnswers: number
  readonly violations: number
  readonly violationsByRule: Record<string, number>
  readonly nats: { committed: number; inStream: number; missing: number; extra: number; duplicates: number; deadLettered: number } | null
  readonly faults: ReadonlyArray<{ kind: string; heldMs: number; recoveryMs?: number | null; outboxRecoveryMs?: number | null; maxLatencyMs?: number }>
}

const requested = process.argv.slice(2)
const rows: Array<{ name: string; args: Array<string> }> = [
  ...Faults.kinds.filter((kind) => requested.length === 0 || requested.includes(kind)).map((kind) => ({
    name: kind,
    args: ["--faults", kind, "--duration", String(intEnv("CHAOS_MATRIX_DURATION", 40))]
  })),
  ...(requested.length === 0 || requested.includes("all")
    ? [{ name: "all", args: ["--faults", "all", "--duration", String(intEnv("CHAOS_MATRIX_ALL_DURATION", 150))] }]
    : [])
]
const folder = join(repoRoot, ".tmp/chaos", `matrix-${new Date().toISOString().replace(/[:.]/g, "-")}`)
mkdirSync(folder, { recursive: true })

const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? "—" : (ms / 1000).toFixed(2))
const maxOf = (values: ReadonlyArray<number | null | undefined>) => {
  const known = values.filter((v): v is number => typeof v === "number")
  return known.length === 0 ? null : Math.max(...known)
}

const lines = [
  "| fault | occurrences | writes | 503 + Retry-After | other 5xx / hangs | violations | NATS committed / in stream / missing / extra / duplicates | slowest answer during fault (s) | recovery, max (s) | outbox caught up, max (s) | result |",
  "|---|---|---|---|---|---|---|---|---|---|---|"
]
let failed = 0
for (const row of rows) {
  const out = join(folder, row.name)
  console.log(`== ${row.name}: node chaos/run.ts ${row.args.join(" ")}`)
  const run = spawnSync(process.execPath, [join(repoRoot, "chaos/run.ts"), ...row.args, "--out", out], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })
  writeFileSync(join(folder, `${row.name}.log`), run.stdout ?? "")
  const summary = (run.stdout ?? "").slice((run.stdout ?? "").indexOf("== summary"))
  console.log(summary.trim())
  let result: Result | undefined
  try {
    result = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as Result
  } catch {
    result = undefined
  }
  if (run.status !== 0) failed++
  if (result === undefined) {
    lines.push(`| ${row.name} | — | — | — | — | — | — | — | — | — | harness failure (exit ${run.status}) |`)
    continue
  }
  const occurrences = row.name === "all"
    ? result.faults.length
    : result.faults.filter((f) => f.kind === row.name).length
  const dependency = result.faults.filter((f) => f.kind !== "kill")
  const nats = result.nats === null ? "—" : `${result.nats.committed} / ${result.nats.inStream} / ${result.nats.missing} / ${result.nats.extra} / ${result.nats.duplicates}`
  lines.push(
    `| ${row.name} | ${occurrences} | ${result.writes} | ${result.unavailable} | ${result.badAnswers} | ${result.violations}${result.violations > 0 ? ` ${JSON.stringify(result.violationsByRule)}` : ""} | ${nats} | ` +
      `${seconds(maxOf(dependency.map((f) => f.maxLatencyMs)))} | ${seconds(maxOf(dependency.map((f) => f.recoveryMs)))} | ${seconds(maxOf(dependency.map((f) => f.outboxRecoveryMs)))} | ${run.status === 0 ? "pass" : "FAIL"} |`
  )
}
const table = lines.join("\n")
writeFileSync(join(folder, "matrix.md"), `${table}\n`)
console.log(`\n${table}\n\nmatrix written to ${join(folder, "matrix.md")}`)
process.exit(failed === 0 ? 0 : 1)
