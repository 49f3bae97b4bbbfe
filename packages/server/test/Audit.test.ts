/**
 * The audit log through HTTP on the embedded PostgreSQL (PGlite): an organizer's change is recorded with
 * the request's correlation id and a before/after summary; admins filter it by action, target, actor and
 * time; bad filters are 400; the GDPR export carries the entries about the person; the table refuses
 * UPDATE and DELETE.
 */
import { Effect, Exit } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventInput, startEmbedded, type TestServer } from "./support/TestServer.ts"

describe("audit log over HTTP (PGlite)", () => {
  let server: TestServer
  let sql: SqlClient.SqlClient
  let organizer: string
  let admin: string

  beforeAll(async () => {
    ;({ admin, organizer, server, sql } = await startEmbedded("audit"))
  })
  afterAll(() => server.close())

  it("records an organizer's change with its correlation id, filterable by admins", async () => {
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ title: "Audited" }) })
    expect(created.status).toBe(201)
    const id = created.body.id as string
    const patched = await server.request("PATCH", `/v1/events/${id}`, {
      token: organizer,
      json: { title: "Audited again", capacity: 7 },
      headers: { "x-correlation-id": "audit-corr-42" }
    })
    expect(patched.status).toBe(200)

    const updates = await server.request("GET", `/v1/admin/audit?action=event.update&target=${id}`, { token: admin })
    expect(updates.status).toBe(200)
    expect(updates.body.items).toHaveLength(1)
    expect(updates.body.items[0]).toMatchObject({
      action: "event.update",
      targetType: "event",
      targetId: id,
      actorId: created.body.organizerId,
      actorRoles: ["organizer"],
      correlationId: "audit-corr-42",
      before: { title: "Audited", capacity: eventInput().capacity },
      after: { title: "Audited again", capacity: 7 }
    })

    const byTarget = await server.request("GET", `/v1/admin/audit?target=${id}`, { token: admin })
    expect(byTarget.body.items.map((e: { action: string }) => e.action)).toEqual(["event.create", "event.update"])
    const byActor = await server.request("GET", `/v1/admin/audit?actor=${created.body.organizerId}&limit=1`, { token: admin })
    expect(byActor.body.items).toHaveLength(1)
    expect(byActor.body.nextCursor).not.toBeNull()
    const next = await server.request("GET", `/v1/admin/audit?actor=${created.body.organizerId}&limit=1&cursor=${encodeURIComponent(byActor.body.nextCursor)}`, { token: admin })
    expect(next.body.items[0].id).not.toBe(byActor.body.items[0].id)
    const future = await server.request("GET", `/v1/admin/audit?target=${id}&from=2098-01-01T00:00:00Z`, { token: admin })
    expect(future.body.items).toEqual([])
  })

  it("answers 400 for a bad filter and 403 for non-admins", async () => {
    const bad = await server.request("GET", "/v1/admin/audit?action=event.explode", { token: admin })
    expect(bad.status).toBe(400)
    expect(bad.headers.get("content-type")).toContain("application/problem+json")
    const badTime = await server.request("GET", "/v1/admin/audit?from=yesterday", { token: admin })
    expect(badTime.status).toBe(400)
    expect((await server.request("GET", "/v1/admin/audit", { token: organizer })).status).toBe(403)
  })

  it("puts the entries about a person in their export, and the table refuses UPDATE and DELETE", async () => {
    const person = await server.token("audit-person")
    const me = await server.request("GET", "/v1/me", { token: person })
    expect((await server.request("PATCH", `/v1/users/${me.body.id}`, { token: admin, json: { email: "audit.person@example.org" } })).status).toBe(200)
    const exported = await server.request("GET", "/v1/me/export", { token: person })
    expect(exported.status).toBe(200)
    expect(exported.body.audit.map((e: { action: string }) => e.action)).toEqual(["user.update", "user.export"])
    expect(exported.body.audit[0].after).toEqual({ fields: ["email"] })
    expect(JSON.stringify(exported.body.audit)).not.toContain("audit.person@")

    const update = await Effect.runPromise(Effect.exit(sql`UPDATE audit_log SET action = 'user.create'`))
    const remove = await Effect.runPromise(Effect.exit(sql`DELETE FROM audit_log`))
    expect(Exit.isFailure(update)).toBe(true)
    expect(Exit.isFailure(remove)).toBe(true)
    const still = await server.request("GET", `/v1/admin/audit?target=${me.body.id}&action=user.update`, { token: admin })
    expect(still.body.items).toHaveLength(1)
  })
})
