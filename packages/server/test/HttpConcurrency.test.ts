/**
 * Through the HTTP API against real PostgreSQL, with one, two and three server processes sharing the
 * database (registrations are committed in batches per process; the event's row lock orders batches
 * across processes): N concurrent registrations of distinct users for C seats give exactly C confirmed
 * and N − C waitlisted at positions 1..N − C, answered in join order; then concurrent random cancels
 * keep I1–I4 (checked by SQL) and promotions are FIFO.
 */
import { PgClient } from "@effect/sql-pg"
import { DatabaseSchema } from "@live-events/sql"
import { Context, Effect, Layer, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkInvariants } from "../../sql/test/Invariants.ts"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import { devSecret, mintToken, type ServerProcess, startServer } from "./ServerProcesses.ts"

interface RegistrationJson {
  readonly id: string
  readonly status: string
  readonly waitlistPosition: number | null
}

const json = async (response: Response) => {
  const text = await response.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`${response.status}: ${text}`)
  }
}

describe.each([
  { processes: 1, registrations: 500, capacity: 50, cancels: 100 },
  { processes: 2, registrations: 500, capacity: 50, cancels: 100 },
  { processes: 3, registrations: 2000, capacity: 200, cancels: 500 }
])("HTTP concurrency on PostgreSQL with $processes server process(es)", ({ cancels: cancelCount, capacity, processes, registrations }) => {
  const scope = Effect.runSync(Scope.make())
  let servers: Array<ServerProcess> = []
  let sql: SqlClient.SqlClient
  const secret = devSecret()

  beforeAll(async () => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_http"), scope))
    const context = await Effect.runPromise(
      Scope.provide(Layer.build(PgClient.layer({
        url,
        maxConnections: 2,
        // The store's tables, as the servers under test see them.
        startupParameters: DatabaseSchema.startupParameters(DatabaseSchema.DEFAULT)
      })), scope)
    )
    sql = Context.get(context, SqlClient.SqlClient)
    const env = { DATABASE_URL: Redacted.value(url), AUTH_MODE: "development", AUTH_DEV_SECRET: secret }
    // The first process migrates; the others start on a migrated database.
    servers = [await startServer(env)]
    for (let i = 1; i < processes; i++) servers.push(await startServer(env))
  }, 90_000)

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any))
  }, 30_000)

  it(`${registrations} registrations for ${capacity} seats, then ${cancelCount} random cancels`, async () => {
    const serverFor = (i: number) => servers[i % servers.length]!.url
    const organizer = await mintToken(secret, "organizer", ["organizer"])
    const created = await fetch(`${serverFor(0)}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${organizer}`, "content-type": "application/json" },
      body: JSON.stringify({
        title: "Hot event",
        startsAt: "2099-01-01T18:00:00Z",
        endsAt: "2099-01-01T22:00:00Z",
        timeZone: "Europe/Berlin",
        location: "Main hall",
        capacity
      })
    })
    expect(created.status).toBe(201)
    const event = await json(created)
    const published = await fetch(`${serverFor(0)}/v1/events/${event.id}/publish`, {
      method: "POST",
      headers: { authorization: `Bearer ${organizer}` }
    })
    expect(published.status).toBe(200)

    const tokens = await Promise.all(Array.from({ length: registrations }, (_, i) => mintToken(secret, `attendee-${i}`, [])))
    // Waves of up to 500 concurrent requests; a wave starts once the previous one is answered, so
    // answers must respect FIFO across waves: nobody of a later wave is seated while someone of an
    // earlier wave waits, and every waiter of a later wave stands behind every waiter of an earlier one.
    const answers: Array<{ status: number; body: RegistrationJson; token: string; wave: number }> = []
    for (let start = 0, wave = 0; start < tokens.length; start += 500, wave++) {
      answers.push(...await Promise.all(tokens.slice(start, start + 500).map(async (token, i) => {
        const response = await fetch(`${serverFor(start + i)}/v1/events/${event.id}/registrations`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: "{}"
        })
        return { status: response.status, body: await json(response) as RegistrationJson, token, wave }
      })))
    }
    expect(answers.filter((a) => a.status !== 201).map((a) => [a.status, JSON.stringify(a.body)])).toEqual([])
    const confirmed = answers.filter((a) => a.body.status === "confirmed")
    const waitlisted = answers.filter((a) => a.body.status === "waitlisted")
    expect(confirmed).toHaveLength(capacity)
    expect(waitlisted).toHaveLength(registrations - capacity)
    const byPosition = [...waitlisted].sort((a, b) => a.body.waitlistPosition! - b.body.waitlistPosition!)
    const firstWaitingWave = Math.min(...waitlisted.map((a) => a.wave))
    expect(confirmed.filter((a) => a.wave > firstWaitingWave)).toEqual([])
    expect(byPosition.map((a) => a.wave)).toEqual([...byPosition.map((a) => a.wave)].sort((x, y) => x - y))
    expect(byPosition.map((a) => a.body.waitlistPosition)).toEqual(Array.from({ length: registrations - capacity }, (_, i) => i + 1))
    const joinOrder = await Effect.runPromise(sql<{ id: string }>`SELECT id FROM registrations
      WHERE event_id = ${event.id} AND status = 'waitlisted' ORDER BY waitlist_seq`)
    expect(joinOrder.map((r) => r.id)).toEqual(byPosition.map((a) => a.body.id))
    expect(await Effect.runPromise(Effect.provideService(checkInvariants, SqlClient.SqlClient, sql))).toEqual([])

    // Random cancels (confirmed and waitlisted mixed), by their attendees, spread over the processes.
    const victims = [...answers].sort(() => Math.random() - 0.5).slice(0, cancelCount)
    const cancels = await Promise.all(victims.map(async (victim, i) => {
      const response = await fetch(`${serverFor(i + 1)}/v1/registrations/${victim.body.id}/cancel`, {
        method: "POST",
        headers: { authorization: `Bearer ${victim.token}` }
      })
      return { status: response.status, body: await json(response) }
    }))
    expect(cancels.filter((c) => c.status !== 200).map((c) => [c.status, c.body])).toEqual([])
    expect(cancels.every((c) => c.body.status === "cancelled")).toBe(true)
    expect(await Effect.runPromise(Effect.provideService(checkInvariants, SqlClient.SqlClient, sql))).toEqual([])

    // FIFO: seated = surviving confirmed + the earliest surviving waitlisted, as many as seats freed.
    const cancelled = new Set(victims.map((v) => v.body.id))
    const keptSeats = confirmed.filter((a) => !cancelled.has(a.body.id))
    const stillWaiting = byPosition.filter((a) => !cancelled.has(a.body.id))
    const promoted = stillWaiting.slice(0, capacity - keptSeats.length)
    const seated = await Effect.runPromise(sql<{ id: string }>`SELECT id FROM registrations
      WHERE event_id = ${event.id} AND status = 'confirmed'`)
    expect(new Set(seated.map((r) => r.id))).toEqual(new Set([...keptSeats, ...promoted].map((a) => a.body.id)))

    // The waitlist endpoint shows the rest in join order at 1..w.
    const rest = stillWaiting.slice(promoted.length)
    const ids: Array<string> = []
    let cursor: string | null = null
    for (let page = 0; page < registrations / 100; page++) {
      const response = await fetch(
        `${serverFor(page)}/v1/events/${event.id}/waitlist?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
        { headers: { authorization: `Bearer ${organizer}` } }
      )
      expect(response.status).toBe(200)
      const body = await json(response)
      for (const item of body.items) {
        expect(item.waitlistPosition).toBe(ids.length + 1)
        ids.push(item.id)
      }
      cursor = body.nextCursor
      if (cursor === null) break
    }
    expect(ids).toEqual(rest.map((a) => a.body.id))
  }, 120_000)
})
