/**
 * The client against a running server: the happy path with the ids of one answer passed on as the
 * parameters of the next, and the declared problems as typed failures — `already-registered` on a
 * second registration, `event-not-found` on an unknown event — through the Effect client and the
 * Promise client, without a cast.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { FetchHttpClient } from "effect/http"
import { Ids } from "@live-events/domain"
import * as HttpRateLimit from "../../server/src/RateLimit/HttpRateLimit.ts"
import * as Server from "../../server/src/Server.ts"
import { start, type TestServer } from "../../server/test/support/TestServer.ts"
import { LiveEventsClient, Problems, PromiseClient } from "../src/index.ts"

let server: TestServer
let organizerToken: string
beforeAll(async () => {
  server = await start()
  organizerToken = await server.token("client-organizer", "organizer")
})
afterAll(() => server.close())

const unknownEvent = Ids.EventId.make("0190a5c8-0000-7000-8000-000000000000")

/** An event a month from now: dates are `Date`s, the client encodes them. */
const eventInput = (capacity: number) => {
  const startsAt = new Date(Date.now() + 30 * 86_400_000)
  return {
    title: "Effect meetup",
    startsAt,
    endsAt: new Date(startsAt.getTime() + 2 * 3_600_000),
    timeZone: "Europe/Berlin",
    location: "Berlin",
    capacity
  }
}

/** A published event with one seat, created through the Effect client. */
const publishedEvent = Effect.gen(function*() {
  const organizer = yield* LiveEventsClient.make({ baseUrl: server.url, token: organizerToken })
  const created = yield* organizer.events.create({ headers: {}, payload: eventInput(1) })
  return yield* organizer.events.publish({ params: { id: created.id } })
})

describe("LiveEventsClient (Effect)", () => {
  it.live("registers, then meets the second registration as a typed already-registered failure", () =>
    Effect.gen(function*() {
      const event = yield* publishedEvent
      const alice = yield* LiveEventsClient.make({
        baseUrl: server.url,
        token: Effect.promise(() => server.token("client-alice"))
      })
      const first = yield* alice.registrations.register({ params: { id: event.id }, headers: {}, payload: { notes: "hi" } })
      assert.strictEqual(first.status, "confirmed")
      assert.strictEqual(first.eventId, event.id)

      const second = yield* alice.registrations.register({ params: { id: event.id }, headers: {}, payload: {} }).pipe(
        Effect.map(() => "registered twice"),
        Effect.catchTag("AlreadyRegistered", (problem) =>
          Effect.succeed(`${problem.code} ${problem.status} ${problem.registrationId} ${problem.registrationStatus}`))
      )
      assert.strictEqual(second, `already-registered 409 ${first.id} confirmed`)

      // The id of one answer is the parameter of the next: branded on both sides.
      const read = yield* alice.registrations.get({ params: { id: first.id } })
      assert.deepStrictEqual(read, first)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.live("declares the other answers too: an unknown event, an anonymous caller", () =>
    Effect.gen(function*() {
      const anonymous = yield* LiveEventsClient.make({ baseUrl: server.url })
      const missing = yield* Effect.flip(anonymous.events.get({ params: { id: unknownEvent }, headers: {} }))
      assert.strictEqual(missing._tag, "EventNotFound")
      const refused = yield* Effect.flip(anonymous.me.get())
      assert.strictEqual(refused._tag, "Unauthenticated")
      if (refused._tag === "Unauthenticated") assert.strictEqual(refused.status, 401)
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})

describe("PromiseClient", () => {
  it("rejects the second registration with a typed already-registered problem", async () => {
    const organizer = PromiseClient.make({ baseUrl: server.url, token: organizerToken })
    const created = await organizer.events.create({ headers: {}, payload: eventInput(5) })
    const event = await organizer.events.publish({ params: { id: created.id } })

    const bob = PromiseClient.make({ baseUrl: server.url, token: () => server.token("client-bob") })
    const first = await bob.registrations.register({ params: { id: event.id }, headers: {}, payload: null })
    assert.strictEqual(first.status, "confirmed")

    const second = await bob.registrations.register({ params: { id: event.id }, headers: {}, payload: {} }).then(
      () => undefined,
      (error: unknown) => error
    )
    if (!PromiseClient.isProblem(second, "already-registered")) throw new Error(`expected already-registered, got ${String(second)}`)
    assert.strictEqual(second.registrationId, first.id)
    assert.strictEqual(second.registrationStatus, "confirmed")
    assert.instanceOf(second, Problems.AlreadyRegistered)
    assert.instanceOf(second, Error)
  })

  it("rejects an unknown event with event-not-found, and another code does not match it", async () => {
    const client = PromiseClient.make({ baseUrl: server.url })
    const error = await client.events.get({ params: { id: unknownEvent }, headers: {} }).catch((error: unknown) => error)
    assert.isTrue(PromiseClient.isProblem(error, "event-not-found"))
    assert.isFalse(PromiseClient.isProblem(error, "already-registered"))
  })
})

describe("retries against a rate-limited server", () => {
  let limited: TestServer
  beforeAll(async () => {
    limited = await start(Server.storeMemory, undefined, undefined, {
      rateLimit: HttpRateLimit.layerMemory({
        general: { name: "general", algorithm: "fixed-window", limit: 2, window: "2 seconds" }
      })
    })
  })
  afterAll(() => limited.close())

  it.live("waits out a 429's Retry-After and gets the answer; without retries the 429 is a typed RateLimited", () =>
    Effect.gen(function*() {
      const patient = yield* LiveEventsClient.make({ baseUrl: limited.url })
      const impatient = yield* LiveEventsClient.make({ baseUrl: limited.url, retry: false })
      yield* patient.events.list({ query: {} })
      yield* patient.events.list({ query: {} })
      const refused = yield* Effect.flip(impatient.events.list({ query: {} }))
      assert.strictEqual(refused._tag, "RateLimited")
      if (refused._tag === "RateLimited") assert.strictEqual(refused.code, "rate-limited")

      const started = Date.now()
      const page = yield* patient.events.list({ query: {} })
      assert.deepStrictEqual(page.items, [])
      // It waited for the next window (Retry-After is whole seconds), rather than failing at once.
      assert.isAtLeast(Date.now() - started, 200)
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})
