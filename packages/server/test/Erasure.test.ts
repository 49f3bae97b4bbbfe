/**
 * An erase reaches every copy of the person's data. The person registers with an `Idempotency-Key` and
 * notes holding a phone number, their profile and registration are read through the cache (Redis
 * behind it), then they erase themselves: afterwards no row of any table of the database (each row
 * cast to text) and no value in Redis under the server's prefix holds their email, name, phone or
 * notes, and their data key is gone. (Before it, the tables hold them sealed only: see
 * `PersonalDataAtRest.test.ts`.) The export before the erase lists the outbox messages that name them.
 */
import { TwoLevelCache } from "@live-events/cache"
import { Context, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { createClient } from "redis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as DevKey from "../src/Auth/DevKey.ts"
import * as Server from "../src/Server.ts"
import { eventInput, start, testKey, type TestServer } from "./support/TestServer.ts"

const prefix = `lec-test:erase-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
const person = {
  email: "erase.me-7731@example.org",
  name: "Ermintrude Erasable",
  phone: "+44 20 7946 0321",
  notes: "Call my mobile +49 170 5550199 if late"
}
const needles = [person.email, person.name, person.phone, person.notes, "+49 170 5550199", "Ermintrude", "erase.me-7731"]

let server: TestServer
let sql: SqlClient.SqlClient
const redis = createClient({ url: "redis://127.0.0.1:6379" })

beforeAll(async () => {
  await redis.connect()
  server = await start(Server.storeEmbedded({ dataDir: undefined }), undefined, undefined, {
    cache: TwoLevelCache.layerRedis({ url: "redis://127.0.0.1:6379", prefix })
  })
  sql = Context.get(server.context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)
}, 60_000)
afterAll(async () => {
  await server.close()
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await redis.del(keys)
  }
  await redis.quit()
})

/** Every row of every table of the database, as text, that contains one of `needles`. */
const rowsHolding = async (needles: ReadonlyArray<string>) => {
  const tables = await Effect.runPromise(sql<{ schema: string; name: string }>`
    SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
    WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
  expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["users", "registrations", "idempotency_keys", "outbox"]))
  const found: Array<string> = []
  for (const table of tables) {
    const rows = await Effect.runPromise(
      sql.unsafe<{ row: string }>(`SELECT t::text AS row FROM "${table.schema}"."${table.name}" t`)
    )
    for (const { row } of rows) {
      for (const needle of needles) if (row.includes(needle)) found.push(`${table.name}: ${needle}`)
    }
  }
  return found
}

/** Every string value in Redis under the server's prefix that contains one of `needles`. */
const redisValuesHolding = async (needles: ReadonlyArray<string>) => {
  const found: Array<string> = []
  let count = 0
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    for (const key of keys) {
      if ((await redis.type(key)) !== "string") continue
      count++
      const value = (await redis.get(key)) ?? ""
      for (const needle of needles) if (value.includes(needle) || key.includes(needle)) found.push(`${key}: ${needle}`)
    }
  }
  return { found, count }
}

describe("erase reaches every copy", () => {
  it("leaves no trace of the person in any table or in Redis", async () => {
    const organizer = await server.token("erase-organizer", "organizer")
    const token = await Effect.runPromise(
      DevKey.mint(testKey, { subject: "erase-person", roles: ["attendee"], email: person.email, name: person.name })
    )
    expect((await server.request("PATCH", "/v1/me", { token, json: { phone: person.phone } })).status).toBe(200)
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput() })
    const eventId = created.body.id as string
    expect((await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })).status).toBe(200)
    const registration = await server.request("POST", `/v1/events/${eventId}/registrations`, {
      token,
      json: { notes: person.notes },
      headers: { "idempotency-key": "erase-person-key-1" }
    })
    expect(registration.status).toBe(201)
    // Reads that fill the cache tiers.
    expect((await server.request("GET", "/v1/me", { token })).body.email).toBe(person.email)
    expect((await server.request("GET", `/v1/registrations/${registration.body.id}`, { token })).body.notes).toBe(person.notes)

    // Before: sealed at rest, under a data key of the person; the export lists the messages.
    expect(await rowsHolding(needles)).toEqual([])
    const exported = await server.request("GET", "/v1/me/export", { token })
    expect(exported.status).toBe(200)
    const userId = exported.body.user.id as string
    const dataKeys = () => Effect.runPromise(sql<{ user_id: string }>`SELECT user_id FROM person_keys WHERE user_id = ${userId}`)
    expect(await dataKeys()).toHaveLength(1)
    expect(exported.body.messages.map((m: { type: string }) => m.type)).toContain("RegistrationConfirmed")
    expect(exported.body.messages.every((m: { data: { userId: string } }) => m.data.userId === userId)).toBe(true)

    expect((await server.request("DELETE", "/v1/me", { token })).status).toBe(204)

    expect(await rowsHolding(needles)).toEqual([])
    expect(await dataKeys()).toEqual([])
    const inRedis = await redisValuesHolding(needles)
    expect(inRedis.count).toBeGreaterThan(0)
    expect(inRedis.found).toEqual([])
    // The person's retry of the keyed request is not answered from a stored copy: the token is refused.
    const retried = await server.request("POST", `/v1/events/${eventId}/registrations`, {
      token,
      json: { notes: person.notes },
      headers: { "idempotency-key": "erase-person-key-1" }
    })
    expect(retried.status).toBe(403)
    expect(retried.text).not.toContain(person.notes)
  })
})
