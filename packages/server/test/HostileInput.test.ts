/**
 * Hostile input against the SQL store (PGlite, so PostgreSQL's own checks run): NUL bytes and lone
 * surrogates in every text field and filter, forged cursors on every paginated route, out-of-range numbers,
 * and tokens whose claims hold a NUL. Each is refused as a 400 (401 for a token) problem naming the field —
 * never a 5xx, which would tell clients (and alerts) that the service is down.
 */
import { Effect, Logger } from "effect"
import { SqlError } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DomainError } from "@live-events/domain"
import * as DevKey from "../src/Auth/DevKey.ts"
import * as Problem from "../src/Problem.ts"
import * as Logging from "../src/Telemetry/Logging.ts"
import { eventInput, startEmbedded, testKey, type TestServer } from "./support/TestServer.ts"

let server: TestServer
let organizer: string
let admin: string
let attendee: string
let eventId: string
let registrationId: string
let userId: string

beforeAll(async () => {
  ;({ admin, organizer, server } = await startEmbedded("hostile"))
  attendee = await server.token("hostile-attendee")
  const event = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 1 }) })
  eventId = event.body.id
  await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })
  const registration = await server.request("POST", `/v1/events/${eventId}/registrations`, { token: attendee, json: {} })
  registrationId = registration.body.id
  userId = registration.body.userId
  // A waitlisted registration, so the waitlist route pages through rows too.
  const waiter = await server.token("hostile-waiter")
  await server.request("POST", `/v1/events/${eventId}/registrations`, { token: waiter, json: {} })
}, 60_000)
afterAll(() => server.close())

const forgedCursor = (key: unknown) =>
  btoa(JSON.stringify(key)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")

/** Cursors that decode to the right shape but hold values no sort key can have. */
const forgedCursors = [
  forgedCursor([Number.MAX_SAFE_INTEGER, "00000000-0000-0000-0000-000000000000"]),
  forgedCursor([-Number.MAX_SAFE_INTEGER, "00000000-0000-0000-0000-000000000000"]),
  forgedCursor([8.64e15, "00000000-0000-0000-0000-000000000000"]),
  forgedCursor([Number.MAX_SAFE_INTEGER]),
  forgedCursor([1e300]),
  forgedCursor(["00000000-0000-0000-0000-000000000000\u0000"]),
  forgedCursor([1, "\u0000"]),
  "99999999999999999999999999999999"
]

const badText = ["bad\u0000byte", "lone \ud800 surrogate", "\udc00", "\u0000"]

/** `encodeURIComponent`, except that a lone surrogate becomes the bytes of its (invalid) UTF-8 form. */
const percentEncode = (text: string) =>
  text.replace(/[\ud800-\udfff]/g, (unit) => `\u0000${unit.charCodeAt(0).toString(16)}\u0000`)
    .split("\u0000")
    .map((part, i) => i % 2 === 1 ? `%ED%${(0x80 + ((parseInt(part, 16) >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 + (parseInt(part, 16) & 0x3f)).toString(16).toUpperCase()}` : encodeURIComponent(part))
    .join("")

const expectBadRequest = (
  label: string,
  response: { status: number; headers: Headers; body: any; text: string },
  field?: string
) => {
  expect(response.status, `${label}: ${response.text.slice(0, 300)}`).toBe(400)
  expect(response.headers.get("content-type"), label).toContain("application/problem+json")
  if (field !== undefined) {
    const named = (response.body.errors ?? []).map((e: { field: string }) => e.field)
    expect(named, `${label}: ${JSON.stringify(response.body)}`).toContain(field)
  }
}

describe("text fields refuse NUL bytes and lone surrogates", () => {
  it("event title, description and location (create and update)", async () => {
    for (const value of badText) {
      for (const field of ["title", "description", "location"]) {
        const label = `${field}=${JSON.stringify(value)}`
        expectBadRequest(
          `create ${label}`,
          await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ [field]: value }) }),
          field
        )
        expectBadRequest(
          `update ${label}`,
          await server.request("PATCH", `/v1/events/${eventId}`, { token: organizer, json: { [field]: value } }),
          field
        )
      }
    }
  })

  it("registration notes, profile name, admin user fields, the subject of a created user", async () => {
    for (const value of badText) {
      const newcomer = await server.token(`hostile-notes-${badText.indexOf(value)}`)
      expectBadRequest(
        `notes ${JSON.stringify(value)}`,
        await server.request("POST", `/v1/events/${eventId}/registrations`, { token: newcomer, json: { notes: value } }),
        "notes"
      )
      expectBadRequest("me name", await server.request("PATCH", "/v1/me", { token: attendee, json: { name: value } }), "name")
      expectBadRequest(
        "user name",
        await server.request("PATCH", `/v1/users/${userId}`, { token: admin, json: { name: value } }),
        "name"
      )
      expectBadRequest(
        "user email",
        await server.request("PATCH", `/v1/users/${userId}`, { token: admin, json: { email: `a${value}@example.org` } }),
        "email"
      )
      expectBadRequest(
        "created subject",
        await server.request("POST", "/v1/users", { token: admin, json: { subject: `s${value}` } }),
        "subject"
      )
    }
  })

  it("search and audit filters, anonymous or not", async () => {
    for (const value of ["%00", "a%00b"]) {
      expectBadRequest(`q=${value}`, await server.request("GET", `/v1/events?q=${value}`), "q")
      expectBadRequest(
        `target=${value}`,
        await server.request("GET", `/v1/admin/audit?target=${value}`, { token: admin }),
        "target"
      )
    }
  })
})

