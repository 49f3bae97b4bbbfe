/**
 * Key administration over HTTP: admins see rows per key and start a rotation in the server (audited);
 * others are refused; the memory store has nothing at rest.
 */
import type { Ids } from "@live-events/domain"
import { PersonalDataKeys, SqlUserRepository } from "@live-events/sql"
import { Context, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { afterAll, describe, expect, it } from "vitest"
import * as Server from "../src/Server.ts"
import { start, type TestServer } from "./support/TestServer.ts"

const servers: Array<TestServer> = []
afterAll(async () => {
  for (const server of servers) await server.close()
})

const waitFor = async (check: () => Promise<boolean>) => {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await check()) return
    await Effect.runPromise(Effect.sleep("50 millis"))
  }
  throw new Error("condition not reached in 5 s")
}

describe("key administration", () => {
  it("shows rows per key, re-keys them onto the active key in the server, and names the retirable one", async () => {
    const before = PersonalDataKeys.generate({ data: "k1", index: "i1" })
    const after = PersonalDataKeys.withActiveKey(before, "data", "k2")
    const server = await start(Server.storeEmbedded({ dataDir: undefined, keyring: after }))
    servers.push(server)
    const admin = await server.token("keys-admin", "admin")
    const attendee = await server.token("keys-attendee")
    expect((await server.request("GET", "/v1/admin/keys", { token: attendee })).status).toBe(403)
    expect((await server.request("POST", "/v1/admin/keys/rotate", { token: attendee })).status).toBe(403)
    // People stored while k1 was active (by a process of the older configuration).
    const sql = Context.get(server.context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)
    const older = await Effect.runPromise(SqlUserRepository.make.pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.provideService(PersonalDataKeys.PersonalDataKeys, before)
    ))
    const at = new Date()
    await Effect.runPromise(older.insertAllIfAbsent(["keys-a", "keys-b", "keys-c"].map((subject) => ({
      id: randomUUID() as Ids.UserId, subject, email: `${subject}@example.org`, name: subject, phone: null,
      createdAt: at, updatedAt: at, erasedAt: null
    }))))

    const status = await server.request("GET", "/v1/admin/keys", { token: admin })
    expect(status.status).toBe(200)
    // The admin and the attendee were provisioned under k2.
    expect(status.body).toMatchObject({ running: false, dataKeys: { k1: 3, k2: 2 }, pending: 3, retirable: { data: [], index: [] } })

    const rotated = await server.request("POST", "/v1/admin/keys/rotate", { token: admin })
    expect([rotated.status, rotated.body]).toEqual([202, { status: "running" }])
    await waitFor(async () => {
      const now = (await server.request("GET", "/v1/admin/keys", { token: admin })).body
      return now.running === false && now.pending === 0
    })
    const done = (await server.request("GET", "/v1/admin/keys", { token: admin })).body
    expect(done).toMatchObject({ dataKeys: { k2: 5 }, retirable: { data: ["k1"], index: [] } })
    // k1 is no longer needed to read them.
    const current = await Effect.runPromise(SqlUserRepository.make.pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.provideService(PersonalDataKeys.PersonalDataKeys, {
        ...after,
        data: { active: "k2", keys: new Map([["k2", after.data.keys.get("k2")!]]) }
      })
    ))
    const users = await Effect.runPromise(current.findByEmail("KEYS-B@example.org"))
    expect(users.map((user) => [user.subject, user.email])).toEqual([["keys-b", "keys-b@example.org"]])
    const audit = await server.request("GET", "/v1/admin/audit?action=keys.rotate", { token: admin })
    expect(audit.body.items.map((entry: { targetType: string }) => entry.targetType)).toEqual(["keyring"])
  })

  it("has nothing at rest on the memory store", async () => {
    const server = await start(Server.storeMemory)
    servers.push(server)
    const admin = await server.token("keys-admin", "admin")
    expect((await server.request("GET", "/v1/admin/keys", { token: admin })).status).toBe(404)
    expect((await server.request("POST", "/v1/admin/keys/rotate", { token: admin })).status).toBe(404)
  })
})
