/**
 * The load generator: autocannon as a library, a fixed number of connections and a fixed duration
 * (or a fixed request count), requests built per call by a function so every request can carry a
 * different user, event or registration.
 */
import autocannon from "autocannon"
import { loopback } from "./env.ts"

/** One request to send; `body` is JSON-encoded. */
export interface PlannedRequest {
  readonly method: "GET" | "POST"
  readonly path: string
  readonly token?: string
  readonly body?: unknown
}

/** How to drive one measurement. */
export interface LoadOptions {
  readonly port: number
  readonly connections: number
  readonly durationSeconds: number
  /** Stop after this many requests, or at the duration if that comes first. */
  readonly amount?: number
  readonly next: () => PlannedRequest
}

/** What one measurement produced. */
export interface LoadResult {
  readonly requests: number
  readonly ok: number
  readonly seconds: number
  /** 2xx answers per second. */
  readonly throughput: number
  readonly p50: number
  readonly p99: number
  /** Connection errors and timeouts. */
  readonly errors: number
  readonly non2xx: number
  readonly statusCounts: Readonly<Record<string, number>>
}

const toRaw = (planned: PlannedRequest): autocannon.Request => {
  const headers: Record<string, string> = {}
  if (planned.token !== undefined) headers.authorization = `Bearer ${planned.token}`
  if (planned.body !== undefined) headers["content-type"] = "application/json"
  return {
    method: planned.method,
    path: planned.path,
    headers,
    ...(planned.body !== undefined ? { body: JSON.stringify(planned.body) } : {})
  } as autocannon.Request
}

/** Runs the load and summarises it. */
export const runLoad = async (options: LoadOptions): Promise<LoadResult> => {
  const started = performance.now()
  const instance = autocannon({
    url: `http://${loopback}:${options.port}`,
    connections: options.connections,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.durationSeconds }),
    timeout: 10,
    requests: [{ setupRequest: (request: autocannon.Request) => Object.assign(request, toRaw(options.next())) }]
  } as autocannon.Options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>
  // A fixed request count is still bounded in time: stop at the duration (a slow server under a
  // long waitlist would otherwise take minutes).
  const cap = options.amount !== undefined && options.durationSeconds > 0
    ? setTimeout(() => instance.stop(), options.durationSeconds * 1000)
    : undefined
  const result = await instance
  if (cap !== undefined) clearTimeout(cap)
  const seconds = (performance.now() - started) / 1000
  const statusCounts: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = (stat as { count?: number }).count ?? 0
  const ok = result["2xx"]
  return {
    requests: result.requests.total,
    ok,
    seconds,
    throughput: ok / Math.max(result.duration, 0.001),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    statusCounts
  }
}
