/**
 * Bad input on every route: malformed JSON, wrong types, over-long strings, bad UUIDs, bad time zones,
 * endsAt before startsAt, bad query values → 400 `application/problem+json` naming the field; and a
 * sweep of hostile inputs over every route asserting that nothing ever yields a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

let server: TestServer
let organizer: string
let attendee: string
let admin: string
let eventId: string
let registrationId: string
let userId: string

beforeAll(async () => {
  server = await start()
  organizer = await server.token("v-organizer", "organizer")
  attendee = await server.token("v-attendee")
  admin = await server.token("v-admin", "admin")
  const event = await server.request("POST", "/v1/events", { token: organizer, json: eventInput() })
  eventId = event.body.id
  await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })
  const registration = await server.request("POST", `/v1/events/${eventId}/registrations`, { token: attendee })
  registrationId = registration.body.id
  userId = registration.body.userId
})
afterAll(() => server.close())

const expectProblem = (response: { status: number; headers: Headers; body: any }, fields: ReadonlyArray<string>) => {
  expect(response.status, JSON.stringify(response.body)).toBe(400)
  expect(response.headers.get("content-type")).toContain("application/problem+json")
  expect(response.body).toMatchObject({ status: 400, title: "Bad Request", code: expect.any(String), traceId: expect.any(String) })
  expect(typeof response.body.detail).toBe("string")
  expect(typeof response.body.instance).toBe("string")
  const named = (response.body.errors ?? []).map((e: { field: string }) => e.field)
  for (const field of fields) expect(named, JSON.stringify(response.body.errors)).toContain(field)
  expect(response.body.errors.every((e: any) => typeof e.message === "string" && e.message.length > 0)).toBe(true)
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.ts:\d+/)
}

describe("create event", () => {
  const cases: ReadonlyArray<[string, unknown, ReadonlyArray<string>]> = [
    ["wrong types", { ...eventInput(), title: 5, capacity: "ten", waitlist: { enabled: "yes" } }, ["title", "capacity", "waitlist.enabled"]],
    ["missing fields", {}, ["title", "startsAt", "endsAt", "timeZone", "location", "capacity"]],
    ["over-long title", eventInput({ title: "x".repeat(201) }), ["title"]],
    ["blank title after trimming", eventInput({ title: "   " }), ["title"]],
    ["over-long description", eventInput({ description: "x".repeat(4001) }), ["description"]],
    ["over-long location", eventInput({ location: "x".repeat(501) }), ["location"]],
    ["bad time zone", eventInput({ timeZone: "Mars/Olympus_Mons" }), ["timeZone"]],
    ["endsAt before startsAt", eventInput({ endsAt: "2020-01-01T00:00:00Z" }), ["endsAt"]],
    ["endsAt equal to startsAt", (() => {
      const input = eventInput()
      return { ...input, endsAt: input.startsAt }
    })(), ["endsAt"]],
    ["not an instant", eventInput({ startsAt: "next tuesday" }), ["startsAt"]],
    ["instant without offset", eventInput({ startsAt: "2031-01-01T10:00:00" }), ["startsAt"]],
    ["capacity zero", eventInput({ capacity: 0 }), ["capacity"]],
    ["capacity too large", eventInput({ capacity: 100_001 }), ["capacity"]],
    ["fractional capacity", eventInput({ capacity: 1.5 }), ["capacity"]],
    ["negative waitlist limit", eventInput({ waitlist: { enabled: true, limit: -1 } }), ["waitlist.limit"]],
    ["registration closing after the start", eventInput({ registrationClosesAt: "2099-01-01T00:00:00Z" }), ["registrationClosesAt"]],
    ["start in the past", eventInput({}, -2), ["startsAt"]],
    ["an array", [], ["body"]],
    ["null", null, ["body"]]
  ]
  for (const [name, body, fields] of cases) {
    it(name, async () => {
      expectProblem(await server.request("POST", "/v1/events", { token: organizer, json: body }), fields)
    })
  }

  it("malformed JSON", async () => {
    const response = await server.request("POST", "/v1/events", { token: organizer, body: "{\"title\": " })
    expectProblem(response, ["body"])
    expect(response.body.errors[0].message).toMatch(/JSON/)
  })

  it("an over-long Idempotency-Key", async () => {
    const response = await server.request("POST", "/v1/events", {
      token: organizer,
      json: eventInput(),
      headers: { "idempotency-key": "k".repeat(256) }
    })
    expectProblem(response, ["idempotency-key"])
  })
})

describe("update event", () => {
  const cases: ReadonlyArray<[string, unknown, ReadonlyArray<string>]> = [
    ["wrong types", { title: false, capacity: [] }, ["title", "capacity"]],
    ["empty title", { title: "" }, ["title"]],
    ["over-long title", { title: "t".repeat(201) }, ["title"]],
    ["bad time zone", { timeZone: "Europe/Atlantis" }, ["timeZone"]],
    ["endsAt before startsAt in the patch", { startsAt: "2031-05-01T10:00:00Z", endsAt: "2031-05-01T09:00:00Z" }, ["endsAt"]],
    // Only endsAt given: checked against the stored startsAt by the use-case.
    ["endsAt before the stored startsAt", { endsAt: "2021-01-01T00:00:00Z" }, ["endsAt"]]
  ]
  for (const [name, body, fields] of cases) {
    it(name, async () => {
      expectProblem(await server.request("PATCH", `/v1/events/${eventId}`, { token: organizer, json: body }), fields)
    })
  }
  it("malformed JSON", async () => {
    expectProblem(await server.request("PATCH", `/v1/events/${eventId}`, { token: organizer, body: "{" }), ["body"])
  })
})

describe("registrations and profiles", () => {
  it("over-long notes", async () => {
    const response = await server.request("POST", `/v1/events/${eventId}/registrations`, {
      token: organizer,
      json: { notes: "n".repeat(1001) }
    })
    expectProblem(response, ["notes"])
  })
  it("notes of the wrong type", async () => {
    expectProblem(await server.request("POST", `/v1/events/${eventId}/registrations`, { token: organizer, json: { notes: 42 } }), ["notes"])
  })
  it("malformed JSON on register", async () => {
    expectProblem(await server.request("POST", `/v1/events/${eventId}/registrations`, { token: organizer, body: "[" }), ["body"])
  })
  it("attendance without a boolean", async () => {
    expectProblem(await server.request("POST", `/v1/registrations/${registrationId}/attendance`, { token: organizer, json: { attended: "yes" } }), ["attended"])
    expectProblem(await server.request("POST", `/v1/registrations/${registrationId}/attendance`, { token: organizer, json: {} }), ["attended"])
  })
  it("profile fields", async () => {
    expectProblem(await server.request("PATCH", "/v1/me", { token: attendee, json: { name: "", phone: "call me" } }), ["name", "phone"])
    expectProblem(await server.request("PATCH", "/v1/me", { token: attendee, json: { name: "n".repeat(201) } }), ["name"])
  })
  it("admin user fields", async () => {
    expectProblem(await server.request("POST", "/v1/users", { token: admin, json: { email: "nope" } }), ["subject", "email"])
    expectProblem(await server.request("PATCH", `/v1/users/${userId}`, { token: admin, json: { email: 7 } }), ["email"])
  })
})

describe("path and query parameters", () => {
  const idRoutes: ReadonlyArray<[string, string, unknown?]> = [
    ["GET", "/v1/events/:id"],
    ["PATCH", "/v1/events/:id", { title: "x" }],
    ["DELETE", "/v1/events/:id"],
    ["POST", "/v1/events/:id/publish"],
    ["POST", "/v1/events/:id/unpublish"],
    ["POST", "/v1/events/:id/cancel"],
    ["POST", "/v1/events/:id/registrations", {}],
    ["GET", "/v1/events/:id/registrations"],
    ["GET", "/v1/events/:id/waitlist"],
    ["GET", "/v1/registrations/:id"],
    ["POST", "/v1/registrations/:id/cancel"],
    ["POST", "/v1/registrations/:id/confirm"],
    ["POST", "/v1/registrations/:id/attendance", { attended: true }],
    ["GET", "/v1/users/:id"],
    ["PATCH", "/v1/users/:id", { name: "x" }]
  ]
  for (const [method, template, json] of idRoutes) {
    it(`${method} ${template} with a bad UUID`, async () => {
      for (const bad of ["not-a-uuid", "12345", "00000000-0000-7000-8000-00000000000g"]) {
        const response = await server.request(method, template.replace(":id", bad), {
          token: admin,
          ...(json !== undefined ? { json } : {})
        })
        expectProblem(response, ["id"])
      }
    })
  }

  const queries: ReadonlyArray<[string, ReadonlyArray<string>]> = [
    ["/v1/events?limit=0", ["limit"]],
    ["/v1/events?limit=101", ["limit"]],
    ["/v1/events?limit=ten", ["limit"]],
    ["/v1/events?limit=2.5", ["limit"]],
    ["/v1/events?status=archived", ["status"]],
    ["/v1/events?from=yesterday", ["from"]],
    ["/v1/events?organizerId=bob", ["organizerId"]],
    ["/v1/events?q=" + "q".repeat(201), ["q"]],
    ["/v1/events?cursor=definitely-not-a-cursor", ["cursor"]],
    [`/v1/events/:event/registrations?status=maybe`, ["status"]],
    [`/v1/events/:event/waitlist?limit=-1`, ["limit"]],
    ["/v1/me/registrations?limit=1000", ["limit"]],
    ["/v1/users?cursor=abc", ["cursor"]]
  ]
  for (const [path, fields] of queries) {
    it(`GET ${path.slice(0, 60)}`, async () => {
      expectProblem(await server.request("GET", path.replace(":event", eventId), { token: admin }), fields)
    })
  }
})

describe("no input ever yields a 5xx", () => {
  const routes: ReadonlyArray<[string, string]> = [
    ["GET", "/v1/events"],
    ["POST", "/v1/events"],
    ["GET", "/v1/events/:id"],
    ["PATCH", "/v1/events/:id"],
    ["DELETE", "/v1/events/:id"],
    ["POST", "/v1/events/:id/publish"],
    ["POST", "/v1/events/:id/unpublish"],
    ["POST", "/v1/events/:id/cancel"],
    ["POST", "/v1/events/:id/registrations"],
    ["GET", "/v1/events/:id/registrations"],
    ["GET", "/v1/events/:id/waitlist"],
    ["GET", "/v1/registrations/:rid"],
    ["POST", "/v1/registrations/:rid/cancel"],
    ["POST", "/v1/registrations/:rid/confirm"],
    ["POST", "/v1/registrations/:rid/attendance"],
    ["GET", "/v1/me"],
    ["PATCH", "/v1/me"],
    ["GET", "/v1/me/registrations"],
    ["GET", "/v1/users"],
    ["POST", "/v1/users"],
    ["GET", "/v1/users/:uid"],
    ["PATCH", "/v1/users/:uid"],
    ["GET", "/v1/users/:uid/export"],
    ["GET", "/v1/me/export"],
    ["GET", "/v1/admin/audit"],
    ["GET", "/v1/admin/outbox"],
    ["PUT", "/v1/events"],
    ["GET", "/v1/nothing/here"]
  ]
  const bodies: ReadonlyArray<string | undefined> = [
    undefined,
    "",
    "{",
    "null",
    "[]",
    "\"text\"",
    "12345678901234567890",
    "{\"__proto__\":{\"admin\":true},\"constructor\":{\"prototype\":{}}}",
    JSON.stringify({ title: "\u0000\uD800", capacity: 1e308, startsAt: "9999-99-99T99:99:99Z", notes: { deep: [[[]]] } }),
    JSON.stringify({ title: "x".repeat(100_000), attended: null, name: ["a"], email: {} }),
    JSON.stringify(eventInput({ timeZone: "../../etc/passwd" })),
    JSON.stringify(Array.from({ length: 1000 }, () => ({ a: 1 })))
  ]
  const ids = (kind: string) =>
    [
      kind === "id" ? undefined : undefined,
      "00000000-0000-7000-8000-000000000000",
      "%00",
      "..%2F..%2Fetc",
      "x".repeat(2000),
      "%E2%82%AC"
    ]

  // On GET: NUL, lone surrogates, forged cursors (numbers out of range, bad uuids), out-of-range limits.
  const forged = (key: unknown) => btoa(JSON.stringify(key)).replaceAll("=", "")
  const queries = [
    "",
    "?q=%00&target=%00",
    `?cursor=${forged([Number.MAX_SAFE_INTEGER, "00000000-0000-0000-0000-000000000000"])}`,
    `?cursor=${forged([1e300])}&limit=1e308`,
    `?cursor=${forged(["\u0000"])}&limit=-9007199254740993`,
    "?q=%ED%A0%80&status=%00&from=%00"
  ]

  it("sweeps every route with hostile bodies, ids, tokens and content types", async () => {
    const failures: Array<string> = []
    let count = 0
    for (const [method, template] of routes) {
      const idValues = template.includes(":") ? ids(template) : [undefined]
      for (const idValue of idValues) {
        const path = template
          .replace(":id", idValue ?? eventId)
          .replace(":rid", idValue ?? registrationId)
          .replace(":uid", idValue ?? userId)
        for (const token of [undefined, "garbage", admin, organizer, attendee]) {
          for (const body of method === "GET" || method === "DELETE" ? [undefined] : bodies) {
            for (const query of method === "GET" ? queries : [""]) {
            for (const contentType of ["application/json", "text/plain"]) {
              if (body === undefined && contentType !== "application/json") continue
              const response = await server.request(method, path + query, {
                ...(token !== undefined ? { token } : {}),
                ...(body !== undefined ? { body } : {}),
                headers: { "content-type": contentType }
              })
              count++
              if (response.status >= 500) failures.push(`${method} ${path.slice(0, 80)} [${body?.slice(0, 40)}] → ${response.status} ${response.text.slice(0, 200)}`)
              else if (response.status >= 400 && !response.headers.get("content-type")?.includes("application/problem+json")) {
                failures.push(`${method} ${path.slice(0, 80)} → ${response.status} not a problem: ${response.text.slice(0, 100)}`)
              } else if (/\.ts:\d+|node_modules/.test(response.text)) {
                failures.push(`${method} ${path.slice(0, 80)} → leaks a stack trace`)
              }
            }
            }
          }
        }
      }
    }
    expect(count).toBeGreaterThan(2000)
    expect(failures.slice(0, 20)).toEqual([])
  }, 180_000)
})
