/**
 * Loaded into each server process of a soak run (`NODE_OPTIONS=--import …`), never into production:
 * every 10 s it appends the process's own event-loop delay (p99 and max since the last line), its active
 * handles and its RSS to `$CHAOS_PROBE_DIR/runtime-<pid>.jsonl`, which the soak sampler reads. Measured
 * inside the process because from outside only a request's latency is visible, not the loop's.
 */
import { appendFileSync } from "node:fs"
import { join } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"

const folder = process.env.CHAOS_PROBE_DIR
if (folder !== undefined && folder !== "") {
  const file = join(folder, `runtime-${process.pid}.jsonl`)
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const timer = setInterval(() => {
    const line = {
      at: Date.now(),
      pid: process.pid,
      loopP99Ms: delay.percentile(99) / 1e6,
      loopMaxMs: delay.max / 1e6,
      handles: process.getActiveResourcesInfo().filter((kind) => kind !== "Timeout").length,
      rssBytes: process.memoryUsage.rss()
    }
    delay.reset()
    appendFileSync(file, `${JSON.stringify(line)}\n`)
  }, 10_000)
  timer.unref()
}
