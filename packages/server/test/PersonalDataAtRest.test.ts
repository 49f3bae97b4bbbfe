/**
 * Personal data at rest, through the real server on PGlite and on PostgreSQL: people register with
 * emails, names, phones, notes and `Idempotency-Key`s; afterwards no row of any table (cast to text)
 * holds any of it, yet every read, the email lookup and the export give it back. Equal emails seal
 * differently, a sealed value moved to another row or column does not open, and after an erase a copy
 * of the tables taken before it no longer opens.
 */
import { FieldSealing, PersonalDataKeys } from "@live-events/sql"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { UserRepository } from "@live-events/domain"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import * as DevKey from "../src/Auth/DevKey.ts"
import * as Server from "../src/Server.ts"
import { eventInput, start, testKey, type TestServer } from "./support/TestServer.ts"

const run = Math.random().toString(36).slice(2, 8)
const people = [
  { subject: `pd-ada-${run}`, email: `ada.lovelace.${run}@example.org`, name: `Ada Lovelace ${run}`, phone: "+44 20 7946 0101", notes: `Wheelchair access please, ask for Ada ${run}` },
  { subject: `pd-bob-${run}`, email: `bob.shared.${run}@example.org`, name: `Bob Bobbington ${run}`, phone: "+49 30 5550 1234", notes: `Vegetarian, allergic to nuts ${run}` },
  // The same email under another subject of the identity provider.
  { subject: `pd-bob2-${run}`, email: `Bob.Shared.${run}@Example.org`, name: `Robert Other ${run}`, phone: "+33 1 4020 5060", notes: `Arriving late ${run}` }
]
const needles = people.flatMap((person) => [person.email, person.email.toLowerCase(), person.name, person.phone, person.notes])

const stores: ReadonlyArray<readonly [string, (keyring: PersonalDataKeys.Keyring, scope: Scope.Scope) => Promise<Layer.Layer<Server.Store, any, never>>]> = [
  ["PGlite", async (keyring) => Server.storeEmbedded({ dataDir: undefined, keyring })],
  ["PostgreSQL", async (keyring, scope) => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_pii"), scope))
    return Server.storePostgres({ url, keyring, maxConnections: 4, poolSampleInterval: 0 })
  }],
  // The same on the sealing thread (as the server runs by default).
  ["PGlite, sealing thread", async (keyring) => Server.storeEmbedded({ dataDir: undefined, keyring, sealingThread: true })],
  ["PostgreSQL, sealing thread", async (keyring, scope) => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_pii"), scope))
    return Server.storePostgres({ url, keyring, maxConnections: 4, poolSampleInterval: 0, sealingThread: true })
  }]
]