describe("forged cursors are a 400 on every paginated route", () => {
  const routes = () => [
    ["/v1/events", undefined],
    [`/v1/events/${eventId}/registrations`, admin],
    [`/v1/events/${eventId}/waitlist`, admin],
    ["/v1/me/registrations", attendee],
    ["/v1/users", admin],
    ["/v1/admin/audit", admin],
    ["/v1/admin/outbox", admin]
  ] as const
  it("each route, each forged cursor", async () => {
    for (const [path, token] of routes()) {
      for (const cursor of forgedCursors) {
        const response = await server.request("GET", `${path}?cursor=${encodeURIComponent(cursor)}`, { token })
        expectBadRequest(`${path} cursor ${atobSafe(cursor)}`, response, "cursor")
      }
    }
  })
})

const atobSafe = (cursor: string) => {
  try {
    return atob(cursor.replaceAll("-", "+").replaceAll("_", "/"))
  } catch {
    return cursor
  }
}

describe("tokens whose claims hold a NUL are refused as invalid", () => {
  for (const claims of [
    { subject: "nul\u0000subject" },
    { subject: "lone\ud800surrogate" },
    { subject: "hostile-claims-name", name: "Na\u0000me" },
    { subject: "hostile-claims-email", email: "a\u0000b@example.org" }
  ]) {
    it(JSON.stringify(claims), async () => {
      const token = await Effect.runPromise(DevKey.mint(testKey, { roles: ["attendee"], ...claims }))
      for (const [method, path] of [["GET", "/v1/me"], ["GET", "/v1/events"], ["GET", `/v1/events/${eventId}`]] as const) {
        const response = await server.request(method, path, { token })
        expect(response.status, `${method} ${path}: ${response.text}`).toBe(401)
        expect(response.body.code).toBe("unauthenticated")
      }
    })
  }
})

