/**
 * HTTP semantics beyond status codes: ETag / If-None-Match / If-Match, Idempotency-Key replay and
 * misuse, cursor pagination, the CSV export, problem details of domain errors, OpenAPI and docs.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

let server: TestServer
let organizer: string

beforeAll(async () => {
  server = await start()
  organizer = await server.token("s-organizer", "organizer")
})
afterAll(() => server.close())

const createPublished = async (overrides: Record<string, unknown> = {}) => {
  const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput(overrides) })
  expect(created.status).toBe(201)
  const published = await server.request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer })
  return published.body.id as string
}

describe("ETag", () => {
  it("GET answers an ETag; If-None-Match with it answers 304 until the event changes", async () => {
    const id = await createPublished()
    const first = await server.request("GET", `/v1/events/${id}`)
    const etag = first.headers.get("etag")!
    expect(etag).toMatch(/^"\d+"$/)
    const notModified = await server.request("GET", `/v1/events/${id}`, { headers: { "if-none-match": etag } })
    expect(notModified.status).toBe(304)
    expect(notModified.text).toBe("")
    expect(notModified.headers.get("etag")).toBe(etag)
    expect((await server.request("GET", `/v1/events/${id}`, { headers: { "if-none-match": `W/${etag}` } })).status).toBe(304)
    expect((await server.request("GET", `/v1/events/${id}`, { headers: { "if-none-match": "\"other\", *" } })).status).toBe(304)

    // A registration changes the counts, hence the representation and its tag.
    await server.request("POST", `/v1/events/${id}/registrations`, { token: await server.token("s-etag-attendee") })
    const changed = await server.request("GET", `/v1/events/${id}`, { headers: { "if-none-match": etag } })
    expect(changed.status).toBe(200)
    expect(changed.headers.get("etag")).not.toBe(etag)
    expect(changed.body.confirmedCount).toBe(1)
  })

  it("PATCH with a stale If-Match answers 412 precondition-failed and changes nothing", async () => {
    const id = await createPublished()
    const etag = (await server.request("GET", `/v1/events/${id}`)).headers.get("etag")!
    const updated = await server.request("PATCH", `/v1/events/${id}`, {
      token: organizer,
      json: { title: "First edit" },
      headers: { "if-match": etag }
    })
    expect(updated.status).toBe(200)
    expect(updated.body.title).toBe("First edit")
    const newTag = updated.headers.get("etag")
    expect(newTag).not.toBe(etag)

    const stale = await server.request("PATCH", `/v1/events/${id}`, {
      token: organizer,
      json: { title: "Lost update" },
      headers: { "if-match": etag }
    })
    expect(stale.status).toBe(412)
    expect(stale.headers.get("content-type")).toContain("application/problem+json")
    expect(stale.body).toMatchObject({ status: 412, code: "precondition-failed" })
    const weak = await server.request("PATCH", `/v1/events/${id}`, {
      token: organizer,
      json: { title: "Lost update" },
      headers: { "if-match": `W/${newTag}` }
    })
    expect(weak.status).toBe(412)
    expect((await server.request("GET", `/v1/events/${id}`)).body.title).toBe("First edit")

    const star = await server.request("PATCH", `/v1/events/${id}`, { token: organizer, json: { capacity: 10 }, headers: { "if-match": "*" } })
    expect(star.status).toBe(200)
    expect(star.body).toMatchObject({ capacity: 10, availableSeats: 10 })
  })
})

describe("Idempotency-Key", () => {
  it("replays the first create-event response and refuses the key for another body", async () => {
    const body = eventInput({ title: "Once" })
    const headers = { "idempotency-key": "create-once" }
    const first = await server.request("POST", "/v1/events", { token: organizer, json: body, headers })
    expect(first.status).toBe(201)
    const retry = await server.request("POST", "/v1/events", { token: organizer, json: body, headers })
    expect(retry.status).toBe(201)
    expect(retry.text).toBe(first.text)
    expect(retry.headers.get("location")).toBe(first.headers.get("location"))
    expect(retry.headers.get("idempotent-replayed")).toBe("true")
    const list = await server.request("GET", "/v1/events?status=draft", { token: organizer })
    expect(list.body.items.filter((e: any) => e.title === "Once")).toHaveLength(1)

    const reused = await server.request("POST", "/v1/events", { token: organizer, json: { ...body, title: "Twice" }, headers })
    expect(reused.status).toBe(422)
    expect(reused.body).toMatchObject({ code: "idempotency-key-reused", status: 422 })

    // Keys are per user: another organizer may use the same key for their own request.
    const other = await server.request("POST", "/v1/events", { token: await server.token("s-other-org", "organizer"), json: body, headers })
    expect(other.status).toBe(201)
    expect(other.body.id).not.toBe(first.body.id)
  })

  it("replays a registration, including a stored 4xx answer", async () => {
    const id = await createPublished({ capacity: 1, waitlist: { enabled: false, limit: null } })
    const alice = await server.token("s-idem-alice")
    const first = await server.request("POST", `/v1/events/${id}/registrations`, { token: alice, json: { notes: "a" }, headers: { "idempotency-key": "reg-1" } })
    expect(first.status).toBe(201)
    const retry = await server.request("POST", `/v1/events/${id}/registrations`, { token: alice, json: { notes: "a" }, headers: { "idempotency-key": "reg-1" } })
    expect(retry.status).toBe(201)
    expect(retry.body.id).toBe(first.body.id)
    expect((await server.request("GET", `/v1/events/${id}`)).body.confirmedCount).toBe(1)

    const bob = await server.token("s-idem-bob")
    const full = await server.request("POST", `/v1/events/${id}/registrations`, { token: bob, headers: { "idempotency-key": "reg-2" } })
    expect(full.status).toBe(409)
    expect(full.body.code).toBe("waitlist-closed")
    const fullAgain = await server.request("POST", `/v1/events/${id}/registrations`, { token: bob, headers: { "idempotency-key": "reg-2" } })
    expect(fullAgain.status).toBe(409)
    expect(fullAgain.text).toBe(full.text)
    expect(fullAgain.headers.get("content-type")).toContain("application/problem+json")
  })
})

describe("pagination", () => {
  it("walks a list with limit and cursor, without duplicates or gaps", async () => {
    const pager = await server.token("s-pager", "organizer")
    const ids: Array<string> = []
    for (let i = 0; i < 7; i++) {
      const created = await server.request("POST", "/v1/events", { token: pager, json: eventInput({ title: `Page ${i}` }, 40 + i) })
      ids.push(created.body.id)
    }
    const organizerId = (await server.request("GET", "/v1/me", { token: pager })).body.id
    const seen: Array<string> = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query: string = `/v1/events?status=draft&organizerId=${organizerId}&limit=3${cursor ? `&cursor=${cursor}` : ""}`
      const page = await server.request("GET", query, { token: pager })
      expect(page.status).toBe(200)
      expect(page.body.items.length).toBeLessThanOrEqual(3)
      seen.push(...page.body.items.map((e: any) => e.id))
      cursor = page.body.nextCursor
      pages++
    } while (cursor !== null && pages < 10)
    expect(pages).toBe(3)
    expect([...seen].sort()).toEqual([...ids].sort())
    expect(new Set(seen).size).toBe(seen.length)
    const defaultPage = await server.request("GET", `/v1/events?status=draft&organizerId=${organizerId}`, { token: pager })
    expect(defaultPage.body.items).toHaveLength(7)
    expect(defaultPage.body.nextCursor).toBeNull()
  })

  it("anonymous callers only see published events; drafts are listed to their owner only", async () => {
    const anonymous = await server.request("GET", "/v1/events?limit=100")
    expect(anonymous.body.items.every((e: any) => e.status === "published")).toBe(true)
    const drafts = await server.request("GET", "/v1/events?status=draft", { token: await server.token("s-nobody", "organizer") })
    expect(drafts.body.items).toEqual([])
  })
})

describe("CSV export", () => {
  it("answers text/csv with every registration when asked by Accept", async () => {
    const id = await createPublished({ capacity: 1 })
    const notes = ["=HYPERLINK(\"http://evil\")", "plain, with \"quotes\""]
    for (const [i, note] of notes.entries()) {
      const r = await server.request("POST", `/v1/events/${id}/registrations`, { token: await server.token(`s-csv-${i}`), json: { notes: note } })
      expect(r.status).toBe(201)
    }
    const csv = await server.request("GET", `/v1/events/${id}/registrations`, { token: organizer, headers: { accept: "text/csv" } })
    expect(csv.status).toBe(200)
    expect(csv.headers.get("content-type")).toContain("text/csv")
    const lines = csv.text.trim().split("\r\n")
    expect(lines[0]).toBe("id,eventId,userId,status,waitlistPosition,notes,createdAt,updatedAt,confirmedAt,cancelledAt")
    expect(lines).toHaveLength(3)
    expect(lines[1]).toContain(",confirmed,,\"'=HYPERLINK(\"\"http://evil\"\")\",")
    expect(lines[2]).toContain(",waitlisted,1,\"plain, with \"\"quotes\"\"\",")
    const json = await server.request("GET", `/v1/events/${id}/registrations?status=waitlisted`, { token: organizer })
    expect(json.body.items.map((r: any) => r.status)).toEqual(["waitlisted"])
    const denied = await server.request("GET", `/v1/events/${id}/registrations`, { token: await server.token("s-csv-0"), headers: { accept: "text/csv" } })
    expect(denied.status).toBe(403)
    expect(denied.headers.get("content-type")).toContain("application/problem+json")
  })
})

describe("problems and documentation", () => {
  it("domain errors carry their code; already-registered names the registration", async () => {
    const id = await createPublished()
    const alice = await server.token("s-twice")
    const first = await server.request("POST", `/v1/events/${id}/registrations`, { token: alice })
    const second = await server.request("POST", `/v1/events/${id}/registrations`, { token: alice })
    expect(second.status).toBe(409)
    expect(second.body).toMatchObject({
      type: "urn:live-events:problem:already-registered",
      title: "Conflict",
      code: "already-registered",
      instance: `/v1/events/${id}/registrations`,
      registrationId: first.body.id
    })
    const missing = await server.request("GET", "/v1/events/00000000-0000-7000-8000-000000000000")
    expect(missing.body).toMatchObject({ status: 404, code: "event-not-found" })
    const route = await server.request("GET", "/v2/nowhere")
    expect(route.body).toMatchObject({ status: 404, code: "not-found" })
  })

  it("serves the OpenAPI document and the docs page from the same API", async () => {
    const spec = await server.request("GET", "/openapi.json")
    expect(spec.status).toBe(200)
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining([
      "/v1/events",
      "/v1/events/{id}",
      "/v1/events/{id}/registrations",
      "/v1/registrations/{id}/cancel",
      "/v1/me",
      "/v1/users/{id}",
      "/health/ready"
    ]))
    expect(spec.body.components.schemas.Problem).toBeDefined()
    const docs = await server.request("GET", "/docs")
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toContain("text/html")
    // The docs page selects the Bearer scheme for its snippets, and the document it embeds declares it.
    expect(docs.text).toContain('"authentication":{"preferredSecurityScheme":"bearer"}')
    expect(docs.text).toContain('"bearer":{"type":"http","scheme":"bearer","bearerFormat":"JWT"')
  })
})
