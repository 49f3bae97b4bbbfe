/**
 * bench:rate-limit-store — the in-process rate-limit store over time, as a registration rush uses it:
 * per request, the general limit of one client address (a key used on every request) and the register
 * limit of a new person (a new key per request), 60-second fixed windows, at BENCH_RATE requests per
 * simulated second (default 1,400) for BENCH_SECONDS (default 150). Prints, over the second half (the
 * store full of live keys), the CPU per request, the slowest request and how many took over 1 ms.
 * The clock is simulated: the run takes a few seconds whatever BENCH_SECONDS is.
 *
 *   node --conditions=@live-events/source bench/rate-limit-store.ts
 */
import { RateLimitStore } from "@live-events/resilience"

const rate = Number(process.env["BENCH_RATE"] ?? 1_400)
const seconds = Number(process.env["BENCH_SECONDS"] ?? 150)
const consume = RateLimitStore.memoryConsumerNow()
const measuredFrom = Math.floor(seconds / 2)
let total = 0
let slowest = 0
let overOneMs = 0
for (let second = 0; second < seconds; second++) {
  for (let i = 0; i < rate; i++) {
    const now = second * 1000 + i * (1000 / rate)
    const start = performance.now()
    consume({ algorithm: "fixed-window", key: "general:127.0.0.1", limit: 100_000_000, windowMillis: 60_000, cost: 1 }, now)
    consume({ algorithm: "fixed-window", key: `register:${second}-${i}`, limit: 10, windowMillis: 60_000, cost: 1 }, now)
    const took = performance.now() - start
    if (second < measuredFrom) continue
    total += took
    if (took > slowest) slowest = took
    if (took > 1) overOneMs++
  }
}
const requests = (seconds - measuredFrom) * rate
console.log(
  `rate-limit store, ${rate} requests/s, two decisions each, seconds ${measuredFrom}–${seconds}: ` +
    `${(total * 1000 / requests).toFixed(2)} µs per request, slowest ${slowest.toFixed(2)} ms, ${overOneMs} over 1 ms`
)