describe("no hostile value yields a 5xx on any route", () => {
  it("sweeps text, cursors, numbers and ids over every route", async () => {
    const hostileStrings = [...badText, "\u0000".repeat(300), "\ud800\ud800", "x\udfff"]
    const hostileNumbers = [1e308, -1e308, 2 ** 63, -(2 ** 63), 2 ** 31, Number.MAX_SAFE_INTEGER, 1.5, -0]
    const bodies: Array<unknown> = [
      ...hostileStrings.flatMap((s) => [
        eventInput({ title: s, description: s, location: s }),
        { title: s },
        { notes: s },
        { name: s, phone: s },
        { name: s, email: s, phone: s },
        { subject: s, email: s, name: s },
        { attended: true, notes: s }
      ]),
      ...hostileNumbers.flatMap((n) => [
        eventInput({ capacity: n }),
        eventInput({ waitlist: { enabled: true, limit: n } }),
        { capacity: n },
        { waitlist: { enabled: true, limit: n } }
      ])
    ]
    const ids = [eventId, "%00", "%ED%A0%80", "00000000-0000-0000-0000-000000000000"]
    const writeRoutes = (id: string): ReadonlyArray<[string, string]> => [
      ["POST", "/v1/events"],
      ["PATCH", `/v1/events/${id}`],
      ["POST", `/v1/events/${id}/registrations`],
      ["POST", `/v1/registrations/${id === eventId ? registrationId : id}/attendance`],
      ["PATCH", "/v1/me"],
      ["PATCH", `/v1/users/${id === eventId ? userId : id}`],
      ["POST", "/v1/users"]
    ]
    const queries = [
      ...hostileStrings.map((s) => `q=${percentEncode(s)}`),
      ...hostileStrings.map((s) => `target=${percentEncode(s)}`),
      ...forgedCursors.map((c) => `cursor=${encodeURIComponent(c)}`),
      ...hostileNumbers.map((n) => `limit=${n}`),
      "from=9999-12-31T23:59:59Z",
      "from=0001-01-01T00:00:00Z",
      "to=-271821-04-20T00:00:00Z",
      "status=%00"
    ]
    const readRoutes = (id: string) => [
      "/v1/events",
      `/v1/events/${id}`,
      `/v1/events/${id}/registrations`,
      `/v1/events/${id}/waitlist`,
      "/v1/me/registrations",
      "/v1/users",
      "/v1/admin/audit",
      "/v1/admin/outbox"
    ]
    // Every other route with an id, with each hostile id and a hostile body.
    const idRoutes = (id: string): ReadonlyArray<[string, string]> => [
      ["DELETE", `/v1/events/${id}`],
      ["POST", `/v1/events/${id}/publish`],
      ["POST", `/v1/events/${id}/unpublish`],
      ["POST", `/v1/events/${id}/cancel`],
      ["GET", `/v1/registrations/${id}`],
      ["POST", `/v1/registrations/${id}/cancel`],
      ["POST", `/v1/registrations/${id}/confirm`],
      ["GET", `/v1/users/${id}`],
      ["GET", `/v1/users/${id}/export`],
      ["POST", `/v1/admin/outbox/${id}/retry`]
    ]
    const failures: Array<string> = []
    let count = 0
    const check = (label: string, response: { status: number; text: string }) => {
      count++
      if (response.status >= 500) failures.push(`${label} → ${response.status} ${response.text.slice(0, 160)}`)
    }
    for (const id of ["%00", "%ED%A0%80", "00000000-0000-0000-0000-000000000000", "9".repeat(40)]) {
      for (const [method, path] of idRoutes(id)) {
        for (const token of [undefined, attendee, admin]) {
          const json = method === "GET" || method === "DELETE" ? undefined : { notes: "\u0000", attended: 1e308 }
          check(`${method} ${path}`, await server.request(method, path, { token, ...(json !== undefined ? { json } : {}) }))
        }
      }
    }
    // Live streams: a hostile resume point is refused or ignored, never a 5xx (headers only: a 200 streams).
    for (const query of ["lastEventId=%00", "lastEventId=%ED%A0%80", `lastEventId=${"9".repeat(128)}`, "lastEventId=-1"]) {
      for (const [path, token] of [[`/v1/events/${eventId}/live`, undefined], ["/v1/me/live", attendee]] as const) {
        const controller = new AbortController()
        const response = await fetch(`${server.url}${path}?${query}`, {
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          signal: controller.signal
        })
        check(`GET ${path}?${query}`, { status: response.status, text: response.status >= 500 ? await response.text() : "" })
        controller.abort()
      }
    }
    for (const id of ids) {
      for (const [method, path] of writeRoutes(id)) {
        for (const json of bodies) {
          const token = path === "/v1/events" ? organizer : path.startsWith("/v1/users") ? admin : attendee
          check(`${method} ${path} ${JSON.stringify(json).slice(0, 60)}`, await server.request(method, path, { token, json }))
        }
      }
      for (const path of readRoutes(id)) {
        for (const query of queries) {
          for (const token of [undefined, admin]) {
            check(`GET ${path}?${query}`, await server.request("GET", `${path}?${query}`, { token }))
          }
        }
      }
    }
    expect(count).toBeGreaterThan(1000)
    expect(failures.slice(0, 20)).toEqual([])
  }, 240_000)
})

describe("a storage failure is reported for what it is", () => {
  it("is logged with its operation, reason and SQLSTATE before it is answered", async () => {
    const lines: Array<string> = []
    const capture = Logger.make((options) => {
      lines.push(String(Logging.formatJsonLine.log(options)))
    })
    const refused = new SqlError.SqlError({
      reason: new SqlError.UnknownError({
        cause: Object.assign(new Error("invalid byte sequence for encoding \"UTF8\": 0x00"), { code: "22021" }),
        message: "invalid byte sequence",
        operation: "execute"
      })
    })
    const failure = new DomainError.RepositoryError({ reason: "invalid", operation: "EventRepository.insert", cause: refused })
    const response = await Effect.runPromise(
      Problem.catchDomain(Effect.fail(failure)).pipe(Effect.provide(Logger.layer([capture])))
    )
    expect((response as { status: number }).status).toBe(400)
    const logged = lines.find((line) => line.includes("EventRepository.insert"))
    expect(logged, lines.join("\n")).toBeDefined()
    expect(logged).toContain("22021")
    expect(logged).toContain("invalid")
    expect(logged).toContain(`"level":"ERROR"`)
  })

  it("refused data 400, a violated constraint 409, our bug 500, an outage 503", () => {
    const statusOf = (reason: DomainError.RepositoryError["reason"]) =>
      Problem.fromRepositoryError(new DomainError.RepositoryError({ reason, operation: "test" })).status
    expect(statusOf("invalid")).toBe(400)
    expect(statusOf("constraint")).toBe(409)
    expect(statusOf("defect")).toBe(500)
    for (const outage of ["unavailable", "timeout", "conflict", "unknown"] as const) expect(statusOf(outage)).toBe(503)
  })
})
