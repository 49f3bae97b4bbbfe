/**
 * The read cache, server side, in one process: the cache-aside decorators of the read ports
 * (`Cache/CachedStore.ts`). Through HTTP: GET event answered from the cache (store reads counted),
 * read-your-writes after register and PATCH, ETag from the cached entity, readiness reporting the
 * cache. Through the ports: a read racing a write never leaves a stale entry (a forced interleaving,
 * on the memory cache and on Redis), reads inside a unit of work and `lock` bypass the cache, and the
 * domain events alone drive invalidation.
 */
import { TwoLevelCache } from "@live-events/cache"
import {
  DomainEvent,
  type Event,
  EventRepository,
  type Ids,
  Memory,
  OutboxWriter,
  RegistrationRepository,
  UnitOfWork,
  UserRepository
} from "@live-events/domain"
import { Context, Deferred, Effect, Fiber, Layer, Option, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CachedStore, Readiness as ReadinessModule } from "@live-events/engine"
const Readiness = ReadinessModule.Readiness
import * as Server from "../src/Server.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

/** Counts the store's reads under the cache. */
const counters = { eventFindById: 0, eventLock: 0, userFindById: 0, registrationFindById: 0, listByUser: 0 }
const countingStore = Layer.effectContext(Effect.gen(function*() {
  const events = yield* EventRepository.EventRepository
  const users = yield* UserRepository.UserRepository
  const registrations = yield* RegistrationRepository.RegistrationRepository
  return Context.make(EventRepository.EventRepository, {
    ...events,
    findById: (id) => Effect.suspend(() => (counters.eventFindById++, events.findById(id))),
    lock: (id) => Effect.suspend(() => (counters.eventLock++, events.lock(id)))
  }).pipe(
    Context.add(UserRepository.UserRepository, {
      ...users,
      findById: (id) => Effect.suspend(() => (counters.userFindById++, users.findById(id)))
    }),
    Context.add(RegistrationRepository.RegistrationRepository, {
      ...registrations,
      findById: (id) => Effect.suspend(() => (counters.registrationFindById++, registrations.findById(id))),
      listByUser: (id, request) => Effect.suspend(() => (counters.listByUser++, registrations.listByUser(id, request)))
    })
  )
})).pipe(Layer.provideMerge(Server.storeMemory))

