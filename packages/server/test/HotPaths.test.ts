/**
 * The lean handlers of the hottest endpoints (`HotPaths/`) answer exactly as HttpApi answers the same
 * endpoints: two servers over ONE store, one with the lean handlers and one without, get the same
 * requests — successes, conditional reads, refused and malformed tokens, bad ids and queries, other
 * people's registrations — and must give the same status, body and the headers a client reads.
 */
import { Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Api } from "@live-events/api/Api"
import * as HotReads from "../src/HotPaths/Reads.ts"
import * as HotRegister from "../src/HotPaths/Register.ts"
import * as Server from "../src/Server.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

const comparedHeaders = ["content-type", "etag", "www-authenticate", "location", "cache-control"]

describe("lean handlers", () => {
  const scope = Effect.runSync(Scope.make())
  let lean: TestServer
  let generic: TestServer
  let ids: { published: string; draft: string; registration: string }
  let tokens: Record<"organizer" | "owner" | "other", string>

  beforeAll(async () => {
    // One store under both servers: the same data, whoever answers.
    const store = await Effect.runPromise(Layer.buildWithScope(Server.storeMemory, scope))
    const shared = Layer.succeedContext(store)
    lean = await start(shared)
    generic = await start(shared, undefined, undefined, { pipeline: { hotPaths: false } })
    tokens = {
      organizer: await lean.token("lean-organizer", "organizer"),
      owner: await lean.token("lean-owner"),
      other: await lean.token("lean-other")
    }
    const published = await lean.request("POST", "/v1/events", { token: tokens.organizer, json: eventInput() })
    await lean.request("POST", `/v1/events/${published.body.id}/publish`, { token: tokens.organizer })
    const draft = await lean.request("POST", "/v1/events", { token: tokens.organizer, json: eventInput() })
    const registration = await lean.request("POST", `/v1/events/${published.body.id}/registrations`, {
      token: tokens.owner,
      json: { notes: "aisle seat" }
    })
    expect(registration.status).toBe(201)
    // A second one, so that a page of one has a next cursor.
    const second = await lean.request("POST", "/v1/events", { token: tokens.organizer, json: eventInput() })
    await lean.request("POST", `/v1/events/${second.body.id}/publish`, { token: tokens.organizer })
    await lean.request("POST", `/v1/events/${second.body.id}/registrations`, { token: tokens.owner, json: {} })
    ids = { published: published.body.id, draft: draft.body.id, registration: registration.body.id }
  })
  afterAll(async () => {
    await Promise.all([lean?.close(), generic?.close()])
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("serves only routes the API declares", () => {
    const declared = new Set(
      Object.values(Api.groups).flatMap((group) =>
        Object.values(group.endpoints).map((endpoint) => `${endpoint.method} ${endpoint.path}`)
      )
    )
    for (const route of [...Object.values(HotReads.routes), HotRegister.route]) expect(declared).toContain(route)
  })

  const same = async (
    method: string,
    path: string,
    options: { readonly token?: string; readonly headers?: Record<string, string> } = {}
  ) => {
    const [a, b] = await Promise.all([lean.request(method, path, options), generic.request(method, path, options)])
    const shape = (answer: typeof a) => {
      const body = answer.body === undefined ? answer.text : { ...answer.body, traceId: typeof answer.body.traceId }
      return { status: answer.status, body, headers: comparedHeaders.map((name) => answer.headers.get(name)) }
    }
    expect(shape(a)).toEqual(shape(b))
    return a
  }

  it("GET /v1/events/{id}: public, draft, conditional, malformed ids and credentials", async () => {
    expect((await same("GET", `/v1/events/${ids.published}`)).status).toBe(200)
    const etag = (await same("GET", `/v1/events/${ids.published}`, { token: tokens.other })).headers.get("etag")!
    expect((await same("GET", `/v1/events/${ids.published}`, { headers: { "if-none-match": etag } })).status).toBe(304)
    expect((await same("GET", `/v1/events/${ids.published}`, { headers: { "if-none-match": `"other"` } })).status).toBe(200)
    expect((await same("GET", `/v1/events/${ids.draft}`)).status).toBe(404)
    expect((await same("GET", `/v1/events/${ids.draft}`, { token: tokens.organizer })).status).toBe(200)
    expect((await same("GET", "/v1/events/not-a-uuid")).status).toBe(400)
    expect((await same("GET", `/v1/events/${ids.published}`, { headers: { authorization: "Basic dTpw" } })).status).toBe(401)
    expect((await same("GET", `/v1/events/${ids.published}`, { headers: { authorization: "Bearer nonsense" } })).status).toBe(401)
    expect((await same("GET", `/v1/events/${ids.published}`, { headers: { authorization: "bearer   " } })).status).toBe(401)
  })

  it("GET /v1/registrations/{id}: the owner, someone else, nobody, a bad id", async () => {
    expect((await same("GET", `/v1/registrations/${ids.registration}`, { token: tokens.owner })).body.notes).toBe("aisle seat")
    expect((await same("GET", `/v1/registrations/${ids.registration}`, { token: tokens.other })).status).toBeGreaterThanOrEqual(400)
    // Again, now that the registration and its event are cached (the lean reads answer from the cache).
    await same("GET", `/v1/events/${ids.published}`)
    for (let i = 0; i < 2; i++) {
      expect((await same("GET", `/v1/registrations/${ids.registration}`, { token: tokens.owner })).body.notes).toBe("aisle seat")
      expect((await same("GET", `/v1/registrations/${ids.registration}`, { token: tokens.organizer })).status).toBe(200)
      expect((await same("GET", `/v1/registrations/${ids.registration}`, { token: tokens.other })).status).toBeGreaterThanOrEqual(400)
    }
    expect((await same("GET", `/v1/registrations/${ids.registration}`)).status).toBe(401)
    expect((await same("GET", "/v1/registrations/123", { token: tokens.owner })).status).toBe(400)
    // Authentication comes before decoding: an anonymous caller learns nothing about the shape.
    expect((await same("GET", "/v1/registrations/123")).status).toBe(401)
  })

  it("GET /v1/me/registrations: pages, bad queries, nobody", async () => {
    // Twice each: the second answer of the lean server comes from its cache.
    for (let i = 0; i < 2; i++) {
      expect((await same("GET", "/v1/me/registrations", { token: tokens.owner })).body.items).toHaveLength(2)
      expect((await same("GET", "/v1/me/registrations?limit=1", { token: tokens.owner })).body.items).toHaveLength(1)
    }
    const first = await same("GET", "/v1/me/registrations?limit=1", { token: tokens.owner })
    expect(first.body.nextCursor).toEqual(expect.any(String))
    const cursor = encodeURIComponent(first.body.nextCursor)
    expect((await same("GET", `/v1/me/registrations?limit=1&cursor=${cursor}`, { token: tokens.owner })).body.items).toHaveLength(1)
    expect((await same("GET", "/v1/me/registrations", { token: tokens.other })).body.items).toEqual([])
    for (const query of ["limit=0", "limit=abc", "limit=1&limit=2", "cursor=", "cursor=garbage"]) {
      expect((await same("GET", `/v1/me/registrations?${query}`, { token: tokens.owner })).status).toBe(400)
    }
    expect((await same("GET", "/v1/me/registrations")).status).toBe(401)
  })

  it("POST /v1/events/{id}/registrations: bodies, media types, idempotency keys, refusals", async () => {
    const created = await lean.request("POST", "/v1/events", { token: tokens.organizer, json: eventInput({ capacity: 100 }) })
    await lean.request("POST", `/v1/events/${created.body.id}/publish`, { token: tokens.organizer })
    const path = `/v1/events/${created.body.id}/registrations`
    let people = 0
    // Each server registers its own person (the store is shared); ids and times differ, nothing else.
    const pair = async () => {
      people += 1
      return Promise.all([lean.token(`lean-register-${people}`), lean.token(`generic-register-${people}`)])
    }
    const shape = (answer: Awaited<ReturnType<TestServer["request"]>>) => {
      const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g
      const body = answer.body === undefined ? answer.text : JSON.parse(JSON.stringify(answer.body).replace(uuid, "{id}"))
      if (typeof body === "object") {
        for (const field of ["id", "userId", "createdAt", "updatedAt", "confirmedAt", "traceId"]) {
          if (field in body) body[field] = typeof body[field]
        }
      }
      const location = answer.headers.get("location")
      return {
        status: answer.status,
        body,
        contentType: answer.headers.get("content-type"),
        location: location === null ? null : location.replace(/[0-9a-f-]{36}$/, "{id}")
      }
    }
    const similar = async (
      options: { readonly body?: string; readonly headers?: Record<string, string>; readonly anonymous?: boolean },
      target = path
    ) => {
      const [mine, theirs] = await pair()
      const send = (server: TestServer, token: string) =>
        server.request("POST", target, {
          ...(options.anonymous ? {} : { token }),
          ...(options.body !== undefined ? { body: options.body } : {}),
          headers: { ...options.headers }
        })
      const a = await send(lean, mine)
      const b = await send(generic, theirs)
      expect(shape(a)).toEqual(shape(b))
      return { a, again: () => send(lean, mine), againGeneric: () => send(generic, theirs) }
    }
    const json = { "content-type": "application/json" }
    expect((await similar({ body: "{}", headers: json })).a.status).toBe(201)
    expect((await similar({ body: `{"notes":"front row"}`, headers: json })).a.body.notes).toBe("front row")
    expect((await similar({ body: `{"notes":"x","extra":1}`, headers: { "content-type": "application/json; charset=utf-8" } })).a.status).toBe(201)
    expect((await similar({ body: "null", headers: json })).a.status).toBe(201)
    expect((await similar({ body: "", headers: json })).a.status).toBe(201)
    expect((await similar({})).a.status).toBe(201)
    expect((await similar({ body: "{}", headers: { ...json, "idempotency-key": "key-1" } })).a.status).toBe(201)
    for (const body of ["{", `{"notes":5}`, `{"notes":"${"x".repeat(5000)}"}`, `{"notes":"a\u0000b"}`, "[]", "42"]) {
      expect((await similar({ body, headers: json })).a.status).toBe(400)
    }
    expect((await similar({ body: "notes", headers: { "content-type": "text/plain" } })).a.status).toBeGreaterThanOrEqual(400)
    expect((await similar({ body: "{}", headers: json, anonymous: true })).a.status).toBe(401)
    expect((await similar({ body: "{}", headers: { ...json, authorization: "Bearer nonsense" }, anonymous: true })).a.status).toBe(401)
    expect((await similar({ body: "{}", headers: json }, "/v1/events/not-a-uuid/registrations")).a.status).toBe(400)
    expect((await similar({ body: "{}", headers: json }, `/v1/events/${ids.draft}/registrations`)).a.status).toBe(404)
    const twice = await similar({ body: "{}", headers: json })
    const [again, againGeneric] = [await twice.again(), await twice.againGeneric()]
    expect(again.status).toBe(409)
    expect(shape(again)).toEqual(shape(againGeneric))
  })

  it("POST /v1/events/{id}/registrations: a first request provisions its person in the registration", async () => {
    const created = await lean.request("POST", "/v1/events", { token: tokens.organizer, json: eventInput({ capacity: 100 }) })
    await lean.request("POST", `/v1/events/${created.body.id}/publish`, { token: tokens.organizer })
    const path = `/v1/events/${created.body.id}/registrations`
    const token = await lean.token("lean-first-request")
    const registered = await lean.request("POST", path, { token, json: {} })
    expect(registered.status).toBe(201)
    // The person the registration names is the token's, whichever server is asked.
    expect((await lean.request("GET", "/v1/me", { token })).body.id).toBe(registered.body.userId)
    expect((await generic.request("GET", "/v1/me", { token })).body.id).toBe(registered.body.userId)
    expect((await lean.request("POST", path, { token, json: {} })).status).toBe(409)

    // Stored and erased through the other server: the first request this server sees of the subject is
    // refused as the middleware refuses an erased person, and registers nothing.
    const [erased, erasedToo] = [await lean.token("lean-erased"), await lean.token("generic-erased")]
    for (const t of [erased, erasedToo]) {
      expect((await generic.request("GET", "/v1/me", { token: t })).status).toBe(200)
      expect((await generic.request("DELETE", "/v1/me", { token: t })).status).toBe(204)
    }
    const refused = await lean.request("POST", path, { token: erased, json: {} })
    const refusedGeneric = await generic.request("POST", path, { token: erasedToo, json: {} })
    expect(refused.status).toBe(403)
    expect({ ...refused.body, traceId: typeof refused.body.traceId }).toEqual({ ...refusedGeneric.body, traceId: typeof refusedGeneric.body.traceId })
    const list = await lean.request("GET", `${path}?limit=100`, { token: tokens.organizer })
    expect(list.body.items.map((item: { userId: string }) => item.userId)).toEqual([registered.body.userId])
  })
})
