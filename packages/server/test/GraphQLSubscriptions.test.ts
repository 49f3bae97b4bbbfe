/**
 * GraphQL subscriptions on one process (embedded PostgreSQL, in-process live feed) with the
 * `graphql-ws` client: a connection closes when its token expires or its person is erased, a refused
 * token never gets an acknowledgement, a connection holds a bounded number of operations, an operation
 * the client completes stops, and 1,000 concurrent subscriptions all receive a change.
 */
import { Effect } from "effect"
import { createClient } from "graphql-ws"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import WebSocket from "ws"
import * as DevKey from "../src/Auth/DevKey.ts"
import { eventInput, startEmbedded, testKey, type TestServer } from "./support/TestServer.ts"

const until = async (ok: () => boolean, what: string, timeout = 15_000) => {
  const deadline = Date.now() + timeout
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe("GraphQL subscriptions", () => {
  let server: TestServer
  let organizer: string
  let admin: string
  let wsUrl: string

  beforeAll(async () => {
    const started = await startEmbedded("gql-sub")
    server = started.server
    organizer = started.organizer
    admin = started.admin
    wsUrl = server.url.replace("http", "ws") + "/graphql"
  }, 60_000)
  afterAll(() => server.close())

  const client = (authorization?: string) => {
    const closes: Array<{ code: number; reason: string }> = []
    const ws = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      // The closes are what these tests look at: collected below, not printed.
      onNonLazyError: () => {},
      connectionParams: authorization === undefined ? {} : { authorization },
      on: { closed: (event: any) => closes.push({ code: event.code, reason: event.reason }) }
    })
    return { ws, closes }
  }

  const publishedEvent = async (capacity: number) => {
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity }) })
    await server.request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer })
    return created.body.id as string
  }

  const subscribe = (ws: ReturnType<typeof createClient>, query: string, onNext: (value: any) => void) =>
    ws.subscribe({ query }, { next: onNext, error: () => {}, complete: () => {} })

  it("closes the socket when the token expires (4401) and when the person is erased (4403)", async () => {
    const shortLived = await Effect.runPromise(DevKey.mint(testKey, { subject: "gql-expiring", roles: ["attendee"], expiresIn: "2s" }))
    const expiring = client(`Bearer ${shortLived}`)
    const seen: Array<unknown> = []
    subscribe(expiring.ws, "subscription { myRegistrationsChanged { status } }", (value) => seen.push(value))
    await until(() => expiring.closes.length > 0, "the expired socket to close", 6_000)
    expect(expiring.closes[0]!.code).toBe(4401)

    const erasedToken = await server.token("gql-erased")
    const erasing = client(`Bearer ${erasedToken}`)
    let acknowledged = false
    subscribe(erasing.ws, "subscription { myRegistrationsChanged { status } }", () => {})
    erasing.ws.on("connected", () => (acknowledged = true))
    await until(() => acknowledged, "the connection")
    const me = await server.request("GET", "/v1/me", { token: erasedToken })
    expect((await server.request("DELETE", `/v1/users/${me.body.id}`, { token: admin })).status).toBe(204)
    await until(() => erasing.closes.length > 0, "the erased person's socket to close", 5_000)
    expect(erasing.closes[0]!.code).toBe(4403)
    await Promise.all([expiring.ws.dispose(), erasing.ws.dispose()])
  }, 30_000)

  it("refuses a bad token in connection_init and bounds the operations of one connection", async () => {
    const refused = client("Bearer not-a-jwt")
    refused.ws.subscribe({ query: "{ events { nodes { id } } }" }, { next: () => {}, error: () => {}, complete: () => {} })
    await until(() => refused.closes.length > 0, "the refused socket to close")
    expect(refused.closes[0]!.code).toBe(4403)
    await refused.ws.dispose()

    const eventId = await publishedEvent(5)
    const greedy = client()
    const errors: Array<any> = []
    let snapshots = 0
    for (let i = 0; i < 101; i++) {
      greedy.ws.subscribe({ query: `subscription { eventChanged(id: "${eventId}") { cause } }` }, {
        next: () => snapshots++,
        error: (error) => errors.push(error),
        complete: () => {}
      })
    }
    await until(() => snapshots + errors.length >= 101, "101 answers")
    expect(snapshots).toBe(100)
    expect(errors).toHaveLength(1)
    expect(errors[0][0].extensions.code).toBe("too-many-subscriptions")
    await greedy.ws.dispose()
  }, 30_000)

  it("stops an operation the client completes, and only that one", async () => {
    const eventId = await publishedEvent(5)
    const socket = new WebSocket(wsUrl, "graphql-transport-ws")
    const received: Array<{ readonly type: string; readonly id?: string; readonly payload?: any }> = []
    socket.on("message", (data) => received.push(JSON.parse(data.toString())))
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject))
    try {
      const send = (message: unknown) => socket.send(JSON.stringify(message))
      const of = (id: string) => received.filter((message) => message.id === id && message.type === "next")
      const query = `subscription { eventChanged(id: "${eventId}") { cause counts { confirmedCount } } }`
      send({ type: "connection_init", payload: {} })
      await until(() => received.some((message) => message.type === "connection_ack"), "the acknowledgement")
      send({ type: "subscribe", id: "kept", payload: { query } })
      send({ type: "subscribe", id: "completed", payload: { query } })
      await until(() => of("kept").length >= 1 && of("completed").length >= 1, "both snapshots")

      send({ type: "complete", id: "completed" })
      const attendee = await server.token("gql-completing")
      expect((await server.request("POST", `/v1/events/${eventId}/registrations`, { token: attendee, json: {} })).status).toBe(201)
      // The relay may still deliver the event's publication first: what counts is the registration.
      const registered = (id: string) => of(id).filter((message) => message.payload.data.eventChanged.counts?.confirmedCount === 1)
      await until(() => registered("kept").length === 1, "the change on the operation still running", 30_000)
      // The completed operation got nothing of it, and the server forgot it: its id can be used again
      // (a live one would close the socket with 4409), answered with a fresh snapshot.
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(registered("completed")).toEqual([])
      send({ type: "subscribe", id: "completed", payload: { query } })
      await until(() => registered("completed").length === 1, "the reused id's snapshot")
      expect(registered("completed")[0]!.payload.data.eventChanged.cause).toBe("snapshot")
      expect(socket.readyState).toBe(WebSocket.OPEN)
    } finally {
      await new Promise((resolve) => {
        socket.once("close", resolve)
        socket.close()
      })
    }
  }, 60_000)

  it("counts each connection as a live stream of its client (LIVE_MAX_STREAMS_PER_IP, default 20)", async () => {
    // The sockets of the tests before have closed on the server's side too.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const clients = Array.from({ length: 22 }, () => client())
    let connected = 0
    for (const { ws } of clients) ws.on("connected", () => connected++)
    await until(() => connected + clients.filter((c) => c.closes.length > 0).length === 22, "every connection to settle")
    expect(connected).toBe(20)
    expect(clients.filter((c) => c.closes.length > 0)).toHaveLength(2)
    await Promise.all(clients.map(({ ws }) => ws.dispose()))
    await new Promise((resolve) => setTimeout(resolve, 500))
  }, 30_000)

  it("releases an SSE subscription's stream slot when its client goes away", async () => {
    const eventId = await publishedEvent(5)
    const statuses: Array<number> = []
    for (let i = 0; i < 25; i++) {
      const controller = new AbortController()
      const response = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ query: `subscription { eventChanged(id: "${eventId}") { cause } }` }),
        signal: controller.signal
      })
      statuses.push(response.status)
      if (response.status === 200) {
        const reader = response.body!.getReader()
        let text = ""
        while (!text.includes("event: next")) text += new TextDecoder().decode((await reader.read()).value)
        expect(text).toContain(`"cause":"snapshot"`)
      }
      controller.abort()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(statuses.every((status) => status === 200)).toBe(true)
  }, 30_000)

  it("delivers a change to 1,000 concurrent subscriptions", async () => {
    const eventId = await publishedEvent(10)
    const clients = Array.from({ length: 10 }, () => client())
    const snapshots = new Set<number>()
    const changed = new Set<number>()
    let n = 0
    for (const { ws } of clients) {
      for (let i = 0; i < 100; i++) {
        const subscription = n++
        subscribe(ws, `subscription { eventChanged(id: "${eventId}") { cause counts { confirmedCount } } }`, (value) => {
          const change = value.data.eventChanged
          if (change.cause === "snapshot") snapshots.add(subscription)
          else if (change.counts?.confirmedCount === 1) changed.add(subscription)
        })
      }
    }
    await until(() => snapshots.size === 1_000, "1,000 snapshots", 30_000)
    const attendee = await server.token("gql-thousand")
    expect((await server.request("POST", `/v1/events/${eventId}/registrations`, { token: attendee, json: {} })).status).toBe(201)
    await until(() => changed.size === 1_000, "1,000 changes", 30_000)
    expect(changed.size).toBe(1_000)
    await Promise.all(clients.map(({ ws }) => ws.dispose()))
  }, 90_000)
})
