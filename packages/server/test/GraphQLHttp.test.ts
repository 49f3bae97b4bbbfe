/**
 * `/graphql` over HTTP: the GraphQL-over-HTTP semantics (POST any operation, GET queries only, the
 * response media type, 4xx for requests refused before running), and the published schema.
 */
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Schema from "../src/GraphQL/Schema.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

describe("GraphQL over HTTP", () => {
  let server: TestServer
  let organizer: string
  let eventId: string

  beforeAll(async () => {
    server = await start()
    organizer = await server.token("h-organizer", "organizer")
    const created = await server.request("POST", "/graphql", {
      token: organizer,
      json: {
        query: "mutation($input: CreateEventInput!) { createEvent(input: $input) { id status startsAt } }",
        variables: { input: eventInput({ startsAt: "2031-05-01T18:00:00+02:00", endsAt: "2031-05-01T20:00:00Z" }) }
      }
    })
    expect(created.status).toBe(200)
    eventId = created.body.data.createEvent.id
    expect(created.body.data.createEvent).toMatchObject({ status: "draft", startsAt: "2031-05-01T16:00:00.000Z" })
    await server.request("POST", "/graphql", { token: organizer, json: { query: `mutation { publishEvent(id: "${eventId}") { id } }` } })
  })
  afterAll(() => server.close())

  it("answers a query over GET with the GraphQL response media type and the security headers", async () => {
    const query = encodeURIComponent(`query($id: ID!) { event(id: $id) { title availableSeats } }`)
    const variables = encodeURIComponent(JSON.stringify({ id: eventId }))
    const response = await server.request("GET", `/graphql?query=${query}&variables=${variables}`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("application/graphql-response+json")
    expect(response.headers.get("x-content-type-options")).toBe("nosniff")
    expect(response.body).toEqual({ data: { event: { title: "Effect meetup", availableSeats: 2 } } })
  })

  it("refuses a mutation over GET with 405", async () => {
    const query = encodeURIComponent(`mutation { cancelEvent(id: "${eventId}") { id } }`)
    const response = await server.request("GET", `/graphql?query=${query}`, { token: organizer })
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
    expect(response.body.errors[0].extensions.code).toBe("method-not-allowed")
  })

  it("answers application/json to a client accepting only that", async () => {
    const response = await server.request("POST", "/graphql", {
      headers: { accept: "application/json" },
      json: { query: `{ event(id: "${eventId}") { id } }` }
    })
    expect(response.headers.get("content-type")).toContain("application/json")
    expect(response.body.data.event.id).toBe(eventId)
  })

  it("refuses invalid arguments with the REST validation code", async () => {
    const response = await server.request("POST", "/graphql", { json: { query: `{ event(id: "not-a-uuid") { id } }` } })
    expect(response.status).toBe(200)
    expect(response.body.data.event).toBeNull()
    expect(response.body.errors[0].extensions).toMatchObject({ code: "validation-failed", status: 400 })
  })

  it("refuses a subscription over plain POST", async () => {
    const response = await server.request("POST", "/graphql", { json: { query: `subscription { eventChanged(id: "${eventId}") { cause } }` } })
    expect(response.status).toBe(400)
    expect(response.body.errors[0].extensions.code).toBe("invalid-request")
  })

  it("serves the schema as SDL, identical to packages/server/schema.graphql", async () => {
    const response = await server.request("GET", "/graphql/schema.graphql")
    expect(response.status).toBe(200)
    const file = readFileSync(new URL("../schema.graphql", import.meta.url), "utf8")
    // The file is regenerated with `npm run graphql:schema`.
    expect(file).toBe(Schema.print(Schema.make()))
    expect(response.text).toBe(file)
  })

  it("allows introspection in development auth mode", async () => {
    const response = await server.request("POST", "/graphql", { json: { query: "{ __schema { queryType { name } } }" } })
    expect(response.body.data.__schema.queryType.name).toBe("Query")
  })
})
