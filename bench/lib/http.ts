/**
 * A tiny JSON client for setting up benchmark and chaos state (create and publish events, fill
 * waitlists). Loopback only, every call has a timeout, and `mapBounded` caps the parallelism.
 */
import { request as httpRequest } from "node:http"
import { loopback } from "./env.ts"

/** An HTTP answer with its parsed JSON body (or null). */
export interface JsonAnswer {
  readonly status: number
  readonly body: any
  /** The `Retry-After` header, when the server sent one. */
  readonly retryAfter?: string
}

/**
 * Sends one request to 127.0.0.1:port with a JSON body and a bearer token, on a fresh connection:
 * a pooled keep-alive connection can be closed by the server just as a request goes out (a spurious
 * "fetch failed"), and in the chaos harness a pooled connection to a killed process would blur which
 * requests were actually sent.
 */
export const requestJson = (
  port: number,
  method: string,
  path: string,
  options: { readonly token?: string; readonly body?: unknown; readonly timeoutMs?: number } = {}
): Promise<JsonAnswer> =>
  new Promise((resolve, reject) => {
    const payload = options.body !== undefined ? JSON.stringify(options.body) : undefined
    const headers: Record<string, string | number> = { accept: "application/json" }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    if (payload !== undefined) {
      headers["content-type"] = "application/json"
      headers["content-length"] = Buffer.byteLength(payload)
    }
    const timeoutMs = options.timeoutMs ?? 10_000
    const request = httpRequest({ host: loopback, port, method, path, headers, agent: false }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("error", reject)
      response.on("end", () => {
        clearTimeout(timer)
        const text = Buffer.concat(chunks).toString("utf8")
        let body: unknown = null
        try {
          body = text.length > 0 ? JSON.parse(text) : null
        } catch {
          body = text
        }
        const retryAfter = response.headers["retry-after"]
        resolve({ status: response.statusCode ?? 0, body, ...(typeof retryAfter === "string" ? { retryAfter } : {}) })
      })
    })
    // A deadline for the whole exchange, not just socket idleness.
    const timer = setTimeout(() => request.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)), timeoutMs)
    request.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    request.end(payload)
  })

/** Like {@link requestJson} but throws unless the status is one of `expected`. */
export const expectJson = async (
  expected: ReadonlyArray<number>,
  ...args: Parameters<typeof requestJson>
): Promise<any> => {
  const answer = await requestJson(...args)
  if (!expected.includes(answer.status)) {
    throw new Error(`${args[1]} ${args[2]} → ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`)
  }
  return answer.body
}

/** Maps with at most `parallelism` calls in flight, preserving order. */
export const mapBounded = async <A, B>(items: ReadonlyArray<A>, parallelism: number, f: (item: A, index: number) => Promise<B>): Promise<Array<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await f(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, worker))
  return results
}

/** A valid event body starting `daysAhead` days from now. */
export const eventBody = (title: string, capacity: number, waitlist: { enabled: boolean; limit: number | null } = { enabled: true, limit: null }, daysAhead = 30) => {
  const startsAt = new Date(Date.now() + daysAhead * 86_400_000)
  return {
    title,
    description: "created by the benchmark harness",
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 2 * 3_600_000).toISOString(),
    timeZone: "Europe/Berlin",
    location: "Hall 1",
    capacity,
    waitlist
  }
}
