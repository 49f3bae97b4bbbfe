/**
 * Logs: one JSON line per request with level, message, trace id, span id and correlation id; the
 * correlation id accepted (when well-formed) or generated and echoed on every response; and no email,
 * name, phone or token in any line — checked by capturing every line of a session that handles a user
 * with distinctive personal data.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Server from "../src/Server.ts"
import * as Logging from "../src/Telemetry/Logging.ts"
import * as Telemetry from "../src/Telemetry/Telemetry.ts"
import * as DevKey from "../src/Auth/DevKey.ts"
import { Effect } from "effect"
import { eventInput, start, testKey, type TestServer } from "./support/TestServer.ts"

const email = "zebulon.quokka-4711@example.org"
const name = "Quintessa Marmaduke-Zyx"
const phone = "+49 151 98765432"
const newName = "Ottoline Brackenbury"
const tokenShapedId = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

describe("request logs", () => {
  const lines: Array<string> = []
  let server: TestServer
  beforeAll(async () => {
    server = await start(
      Server.storeEmbedded({ dataDir: undefined }),
      undefined,
      Telemetry.layer({ logSink: (line) => lines.push(line), logLevel: "debug", logRequests: true })
    )
  }, 60_000)
  afterAll(() => server.close())

  it("never write an email, a name, a phone number or a token", async () => {
    const { request } = server
    const mint = (subject: string, roles: Array<string>, claims: { email?: string; name?: string } = {}) =>
      Effect.runPromise(DevKey.mint(testKey, { subject, roles, expiresIn: "1h", ...claims }))
    const personToken = await mint("pii-person", ["attendee"], { email, name })
    const organizer = await mint("pii-org", ["organizer"])
    const admin = await mint("pii-admin", ["admin"])

    // The person is provisioned from the token's claims, updates the profile, registers.
    expect((await request("GET", "/v1/me", { token: personToken })).body.email).toBe(email)
    expect((await request("PATCH", "/v1/me", { token: personToken, json: { name: newName, phone } })).status).toBe(200)
    const created = await request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 1 }) })
    await request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer })
    const registered = await request("POST", `/v1/events/${created.body.id}/registrations`, {
      token: personToken,
      json: { notes: `call ${name} at ${phone} or ${email}` }
    })
    expect(registered.status).toBe(201)
    // An admin creates a user (twice); a malformed body fails, quoting the values back to the client only.
    expect((await request("POST", "/v1/users", { token: admin, json: { subject: "pii-created", email: `x${email}`, name, phone } })).status).toBe(201)
    await request("POST", "/v1/users", { token: admin, json: { subject: "pii-created", email: `x${email}`, name } })
    expect((await request("POST", "/v1/users", { token: admin, json: { subject: "pii-bad", email: name, phone: email } })).status).toBe(400)
    // Personal data where only ids belong: the path, a bad token, a correlation id.
    await request("GET", `/v1/users/${encodeURIComponent(email)}`, { token: admin })
    await request("GET", `/nowhere/${encodeURIComponent(email)}`)
    await request("GET", "/v1/me", { token: `${personToken}x` })
    await request("GET", "/v1/me", { token: personToken, headers: { "x-correlation-id": email } })
    // Well-formed as a correlation id (echoed to the client), shaped like a token: not in a log line.
    await request("GET", "/v1/me", { token: personToken, headers: { "x-correlation-id": tokenShapedId } })
    await request("GET", "/v1/me", { headers: { authorization: `Basic ${Buffer.from(`${email}:pw`).toString("base64")}` } })

    expect(lines.length).toBeGreaterThanOrEqual(12)
    const forbidden = [email, encodeURIComponent(email), name, newName, phone, "98765432", personToken, organizer, admin, tokenShapedId]
    for (const line of lines) {
      for (const value of forbidden) expect(line).not.toContain(value)
      // The JWT header every token starts with, and the payload segment of the person's token.
      expect(line).not.toContain(personToken.split(".")[1]!)
    }
  })

  it("write one JSON line per request with level, message, trace, span and correlation ids", async () => {
    lines.length = 0
    const response = await server.request("GET", "/health/ready", { headers: { "x-correlation-id": "req-42.a:b" } })
    expect(response.headers.get("x-correlation-id")).toBe("req-42.a:b")
    const logged = lines.map((line) => JSON.parse(line)).filter((entry) => entry.message === "http request")
    expect(logged).toEqual([
      expect.objectContaining({
        level: "DEBUG",
        correlationId: "req-42.a:b",
        "http.method": "GET",
        "http.route": "/health/ready",
        "http.status": 200,
        traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
        spanId: expect.stringMatching(/^[0-9a-f]{16}$/),
        timestamp: expect.any(String),
        durationMs: expect.any(Number)
      })
    ])
    lines.length = 0
    const token = await server.token("log-reader", "organizer")
    await server.request("GET", "/v1/me", { token })
    const [entry] = lines.map((line) => JSON.parse(line)).filter((e) => e.message === "http request")
    expect(entry).toMatchObject({ level: "INFO", "http.route": "/v1/me", "http.status": 200, "user.role": "organizer" })
  })
  it("continue a client's trace: its trace id on the request line and in a problem, a span of our own", async () => {
    lines.length = 0
    const traceId = "0af7651916cd43dd8448eb211c80319c"
    const clientSpan = "b7ad6b7169203331"
    const response = await server.request("GET", "/v1/events/not-a-uuid", {
      headers: { traceparent: `00-${traceId}-${clientSpan}-01` }
    })
    expect(response.status).toBe(400)
    expect(response.body.traceId).toBe(traceId)
    const [entry] = lines.map((line) => JSON.parse(line)).filter((e) => e.message === "http request")
    expect(entry).toMatchObject({ traceId, "http.route": "/v1/events/:id", "http.status": 400 })
    // The request's own span, not the client's.
    expect(entry.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(entry.spanId).not.toBe(clientSpan)
  })
})

describe("correlation ids", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await start(Server.storeMemory, undefined, Telemetry.layer({ logSink: () => {} }))
  })
  afterAll(() => server.close())

  it("are echoed on every response, framework errors included", async () => {
    const id = "c0ffee00-1234-4abc-8def-000000000001"
    const cases: Array<[string, string, number]> = [
      ["GET", "/health/live", 200],
      ["GET", "/no/such/route", 404],
      ["GET", "/v1/me", 401],
      ["POST", "/v1/events", 401],
      ["GET", "/v1/events/not-a-uuid", 400]
    ]
    for (const [method, path, status] of cases) {
      const response = await server.request(method, path, { headers: { "x-correlation-id": id } })
      expect(response.status).toBe(status)
      expect(response.headers.get("x-correlation-id")).toBe(id)
    }
    const token = await server.token("corr-org", "organizer")
    const badBody = await server.request("POST", "/v1/events", { token, body: "{", headers: { "x-correlation-id": id } })
    expect(badBody.status).toBe(400)
    expect(badBody.headers.get("x-correlation-id")).toBe(id)
  })

  it("are generated when absent or malformed", async () => {
    for (const header of [undefined, "", "has space", "x".repeat(65), "a@b.example", "line\\nbreak"]) {
      const response = await server.request("GET", "/health/live", header === undefined ? {} : { headers: { "x-correlation-id": header } })
      const echoed = response.headers.get("x-correlation-id")
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/)
      expect(echoed).not.toBe(header)
    }
  })
})

describe("scrub", () => {
  it("replaces emails, tokens and international phone numbers, keeps ids and timestamps", () => {
    expect(Logging.scrub(`a ${email} b`)).toBe("a [email] b")
    expect(Logging.scrub("Authorization: Bearer abc.def-ghi")).toBe("Authorization: [token]")
    expect(Logging.scrub("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig")).toBe("jwt [token]")
    expect(Logging.scrub(`call ${phone}`)).toBe("call [phone]")
    const safe = "2026-11-01T10:00:00.000Z 4bf92f3577b34da6a3ce929d0e0e4736 c0ffee00-1234-4abc-8def-000000000001 42"
    expect(Logging.scrub(safe)).toBe(safe)
  })
})