describe.each(stores)("personal data at rest (%s)", (_, makeStore) => {
  const keyring = PersonalDataKeys.generate()
  const sealing = FieldSealing.make(keyring)
  const scope = Effect.runSync(Scope.make())
  let server: TestServer
  let sql: SqlClient.SqlClient
  const query = <A extends object>(statement: string) => Effect.runPromise(sql.unsafe<A>(statement))
  const ids = new Map<string, { userId: string; registrationId: string }>()
  let eventId: string

  beforeAll(async () => {
    server = await start(await makeStore(keyring, scope))
    sql = Context.get(server.context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)
    const organizer = await server.token(`pd-organizer-${run}`, "organizer")
    eventId = (await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 10 }) })).body.id
    expect((await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })).status).toBe(200)
    for (const person of people) {
      const token = await tokenOf(person)
      expect((await server.request("PATCH", "/v1/me", { token, json: { phone: person.phone } })).status).toBe(200)
      const registration = await server.request("POST", `/v1/events/${eventId}/registrations`, {
        token,
        json: { notes: person.notes },
        headers: { "idempotency-key": `pd-key-${person.subject}` }
      })
      expect(registration.status).toBe(201)
      ids.set(person.subject, { userId: registration.body.userId, registrationId: registration.body.id })
    }
  }, 60_000)
  afterAll(async () => {
    await server?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  const tokenOf = (person: (typeof people)[number]) =>
    Effect.runPromise(DevKey.mint(testKey, { subject: person.subject, roles: ["attendee"], email: person.email, name: person.name }))

  /** Every row of every table, as text, holding one of `needles`. */
  const rowsHolding = async (search: ReadonlyArray<string>) => {
    const tables = await query<{ schema: string; name: string }>(`SELECT table_schema AS schema, table_name AS name
      FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(["users", "registrations", "outbox", "audit_log", "idempotency_keys", "person_keys"])
    )
    const found: Array<string> = []
    let rows = 0
    for (const table of tables) {
      for (const { row } of await query<{ row: string }>(`SELECT t::text AS row FROM "${table.schema}"."${table.name}" t`)) {
        rows++
        for (const needle of search) if (row.includes(needle)) found.push(`${table.name}: ${needle}`)
      }
    }
    expect(rows).toBeGreaterThan(people.length * 3)
    return found
  }

  it("keeps no personal field in plain text in any table, and reads every one back", async () => {
    expect(await rowsHolding(needles)).toEqual([])
    const stored = await query<{ n: number }>(`SELECT count(*)::int AS n FROM idempotency_keys WHERE body_key_id IS NOT NULL`)
    expect(stored[0]!.n).toBe(people.length)
    for (const person of people) {
      const token = await tokenOf(person)
      const me = (await server.request("GET", "/v1/me", { token })).body
      expect([me.email, me.name, me.phone]).toEqual([person.email, person.name, person.phone])
      const registration = await server.request("GET", `/v1/registrations/${ids.get(person.subject)!.registrationId}`, { token })
      expect(registration.body.notes).toBe(person.notes)
      // The stored response is replayed in clear to the retry.
      const replay = await server.request("POST", `/v1/events/${eventId}/registrations`, {
        token,
        json: { notes: person.notes },
        headers: { "idempotency-key": `pd-key-${person.subject}` }
      })
      expect([replay.status, replay.body.notes]).toEqual([201, person.notes])
    }
  })

  it("seals equal emails differently and finds them through the blind index", async () => {
    const [, bob, bob2] = people
    const rows = await query<{ id: string; email: string; email_index: string }>(`SELECT id::text, email, email_index FROM users
      WHERE id IN ('${ids.get(bob!.subject)!.userId}', '${ids.get(bob2!.subject)!.userId}')`)
    expect(rows).toHaveLength(2)
    expect(rows[0]!.email).not.toBe(rows[1]!.email)
    expect(rows[0]!.email_index).toBe(rows[1]!.email_index)
    const users = Context.get(server.context as Context.Context<UserRepository.UserRepository>, UserRepository.UserRepository)
    const found = await Effect.runPromise(users.findByEmail(`  BOB.shared.${run}@example.ORG `))
    expect(found.map((user) => user.id).sort()).toEqual([ids.get(bob!.subject)!.userId, ids.get(bob2!.subject)!.userId].sort())
    expect(await Effect.runPromise(users.findByEmail(`nobody.${run}@example.org`))).toEqual([])
    // Over HTTP, for admins: GET /v1/users?email=
    const admin = await server.token(`pd-admin-${run}`, "admin")
    const listed = await server.request("GET", `/v1/users?email=${encodeURIComponent(`bob.shared.${run}@EXAMPLE.org`)}`, { token: admin })
    expect(listed.status).toBe(200)
    expect(listed.body.items.map((user: { name: string }) => user.name).sort()).toEqual([bob!.name, bob2!.name].sort())
    expect((await server.request("GET", `/v1/users?email=${encodeURIComponent(bob!.email)}`, { token: await tokenOf(bob!) })).status).toBe(403)
    expect((await server.request("GET", "/v1/users?email=not-an-email", { token: admin })).status).toBe(400)
  })

  it("does not open a sealed value moved to another row or another column", async () => {
    const [ada] = people
    const { registrationId, userId } = ids.get(ada!.subject)!
    const [user] = await query<FieldSealing.SealedUserFields & { id: string; subject: string; created_at: Date; updated_at: Date; erased_at: Date | null; sealed: boolean; person_key: string | null }>(
      `SELECT u.*, (SELECT pk.key_id || ':' || pk.wrapped FROM person_keys pk WHERE pk.user_id = u.id) AS person_key
       FROM users u WHERE u.id = '${userId}'`
    )
    expect(sealing.openUser(user as never).email).toBe(ada!.email)
    // Another row (same key: a second person with Ada's key would be worse) and another column.
    expect(() => sealing.openUser({ ...user, id: ids.get(people[1]!.subject)!.userId } as never)).toThrow(PersonalDataKeys.SealedValueUnreadable)
    expect(() => sealing.openUser({ ...user, name: user!.email } as never)).toThrow(PersonalDataKeys.SealedValueUnreadable)
    const [registration] = await query<{ notes: string }>(`SELECT notes FROM registrations WHERE id = '${registrationId}'`)
    const dataKey = sealing.dataKeyOf(user!.person_key)!
    expect(sealing.sealNotes(registrationId, dataKey, "x")).not.toBe(registration!.notes)
    expect(() => PersonalDataKeys.open(dataKey, PersonalDataKeys.context("registration", ids.get(people[1]!.subject)!.registrationId, "notes"), registration!.notes))
      .toThrow(PersonalDataKeys.SealedValueUnreadable)
    expect(PersonalDataKeys.open(dataKey, PersonalDataKeys.context("registration", registrationId, "notes"), registration!.notes)).toBe(ada!.notes)
  })

  it("exports every field in clear before an erase; afterwards a copy taken before it no longer opens", async () => {
    const [ada] = people
    const { registrationId, userId } = ids.get(ada!.subject)!
    const token = await tokenOf(ada!)
    const exported = (await server.request("GET", "/v1/me/export", { token })).body
    expect([exported.user.email, exported.user.name, exported.user.phone]).toEqual([ada!.email, ada!.name, ada!.phone])
    expect(exported.registrations.map((r: { notes: string }) => r.notes)).toEqual([ada!.notes])

    // The backup: the person's rows as they are now, outside the database.
    const [userCopy] = await query<Record<string, unknown>>(`SELECT * FROM users WHERE id = '${userId}'`)
    const [notesCopy] = await query<{ notes: string }>(`SELECT notes FROM registrations WHERE id = '${registrationId}'`)
    const keyBefore = await query<{ person_key: string }>(`SELECT key_id || ':' || wrapped AS person_key FROM person_keys WHERE user_id = '${userId}'`)
    expect(keyBefore).toHaveLength(1)
    expect(sealing.openUser({ ...userCopy, person_key: keyBefore[0]!.person_key } as never).phone).toBe(ada!.phone)

    expect((await server.request("DELETE", "/v1/me", { token })).status).toBe(204)

    expect(await query(`SELECT 1 FROM person_keys WHERE user_id = '${userId}'`)).toEqual([])
    // Whatever key is left in the database, none opens the copy.
    const remaining = await query<{ person_key: string }>(`SELECT key_id || ':' || wrapped AS person_key FROM person_keys`)
    expect(remaining.length).toBeGreaterThan(0)
    for (const { person_key } of [...remaining, { person_key: null }]) {
      expect(() => sealing.openUser({ ...userCopy, person_key } as never)).toThrow(PersonalDataKeys.SealedValueUnreadable)
      const key = person_key === null ? undefined : sealing.dataKeyOf(person_key)
      if (key !== undefined) {
        expect(() => PersonalDataKeys.open(key, PersonalDataKeys.context("registration", registrationId, "notes"), notesCopy!.notes))
          .toThrow(PersonalDataKeys.SealedValueUnreadable)
      }
    }
  })
})
