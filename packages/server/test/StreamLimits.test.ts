/**
 * Live streams are capped per client address and per user (LIVE_MAX_STREAMS_PER_IP,
 * LIVE_MAX_STREAMS_PER_USER): beyond a cap the stream is a 429 problem, and a closed stream frees its
 * slot.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connect, type SseConnection } from "./support/SseClient.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

let server: TestServer
let eventId: string

beforeAll(async () => {
  process.env.LIVE_MAX_STREAMS_PER_IP = "4"
  process.env.LIVE_MAX_STREAMS_PER_USER = "2"
  server = await start()
  delete process.env.LIVE_MAX_STREAMS_PER_IP
  delete process.env.LIVE_MAX_STREAMS_PER_USER
  const organizer = await server.token("limits-organizer", "organizer")
  eventId = (await server.request("POST", "/v1/events", { token: organizer, json: eventInput() })).body.id
  await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })
})
afterAll(() => server.close())

/** Waits until the server has seen a stream's slot released (the abort travels asynchronously). */
const eventually = async (check: () => Promise<boolean>) => {
  const deadline = Date.now() + 5_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met within 5 s")
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("live stream caps", () => {
  it("per user, then per client address; a closed stream frees its slot", async () => {
    const open: Array<SseConnection> = []
    try {
      const alice = await server.token("limits-alice")
      for (let i = 0; i < 2; i++) {
        const stream = await connect(`${server.url}/v1/me/live`, { token: alice })
        open.push(stream)
        expect(stream.status).toBe(200)
      }
      const third = await fetch(`${server.url}/v1/me/live`, { headers: { authorization: `Bearer ${alice}` } })
      expect(third.status).toBe(429)
      expect(third.headers.get("content-type")).toContain("application/problem+json")
      expect(third.headers.get("retry-after")).toBe("30")
      expect(((await third.json()) as { code: string }).code).toBe("too-many-streams")

      // Two more anonymous streams fill the address's 4 slots.
      for (let i = 0; i < 2; i++) {
        const stream = await connect(`${server.url}/v1/events/${eventId}/live`)
        open.push(stream)
        expect(stream.status).toBe(200)
      }
      const fifth = await fetch(`${server.url}/v1/events/${eventId}/live`)
      expect(fifth.status).toBe(429)
      await fifth.body?.cancel()

      open.pop()!.close()
      await eventually(async () => {
        const again = await connect(`${server.url}/v1/events/${eventId}/live`)
        if (again.status === 200) open.push(again)
        else again.close()
        return again.status === 200
      })
    } finally {
      for (const stream of open) stream.close()
    }
  })
})
