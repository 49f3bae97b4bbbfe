/**
 * What a hostile GraphQL request gets: a 4xx GraphQL response, quickly, and never a 5xx — deep
 * nesting, ten thousand aliases, a fragment bomb, huge variables, malformed bodies and documents; no
 * introspection outside development mode. And a page of 100 registrations with their people and
 * events resolves in a bounded number of SQL statements.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Engine from "../src/GraphQL/Engine.ts"
import * as HttpRateLimit from "../src/RateLimit/HttpRateLimit.ts"
import * as Limits from "../src/GraphQL/Limits.ts"
import * as Server from "../src/Server.ts"
import * as Telemetry from "../src/Telemetry/Telemetry.ts"
import * as Prometheus from "./support/Prometheus.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

const nested = (depth: number) => "{ events { nodes { ".repeat(1) + "registrations { nodes { event { ".repeat(depth) + "id" +
  " } } }".repeat(depth) + " } } }"

describe("hostile GraphQL requests", () => {
  let server: TestServer
  let eventId: string

  beforeAll(async () => {
    server = await start()
    const organizer = await server.token("l-organizer", "organizer")
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput() })
    eventId = created.body.id
    await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })
  })
  afterAll(() => server.close())

  const refused = async (
    init: { readonly body?: string; readonly json?: unknown; readonly path?: string; readonly method?: string },
    status: number,
    code: string
  ) => {
    const started = Date.now()
    const response = await server.request(init.method ?? "POST", init.path ?? "/graphql", {
      ...(init.json !== undefined ? { json: init.json } : {}),
      ...(init.body !== undefined ? { body: init.body } : {})
    })
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(response.status, response.text.slice(0, 300)).toBe(status)
    expect(response.headers.get("content-type")).toContain("application/graphql-response+json")
    expect(response.body.data).toBeUndefined()
    expect(response.body.errors[0].extensions.code).toBe(code)
  }

  it("refuses a query nested 50 levels deep", async () => {
    await refused({ json: { query: nested(50) } }, 400, "query-too-complex")
  })

  it("refuses ten thousand aliases (the parser stops at its token limit)", async () => {
    const aliases = Array.from({ length: 10_000 }, (_, i) => `a${i}: event(id: "${eventId}") { id }`).join(" ")
    await refused({ json: { query: `{ ${aliases} }` } }, 413, "payload-too-large")
    // The same under the body limit: refused by the token limit.
    const fewer = Array.from({ length: 2_000 }, (_, i) => `a${i}: __typename`).join(" ")
    await refused({ json: { query: `{ ${fewer} }` } }, 400, "invalid-query")
  })

  it("refuses a query whose pages multiply past the cost limit", async () => {
    const query = `{ events(first: 100) { nodes { registrations(first: 100) { nodes { event { registrations(first: 100) { nodes { id } } } } } } } }`
    await refused({ json: { query } }, 400, "query-too-complex")
  })

  it("refuses a fragment bomb without measuring every spread", async () => {
    const fragments = Array.from({ length: 30 }, (_, i) =>
      i === 29 ? `fragment F${i} on Event { id }` : `fragment F${i} on Event { ...F${i + 1} a: availableSeats ...F${i + 1} }`)
    await refused({ json: { query: `{ event(id: "${eventId}") { ...F0 } } ${fragments.join(" ")}` } }, 400, "query-too-complex")
  })

  it("refuses huge variables with 413", async () => {
    await refused({ json: { query: "query($q: String) { events(filter: { q: $q }) { nodes { id } } }", variables: { q: "x".repeat(1_000_000) } } }, 413, "payload-too-large")
  })

  it("refuses malformed bodies and documents with 400", async () => {
    await refused({ body: "{ not json" }, 400, "invalid-request")
    await refused({ json: [{ query: "{ __typename }" }] }, 400, "invalid-request")
    await refused({ json: { query: 42 } }, 400, "invalid-request")
    await refused({ json: { query: "{ __typename }", variables: "nope" } }, 400, "invalid-request")
    await refused({ json: { query: "{ event(id: " } }, 400, "invalid-query")
    await refused({ json: { query: "{ nosuchfield }" } }, 400, "invalid-query")
    await refused({ json: { query: "query A { __typename } query B { __typename }" } }, 400, "invalid-query")
    await refused({ json: { query: "query($id: ID!) { event(id: $id) { id } }", variables: { id: { nested: true } } } }, 400, "invalid-variables")
    await refused({ method: "GET", path: "/graphql?query=%7B__typename%7D&variables=%7Bbroken" }, 400, "invalid-request")
    await refused({ method: "GET", path: "/graphql" }, 400, "invalid-request")
  })

  it("allows no introspection outside development mode", () => {
    const production = Engine.make({ limits: Limits.defaults, introspection: false })
    const refusal = production.prepare({ query: "{ __schema { types { name } } }" })
    expect(refusal._tag).toBe("Rejected")
    expect(Engine.make({ limits: Limits.defaults, introspection: true }).prepare({ query: "{ __schema { types { name } } }" })._tag)
      .toBe("Prepared")
  })
})

describe("rate limits on /graphql", () => {
  it("count GraphQL requests like any other and refuse the excess with a 429 GraphQL response", async () => {
    const server = await start(Server.storeMemory, undefined, undefined, {
      rateLimit: HttpRateLimit.layerMemory({ general: { name: "general", algorithm: "sliding-window", limit: 3, window: "1 minute" } })
    })
    try {
      const statuses: Array<number> = []
      let last: Awaited<ReturnType<TestServer["request"]>> | undefined
      for (let i = 0; i < 4; i++) {
        last = await server.request("POST", "/graphql", { json: { query: "{ events { nodes { id } } }" } })
        statuses.push(last.status)
      }
      expect(statuses).toEqual([200, 200, 200, 429])
      expect(last!.headers.get("content-type")).toContain("application/graphql-response+json")
      expect(last!.headers.get("retry-after")).not.toBeNull()
      expect(last!.body.errors[0].extensions).toMatchObject({ code: "rate-limited", status: 429 })
    } finally {
      await server.close()
    }
  })
})

describe("batched loads", () => {
  let server: TestServer

  beforeAll(async () => {
    // No read cache: every load is a statement, so the count shows the batching.
    server = await start(Server.storeEmbedded({ dataDir: undefined }), undefined, Telemetry.layer({ logSink: () => {} }), { cache: false })
  }, 60_000)
  afterAll(() => server.close())

  const statements = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    return Prometheus.parse(text)
  }

  it("resolves 100 registrations with their people and event in a bounded number of SQL statements", async () => {
    const organizer = await server.token("b-organizer", "organizer")
    const admin = await server.token("b-admin", "admin")
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 100 }) })
    const eventId: string = created.body.id
    await server.request("POST", `/v1/events/${eventId}/publish`, { token: organizer })
    for (let i = 0; i < 100; i++) {
      const attendee = await server.token(`b-attendee-${i}`)
      expect((await server.request("POST", `/v1/events/${eventId}/registrations`, { token: attendee, json: {} })).status).toBe(201)
    }
    const query = `{ event(id: "${eventId}") { registrations(first: 100) { nodes { id user { id subject } event { id title } } } } }`
    // Warm up (the admin's provisioning is a write of its own), then count.
    await server.request("POST", "/graphql", { token: admin, json: { query } })
    const before = await statements()
    const response = await server.request("POST", "/graphql", { token: admin, json: { query } })
    const after = await statements()
    expect(response.body.errors).toBeUndefined()
    const nodes = response.body.data.event.registrations.nodes
    expect(nodes).toHaveLength(100)
    expect(new Set(nodes.map((node: any) => node.user.subject)).size).toBe(100)
    const selects = Prometheus.delta(before, after)("db_client_operation_duration_seconds_count", { operation: "SELECT", outcome: "success" })
    // event, the page, the people (one batch), the registrations' event (once); the relay's polling
    // may add a few of its own meanwhile — far from one per row.
    expect(selects).toBeLessThanOrEqual(10)
  })
})
