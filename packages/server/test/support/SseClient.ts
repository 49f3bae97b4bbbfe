/**
 * A minimal Server-Sent Events client over `fetch` for tests: records every event with its arrival
 * time, and lets a test wait for one that matches.
 */
export interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: any
  readonly at: number
}

export interface SseConnection {
  readonly status: number
  readonly events: Array<SseEvent>
  /** Every raw chunk received (comments included). */
  readonly raw: () => string
  readonly waitFor: (predicate: (event: SseEvent) => boolean, timeoutMs?: number) => Promise<SseEvent>
  readonly lastEventId: () => string | undefined
  readonly close: () => void
}

export const connect = async (
  url: string,
  options: { readonly token?: string | undefined; readonly lastEventId?: string | undefined } = {}
): Promise<SseConnection> => {
  const controller = new AbortController()
  const headers: Record<string, string> = { accept: "text/event-stream" }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId
  const response = await fetch(url, { headers, signal: controller.signal })
  const events: Array<SseEvent> = []
  let raw = ""
  let buffer = ""
  let lastId: string | undefined = options.lastEventId
  const waiters = new Set<() => void>()
  const parse = (block: string) => {
    let id: string | undefined
    let event = "message"
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      if (line.startsWith(":") || line === "") continue
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "id") id = value
      else if (field === "event") event = value
      else if (field === "data") data.push(value)
    }
    if (data.length === 0) return
    if (id !== undefined) lastId = id
    events.push({ id, event, data: JSON.parse(data.join("\n")), at: performance.now() })
    for (const waiter of waiters) waiter()
  }
  if (response.body !== null && response.status === 200) {
    ;(async () => {
      const decoder = new TextDecoder()
      try {
        for await (const chunk of response.body as any as AsyncIterable<Uint8Array>) {
          const text = decoder.decode(chunk, { stream: true })
          raw += text
          buffer += text
          let end: number
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            parse(buffer.slice(0, end))
            buffer = buffer.slice(end + 2)
          }
        }
      } catch {
        // aborted
      }
    })()
  }
  const waitFor = (predicate: (event: SseEvent) => boolean, timeoutMs = 5000) =>
    new Promise<SseEvent>((resolve, reject) => {
      const found = events.find(predicate)
      if (found !== undefined) return resolve(found)
      const check = () => {
        const match = events.find(predicate)
        if (match !== undefined) {
          waiters.delete(check)
          clearTimeout(timer)
          resolve(match)
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`no matching SSE event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => [e.event, e.data]))}`))
      }, timeoutMs)
      waiters.add(check)
    })
  return {
    status: response.status,
    events,
    raw: () => raw,
    waitFor,
    lastEventId: () => lastId,
    close: () => controller.abort()
  }
}
