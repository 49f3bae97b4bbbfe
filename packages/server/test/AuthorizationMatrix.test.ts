/**
 * Every route (but DELETE /v1/me, see Privacy.test.ts) × {anonymous, attendee, another attendee, owning organizer, other organizer, admin}.
 *
 * Each cell runs against a fresh fixture (a published event E owned by the organizer with the
 * attendee's registration R, and a draft event D of the same organizer), so mutating routes do not
 * influence each other. Invisible resources answer 404, visible-but-not-yours 403.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type Actor, actors, makeFixture, rows, tokensOf } from "./support/AuthorizationMatrix.ts"
import { start, type TestServer } from "./support/TestServer.ts"

describe("authorization matrix", () => {
  let server: TestServer
  let tokens: Record<Actor, string | undefined>
  let fixtureCount = 0

  beforeAll(async () => {
    server = await start()
    tokens = await tokensOf(server)
  })
  afterAll(() => server.close())

  const fixture = () => makeFixture(server, tokens, ++fixtureCount)

  for (const row of rows) {
    it(`${row.method} ${row.name}`, async () => {
      const observed: Record<string, number> = {}
      const mismatches: Array<string> = []
      for (const actor of actors) {
        const f = await fixture()
        const response = await server.request(row.method, row.path(f), {
          token: tokens[actor],
          ...(row.json !== undefined ? { json: row.json } : {})
        })
        observed[actor] = response.status
        if (response.status >= 400) {
          expect(response.headers.get("content-type")).toContain("application/problem+json")
          expect(response.body.status).toBe(response.status)
        }
        if (response.status !== row.expected[actor]) mismatches.push(`${actor}: ${response.status} ${response.text.slice(0, 200)}`)
      }
      expect(observed, mismatches.join("\n")).toEqual(row.expected)
    })
  }

  it("401 answers carry the unauthenticated code and a WWW-Authenticate challenge", async () => {
    const missing = await server.request("GET", "/v1/me")
    expect(missing.body).toMatchObject({ status: 401, code: "unauthenticated", instance: "/v1/me" })
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/)
    const garbage = await server.request("GET", "/v1/me", { token: "not-a-jwt" })
    expect(garbage.body.code).toBe("unauthenticated")
    const otherScheme = await server.request("GET", "/v1/events", { headers: { authorization: "Basic dXNlcjpwYXNz" } })
    expect(otherScheme.status).toBe(401)
  })

  it("403 answers carry the forbidden code", async () => {
    const response = await server.request("GET", "/v1/users", { token: tokens.attendee })
    expect(response.body).toMatchObject({ status: 403, code: "forbidden" })
  })
})