describe("cached reads through HTTP (memory store, in-process cache)", () => {
  let server: TestServer
  let organizer: string

  beforeAll(async () => {
    server = await start(countingStore as Layer.Layer<Server.Store>)
    organizer = await server.token("cache-organizer", "organizer")
  })
  afterAll(() => server.close())

  const createPublished = async (overrides: Record<string, unknown> = {}) => {
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput(overrides) })
    expect(created.status).toBe(201)
    const published = await server.request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer })
    expect(published.status).toBe(200)
    return created.body.id as string
  }

  it("serves GET /v1/events/{id} from the cache: one store read for many GETs", async () => {
    const id = await createPublished()
    const before = counters.eventFindById
    const answers = await Promise.all(Array.from({ length: 20 }, () => server.request("GET", `/v1/events/${id}`)))
    for (const answer of answers) {
      expect(answer.status).toBe(200)
      expect(answer.body.id).toBe(id)
    }
    for (let i = 0; i < 20; i++) expect((await server.request("GET", `/v1/events/${id}`)).status).toBe(200)
    expect(counters.eventFindById - before).toBe(1)
  })

  it("reads its own writes: register, then GET shows the new counts at once; PATCH, then the new ETag", async () => {
    const id = await createPublished({ capacity: 1 })
    const first = await server.request("GET", `/v1/events/${id}`)
    expect(first.body.confirmedCount).toBe(0)
    const etag = first.headers.get("etag")
    expect(etag).toBeTruthy()
    // Cached now: the next GET is a hit with the same ETag.
    const reads = counters.eventFindById
    const again = await server.request("GET", `/v1/events/${id}`, { headers: { "if-none-match": etag! } })
    expect(again.status).toBe(304)
    expect(counters.eventFindById).toBe(reads)

    const alice = await server.token("cache-alice")
    const registered = await server.request("POST", `/v1/events/${id}/registrations`, { token: alice, json: {} })
    expect(registered.status).toBe(201)
    const afterRegister = await server.request("GET", `/v1/events/${id}`)
    expect(afterRegister.body.confirmedCount).toBe(1)
    expect(afterRegister.headers.get("etag")).not.toBe(etag)

    const bob = await server.token("cache-bob")
    const waitlisted = await server.request("POST", `/v1/events/${id}/registrations`, { token: bob, json: {} })
    expect(waitlisted.body.status).toBe("waitlisted")
    expect((await server.request("GET", `/v1/events/${id}`)).body.waitlistCount).toBe(1)
    // The waiter polls its position (cached after the first read), then the seat holder cancels.
    const position = `/v1/registrations/${waitlisted.body.id}`
    expect((await server.request("GET", position, { token: bob })).body.waitlistPosition).toBe(1)
    expect((await server.request("GET", position, { token: bob })).body.waitlistPosition).toBe(1)
    const registrationReads = counters.registrationFindById
    expect((await server.request("GET", position, { token: bob })).body.status).toBe("waitlisted")
    expect(counters.registrationFindById).toBe(registrationReads)
    // Someone joins behind: nobody's position moves, so the waiter's stays cached (the counts do not).
    const dave = await server.token("cache-dave")
    const behind = await server.request("POST", `/v1/events/${id}/registrations`, { token: dave, json: {} })
    expect(behind.body.waitlistPosition).toBe(2)
    expect((await server.request("GET", position, { token: bob })).body.waitlistPosition).toBe(1)
    expect(counters.registrationFindById).toBe(registrationReads)
    expect((await server.request("GET", `/v1/events/${id}`)).body.waitlistCount).toBe(2)
    const davePosition = `/v1/registrations/${behind.body.id}`
    expect((await server.request("GET", davePosition, { token: dave })).body.waitlistPosition).toBe(2)
    expect((await server.request("GET", davePosition, { token: dave })).body.waitlistPosition).toBe(2)
    const cancelled = await server.request("POST", `/v1/registrations/${registered.body.id}/cancel`, { token: alice })
    expect(cancelled.status).toBeLessThan(300)
    const promoted = await server.request("GET", position, { token: bob })
    expect(promoted.body.status).toBe("confirmed")
    expect(promoted.body.waitlistPosition).toBeNull()
    // Everyone behind moved up.
    expect((await server.request("GET", davePosition, { token: dave })).body.waitlistPosition).toBe(1)
    const counts = await server.request("GET", `/v1/events/${id}`)
    expect([counts.body.confirmedCount, counts.body.waitlistCount]).toEqual([1, 1])

    const etagBefore = counts.headers.get("etag")!
    const patched = await server.request("PATCH", `/v1/events/${id}`, {
      token: organizer,
      json: { title: "Renamed" },
      headers: { "if-match": etagBefore }
    })
    expect(patched.status).toBe(200)
    const afterPatch = await server.request("GET", `/v1/events/${id}`)
    expect(afterPatch.body.title).toBe("Renamed")
    expect(afterPatch.headers.get("etag")).toBe(patched.headers.get("etag"))
    expect(afterPatch.headers.get("etag")).not.toBe(etagBefore)
  })

  it("serves a user's first page of registrations from the cache, with statuses and positions as they move", async () => {
    const first = await createPublished({ capacity: 1 })
    const second = await createPublished()
    const [holder, ahead, waiter] = await Promise.all(["mine-holder", "mine-ahead", "mine-waiter"].map((s) => server.token(s)))
    const register = async (token: string, id: string) => {
      const answer = await server.request("POST", `/v1/events/${id}/registrations`, { token, json: {} })
      expect(answer.status).toBe(201)
      return answer.body
    }
    const held = await register(holder, first)
    const aheadOf = await register(ahead, first)
    await register(waiter, first)
    const mine = async () => {
      const answer = await server.request("GET", "/v1/me/registrations", { token: waiter })
      expect(answer.status).toBe(200)
      return answer.body.items as ReadonlyArray<{ readonly eventId: string; readonly status: string; readonly waitlistPosition: number | null }>
    }
    const lists = counters.listByUser
    expect((await mine()).map((r) => r.waitlistPosition)).toEqual([2])
    expect((await mine()).map((r) => r.waitlistPosition)).toEqual([2])
    expect(counters.listByUser - lists).toBe(1)
    // The one ahead leaves: the waiter moves up without the list being read again.
    expect((await server.request("POST", `/v1/registrations/${aheadOf.id}/cancel`, { token: ahead })).status).toBe(200)
    expect((await mine()).map((r) => r.waitlistPosition)).toEqual([1])
    expect(counters.listByUser - lists).toBe(1)
    // A new registration of the user is a new member of the list.
    await register(waiter, second)
    expect((await mine()).map((r) => [r.eventId, r.status])).toEqual([[first, "waitlisted"], [second, "confirmed"]])
    expect(counters.listByUser - lists).toBe(2)
    // The seat holder leaves: the waiter is promoted.
    expect((await server.request("POST", `/v1/registrations/${held.id}/cancel`, { token: holder })).status).toBe(200)
    expect((await mine()).map((r) => [r.status, r.waitlistPosition])).toEqual([["confirmed", null], ["confirmed", null]])
    // Another page size, or a later page, is read from the store.
    const limited = await server.request("GET", "/v1/me/registrations?limit=1", { token: waiter })
    expect(limited.body.items).toHaveLength(1)
    const next = await server.request("GET", `/v1/me/registrations?limit=1&cursor=${encodeURIComponent(limited.body.nextCursor)}`, {
      token: waiter
    })
    expect(next.body.items.map((r: { eventId: string }) => r.eventId)).toEqual([second])
    expect(counters.listByUser - lists).toBe(4)
  })

  it("unpublish hides a cached event from anonymous readers at once (policy runs on the cached entity)", async () => {
    const id = await createPublished()
    expect((await server.request("GET", `/v1/events/${id}`)).status).toBe(200)
    expect((await server.request("POST", `/v1/events/${id}/unpublish`, { token: organizer })).status).toBe(200)
    expect((await server.request("GET", `/v1/events/${id}`)).status).toBe(404)
    expect((await server.request("GET", `/v1/events/${id}`, { token: organizer })).status).toBe(200)
  })

  it("caches user profiles and drops them on a profile update", async () => {
    const carol = await server.token("cache-carol")
    expect((await server.request("GET", "/v1/me", { token: carol })).status).toBe(200)
    const reads = counters.userFindById
    expect((await server.request("GET", "/v1/me", { token: carol })).status).toBe(200)
    expect(counters.userFindById).toBe(reads)
    const updated = await server.request("PATCH", "/v1/me", { token: carol, json: { name: "Carol C." } })
    expect(updated.status).toBe(200)
    expect((await server.request("GET", "/v1/me", { token: carol })).body.name).toBe("Carol C.")
  })

  it("reports the cache in /health/ready", async () => {
    const ready = await server.request("GET", "/health/ready")
    expect(ready.status).toBe(200)
    expect(ready.body.checks.cache).toBe("ok")
  })
})

