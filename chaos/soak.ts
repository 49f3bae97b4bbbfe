/**
 * The soak mode of the chaos harness (`node chaos/run.ts --soak 30`): long mixed traffic on the
 * server processes with a dependency fault every minute, and every 10 s a sample per process of its
 * RSS, event-loop delay and active handles (measured inside the process by chaos/runtime-probe.ts), its
 * open file descriptors, its pool connections (`/metrics`) and the outbox lag (`/health/ready`). The
 * samples go to soak.json and soak.svg in the run's folder.
 *
 * A leak is a failure: over the last 20 minutes (the last two thirds of a shorter soak, after warm-up)
 * the RSS of every process must grow by less than `leakBoundMiBPerMinute` (least-squares slope).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { requestJson } from "../bench/lib/http.ts"

export interface Sample {
  /** Minutes since the traffic started. */
  readonly minute: number
  readonly slot: number
  readonly pid: number
  readonly rssMiB: number | null
  readonly loopP99Ms: number | null
  readonly loopMaxMs: number | null
  readonly handles: number | null
  readonly fds: number | null
  readonly poolUsed: number | null
  readonly poolIdle: number | null
  readonly outboxLagSeconds: number | null
}

/** The RSS slope bound: 1 MiB a minute is 20 MiB over the judged 20 minutes. */
export const leakBoundMiBPerMinute = 1

/** Least-squares slope of y over x; null with fewer than 3 points. */
export const slope = (points: ReadonlyArray<readonly [number, number]>): number | null => {
  if (points.length < 3) return null
  const n = points.length
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? null : num / den
}

/** The window judged for leaks: the last 20 minutes, or the last two thirds of a shorter soak. */
export const judgedFrom = (totalMinutes: number) => Math.max(totalMinutes - 20, totalMinutes / 3)

export interface LeakVerdict {
  readonly slot: number
  readonly pid: number
  readonly fromMinute: number
  readonly samples: number
  readonly rssSlopeMiBPerMinute: number | null
  readonly ok: boolean
}

/**
 * One verdict per process, over its samples in the judged window; only the process's latest pid counts
 * (a restarted process starts a new series).
 */
export const leakVerdicts = (samples: ReadonlyArray<Sample>, totalMinutes: number): Array<LeakVerdict> => {
  const from = judgedFrom(totalMinutes)
  const slots = [...new Set(samples.map((s) => s.slot))].sort((a, b) => a - b)
  return slots.map((slot) => {
    const mine = samples.filter((s) => s.slot === slot)
    const pid = mine[mine.length - 1]?.pid ?? 0
    const points = mine.filter((s) => s.pid === pid && s.minute >= from && s.rssMiB !== null).map((s) => [s.minute, s.rssMiB!] as const)
    const rssSlope = slope(points)
    return { slot, pid, fromMinute: from, samples: points.length, rssSlopeMiBPerMinute: rssSlope, ok: rssSlope !== null && rssSlope <= leakBoundMiBPerMinute }
  })
}

const readProcNumber = (path: string, pattern: RegExp) => {
  try {
    const match = pattern.exec(readFileSync(path, "utf8"))
    return match === null ? null : Number(match[1])
  } catch {
    return null
  }
}

const countFds = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return null
  }
}

const lastProbeLine = (folder: string, pid: number) => {
  try {
    const lines = readFileSync(join(folder, `runtime-${pid}.jsonl`), "utf8").trim().split("\n")
    return JSON.parse(lines[lines.length - 1]!) as { loopP99Ms: number; loopMaxMs: number; handles: number }
  } catch {
    return undefined
  }
}

const metricValue = (text: string, name: string, state: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`state="${state}"`))
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(" ") + 1))
}

/** One sample of one process. */
export const sample = async (
  process: { readonly slot: number; readonly port: number; readonly pid: number | undefined },
  minute: number,
  folder: string
): Promise<Sample> => {
  const pid = process.pid ?? 0
  const probe = lastProbeLine(folder, pid)
  let poolUsed: number | null = null
  let poolIdle: number | null = null
  let outboxLagSeconds: number | null = null
  try {
    const metrics = await requestJson(process.port, "GET", "/metrics", { timeoutMs: 5000 })
    const text = typeof metrics.body === "string" ? metrics.body : ""
    poolUsed = metricValue(text, "db_client_connections", "used")
    poolIdle = metricValue(text, "db_client_connections", "idle")
    const ready = await requestJson(process.port, "GET", "/health/ready", { timeoutMs: 5000 })
    const lag = ready.body?.checks?.outbox?.lagSeconds ?? ready.body?.outbox?.lagSeconds
    outboxLagSeconds = typeof lag === "number" ? lag : null
  } catch {
    // A process that does not answer has gaps in its series; the RSS still comes from /proc.
  }
  const rssKiB = readProcNumber(`/proc/${pid}/status`, /VmRSS:\s+(\d+)/)
  return {
    minute,
    slot: process.slot,
    pid,
    rssMiB: rssKiB === null ? null : rssKiB / 1024,
    loopP99Ms: probe?.loopP99Ms ?? null,
    loopMaxMs: probe?.loopMaxMs ?? null,
    handles: probe?.handles ?? null,
    fds: countFds(pid),
    poolUsed,
    poolIdle,
    outboxLagSeconds
  }
}

