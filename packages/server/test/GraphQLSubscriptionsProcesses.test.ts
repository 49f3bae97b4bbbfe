/**
 * GraphQL subscriptions across two real server processes on one PostgreSQL (live feed: `LISTEN`),
 * with real clients: the `graphql-ws` package's client, and `effect/graphql`'s `GraphQLClient` over
 * HTTP (queries), graphql-sse and graphql-ws. A cancel through process A reaches subscribers on
 * process B within 1 s, the waiting attendee's private subscription shows the promotion, and the
 * public one carries no one's identity.
 */
import { Effect, Fiber, Layer, Redacted, Schema, Scope, Stream } from "effect"
import { GraphQL, GraphQLClient, GraphQLGroup, GraphQLProtocol } from "effect/graphql"
import { FetchHttpClient } from "effect/http"
import { Socket } from "effect/socket"
import { createClient } from "graphql-ws"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { testDatabase } from "../../sql/test/TestDatabase.ts"
import { call, devSecret, mintToken, type ServerProcess, startServer } from "./ServerProcesses.ts"

const Counts = Schema.NullOr(Schema.Struct({ confirmedCount: Schema.Int, waitlistCount: Schema.Int }))

const EventTitle = GraphQL.query("EventTitle", {
  document: "query EventTitle($id: ID!) { event(id: $id) { title capacity } }",
  variables: { id: Schema.String },
  result: Schema.Struct({ event: Schema.NullOr(Schema.Struct({ title: Schema.String, capacity: Schema.Int })) })
})

const EventChanged = GraphQL.subscription("EventChanged", {
  document: "subscription EventChanged($id: ID!) { eventChanged(id: $id) { cause counts { confirmedCount waitlistCount } } }",
  variables: { id: Schema.String },
  result: Schema.Struct({ eventChanged: Schema.Struct({ cause: Schema.String, counts: Counts }) })
})

const MyRegistrations = GraphQL.subscription("MyRegistrations", {
  document: "subscription MyRegistrations { myRegistrationsChanged { registrationId status waitlistPosition cause } }",
  result: Schema.Struct({
    myRegistrationsChanged: Schema.Struct({
      registrationId: Schema.String,
      status: Schema.String,
      waitlistPosition: Schema.NullOr(Schema.Int),
      cause: Schema.String
    })
  })
})

const Operations = GraphQLGroup.make(EventTitle, EventChanged, MyRegistrations)

