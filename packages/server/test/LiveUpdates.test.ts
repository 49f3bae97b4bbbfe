/**
 * Live updates: two real server processes on one PostgreSQL, once with the
 * PostgreSQL broadcast (`LISTEN live_events`) and once with NATS. A client connected to process A
 * sees the waitlist shift caused by a cancel through process B within 1 s; reconnecting with
 * `Last-Event-ID` misses nothing within the window; `/v1/me/live` shows only the caller's
 * registrations; the public stream carries no user ids.
 */
import { PgClient } from "@effect/sql-pg"
import { DatabaseSchema } from "@live-events/sql"
import { Context, Effect, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import { devSecret, mintToken, type ServerProcess, startServer } from "./ServerProcesses.ts"
import * as Sse from "./support/SseClient.ts"

const natsUrl = process.env.TEST_NATS_URL ?? "127.0.0.1:4222"

const deleteNatsStream = async (stream: string) => {
  const { connect } = await import("@nats-io/transport-node")
  const { jetstreamManager } = await import("@nats-io/jetstream")
  const connection = await connect({ servers: natsUrl, timeout: 3000 })
  try {
    const manager = await jetstreamManager(connection)
    await manager.streams.delete(stream).catch(() => false)
  } finally {
    await connection.close()
  }
}

describe.each(["postgres", "nats"] as const)("live updates across two processes (%s)", (broker) => {
  const scope = Effect.runSync(Scope.make())
  let servers: Array<ServerProcess> = []
  let sql: SqlClient.SqlClient
  const secret = devSecret()
  const natsStream = `LE_TEST_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toUpperCase()

  beforeAll(async () => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_live"), scope))
    const context = await Effect.runPromise(
      Scope.provide(Layer.build(PgClient.layer({
        url,
        maxConnections: 2,
        // The store's tables, as the servers under test see them.
        startupParameters: DatabaseSchema.startupParameters(DatabaseSchema.DEFAULT)
      })), scope)
    )
    sql = Context.get(context, SqlClient.SqlClient)
    const env: Record<string, string> = {
      DATABASE_URL: Redacted.value(url),
      AUTH_MODE: "development",
      AUTH_DEV_SECRET: secret,
      RATE_LIMIT_ENABLED: "false",
      LIVE_HEARTBEAT_INTERVAL: "1 second"
    }
    if (broker === "nats") {
      Object.assign(env, { NATS_URL: natsUrl, NATS_STREAM: natsStream, NATS_SUBJECT_PREFIX: natsStream.toLowerCase() })
    }
    servers = [await startServer(env)]
    servers.push(await startServer(env))
  }, 90_000)

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any))
    if (broker === "nats") await deleteNatsStream(natsStream)
  }, 30_000)

  const call = async (server: ServerProcess, method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }

  it("a cancel through B reaches clients of A in under 1 s; resume misses nothing; /v1/me/live is private", async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess]
    const organizer = await mintToken(secret, "live-organizer", ["organizer"])
    const created = await call(a, "POST", "/v1/events", organizer, {
      title: "Live event",
      startsAt: "2099-01-01T18:00:00Z",
      endsAt: "2099-01-01T22:00:00Z",
      timeZone: "Europe/Berlin",
      location: "Main hall",
      capacity: 1
    })
    expect(created.status).toBe(201)
    const eventId: string = created.body.id
    expect((await call(a, "POST", `/v1/events/${eventId}/publish`, organizer)).status).toBe(200)

    const [alice, bob, carol, dave] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((name) => mintToken(secret, `live-${name}`, []))
    ) as [string, string, string, string]
    const register = async (token: string) => {
      const answer = await call(b, "POST", `/v1/events/${eventId}/registrations`, token, {})
      expect(answer.status).toBe(201)
      return answer.body as { id: string; status: string; waitlistPosition: number | null }
    }
    const aliceReg = await register(alice)
    const bobReg = await register(bob)
    const carolReg = await register(carol)
    expect([aliceReg.status, bobReg.waitlistPosition, carolReg.waitlistPosition]).toEqual(["confirmed", 1, 2])

    // Anonymous public stream and carol's and bob's private streams, all on process A.
    const publicStream = await Sse.connect(`${a.url}/v1/events/${eventId}/live`)
    const carolStream = await Sse.connect(`${a.url}/v1/me/live`, { token: carol })
    const bobStream = await Sse.connect(`${a.url}/v1/me/live`, { token: bob })
    expect([publicStream.status, carolStream.status, bobStream.status]).toEqual([200, 200, 200])
    await publicStream.waitFor((e) => e.event === "counts" && e.data.waitlistCount === 2)
    await carolStream.waitFor((e) => e.event === "registration" && e.data.waitlistPosition === 2)
    const [{ p0 }] = await Effect.runPromise(sql<{ p0: number }>`SELECT coalesce(max(position), 0)::int AS p0 FROM outbox`)

    // Alice cancels through B: bob is promoted, carol moves from 2 to 1.
    const sentAt = performance.now()
    expect((await call(b, "POST", `/v1/registrations/${aliceReg.id}/cancel`, alice, {})).status).toBe(200)
    const shift = await publicStream.waitFor((e) => e.event === "waitlist-shifted" && e.data.fromPosition === 1, 3000)
    const carolMoved = await carolStream.waitFor((e) => e.event === "registration" && e.data.waitlistPosition === 1, 3000)
    const bobPromoted = await bobStream.waitFor((e) => e.event === "registration" && e.data.status === "confirmed", 3000)
    const latencies = [shift.at - sentAt, carolMoved.at - sentAt, bobPromoted.at - sentAt]
    console.log(`[${broker}] cancel via B → SSE on A (ms): shift ${latencies[0]!.toFixed(1)}, ` +
      `carol's position ${latencies[1]!.toFixed(1)}, bob's promotion ${latencies[2]!.toFixed(1)}`)
    for (const latency of latencies) expect(latency).toBeLessThan(1000)

    // Privacy: only my registrations on /v1/me/live, no user ids on the public stream.
    const ids = (stream: Sse.SseConnection) =>
      new Set(stream.events.filter((e) => e.event === "registration").map((e) => e.data.registrationId))
    expect([...ids(carolStream)]).toEqual([carolReg.id])
    expect([...ids(bobStream)]).toEqual([bobReg.id])
    expect(publicStream.raw()).not.toMatch(/userId|registrationId|live-alice|live-bob/)

    // Resume: disconnect, changes happen through B, reconnect to A with Last-Event-ID.
    const resumeFrom = publicStream.lastEventId()
    expect(resumeFrom).toBeDefined()
    const firstIds = new Set(publicStream.events.map((e) => e.id).filter((id) => id !== undefined))
    publicStream.close()
    await register(dave) // waitlisted at 2
    expect((await call(b, "POST", `/v1/registrations/${carolReg.id}/cancel`, carol, {})).status).toBe(200)
    expect((await call(b, "POST", `/v1/events/${eventId}/registrations`, alice, {})).status).toBe(201)
    // Wait until everything written so far is published (the relays drained).
    for (let i = 0; i < 100; i++) {
      const [{ pending }] = await Effect.runPromise(
        sql<{ pending: number }>`SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL`
      )
      if (pending === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    const resumed = await Sse.connect(`${a.url}/v1/events/${eventId}/live`, { lastEventId: resumeFrom })
    const expected = (await Effect.runPromise(sql<{ id: string }>`SELECT id::text AS id FROM outbox
      WHERE aggregate_id = ${eventId}::uuid AND position > ${p0} ORDER BY position`)).map((row) => row.id)
    const lastExpected = expected[expected.length - 1]!
    await resumed.waitFor((e) => e.id === lastExpected, 3000)
    const seen = new Set([...firstIds, ...resumed.events.map((e) => e.id).filter((id) => id !== undefined)])
    expect(expected.filter((id) => !seen.has(id))).toEqual([])
    expect(resumed.events.some((e) => e.event === "reset")).toBe(false)
    // Nothing before the resume point is sent again.
    const replayedOld = resumed.events.filter((e) => e.id !== undefined && firstIds.has(e.id))
    expect(replayedOld).toEqual([])

    // An unknown resume point: a reset, then live.
    const unknown = await Sse.connect(`${a.url}/v1/events/${eventId}/live`, { lastEventId: "no-such-id" })
    await unknown.waitFor((e) => e.event === "reset", 3000)
    await unknown.waitFor((e) => e.event === "counts")
    // Heartbeat comments (every second here).
    for (let i = 0; i < 30 && !unknown.raw().includes(": heartbeat"); i++) await new Promise((r) => setTimeout(r, 100))
    expect(unknown.raw()).toContain(": heartbeat")
    for (const stream of [resumed, unknown, carolStream, bobStream]) stream.close()
  }, 60_000)

  it("refuses anonymous /v1/me/live and unknown events", async () => {
    const [a] = servers as [ServerProcess]
    expect((await fetch(`${a.url}/v1/me/live`)).status).toBe(401)
    const missing = await fetch(`${a.url}/v1/events/01900000-0000-7000-8000-000000000000/live`)
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { code: string }).code).toBe("event-not-found")
  })
})
