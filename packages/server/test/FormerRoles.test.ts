/**
 * Rights follow the current token and the current record:
 * - an organizer whose token no longer carries the organizer role cannot manage their events any more
 *   (roles come from the token on every request, nothing is remembered);
 * - an erased user's record takes no further writes, not even from an admin: 409 `user-erased`, and the
 *   stored row stays anonymous (checked in the table, on PGlite so the SQL runs).
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventInput, startEmbedded, type TestServer } from "./support/TestServer.ts"

let server: TestServer
let sql: SqlClient.SqlClient
let organizer: string
let admin: string

beforeAll(async () => {
  ;({ admin, organizer, server, sql } = await startEmbedded("former"))
}, 60_000)
afterAll(() => server.close())

describe("an organizer who lost the role", () => {
  it("can no longer manage their events", async () => {
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput() })
    expect(created.status).toBe(201)
    const eventId = created.body.id as string
    expect((await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })).status).toBe(200)
    const draft = await server.request("POST", "/v1/events", { token: organizer, json: eventInput() })
    // The same person (same subject) with an attendee-only token.
    const demoted = await server.token("former-organizer")
    const attempts: ReadonlyArray<[string, string, unknown?]> = [
      ["PATCH", `/v1/events/${eventId}`, { title: "Still mine?" }],
      ["POST", `/v1/events/${eventId}/unpublish`],
      ["POST", `/v1/events/${eventId}/cancel`],
      ["DELETE", `/v1/events/${eventId}`],
      ["GET", `/v1/events/${eventId}/registrations`],
      ["GET", `/v1/events/${eventId}/waitlist`]
    ]
    for (const [method, path, json] of attempts) {
      const response = await server.request(method, path, { token: demoted, ...(json !== undefined ? { json } : {}) })
      expect(response.status, `${method} ${path}: ${response.text}`).toBe(403)
      expect(response.body.code).toBe("forbidden")
    }
    // Their draft is not theirs to see either; with the role back, everything works again.
    expect((await server.request("GET", `/v1/events/${draft.body.id}`, { token: demoted })).status).toBe(404)
    expect((await server.request("PATCH", `/v1/events/${eventId}`, { token: organizer, json: { title: "Mine" } })).status)
      .toBe(200)
  })
})

describe("an erased user", () => {
  it("refuses every write, even an admin's, and stays anonymous", async () => {
    const person = await server.token("former-person")
    const me = await server.request("GET", "/v1/me", { token: person })
    const userId = me.body.id as string
    expect((await server.request("DELETE", `/v1/users/${userId}`, { token: admin })).status).toBe(204)

    const patched = await server.request("PATCH", `/v1/users/${userId}`, {
      token: admin,
      json: { name: "Written Back", email: "written.back@example.org", phone: "+1 555 0100" }
    })
    expect(patched.status, patched.text).toBe(409)
    expect(patched.headers.get("content-type")).toContain("application/problem+json")
    expect(patched.body.code).toBe("user-erased")

    // Creating the same subject again does not revive the record either.
    const recreated = await server.request("POST", "/v1/users", {
      token: admin,
      json: { subject: "former-person", name: "Written Back", email: "written.back@example.org" }
    })
    expect(recreated.status, recreated.text).toBe(409)
    expect(recreated.body.code).toBe("user-erased")

    const rows = await Effect.runPromise(sql<{ email: string | null; name: string | null; phone: string | null }>`
      SELECT email, name, phone FROM users WHERE id = ${userId}`)
    expect(rows).toEqual([{ email: null, name: null, phone: null }])
    const shown = await server.request("GET", `/v1/users/${userId}`, { token: admin })
    expect(shown.body).toMatchObject({ email: null, name: null, phone: null })
    // Erasing again stays harmless.
    expect((await server.request("DELETE", `/v1/users/${userId}`, { token: admin })).status).toBe(204)
  })
})
