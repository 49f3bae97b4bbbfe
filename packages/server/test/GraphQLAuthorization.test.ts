/**
 * The REST authorization matrix over GraphQL: every operation × every actor answers what the REST
 * route answers (a field's error carries the REST status in `extensions.status`), and a refused field
 * resolves to null — no data leaks past a refusal. Then what the matrix cannot show: tokens that are
 * bad, expired or of an erased person refuse the whole request, and a person's profile reaches only
 * that person and admins, whichever way it is asked for.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as DevKey from "../src/Auth/DevKey.ts"
import { type Actor, actors, makeFixture, rows, tokensOf } from "./support/AuthorizationMatrix.ts"
import { start, testKey, type TestServer } from "./support/TestServer.ts"

const valueAt = (data: unknown, path: ReadonlyArray<string>): unknown => {
  let current: unknown = data
  for (const key of path) {
    if (typeof current !== "object" || current === null) return null
    current = (current as Record<string, unknown>)[key]
  }
  return current ?? null
}

describe("authorization matrix over GraphQL", () => {
  let server: TestServer
  let tokens: Record<Actor, string | undefined>
  let fixtureCount = 0

  beforeAll(async () => {
    server = await start()
    tokens = await tokensOf(server)
  })
  afterAll(() => server.close())

  const graphql = (token: string | undefined, query: string, variables?: Record<string, unknown>) =>
    server.request("POST", "/graphql", { token, json: { query, ...(variables === undefined ? {} : { variables }) } })

  for (const row of rows) {
    const operation = row.graphql
    if (operation === undefined) continue
    it(`${row.name}`, async () => {
      const observed: Record<string, number> = {}
      const problems: Array<string> = []
      for (const actor of actors) {
        const f = await makeFixture(server, tokens, ++fixtureCount)
        const response = await graphql(tokens[actor], operation.query(f), operation.variables)
        expect(response.status, response.text).toBe(200)
        const value = valueAt(response.body.data, operation.path)
        const error = response.body.errors?.[0]
        if (error === undefined) {
          // Success: the REST route's 2xx, whichever it is.
          observed[actor] = value === null ? -1 : row.expected[actor] < 300 ? row.expected[actor] : 200
        } else {
          observed[actor] = error.extensions.status
          expect(typeof error.extensions.code).toBe("string")
          if (value !== null) problems.push(`${actor}: leaked ${JSON.stringify(value)} next to ${error.extensions.code}`)
        }
        if (observed[actor] !== row.expected[actor]) problems.push(`${actor}: ${response.text.slice(0, 300)}`)
      }
      expect(observed, problems.join("\n")).toEqual(row.expected)
      expect(problems).toEqual([])
    })
  }

  it("bad, expired and foreign-scheme credentials refuse the request with 401 and no data", async () => {
    const expired = await Effect.runPromise(DevKey.mint(testKey, { subject: "m-attendee", roles: ["attendee"], expiresIn: "-1m" }))
    for (const authorization of ["Bearer not-a-jwt", `Bearer ${expired}`, "Basic dXNlcjpwYXNz"]) {
      const response = await server.request("POST", "/graphql", {
        headers: { authorization },
        json: { query: "{ events { nodes { id } } }" }
      })
      expect(response.status).toBe(401)
      expect(response.headers.get("content-type")).toContain("application/graphql-response+json")
      expect(response.body.data).toBeUndefined()
      expect(response.body.errors[0].extensions.code).toBe("unauthenticated")
    }
  })

  it("an erased person's token is refused with user-erased", async () => {
    const token = await server.token("m-to-erase")
    expect((await graphql(token, "mutation { eraseMe }")).body.data.eraseMe).toBe(true)
    const response = await graphql(token, "{ me { profile { id } } }")
    expect(response.status).toBe(403)
    expect(response.body.errors[0].extensions.code).toBe("user-erased")
    expect(response.body.data).toBeUndefined()
  })

  it("a profile reaches only its person and admins, through every field that leads to it", async () => {
    const f = await makeFixture(server, tokens, ++fixtureCount)
    const email = "attendee-profile@example.com"
    const updated = await graphql(
      tokens.admin,
      `mutation { updateUser(id: ${JSON.stringify(f.attendeeUserId)}, input: { email: ${JSON.stringify(email)}, name: "Ada Attendee" }) { id } }`
    )
    expect(updated.body.errors).toBeUndefined()
    const query = `{
      registration(id: ${JSON.stringify(f.registration)}) { user { email name } }
      event(id: ${JSON.stringify(f.event)}) { registrations { nodes { user { email } } } }
      me { registrations { nodes { user { email } } } }
    }`
    const sees: Record<string, boolean> = {}
    for (const actor of actors) {
      const response = await graphql(tokens[actor], query)
      sees[actor] = response.text.includes(email) || response.text.includes("Ada Attendee")
    }
    expect(sees).toEqual({ anonymous: false, attendee: true, otherAttendee: false, owner: false, otherOrganizer: false, admin: true })
  })
})
