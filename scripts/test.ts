/**
 * Runs the whole test suite with vitest and ends with the plain summary line CI reads:
 * `tests: N passed, N failed, N skipped`. Exits with vitest's exit code (and non-zero when no test ran).
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync } from "node:fs"

const report = ".tmp/vitest-report.json"
mkdirSync(".tmp", { recursive: true })
rmSync(report, { force: true })
const run = spawnSync(
  "vitest",
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: "inherit", shell: false }
)
let passed = 0
let failed = 0
let skipped = 0
try {
  const result = JSON.parse(readFileSync(report, "utf8"))
  passed = result.numPassedTests
  failed = result.numFailedTests
  skipped = result.numPendingTests + result.numTodoTests
  // A file that failed to load has no failed test of its own: count the file.
  if (run.status !== 0 && failed === 0) failed = Math.max(result.numFailedTestSuites, 1)
} catch {
  failed = Math.max(failed, 1)
}
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(run.status !== 0 ? (run.status ?? 1) : passed === 0 ? 1 : 0)
