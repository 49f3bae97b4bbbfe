/**
 * One trace from the HTTP request through the SQL statements to the outbox row: an in-memory tracer
 * records every span of a registration sent with a W3C `traceparent`, on embedded PGlite.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Tracer } from "effect"
import { SqlClient } from "effect/sql"
import * as Server from "../src/Server.ts"
import * as Telemetry from "../src/Telemetry/Telemetry.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

const spans: Array<Tracer.NativeSpan> = []
const recorder = Tracer.make({
  span(options) {
    const span = new Tracer.NativeSpan(options)
    spans.push(span)
    return span
  }
})

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const clientSpanId = "00f067aa0ba902b7"

describe("tracing on embedded PGlite", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await start(
      Server.storeEmbedded({ dataDir: undefined }),
      undefined,
      Telemetry.layer({ tracer: recorder, logSink: () => {} })
    )
  }, 60_000)
  afterAll(() => server.close())

  it("follows a registration from the request through its SQL statements to its outbox row", async () => {
    const { request, token } = server
    const organizer = await token("trace-org", "organizer")
    const attendee = await token("trace-attendee")
    const created = await request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 5 }) })
    await request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer })

    spans.length = 0
    const registered = await request("POST", `/v1/events/${created.body.id}/registrations`, {
      token: attendee,
      headers: { traceparent: `00-${traceId}-${clientSpanId}-01` }
    })
    expect(registered.status).toBe(201)

    const trace = spans.filter((span) => span.traceId === traceId)
    // The server span continues the caller's trace, with the route template, status and role.
    const serverSpan = trace.find((span) => span.kind === "server")!
    expect(serverSpan).toBeDefined()
    expect(serverSpan.parent._tag === "Some" && serverSpan.parent.value.spanId).toBe(clientSpanId)
    expect(serverSpan.attributes.get("http.route")).toBe("/v1/events/:id/registrations")
    expect(serverSpan.attributes.get("http.response.status_code")).toBe(201)
    expect(serverSpan.attributes.get("user.roles")).toEqual(["attendee"])
    expect(serverSpan.attributes.has("client.address")).toBe(false)
    expect(serverSpan.status._tag).toBe("Ended")

    // The use-case and every SQL statement it ran are in the same trace, all ended.
    const useCase = trace.find((span) => span.name === "Registrations.register")!
    expect(useCase).toBeDefined()
    const statements = trace.filter((span) => span.attributes.get("db.system.name") === "postgresql")
    const texts = statements.map((span) => String(span.attributes.get("db.query.text")))
    // The outbox rows are written inside the unit of work (riding along the registration write).
    expect(texts.some((sql) => sql.includes("INSERT INTO outbox"))).toBe(true)
    expect(statements.length).toBeGreaterThanOrEqual(3)
    expect(trace.every((span) => span.status._tag === "Ended")).toBe(true)
    // Statement text has placeholders, never the values.
    expect(texts.join("\n")).not.toContain("trace-attendee")

    // Every span of the trace descends from the server span.
    const byId = new Map(trace.map((span) => [span.spanId, span]))
    const descendsFromServer = (span: Tracer.NativeSpan): boolean => {
      let parent = span.parent._tag === "Some" ? span.parent.value : undefined
      while (parent !== undefined) {
        if (parent.spanId === serverSpan.spanId) return true
        const next = byId.get(parent.spanId)
        parent = next !== undefined && next.parent._tag === "Some" ? next.parent.value : undefined
      }
      return false
    }
    expect(trace.filter((span) => span !== serverSpan).every(descendsFromServer)).toBe(true)

    // The outbox row of the registration stores a traceparent of this trace, naming one of its spans.
    const rows = await Effect.runPromise(
      Effect.flatMap(Effect.succeed(Context.get(server.context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)), (sql) =>
        sql<{ readonly type: string; readonly traceparent: string | null }>`
          SELECT type, traceparent FROM outbox WHERE payload->'data'->>'registrationId' = ${registered.body.id}`)
    )
    expect(rows.map((row) => row.type)).toEqual(["RegistrationConfirmed"])
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(rows[0]!.traceparent ?? "")
    expect(match?.[1]).toBe(traceId)
    expect(byId.has(match![2]!)).toBe(true)
  })

  it("answers with the trace id in problem bodies and keeps a fresh trace without traceparent", async () => {
    spans.length = 0
    const response = await server.request("GET", "/v1/events/00000000-0000-4000-8000-000000000000")
    expect(response.status).toBe(404)
    const serverSpan = spans.find((span) => span.kind === "server")!
    expect(response.body.traceId).toBe(serverSpan.traceId)
    expect(serverSpan.parent._tag).toBe("None")
  })
})
