/**
 * Two server processes on one PostgreSQL database and no Redis: the in-process caches invalidate each
 * other over `LISTEN/NOTIFY`, so a profile erased through A is not served from B's cache, and an event
 * renamed through A is read back renamed from B — while B does answer from its cache in between.
 */
import { Effect, Exit, Redacted, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import { PgInvalidationBus } from "@live-events/engine"
import { cacheHits, call, converges, devSecret, mintToken, type ServerProcess, startServer } from "./ServerProcesses.ts"

describe("two server processes sharing PostgreSQL without Redis", () => {
  const scope = Effect.runSync(Scope.make())
  const secret = devSecret()
  let a: ServerProcess
  let b: ServerProcess

  beforeAll(async () => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_cachebus"), scope))
    // No Redis for the servers, whatever the environment of the test run says.
    delete process.env.REDIS_URL
    const env = {
      DATABASE_URL: Redacted.value(url),
      AUTH_MODE: "development",
      AUTH_DEV_SECRET: secret,
      RATE_LIMIT_ENABLED: "false"
    }
    a = await startServer(env)
    b = await startServer(env)
  }, 90_000)

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 30_000)

  it("a profile erased through A is not served from B's cache", async () => {
    const admin = await mintToken(secret, "bus-admin", ["admin"])
    const person = await mintToken(secret, "bus-person", ["attendee"])
    const me = await call(a.url, "PATCH", "/v1/me", { token: person, json: { name: "Bea Bus", phone: "+31 20 555 0101" } })
    expect(me.status).toBe(200)
    const path = `/v1/users/${me.body.id}`
    const before = await cacheHits(b.url, "users")
    for (let i = 0; i < 5; i++) expect((await call(b.url, "GET", path, { token: admin })).body.name).toBe("Bea Bus")
    expect(await cacheHits(b.url, "users")).toBeGreaterThan(before)

    expect((await call(a.url, "DELETE", path, { token: admin })).status).toBe(204)
    await converges(b.url, path, (body) => body.name === null && body.phone === null, { token: admin })
  })

  it("an event renamed through A is read back renamed from B", async () => {
    const organizer = await mintToken(secret, "bus-organizer", ["organizer"])
    const created = await call(a.url, "POST", "/v1/events", {
      token: organizer,
      json: {
        title: "Bus event",
        startsAt: "2099-01-01T18:00:00Z",
        endsAt: "2099-01-01T22:00:00Z",
        timeZone: "Europe/Berlin",
        location: "Hall",
        capacity: 5
      }
    })
    const id = created.body.id as string
    expect((await call(a.url, "POST", `/v1/events/${id}/publish`, { token: organizer })).status).toBe(200)
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 5; i++) expect((await call(b.url, "GET", `/v1/events/${id}`)).status).toBe(200)
      const title = `Renamed ${round}`
      expect((await call(a.url, "PATCH", `/v1/events/${id}`, { token: organizer, json: { title } })).status).toBe(200)
      await converges(b.url, `/v1/events/${id}`, (body) => body.title === title)
    }
    expect(await cacheHits(b.url, "eventDetails")).toBeGreaterThan(20)
  })
})

describe("PgInvalidationBus batches", () => {
  it("one line per distinct message, every payload under PostgreSQL's 8,000-byte limit", () => {
    const messages = Array.from({ length: 1_000 }, (_, i) => `t\torigin\tevent:${String(i % 400).padStart(36, "0")}`)
    const payloads = PgInvalidationBus.batches(messages)
    expect(payloads.length).toBeGreaterThan(1)
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(8_000)
    const lines = payloads.flatMap((payload) => payload.split("\n"))
    expect(lines).toHaveLength(400)
    expect(new Set(lines)).toEqual(new Set(messages))
  })

  it("counts bytes, not characters, and fills each payload before starting the next", () => {
    const messages = Array.from({ length: 600 }, (_, i) => `t\torigin\ttag:Zürich-Café-${i}`)
    const payloads = PgInvalidationBus.batches(messages)
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(7_000)
    for (let i = 0; i + 1 < payloads.length; i++) {
      const next = payloads[i + 1]!.split("\n")[0]!
      expect(Buffer.byteLength(payloads[i]!) + 1 + Buffer.byteLength(next)).toBeGreaterThan(7_000)
    }
    expect(payloads.flatMap((payload) => payload.split("\n"))).toEqual(messages)
  })
})
