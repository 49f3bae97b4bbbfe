/**
 * The authenticated reads answered from the read cache without their use-cases
 * (`Registrations/CachedRegistrations.ts`): what the lookups answer for whom, and that a write makes
 * them send the read back to the use-case. The server's own cache is looked into after HTTP requests
 * filled it; the HTTP answers themselves are held to HttpApi's by `HotPaths.test.ts` and to freshness
 * by `CachedStore.test.ts`.
 */
import { TwoLevelCache } from "@live-events/cache"
import type { Ids, User } from "@live-events/domain"
import { Context, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Pagination from "@live-events/api/Pagination"
import * as CachedRegistrations from "../src/Registrations/CachedRegistrations.ts"
import * as Telemetry from "../src/Telemetry/Telemetry.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

describe("cached registration reads without the use-case", () => {
  let server: TestServer
  let lookups: CachedRegistrations.Visible
  const firstPageLimit = Pagination.request({}).limit

  beforeAll(async () => {
    server = await start()
    const found = await Effect.runPromise(Effect.provideContext(CachedRegistrations.visible, server.context))
    if (found === undefined) throw new Error("the test server runs with its read cache: lookups expected")
    lookups = found
  })
  afterAll(() => server.close())

  const now = () => Date.now()
  const actor = (userId: string, ...roles: Array<User.Role>): User.Actor => ({ userId: userId as Ids.UserId, roles })

  /** A published event, one registration of `attendee` in it, both read once through HTTP so far. */
  const setUp = async (prefix: string) => {
    const organizer = await server.token(`${prefix}-organizer`, "organizer")
    const attendee = await server.token(`${prefix}-attendee`)
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 5 }) })
    expect((await server.request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer })).status).toBe(200)
    const registered = await server.request("POST", `/v1/events/${created.body.id}/registrations`, { token: attendee, json: {} })
    expect(registered.status).toBe(201)
    const path = `/v1/registrations/${registered.body.id}`
    // The first read learns the registration's event, the second fills the cache under its tags.
    for (let i = 0; i < 2; i++) expect((await server.request("GET", path, { token: attendee })).status).toBe(200)
    return {
      organizer,
      attendee,
      eventId: created.body.id as string,
      organizerId: created.body.organizerId as string,
      id: registered.body.id as Ids.RegistrationId,
      userId: registered.body.userId as string
    }
  }

  it("answers the attendee; the organizer and admins only with the event cached; never anyone else", async () => {
    const { eventId, id, organizerId, userId } = await setUp("peek-who")
    expect(lookups.registration(actor(userId, "attendee"), id, now())?.id).toBe(id)
    // Someone else: refused here, the use-case answers (404).
    expect(lookups.registration(actor(randomUUID(), "attendee"), id, now())).toBeUndefined()
    expect(lookups.registration(actor(randomUUID(), "organizer"), id, now())).toBeUndefined()
    // The event is not cached yet: the organizer's read goes to the use-case.
    expect(lookups.registration(actor(organizerId, "organizer"), id, now())).toBeUndefined()
    expect((await server.request("GET", `/v1/events/${eventId}`)).status).toBe(200)
    expect(lookups.registration(actor(organizerId, "organizer"), id, now())?.id).toBe(id)
    expect(lookups.registration(actor(randomUUID(), "admin"), id, now())?.id).toBe(id)
    // The owner of the event without the organizer role in the token manages nothing.
    expect(lookups.registration(actor(organizerId, "attendee"), id, now())).toBeUndefined()
  })

  it("sends the read back to the use-case once a write changed the registration", async () => {
    const { attendee, id, userId } = await setUp("peek-write")
    expect(lookups.registration(actor(userId, "attendee"), id, now())?.status).toBe("confirmed")
    expect((await server.request("POST", `/v1/registrations/${id}/cancel`, { token: attendee })).status).toBe(200)
    expect(lookups.registration(actor(userId, "attendee"), id, now())).toBeUndefined()
    expect((await server.request("GET", `/v1/registrations/${id}`, { token: attendee })).body.status).toBe("cancelled")
    expect(lookups.registration(actor(userId, "attendee"), id, now())?.status).toBe("cancelled")
  })

  it("answers a first page only when the list and every item in it are cached", async () => {
    const { attendee, id, userId } = await setUp("peek-page")
    const me = actor(userId, "attendee")
    expect(lookups.firstPageOfOwn(me, firstPageLimit, now())).toBeUndefined()
    expect((await server.request("GET", "/v1/me/registrations", { token: attendee })).status).toBe(200)
    const page = lookups.firstPageOfOwn(me, firstPageLimit, now())
    expect(page?.items.map((item) => item.id)).toEqual([id])
    expect(page?.nextCursor).toBeNull()
    // Another page size is another entry; another user's list is theirs.
    expect(lookups.firstPageOfOwn(me, 1, now())).toBeUndefined()
    expect(lookups.firstPageOfOwn(actor(randomUUID(), "attendee"), firstPageLimit, now())).toBeUndefined()
    // An item changed (cancelled): the page goes back to the store until it is read again.
    expect((await server.request("POST", `/v1/registrations/${id}/cancel`, { token: attendee })).status).toBe(200)
    expect(lookups.firstPageOfOwn(me, firstPageLimit, now())).toBeUndefined()
    const listed = await server.request("GET", "/v1/me/registrations", { token: attendee })
    expect(listed.body.items.map((item: { status: string }) => item.status)).toEqual(["cancelled"])
    expect(lookups.firstPageOfOwn(me, firstPageLimit, now())?.items.map((item) => item.status)).toEqual(["cancelled"])
  })

  it("looks nowhere while spans are exported, or without a cache", async () => {
    const exported = Context.add(server.context, Telemetry.Telemetry, {
      ...Context.get(server.context as Context.Context<Telemetry.Telemetry>, Telemetry.Telemetry),
      tracesExported: true
    })
    expect(await Effect.runPromise(Effect.provideContext(CachedRegistrations.visible, exported))).toBeUndefined()
    const uncached = Context.omit(TwoLevelCache.TwoLevelCache)(server.context as Context.Context<TwoLevelCache.TwoLevelCache>)
    expect(await Effect.runPromise(Effect.provideContext(CachedRegistrations.visible, uncached as Context.Context<never>))).toBeUndefined()
  })
})