// ---------------------------------------------------------------------------------------------------------
// Through the ports: the interleavings that HTTP cannot force.

const eventId = () => randomUUID() as Ids.EventId
const sampleEvent = (id: Ids.EventId): Event.Event => {
  const at = new Date("2099-01-01T10:00:00Z")
  return {
    id,
    organizerId: randomUUID() as Ids.UserId,
    title: "v1",
    description: "",
    startsAt: at,
    endsAt: new Date(at.getTime() + 3_600_000),
    timeZone: "Europe/Berlin",
    location: "Berlin",
    capacity: 10,
    waitlist: { enabled: true, limit: null },
    registrationClosesAt: at,
    status: "published",
    confirmedCount: 0,
    waitlistCount: 0,
    version: 1,
    createdAt: at,
    updatedAt: at
  }
}
const updatedEvent = (id: Ids.EventId): DomainEvent.DomainEvent => ({
  ...DomainEvent.make("EventUpdated", id, { eventId: id, changedFields: ["title"] }),
  id: randomUUID() as Ids.MessageId,
  occurredAt: new Date(),
  version: DomainEvent.SCHEMA_VERSION
} as DomainEvent.DomainEvent)

/** A store whose event reads can be held after they read, to force "read old value, then write commits". */
const gatedStore = (gate: { hold: Deferred.Deferred<void> | undefined; read: Deferred.Deferred<void> | undefined }) =>
  Layer.effectContext(Effect.gen(function*() {
    const events = yield* EventRepository.EventRepository
    return Context.make(EventRepository.EventRepository, {
      ...events,
      findById: (id) =>
        Effect.tap(events.findById(id), () => {
          const { hold, read } = gate
          if (hold === undefined || read === undefined) return Effect.void
          gate.hold = undefined
          gate.read = undefined
          return Effect.andThen(Deferred.succeed(read, undefined), Deferred.await(hold))
        })
    })
  })).pipe(Layer.provideMerge(Layer.merge(Memory.layer, Readiness.layerMemory)))

const run = `${process.pid}-${Date.now().toString(36)}`
const caches: ReadonlyArray<readonly [string, () => Layer.Layer<TwoLevelCache.TwoLevelCache>]> = [
  ["memory", () => TwoLevelCache.layerMemory()],
  ["redis", () => TwoLevelCache.layerRedis({ url: "redis://127.0.0.1:6379", prefix: `lec-test:server-${run}` })]
]