describe("GraphQL subscriptions across two processes", () => {
  const scope = Effect.runSync(Scope.make())
  let servers: Array<ServerProcess> = []
  const secret = devSecret()

  beforeAll(async () => {
    const { url } = await Effect.runPromise(Scope.provide(testDatabase("le_gql_live"), scope))
    const env: Record<string, string> = {
      DATABASE_URL: Redacted.value(url),
      AUTH_MODE: "development",
      AUTH_DEV_SECRET: secret,
      RATE_LIMIT_ENABLED: "false",
      LIVE_HEARTBEAT_INTERVAL: "1 second"
    }
    servers = [await startServer(env)]
    servers.push(await startServer(env))
  }, 90_000)

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any))
  }, 30_000)

  it("a cancel through A reaches graphql-ws and effect/graphql subscribers on B in under 1 s", async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess]
    const organizer = await mintToken(secret, "gql-live-organizer", ["organizer"])
    const first = await mintToken(secret, "gql-live-first", ["attendee"])
    const second = await mintToken(secret, "gql-live-second", ["attendee"])
    const created = await call(a.url, "POST", "/v1/events", {
      token: organizer,
      json: {
        title: "GraphQL live",
        startsAt: "2099-01-01T18:00:00Z",
        endsAt: "2099-01-01T22:00:00Z",
        timeZone: "Europe/Berlin",
        location: "Berlin",
        capacity: 1
      }
    })
    const eventId: string = created.body.id
    expect((await call(a.url, "POST", `/v1/events/${eventId}/publish`, { token: organizer })).status).toBe(200)
    const held = await call(a.url, "POST", `/v1/events/${eventId}/registrations`, { token: first, json: {} })
    const waiting = await call(a.url, "POST", `/v1/events/${eventId}/registrations`, { token: second, json: {} })
    expect([held.body.status, waiting.body.status]).toEqual(["confirmed", "waitlisted"])

    // The graphql-ws package's client, anonymous: the public subscription.
    const wsUrl = b.url.replace("http", "ws") + "/graphql"
    const wsClient = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 })
    const wsChanges: Array<{ at: number; value: any }> = []
    let wsSnapshot!: () => void
    const wsReady = new Promise<void>((resolve) => (wsSnapshot = resolve))
    const unsubscribe = wsClient.subscribe(
      { query: `subscription { eventChanged(id: "${eventId}") { eventId cause counts { confirmedCount waitlistCount } waitlistShiftedFrom } }` },
      {
        next: (value) => {
          wsChanges.push({ at: Date.now(), value })
          if ((value.data as any)?.eventChanged?.cause === "snapshot") wsSnapshot()
        },
        error: (error) => wsChanges.push({ at: Date.now(), value: { error } }),
        complete: () => {}
      }
    )

    // effect/graphql's client: a query over HTTP, the public subscription over graphql-ws, the
    // private one over graphql-sse, all on B.
    const bearer = { authorization: `Bearer ${second}` }
    const httpLayer = GraphQLProtocol.layerHttp({ url: `${b.url}/graphql` }).pipe(Layer.provide(FetchHttpClient.layer))
    const wsLayer = GraphQLProtocol.layerWebSocket({ url: wsUrl, connectionParams: Effect.succeed(bearer) }).pipe(
      Layer.provide(Socket.layerWebSocketConstructorGlobal)
    )
    const effectScope = Effect.runSync(Scope.make())
    const httpContext = await Effect.runPromise(Layer.buildWithScope(httpLayer, effectScope))
    const wsContext = await Effect.runPromise(Layer.buildWithScope(wsLayer, effectScope))
    const httpClient = await Effect.runPromise(GraphQLClient.make(Operations).pipe(Effect.provideContext(httpContext)))
    const webSocketClient = await Effect.runPromise(GraphQLClient.make(Operations).pipe(Effect.provideContext(wsContext)))

    const title = await Effect.runPromise(httpClient.EventTitle({ id: eventId }, { headers: bearer }))
    expect(title.event).toEqual({ title: "GraphQL live", capacity: 1 })

    const effectPublic: Array<{ at: number; cause: string }> = []
    const effectPrivate: Array<{ at: number; status: string; cause: string }> = []
    const publicFiber = Effect.runFork(Stream.runForEach(webSocketClient.EventChanged({ id: eventId }), (value) =>
      Effect.sync(() => effectPublic.push({ at: Date.now(), cause: value.eventChanged.cause }))))
    const privateFiber = Effect.runFork(Stream.runForEach(httpClient.MyRegistrations(undefined, { headers: bearer }), (value) =>
      Effect.sync(() => effectPrivate.push({ at: Date.now(), ...value.myRegistrationsChanged }))))

    const until = async (ok: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    await wsReady
    await until(() => effectPublic.some((c) => c.cause === "snapshot"), "the effect/graphql graphql-ws snapshot")
    await until(() => effectPrivate.some((c) => c.cause === "snapshot" && c.status === "waitlisted"), "the graphql-sse snapshot")

    const cancelledAt = Date.now()
    expect((await call(a.url, "POST", `/v1/registrations/${held.body.id}/cancel`, { token: first })).status).toBe(200)
    await until(() => wsChanges.some((c) => c.at >= cancelledAt), "the graphql-ws change")
    await until(() => effectPublic.some((c) => c.at >= cancelledAt), "the effect/graphql graphql-ws change")
    await until(() => effectPrivate.some((c) => c.status === "confirmed"), "the promotion over graphql-sse")

    const wsLatency = wsChanges.find((c) => c.at >= cancelledAt)!.at - cancelledAt
    const effectLatency = effectPublic.find((c) => c.at >= cancelledAt)!.at - cancelledAt
    const sseLatency = effectPrivate.find((c) => c.status === "confirmed")!.at - cancelledAt
    expect(wsLatency).toBeLessThan(1_000)
    expect(effectLatency).toBeLessThan(1_000)
    expect(sseLatency).toBeLessThan(1_000)
    // The public subscription names no one.
    const publicText = JSON.stringify(wsChanges)
    expect(publicText).not.toContain(held.body.userId)
    expect(publicText).not.toContain(waiting.body.userId)

    unsubscribe()
    await wsClient.dispose()
    await Effect.runPromise(Fiber.interrupt(publicFiber))
    await Effect.runPromise(Fiber.interrupt(privateFiber))
    await Effect.runPromise(Scope.close(effectScope, { _tag: "Success", value: undefined } as any))
  }, 60_000)
})
