/**
 * GDPR export and erase through HTTP, on the embedded PostgreSQL (PGlite) so the SQL runs: the export
 * holds the profile and the registrations with their history; DELETE /v1/me anonymises the stored row
 * (checked in the table itself), clears notes, cancels the future seat and promotes the waitlist; the
 * erased token is refused with `user-erased`; an admin sees the anonymised export and may erase again.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as DevKey from "../src/Auth/DevKey.ts"
import { eventInput, startEmbedded, testKey, type TestServer } from "./support/TestServer.ts"

const person = { email: "gdpr.person-5521@example.org", name: "Godfrey Privacy", phone: "+33 1 23 45 67 89" }

describe("GDPR export and erase over HTTP (PGlite)", () => {
  let server: TestServer
  let sql: SqlClient.SqlClient
  let organizer: string
  let admin: string

  beforeAll(async () => {
    ;({ admin, organizer, server, sql } = await startEmbedded("gdpr"))
  })
  afterAll(() => server.close())

  const publishedEvent = async (capacity: number) => {
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity }) })
    expect(created.status).toBe(201)
    expect((await server.request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer })).status).toBe(200)
    return created.body.id as string
  }

  it("exports, erases irreversibly, promotes the waitlist, and refuses the erased token", async () => {
    const token = await Effect.runPromise(
      DevKey.mint(testKey, { subject: "gdpr-person", roles: ["attendee"], email: person.email, name: person.name })
    )
    const waiter = await server.token("gdpr-waiter")
    expect((await server.request("PATCH", "/v1/me", { token, json: { phone: person.phone } })).status).toBe(200)
    const eventId = await publishedEvent(1)
    const seat = await server.request("POST", `/v1/events/${eventId}/registrations`, { token, json: { notes: "wheelchair access, ask Godfrey" } })
    expect(seat.body.status).toBe("confirmed")
    const waiting = await server.request("POST", `/v1/events/${eventId}/registrations`, { token: waiter, json: {} })
    expect(waiting.body.status).toBe("waitlisted")

    const exported = await server.request("GET", "/v1/me/export", { token })
    expect(exported.status).toBe(200)
    expect(exported.body.user).toMatchObject({ ...person, subject: "gdpr-person", erasedAt: null })
    expect(exported.body.registrations).toHaveLength(1)
    expect(exported.body.registrations[0]).toMatchObject({ id: seat.body.id, notes: "wheelchair access, ask Godfrey", status: "confirmed" })
    expect(exported.body.registrations[0].history).toEqual([{ status: "confirmed", at: seat.body.createdAt }])

    // Polled: the person, their list and their registration are all held in the read cache now.
    for (let i = 0; i < 2; i++) {
      expect((await server.request("GET", "/v1/me/registrations", { token })).body.items).toHaveLength(1)
      expect((await server.request("GET", `/v1/registrations/${seat.body.id}`, { token })).status).toBe(200)
    }

    const erased = await server.request("DELETE", "/v1/me", { token })
    expect(erased.status).toBe(204)

    // The token can no longer act.
    const refused = await server.request("GET", "/v1/me", { token })
    expect(refused.status).toBe(403)
    expect(refused.body.code).toBe("user-erased")
    for (const path of ["/v1/me/registrations", `/v1/registrations/${seat.body.id}`]) {
      const polled = await server.request("GET", path, { token })
      expect([polled.status, polled.body.code]).toEqual([403, "user-erased"])
    }

    // The seat went to the waitlist's head.
    const promoted = await server.request("GET", `/v1/registrations/${waiting.body.id}`, { token: waiter })
    expect(promoted.body.status).toBe("confirmed")

    // What the table holds: no personal data left.
    const userId = seat.body.userId as string
    const rows = await Effect.runPromise(sql<{ email: string | null; name: string | null; phone: string | null; erased_at: Date | null }>`
      SELECT email, name, phone, erased_at FROM users WHERE id = ${userId}`)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ email: null, name: null, phone: null })
    expect(rows[0]!.erased_at).not.toBeNull()
    const notes = await Effect.runPromise(sql<{ notes: string; status: string }>`SELECT notes, status FROM registrations WHERE user_id = ${userId}`)
    expect(notes).toEqual([{ notes: "", status: "cancelled" }])

    // An admin sees the anonymised record (through the cache: the erase invalidated it).
    const afterwards = await server.request("GET", `/v1/users/${userId}/export`, { token: admin })
    expect(afterwards.status).toBe(200)
    expect(afterwards.body.user).toMatchObject({ email: null, name: null, phone: null, subject: "gdpr-person" })
    expect(afterwards.body.user.erasedAt).not.toBeNull()
    expect(afterwards.body.registrations[0]).toMatchObject({ status: "cancelled", notes: "" })
    expect(afterwards.body.registrations[0].history.map((h: { status: string }) => h.status)).toEqual(["confirmed", "cancelled"])
    expect(JSON.stringify(afterwards.body)).not.toContain("Godfrey")

    // Erasing again is harmless.
    expect((await server.request("DELETE", `/v1/users/${userId}`, { token: admin })).status).toBe(204)
  })

  it("only the person or an admin: another attendee gets 403, an unknown id 404", async () => {
    const someone = await server.token("gdpr-someone")
    const me = await server.request("GET", "/v1/me", { token: someone })
    const other = await server.token("gdpr-other")
    for (const [method, path] of [["GET", `/v1/users/${me.body.id}/export`], ["DELETE", `/v1/users/${me.body.id}`]] as const) {
      const response = await server.request(method, path, { token: other })
      expect(response.status).toBe(403)
      expect(response.body.code).toBe("forbidden")
    }
    const unknown = "01900000-0000-7000-8000-000000000000"
    expect((await server.request("GET", `/v1/users/${unknown}/export`, { token: admin })).status).toBe(404)
    expect((await server.request("DELETE", `/v1/users/${unknown}`, { token: admin })).status).toBe(404)
    // Still there, untouched.
    expect((await server.request("GET", "/v1/me", { token: someone })).status).toBe(200)
  })
})