describe.each(caches)("CachedStore over the ports (%s cache)", (_name, cacheLayer) => {
  const scope = Effect.runSync(Scope.make())
  const gate: { hold: Deferred.Deferred<void> | undefined; read: Deferred.Deferred<void> | undefined } = {
    hold: undefined,
    read: undefined
  }
  let decorated: Context.Context<any>
  let inner: Context.Context<any>

  beforeAll(async () => {
    inner = await Effect.runPromise(Layer.buildWithScope(gatedStore(gate), scope))
    decorated = await Effect.runPromise(Layer.buildWithScope(
      CachedStore.layer.pipe(Layer.provideMerge(cacheLayer()), Layer.provide(Layer.succeedContext(inner))),
      scope
    ))
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any)))

  const events = () => Context.get(decorated, EventRepository.EventRepository)
  const innerEvents = () => Context.get(inner, EventRepository.EventRepository)
  const unitOfWork = () => Context.get(decorated, UnitOfWork.UnitOfWork)
  const outbox = () => Context.get(decorated, OutboxWriter.OutboxWriter)
  const title = (found: Option.Option<Event.Event>) => Option.getOrThrow(found).title

  it("a read that fetched before a write commits never leaves the old value cached", async () => {
    const id = eventId()
    await Effect.runPromise(events().insert(sampleEvent(id)))
    const result = await Effect.runPromise(Effect.gen(function*() {
      const hold = yield* Deferred.make<void>()
      const read = yield* Deferred.make<void>()
      gate.hold = hold
      gate.read = read
      // The reader misses, reads "v1" from the store and stalls before storing it.
      const reader = yield* Effect.forkChild(events().findById(id))
      yield* Deferred.await(read)
      // The writer commits "v2" through a unit of work; the domain event invalidates after commit.
      yield* unitOfWork().transact(Effect.gen(function*() {
        const current = Option.getOrThrow(yield* innerEvents().findById(id))
        yield* innerEvents().update({ ...current, title: "v2" })
        yield* outbox().record([updatedEvent(id)])
      }))
      // The stalled reader now finishes with what it fetched (it asked before the write) …
      yield* Deferred.succeed(hold, undefined)
      const raced = yield* Fiber.join(reader)
      // … and every later read sees the write.
      const after = yield* events().findById(id)
      const again = yield* events().findById(id)
      return { raced: title(raced), after: title(after), again: title(again) }
    }))
    expect(result).toEqual({ raced: "v1", after: "v2", again: "v2" })
  })

  it("the domain event alone invalidates (the write went around the cache), after commit only", async () => {
    const id = eventId()
    await Effect.runPromise(events().insert(sampleEvent(id)))
    expect(title(await Effect.runPromise(events().findById(id)))).toBe("v1")
    const seenInside = await Effect.runPromise(unitOfWork().transact(Effect.gen(function*() {
      const current = Option.getOrThrow(yield* innerEvents().findById(id))
      yield* innerEvents().update({ ...current, title: "v3" })
      yield* outbox().record([updatedEvent(id)])
      // Inside the unit of work reads bypass the cache: the transaction sees its own write.
      return title(yield* events().findById(id))
    })))
    expect(seenInside).toBe("v3")
    expect(title(await Effect.runPromise(events().findById(id)))).toBe("v3")
  })

  it("never caches lock: it reads the store, while findById is answered from the cache", async () => {
    const id = eventId()
    await Effect.runPromise(events().insert(sampleEvent(id)))
    expect(title(await Effect.runPromise(events().findById(id)))).toBe("v1")
    // A change nobody announced (only possible around the ports): the cache still answers v1 …
    const current = Option.getOrThrow(await Effect.runPromise(innerEvents().findById(id)))
    await Effect.runPromise(innerEvents().update({ ...current, title: "unannounced" }))
    expect(title(await Effect.runPromise(events().findById(id)))).toBe("v1")
    // … but the lock reads under the lock, from the store.
    const locked = await Effect.runPromise(unitOfWork().transact(events().lock(id)))
    expect(title(locked)).toBe("unannounced")
  })

  it("a failed unit of work invalidates too (a lost COMMIT answer may hide a commit)", async () => {
    const id = eventId()
    await Effect.runPromise(events().insert(sampleEvent(id)))
    expect(title(await Effect.runPromise(events().findById(id)))).toBe("v1")
    const current = Option.getOrThrow(await Effect.runPromise(innerEvents().findById(id)))
    await Effect.runPromise(innerEvents().update({ ...current, title: "committed?" }))
    const failed = await Effect.runPromise(Effect.exit(unitOfWork().transact(Effect.gen(function*() {
      yield* outbox().record([updatedEvent(id)])
      return yield* Effect.fail("lost answer" as const)
    }))))
    expect(failed._tag).toBe("Failure")
    expect(title(await Effect.runPromise(events().findById(id)))).toBe("committed?")
  })
})
