/**
 * Outbox administration: `GET /v1/admin/outbox` lists dead letters and
 * `POST /v1/admin/outbox/{id}/retry` redrives one — admins only (401 anonymous, 403 others); an
 * unknown id is 404 `dead-letter-not-found`; a redriven message is published by the relay running in
 * the server; `/health/ready` reports the outbox lag. On the embedded database (PGlite).
 */
import { Context, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Server from "../src/Server.ts"
import { start, type TestServer } from "./support/TestServer.ts"

describe("outbox administration (embedded)", () => {
  let server: TestServer
  let sql: SqlClient.SqlClient
  const ids = ["0190a000-0000-7000-8000-000000000001", "0190a000-0000-7000-8000-000000000002"]
  const aggregate = "0190a000-0000-7000-8000-0000000000aa"

  const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect as Effect.Effect<A>)

  beforeAll(async () => {
    server = await start(Server.storeEmbedded({ dataDir: undefined }))
    sql = Context.get(server.context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)
    // Two messages that exhausted their attempts (as the relay would have left them).
    for (const [n, id] of ids.entries()) {
      await run(sql`INSERT INTO outbox (id, aggregate_id, type, schema_version, occurred_at, payload, attempts,
          last_error, dead_lettered_at)
        VALUES (${id}::uuid, ${aggregate}::uuid, 'EventUpdated', 1, now(),
          ${JSON.stringify({ id, type: "EventUpdated", aggregateId: aggregate, data: { n } })}::jsonb, 3,
          'broker said no', now())`)
    }
  }, 60_000)

  afterAll(() => server?.close(), 30_000)

  it("requires an admin", async () => {
    expect((await server.request("GET", "/v1/admin/outbox")).status).toBe(401)
    expect((await server.request("POST", `/v1/admin/outbox/${ids[0]}/retry`)).status).toBe(401)
    const attendee = await server.token("outbox-attendee")
    const organizer = await server.token("outbox-organizer", "organizer")
    for (const token of [attendee, organizer]) {
      const list = await server.request("GET", "/v1/admin/outbox", { token })
      expect(list.status).toBe(403)
      expect(list.body.code).toBe("forbidden")
      expect((await server.request("POST", `/v1/admin/outbox/${ids[0]}/retry`, { token })).status).toBe(403)
    }
  })

  it("lists dead letters with cursor pagination", async () => {
    const admin = await server.token("outbox-admin", "admin")
    const first = await server.request("GET", "/v1/admin/outbox?limit=1", { token: admin })
    expect(first.status).toBe(200)
    expect(first.body.items).toHaveLength(1)
    expect(first.body.items[0]).toMatchObject({ id: ids[0], type: "EventUpdated", attempts: 3, lastError: "broker said no" })
    expect(typeof first.body.nextCursor).toBe("string")
    const second = await server.request("GET", `/v1/admin/outbox?limit=1&cursor=${first.body.nextCursor}`, { token: admin })
    expect(second.body.items.map((item: any) => item.id)).toEqual([ids[1]])
    expect(second.body.nextCursor).toBeNull()
    expect((await server.request("GET", "/v1/admin/outbox?limit=0", { token: admin })).status).toBe(400)
  })

  it("redrives a dead letter, which the relay then publishes; unknown ids are 404", async () => {
    const admin = await server.token("outbox-admin", "admin")
    const missing = await server.request("POST", "/v1/admin/outbox/0190a000-0000-7000-8000-0000000000ff/retry", { token: admin })
    expect(missing.status).toBe(404)
    expect(missing.body.code).toBe("dead-letter-not-found")
    expect((await server.request("POST", "/v1/admin/outbox/not-a-uuid/retry", { token: admin })).status).toBe(404)

    const retried = await server.request("POST", `/v1/admin/outbox/${ids[0]}/retry`, { token: admin })
    expect(retried.status).toBe(202)
    expect(retried.body).toEqual({ id: ids[0], status: "pending" })
    // An admin action: audited, with the message as its target (the 404s above were not).
    const audited = await server.request("GET", "/v1/admin/audit?action=outbox.retry", { token: admin })
    expect(audited.body.items.map((e: any) => [e.targetType, e.targetId])).toEqual([["outbox-message", ids[0]]])
    // Twice: it is no longer a dead letter.
    expect((await server.request("POST", `/v1/admin/outbox/${ids[0]}/retry`, { token: admin })).status).toBe(404)
    const list = await server.request("GET", "/v1/admin/outbox", { token: admin })
    expect(list.body.items.map((item: any) => item.id)).toEqual([ids[1]])

    // The embedded relay (polling every 100 ms) publishes it.
    let published = false
    for (let i = 0; i < 50 && !published; i++) {
      const rows = await run(sql<{ published: boolean }>`SELECT published_at IS NOT NULL AS published FROM outbox
        WHERE id = ${ids[0]}::uuid`)
      published = rows[0]?.published === true
      if (!published) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(published).toBe(true)
  })

  it("reports the outbox lag on /health/ready", async () => {
    const ready = await server.request("GET", "/health/ready")
    expect(ready.status).toBe(200)
    expect(ready.body.outbox).toEqual({ lagSeconds: 0, pending: 0, deadLettered: 1 })
  })
})

describe("readiness with a lagging outbox", () => {
  let server: TestServer
  beforeAll(async () => {
    process.env.OUTBOX_READY_MAX_LAG = "5 seconds"
    try {
      server = await start(Server.storeEmbedded({ dataDir: undefined }))
    } finally {
      delete process.env.OUTBOX_READY_MAX_LAG
    }
  }, 60_000)
  afterAll(() => server?.close(), 30_000)

  it("is not ready while the oldest pending message is older than OUTBOX_READY_MAX_LAG", async () => {
    const sql = Context.get(server.context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)
    expect((await server.request("GET", "/health/ready")).status).toBe(200)
    // A message stuck under someone else's long lease, written a minute ago.
    await Effect.runPromise(sql`INSERT INTO outbox (id, aggregate_id, type, schema_version, occurred_at, payload,
        lease_owner, lease_expires_at)
      VALUES ('0190a000-0000-7000-8000-0000000000b1'::uuid, '0190a000-0000-7000-8000-0000000000b2'::uuid,
        'EventUpdated', 1, now() - interval '1 minute', '{}'::jsonb, 'stalled-relay', now() + interval '1 hour')`
      .pipe(Effect.orDie))
    const ready = await server.request("GET", "/health/ready")
    expect(ready.status).toBe(503)
    expect(ready.body.code).toBe("outbox-lagging")
    expect(ready.body.outbox.pending).toBe(1)
    expect(ready.body.outbox.lagSeconds).toBeGreaterThanOrEqual(60)
  })
})
