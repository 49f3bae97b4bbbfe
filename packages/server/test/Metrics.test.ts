/**
 * `/metrics` after a scripted scenario: exact deltas of every business metric and of the request
 * metrics, plus the access settings of the endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Redacted } from "effect"
import * as Server from "../src/Server.ts"
import * as Telemetry from "../src/Telemetry/Telemetry.ts"
import * as Prometheus from "./support/Prometheus.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

const quiet = { logSink: () => {} }

const scrape = async (server: TestServer, token?: string) => {
  const response = await server.request("GET", "/metrics", token === undefined ? {} : { token })
  expect(response.status).toBe(200)
  expect(response.headers.get("content-type")).toContain("text/plain")
  return Prometheus.parse(response.text)
}

const scenario = async (server: TestServer) => {
  const { request, token } = server
  const organizer = await token("metrics-org", "organizer")
  const [alice, bob, carol, dave] = await Promise.all(["m-alice", "m-bob", "m-carol", "m-dave"].map((s) => token(s)))
  const created = await request("POST", "/v1/events", {
    token: organizer,
    json: eventInput({ capacity: 1, waitlist: { enabled: true, limit: 2 } })
  })
  expect(created.status).toBe(201)
  const eventId: string = created.body.id
  expect((await request("POST", `/v1/events/${eventId}/publish`, { token: organizer })).status).toBe(200)
  const register = (who: string) => request("POST", `/v1/events/${eventId}/registrations`, { token: who })

  const first = await register(alice!) // the only seat
  expect(first.body.status).toBe("confirmed")
  const second = await register(bob!) // full: waitlisted, position 1
  expect(second.body.status).toBe("waitlisted")
  const third = await register(carol!) // waitlisted, position 2
  expect(third.body.status).toBe("waitlisted")
  expect((await register(dave!)).body.code).toBe("waitlist-full")
  expect((await register(alice!)).body.code).toBe("already-registered")

  // Alice leaves: Bob is promoted. Then Carol leaves the waitlist.
  expect((await request("POST", `/v1/registrations/${first.body.id}/cancel`, { token: alice })).body.status).toBe("cancelled")
  expect((await request("GET", `/v1/registrations/${second.body.id}`, { token: bob })).body.status).toBe("confirmed")
  expect((await request("POST", `/v1/registrations/${third.body.id}/cancel`, { token: carol })).body.status).toBe("cancelled")
}

const expectScenarioDeltas = (d: ReturnType<typeof Prometheus.delta>) => {
  expect(d("registrations_total", { outcome: "confirmed", code: "none" })).toBe(1)
  expect(d("registrations_total", { outcome: "waitlisted", code: "none" })).toBe(2)
  expect(d("registrations_total", { outcome: "rejected", code: "waitlist-full" })).toBe(1)
  expect(d("registrations_total", { outcome: "rejected", code: "already-registered" })).toBe(1)
  expect(d("registration_cancellations_total", { previous_status: "confirmed", reason: "attendee" })).toBe(1)
  expect(d("registration_cancellations_total", { previous_status: "waitlisted", reason: "attendee" })).toBe(1)
  expect(d("waitlist_promotions_total", { trigger: "cancellation" })).toBe(1)
  expect(d("waitlist_exits_total", { to: "confirmed" })).toBe(1)
  expect(d("waitlist_exits_total", { to: "cancelled" })).toBe(1)
  // Waitlist length after each change: Bob joins (1), Carol joins (2), Bob promoted (1), Carol leaves (0).
  expect(d("waitlist_length_count")).toBe(4)
  expect(d("waitlist_length_sum")).toBe(4)
  expect(d("waitlist_length_bucket", { le: "0" })).toBe(1)
  expect(d("waitlist_length_bucket", { le: "1" })).toBe(3)
  expect(d("waitlist_length_bucket", { le: "2" })).toBe(4)
  expect(d("waitlist_wait_seconds_count")).toBe(1)

  const registrationsRoute = { method: "POST", route: "/v1/events/:id/registrations" }
  expect(d("http_server_requests_total", { ...registrationsRoute, status: "201" })).toBe(3)
  expect(d("http_server_requests_total", { ...registrationsRoute, status: "409" })).toBe(2)
  expect(d("http_server_request_duration_seconds_count", { ...registrationsRoute, status: "201" })).toBe(3)
  expect(d("http_server_requests_total", { method: "POST", route: "/v1/registrations/:id/cancel", status: "200" }))
    .toBe(2)
}

describe("/metrics on the memory store", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await start(Server.storeMemory, undefined, Telemetry.layer(quiet))
  })
  afterAll(() => server.close())

  it("counts every business metric of register into a full event, cancel and promotion exactly", async () => {
    const before = await scrape(server)
    await scenario(server)
    const after = await scrape(server)
    expectScenarioDeltas(Prometheus.delta(before, after))
    // The scrape before is itself counted once the second one runs.
    expect(Prometheus.delta(before, after)("http_server_requests_total", { method: "GET", route: "/metrics", status: "200" }))
      .toBe(1)
  })

  it("labels unknown paths `unmatched`, never with the raw path", async () => {
    const before = await scrape(server)
    expect((await server.request("GET", "/no/such/alice@example.org")).status).toBe(404)
    const after = await scrape(server)
    expect(Prometheus.delta(before, after)("http_server_requests_total", { method: "GET", route: "unmatched", status: "404" }))
      .toBe(1)
    expect([...after.keys()].some((key) => key.includes("alice"))).toBe(false)
  })
})

describe("/metrics on embedded PGlite", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await start(Server.storeEmbedded({ dataDir: undefined }), undefined, Telemetry.layer(quiet))
  }, 60_000)
  afterAll(() => server.close())

  it("counts the same deltas and times every SQL statement", async () => {
    const before = await scrape(server)
    await scenario(server)
    const after = await scrape(server)
    const d = Prometheus.delta(before, after)
    expectScenarioDeltas(d)
    // Every registration inserts its outbox row; every unit of work begins and commits.
    expect(d("db_client_operation_duration_seconds_count", { operation: "INSERT", outcome: "success" }))
      .toBeGreaterThanOrEqual(5)
    expect(d("db_client_operation_duration_seconds_count", { operation: "SELECT", outcome: "success" }))
      .toBeGreaterThanOrEqual(1)
    // Units of work: create, publish, 5 registration batches (the 2 refusals are decided inside theirs,
    // which commit without writing), 2 cancellations.
    expect(d("db_client_transaction_duration_seconds_count", { outcome: "commit" })).toBeGreaterThanOrEqual(9)
  })
})

describe("/metrics access", () => {
  it("requires the bearer token when METRICS_TOKEN is set", async () => {
    const server = await start(
      Server.storeMemory,
      undefined,
      Telemetry.layer({ ...quiet, metricsToken: Redacted.make("scrape-secret") })
    )
    try {
      const refused = await server.request("GET", "/metrics")
      expect(refused.status).toBe(401)
      expect(refused.body.code).toBe("unauthenticated")
      expect((await server.request("GET", "/metrics", { token: "wrong" })).status).toBe(401)
      await scrape(server, "scrape-secret")
    } finally {
      await server.close()
    }
  })

  it("is absent when disabled", async () => {
    const server = await start(Server.storeMemory, undefined, Telemetry.layer({ ...quiet, metricsEnabled: false }))
    try {
      expect((await server.request("GET", "/metrics")).status).toBe(404)
    } finally {
      await server.close()
    }
  })
})