// ---------------------------------------------------------------------------------------------
// The plot: one panel per measure, one line per process.

const panels: ReadonlyArray<{ readonly title: string; readonly value: (s: Sample) => number | null }> = [
  { title: "RSS (MiB)", value: (s) => s.rssMiB },
  { title: "event-loop delay p99 (ms)", value: (s) => s.loopP99Ms },
  { title: "active handles", value: (s) => s.handles },
  { title: "open file descriptors", value: (s) => s.fds },
  { title: "pool connections in use", value: (s) => s.poolUsed },
  { title: "outbox lag (s)", value: (s) => s.outboxLagSeconds }
]
const colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]

export const svg = (samples: ReadonlyArray<Sample>, totalMinutes: number, faults: ReadonlyArray<{ minute: number; kind: string }>): string => {
  const width = 900
  const panelHeight = 150
  const left = 60
  const right = 20
  const top = 30
  const gap = 40
  const plotWidth = width - left - right
  const slots = [...new Set(samples.map((s) => s.slot))].sort((a, b) => a - b)
  const parts: Array<string> = []
  const height = top + panels.length * (panelHeight + gap)
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`)
  parts.push(`<rect width="100%" height="100%" fill="white"/>`)
  parts.push(`<text x="${left}" y="18" font-size="13">Soak: ${totalMinutes} min, ${slots.length} processes (${slots.map((s, i) => `<tspan fill="${colours[i % colours.length]}">process ${s}</tspan>`).join(", ")}); grey lines: faults</text>`)
  const x = (minute: number) => left + (minute / Math.max(totalMinutes, 1e-9)) * plotWidth
  for (const [p, panel] of panels.entries()) {
    const y0 = top + p * (panelHeight + gap) + 15
    const values = samples.map(panel.value).filter((v): v is number => v !== null && Number.isFinite(v))
    const max = Math.max(1e-9, ...values) * 1.1
    const y = (v: number) => y0 + panelHeight - (v / max) * panelHeight
    parts.push(`<text x="${left}" y="${y0 - 4}" font-weight="bold">${panel.title}</text>`)
    parts.push(`<rect x="${left}" y="${y0}" width="${plotWidth}" height="${panelHeight}" fill="none" stroke="#999"/>`)
    parts.push(`<text x="${left - 5}" y="${y0 + 10}" text-anchor="end">${max.toFixed(max < 10 ? 1 : 0)}</text>`)
    parts.push(`<text x="${left - 5}" y="${y0 + panelHeight}" text-anchor="end">0</text>`)
    for (const fault of faults) parts.push(`<line x1="${x(fault.minute)}" x2="${x(fault.minute)}" y1="${y0}" y2="${y0 + panelHeight}" stroke="#ddd"><title>${fault.kind}</title></line>`)
    for (const [i, slot] of slots.entries()) {
      const points = samples.filter((s) => s.slot === slot).map((s) => [s.minute, panel.value(s)] as const).filter((pt): pt is readonly [number, number] => pt[1] !== null && Number.isFinite(pt[1]))
      if (points.length === 0) continue
      parts.push(`<polyline fill="none" stroke="${colours[i % colours.length]}" stroke-width="1.5" points="${points.map(([m, v]) => `${x(m).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`)
    }
    for (let minute = 0; minute <= totalMinutes; minute += Math.max(1, Math.round(totalMinutes / 10))) {
      parts.push(`<text x="${x(minute)}" y="${y0 + panelHeight + 13}" text-anchor="middle">${minute}</text>`)
    }
  }
  parts.push(`<text x="${width - right}" y="${height - 5}" text-anchor="end">minutes</text>`)
  parts.push(`</svg>`)
  return parts.join("\n")
}

export const write = (folder: string, samples: ReadonlyArray<Sample>, totalMinutes: number, faults: ReadonlyArray<{ minute: number; kind: string }>, verdicts: ReadonlyArray<LeakVerdict>) => {
  writeFileSync(join(folder, "soak.json"), JSON.stringify({ totalMinutes, leakBoundMiBPerMinute, verdicts, faults, samples }, null, 1))
  writeFileSync(join(folder, "soak.svg"), svg(samples, totalMinutes, faults))
}

/** Samples every process every `everyMs` until `deadline` (harness clock). */
export const sampler = async (
  processes: () => ReadonlyArray<{ readonly slot: number; readonly port: number; readonly pid: number | undefined }>,
  start: number,
  deadline: number,
  folder: string,
  into: Array<Sample>,
  everyMs = 10_000
) => {
  for (let tick = 1; tick < 100_000; tick++) {
    const next = start + tick * everyMs
    if (next > deadline) return
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())))
    const minute = (performance.now() - start) / 60_000
    into.push(...(await Promise.all(processes().map((p) => sample(p, minute, folder)))))
  }
}
