/**
 * The harness's own end-to-end test: known broken builds must fail it, each for the right reason, or a
 * green matrix proves nothing. Each build is the server with a switch that breaks it on purpose:
 *
 * - no outbox: `UNSAFE_PUBLISH_BEFORE_COMMIT=true` publishes events before their transaction commits;
 *   under connection resets some of those transactions roll back → the NATS check finds messages of
 *   changes that never happened ("outbox");
 * - a cache that serves invalidated entries during a Redis partition: `CACHE_BUS_HEARTBEAT=0` (the
 *   silent cut goes unnoticed) → the partition probe reads an old title ("stale cache");
 * - no retry on connection reset: `RESILIENCE_DATABASE_*_RETRY_MAX_RETRIES=0` → resets reach the clients
 *   as 503s ("answer during fault").
 *
 *   node chaos/broken.ts            all three (about 5 minutes)
 *   node chaos/broken.ts no-outbox  one of them
 *
 * Exits non-zero unless every build was caught by its rule. CHAOS_BROKEN_DURATION (seconds, default 35).
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { intEnv, repoRoot } from "../bench/lib/env.ts"

const builds = [
  { name: "no-outbox", env: "UNSAFE_PUBLISH_BEFORE_COMMIT=true", fault: "pg-reset", rule: "outbox" },
  { name: "stale-cache", env: "CACHE_BUS_HEARTBEAT=0", fault: "redis-partition", rule: "stale cache" },
  {
    name: "no-reset-retry",
    env: "RESILIENCE_DATABASE_WRITE_RETRY_MAX_RETRIES=0 RESILIENCE_DATABASE_READ_RETRY_MAX_RETRIES=0",
    fault: "pg-reset",
    rule: "answer during fault"
  }
] as const

const requested = process.argv.slice(2)
const folder = join(repoRoot, ".tmp/chaos", `broken-${new Date().toISOString().replace(/[:.]/g, "-")}`)
mkdirSync(folder, { recursive: true })
let missed = 0
for (const build of builds.filter((b) => requested.length === 0 || requested.includes(b.name))) {
  const out = join(folder, build.name)
  const args = [join(repoRoot, "chaos/run.ts"), "--faults", build.fault, "--duration", String(intEnv("CHAOS_BROKEN_DURATION", 35)), "--out", out]
  const run = spawnSync(process.execPath, args, { env: { ...process.env, CHAOS_SERVER_ENV: build.env }, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })
  let byRule: Record<string, number> = {}
  try {
    byRule = (JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as { violationsByRule: Record<string, number> }).violationsByRule
  } catch {
    // No result: the harness itself failed, which does not count as catching the build.
  }
  const caught = run.status === 1 && (byRule[build.rule] ?? 0) > 0
  if (!caught) missed++
  console.log(
    `${caught ? "caught " : "MISSED "} ${build.name.padEnd(15)} (${build.env}; --faults ${build.fault}): exit ${run.status}, violations ${JSON.stringify(byRule)}; expected rule "${build.rule}"`
  )
}
console.log(missed === 0 ? "every broken build was caught" : `${missed} broken build(s) not caught`)
process.exit(missed === 0 ? 0 : 1)
