/**
 * Administration over GraphQL on a store that seals personal data: the key status and a rotation
 * (`encryptionKeys`, `rotateEncryptionKeys`) and the email lookup (`users(email:)`) answer what
 * `GET /v1/admin/keys`, `POST /v1/admin/keys/rotate` and `GET /v1/users?email=` answer, to admins
 * only; a rotation started over GraphQL is audited as one started over REST.
 */
import { PersonalDataKeys } from "@live-events/sql"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Server from "../src/Server.ts"
import { start, type TestServer } from "./support/TestServer.ts"

const statusFields = "running dataKeys emailIndex responses plaintextUsers plaintextNotes pending retirable { data index }"

describe("administration over GraphQL", () => {
  let server: TestServer
  let admin: string
  let attendee: string

  const graphql = (token: string | undefined, query: string, variables?: Record<string, unknown>) =>
    server.request("POST", "/graphql", { token, json: { query, ...(variables === undefined ? {} : { variables }) } })

  beforeAll(async () => {
    const keyring = PersonalDataKeys.generate({ data: "k1", index: "i1" })
    server = await start(Server.storeEmbedded({ dataDir: undefined, keyring }))
    admin = await server.token("gadmin-admin", "admin")
    attendee = await server.token("gadmin-attendee")
    expect((await server.request("GET", "/v1/me", { token: attendee })).status).toBe(200)
  })
  afterAll(() => server.close())

  it("shows admins the key status REST shows, and refuses everyone else", async () => {
    const rest = await server.request("GET", "/v1/admin/keys", { token: admin })
    expect(rest.status).toBe(200)
    const answer = await graphql(admin, `{ encryptionKeys { ${statusFields} } }`)
    expect(answer.status).toBe(200)
    expect(answer.body.errors).toBeUndefined()
    expect(answer.body.data.encryptionKeys).toEqual(rest.body)
    expect(answer.body.data.encryptionKeys.dataKeys.k1).toBeGreaterThanOrEqual(2)

    const refused = await graphql(attendee, `{ encryptionKeys { pending } }`)
    expect(refused.body.data.encryptionKeys).toBeNull()
    expect(refused.body.errors[0].extensions).toEqual({ code: "forbidden", status: 403 })
    const anonymous = await graphql(undefined, `{ encryptionKeys { pending } }`)
    expect(anonymous.body.data.encryptionKeys).toBeNull()
    expect(anonymous.body.errors[0].extensions.code).toBe("unauthenticated")
  })

  it("starts a rotation for admins only, recorded in the audit log", async () => {
    const refused = await graphql(attendee, "mutation { rotateEncryptionKeys { status } }")
    expect(refused.body.data.rotateEncryptionKeys).toBeNull()
    expect(refused.body.errors[0].extensions.code).toBe("forbidden")
    const audit = `{ auditLog(filter: { action: "keys.rotate" }) { nodes { actorId targetType targetId } } }`
    expect((await graphql(admin, audit)).body.data.auditLog.nodes).toEqual([])

    const started = await graphql(admin, "mutation { rotateEncryptionKeys { status } }")
    expect(started.body).toEqual({ data: { rotateEncryptionKeys: { status: "running" } } })
    const me = (await server.request("GET", "/v1/me", { token: admin })).body
    expect((await graphql(admin, audit)).body.data.auditLog.nodes).toEqual([
      { actorId: me.id, targetType: "keyring", targetId: "personal-data" }
    ])
  })

  it("finds people by email as GET /v1/users?email= does, for admins only", async () => {
    const created = await server.request("POST", "/v1/users", {
      token: admin,
      json: { subject: "gadmin-found", email: "Found.Person@example.com", name: "Found" }
    })
    expect(created.status).toBe(201)
    const rest = await server.request("GET", "/v1/users?email=found.person%40example.com", { token: admin })
    expect(rest.body.items.map((user: { id: string }) => user.id)).toEqual([created.body.id])

    const query = `query($email: String) { users(email: $email) { nodes { id email name } pageInfo { hasNextPage endCursor } } }`
    const found = await graphql(admin, query, { email: "found.person@example.com" })
    expect(found.body).toEqual({
      data: {
        users: {
          nodes: [{ id: created.body.id, email: "Found.Person@example.com", name: "Found" }],
          pageInfo: { hasNextPage: false, endCursor: null }
        }
      }
    })
    expect((await graphql(admin, query, { email: "nobody@example.com" })).body.data.users.nodes).toEqual([])

    const invalid = await graphql(admin, query, { email: "not-an-email" })
    expect(invalid.body.data.users).toBeNull()
    expect(invalid.body.errors[0].extensions).toMatchObject({ code: "validation-failed", status: 400 })
    expect((await server.request("GET", "/v1/users?email=not-an-email", { token: admin })).status).toBe(400)

    const refused = await graphql(attendee, query, { email: "found.person@example.com" })
    expect(refused.text).not.toContain("Found")
    expect(refused.body.data.users).toBeNull()
    expect(refused.body.errors[0].extensions).toEqual({ code: "forbidden", status: 403 })
  })
})
