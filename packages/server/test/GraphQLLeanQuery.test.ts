/**
 * The lean path of `event(id:)` against graphql-js: for many documents (fields, aliases, `__typename`,
 * fragments, merged fields, literals and variables, several operations), events (published, draft,
 * cancelled, with and without a waitlist limit, missing) and callers (anonymous, owner, someone else,
 * admin), the lean answer is byte for byte graphql-js's, and it is the lean path that answered. The
 * documents it does not cover — fields that depend on the caller, directives, more root fields,
 * other variable types — are left to graphql-js. Over HTTP, an answer is never stale or another
 * document's: a changed event, a draft asked by a stranger after its owner, another selection.
 */
import { Context, Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Events, type Ids, type User } from "@live-events/domain"
import * as Engine from "../src/GraphQL/Engine.ts"
import * as Execution from "../src/GraphQL/Execution.ts"
import * as LeanQuery from "../src/GraphQL/LeanQuery.ts"
import * as Limits from "../src/GraphQL/Limits.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"

const restFields = "id organizerId title description startsAt endsAt timeZone location capacity waitlist { enabled limit } " +
  "registrationClosesAt status confirmedCount waitlistCount availableSeats version createdAt updatedAt"

/** Documents the lean path answers; `$id` is the event's id, `LITERAL` a string literal of it. */
const covered: ReadonlyArray<string> = [
  `query Event($id: ID!) { event(id: $id) { ${restFields} } }`,
  `{ event(id: LITERAL) { id title } }`,
  `query($id: ID!) { e: event(id: $id) { t: title title __typename w: waitlist { enabled limit __typename } seats: availableSeats } }`,
  `query($id: ID!) { event(id: $id) { ...A ... on Event { status } ... { version } ...A } }
   fragment A on Event { id capacity availableSeats waitlist { ...W } }
   fragment W on WaitlistSettings { limit enabled }`,
  `query($id: ID!) { event(id: $id) { waitlist { enabled } id waitlist { limit } } event(id: $id) { title id } }`,
  `query Other { __typename } query Read($id: ID!) { event(id: $id) { startsAt endsAt registrationClosesAt createdAt } }`,
  `query($id: ID!) { ... on Query { event(id: $id) { confirmedCount } } ...Root } fragment Root on Query { event(id: $id) { waitlistCount } }`,
  `query($id: ID!) { __proto__: event(id: $id) { constructor: id toString: title } }`
]

/** Documents graphql-js answers alone. */
const uncovered: ReadonlyArray<string> = [
  `query($id: ID!) { event(id: $id) { id registrations { nodes { id } } } }`,
  `query($id: ID!) { event(id: $id) { id waitingList { nodes { id } } } }`,
  `query($id: ID!) { event(id: $id) { id title @include(if: true) } }`,
  `query($id: ID!, $on: Boolean!) { event(id: $id) { id title @skip(if: $on) } }`,
  `query($id: ID!) { event(id: $id) @include(if: true) { id } }`,
  `query($id: ID!) { __typename event(id: $id) { id } }`,
  `query($id: ID!) { event(id: $id) { id } me { profile { id } } }`,
  `query($id: ID = "00000000-0000-4000-8000-000000000000") { event(id: $id) { id } }`,
  `query($id: ID! = "00000000-0000-4000-8000-000000000000") { event(id: $id) { id } }`,
  `query($id: String!) { events(filter: { q: $id }) { nodes { id } } }`,
  `{ event(id: 12) { id } }`,
  `mutation($id: ID!) { publishEvent(id: $id) { id } }`
]

/** Variables as clients send them, for an event id. */
const variablesFor = (id: string): ReadonlyArray<Record<string, unknown>> => [
  { id },
  { id, unused: [1, 2, 3] },
  { id: "not-a-uuid" },
  { id: 42 },
  { id: null },
  {}
]

describe("the lean path of event(id:) against graphql-js", () => {
  let server: TestServer
  let engine: ReturnType<typeof Engine.make>
  let services: Context.Context<Execution.Services>
  let events: Events.Events["Service"]
  let owner: string
  let callers: Record<string, User.Actor | undefined>
  const ids: Record<string, string> = {}

  const graphql = (token: string | undefined, query: string, variables?: Record<string, unknown>) =>
    server.request("POST", "/graphql", { token, json: { query, ...(variables === undefined ? {} : { variables }) } })

  const actorOf = async (token: string, ...roles: Array<User.Role>): Promise<User.Actor> => {
    const me = await server.request("GET", "/v1/me", { token })
    expect(me.status).toBe(200)
    return { userId: me.body.id as Ids.UserId, roles }
  }

  beforeAll(async () => {
    server = await start()
    engine = Engine.make({ limits: Limits.defaults, introspection: true })
    services = server.context as Context.Context<Execution.Services>
    events = Context.get(services, Events.Events)
    owner = await server.token("lean-owner", "organizer")
    callers = {
      anonymous: undefined,
      owner: await actorOf(owner, "organizer"),
      stranger: await actorOf(await server.token("lean-stranger"), "attendee"),
      admin: await actorOf(await server.token("lean-admin", "admin"), "admin")
    }
    const create = async (input: Record<string, unknown>, then?: string) => {
      const created = await server.request("POST", "/v1/events", { token: owner, json: eventInput(input) })
      expect(created.status).toBe(201)
      if (then !== undefined) expect((await server.request("POST", `/v1/events/${created.body.id}/${then}`, { token: owner })).status).toBe(200)
      return created.body.id as string
    }
    ids.published = await create({ title: "Lean \"quoted\" — ünïcode", waitlist: { enabled: true, limit: 5 } }, "publish")
    ids.unlimited = await create({ waitlist: { enabled: false } }, "publish")
    ids.draft = await create({ title: "Draft" })
    ids.cancelled = await create({ title: "Cancelled" }, "publish")
    expect((await server.request("POST", `/v1/events/${ids.cancelled}/cancel`, { token: owner })).status).toBe(200)
    ids.missing = "0193a0a0-0000-7000-8000-000000000000"
    const registered = await server.request("POST", `/v1/events/${ids.published}/registrations`, {
      token: await server.token("lean-attendee"),
      json: {}
    })
    expect(registered.status).toBe(201)
  })
  afterAll(() => server.close())

  const prepare = (text: string, operationName?: string) => {
    const prepared = engine.prepare({ query: text, operationName })
    if (prepared._tag !== "Prepared") throw new Error(`not prepared: ${JSON.stringify(prepared.errors)}`)
    return prepared
  }

  const viaGraphqlJs = async (prepared: Engine.Prepared, variables: Record<string, unknown>, actor: User.Actor | undefined) =>
    JSON.stringify(Engine.format(await engine.execute(prepared, variables, Execution.make(services, actor))))

  const viaLean = async (plan: LeanQuery.Plan, variables: Record<string, unknown>, actor: User.Actor | undefined) => {
    const answer = await Effect.runPromise(LeanQuery.run(plan, variables, actor, events))
    if (answer === undefined) return undefined
    return answer._tag === "Body" ? answer.rendered.body : JSON.stringify(Engine.format(answer.result))
  }

  // First: the in-process comparisons below take seconds, longer than an idle keep-alive connection
  // of the test client lives.
  it("never answers over HTTP with a stale event, another caller's draft or another document's selection", async () => {
    const created = await server.request("POST", "/v1/events", { token: owner, json: eventInput({ title: "Polled" }) })
    const id = created.body.id as string
    expect((await server.request("POST", `/v1/events/${id}/publish`, { token: owner })).status).toBe(200)
    const query = `query($id: ID!) { event(id: $id) { title confirmedCount version } }`
    const first = await graphql(undefined, query, { id })
    expect(first.status).toBe(200)
    expect(first.headers.get("content-type")).toContain("application/graphql-response+json")
    const before = first.body.data.event
    // A change of the event, then a change of its counts: each read shows it at once.
    expect((await server.request("PATCH", `/v1/events/${id}`, { token: owner, json: { title: "Renamed" } })).status).toBe(200)
    const renamed = (await graphql(undefined, query, { id })).body.data.event
    expect(renamed).toEqual({ title: "Renamed", confirmedCount: before.confirmedCount, version: before.version + 1 })
    await server.request("POST", `/v1/events/${id}/registrations`, { token: await server.token("lean-late"), json: {} })
    const rest = (await server.request("GET", `/v1/events/${id}`)).body
    expect((await graphql(undefined, query, { id })).body.data.event).toEqual({
      title: "Renamed",
      confirmedCount: rest.confirmedCount,
      version: rest.version
    })
    expect(rest.confirmedCount).toBe(before.confirmedCount + 1)

    // Another selection and another event: their own answers.
    expect((await graphql(undefined, `query($id: ID!) { event(id: $id) { location } }`, { id })).body).toEqual({
      data: { event: { location: "Berlin" } }
    })
    expect((await graphql(undefined, query, { id: ids.unlimited })).body.data.event.title).toBe("Effect meetup")

    // The owner's read of a draft renders it; a stranger asking next still gets event-not-found.
    const draft = `query($id: ID!) { event(id: $id) { title } }`
    expect((await graphql(owner, draft, { id: ids.draft })).body).toEqual({ data: { event: { title: "Draft" } } })
    for (const token of [undefined, await server.token("lean-stranger")]) {
      const refused = await graphql(token, draft, { id: ids.draft })
      expect(refused.status).toBe(200)
      expect(refused.body.data).toEqual({ event: null })
      expect(refused.body.errors[0]).toMatchObject({
        path: ["event"],
        locations: [{ line: 1, column: 19 }],
        extensions: { code: "event-not-found", status: 404 }
      })
    }
    expect((await graphql(await server.token("lean-admin", "admin"), draft, { id: ids.draft })).body.data.event.title).toBe("Draft")

    // A client that accepts only application/json gets it, as from graphql-js.
    const legacy = await server.request("POST", "/graphql", {
      headers: { accept: "application/json" },
      json: { query: draft, variables: { id: ids.unlimited } }
    })
    expect(legacy.headers.get("content-type")).toContain("application/json")
    expect(legacy.body.data.event.title).toBe("Effect meetup")
    // The same answer to the next client has its own content type, and a response served again is
    // not one that collected the headers of the requests before it.
    const modern = await graphql(undefined, draft, { id: ids.unlimited })
    expect(modern.headers.get("content-type")).toContain("application/graphql-response+json")
    expect(modern.text).toBe(legacy.text)
    const again = await server.request("POST", "/graphql", {
      headers: { accept: "application/json" },
      json: { query: draft, variables: { id: ids.unlimited } }
    })
    expect(again.headers.get("content-type")).toContain("application/json")
    expect(again.headers.get("content-type")).not.toContain("graphql-response")
    const names = (headers: Headers) => [...headers.keys()].filter((name) => name !== "date").sort()
    expect(names(again.headers)).toEqual(names(legacy.headers))
    expect(again.headers.get("x-content-type-options")).toBe("nosniff")
  })

  it("answers every covered document exactly as graphql-js does, for every event, caller and variables", async () => {
    let compared = 0
    for (const template of covered) {
      for (const [eventName, id] of Object.entries(ids)) {
        const text = template.replaceAll("LITERAL", JSON.stringify(id))
        const operationName = text.includes("query Read") ? "Read" : undefined
        const prepared = prepare(text, operationName)
        expect(prepared.lean, text).toBeDefined()
        const variableSets = text.includes("$id") ? variablesFor(id) : [{}]
        for (const variables of variableSets) {
          for (const [callerName, actor] of Object.entries(callers)) {
            const expected = await viaGraphqlJs(prepared, variables, actor)
            const lean = await viaLean(prepared.lean!, variables, actor)
            const label = `${text} ${eventName} ${callerName} ${JSON.stringify(variables)}`
            if (typeof variables.id === "string" || !text.includes("$id")) {
              // A string id: the lean path answers, with graphql-js's bytes, also when rendered before.
              expect(lean, label).toBe(expected)
              expect(await viaLean(prepared.lean!, variables, actor), label).toBe(expected)
              compared++
            } else {
              // Anything else is graphql-js's to coerce or refuse.
              expect(lean, label).toBeUndefined()
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(300)
  })

  it("covers the results that carry data, nulls and errors alike", async () => {
    const prepared = prepare(`query($id: ID!) { event(id: $id) { id title waitlist { limit } } }`)
    const answers = await Promise.all([
      viaLean(prepared.lean!, { id: ids.unlimited! }, undefined),
      viaLean(prepared.lean!, { id: ids.draft! }, undefined),
      viaLean(prepared.lean!, { id: ids.draft! }, callers.owner),
      viaLean(prepared.lean!, { id: "nope" }, undefined)
    ]).then((texts) => texts.map((text) => JSON.parse(text!)))
    expect(answers[0].data.event).toMatchObject({ id: ids.unlimited, waitlist: { limit: null } })
    expect(answers[1]).toMatchObject({ data: { event: null }, errors: [{ path: ["event"], extensions: { code: "event-not-found", status: 404 } }] })
    expect(answers[2].data.event.title).toBe("Draft")
    expect(answers[3].errors[0].extensions).toMatchObject({ code: "validation-failed", status: 400 })
  })

  it("keeps a bounded number of prepared documents, and the ones in steady use stay prepared", () => {
    const fresh = Engine.make({ limits: Limits.defaults, introspection: false })
    const prepareIn = (text: string) => {
      const prepared = fresh.prepare({ query: text })
      if (prepared._tag !== "Prepared") throw new Error(`not prepared: ${text}`)
      return prepared
    }
    const polled = `query Event($id: ID!) { event(id: $id) { ${restFields} } }`
    const first = prepareIn(polled)
    const oneOff = (i: number) => `{ event(id: "00000000-0000-4000-8000-${String(i).padStart(12, "0")}") { id } }`
    const earliest = prepareIn(oneOff(0))
    // Clients that write the id into the text: every request a new document.
    for (let i = 1; i <= Engine.documentCapacity * 2.5; i++) {
      prepareIn(oneOff(i))
      if (i % 100 === 0) expect(prepareIn(polled)).toBe(first)
      expect(fresh.preparedCount()).toBeLessThanOrEqual(Engine.documentCapacity)
    }
    expect(fresh.preparedCount()).toBe(Engine.documentCapacity)
    // The polled document was never prepared again (its plan, under which answers are kept, is the
    // same object); a one-off document from long ago was dropped and is prepared anew.
    expect(prepareIn(polled)).toBe(first)
    expect(prepareIn(polled).lean).toBe(first.lean)
    const again = prepareIn(oneOff(0))
    expect(again).not.toBe(earliest)
    expect(again.lean).toBeDefined()
  })

  it("keeps a bounded number of rendered answers per event, each the answer of its own document", async () => {
    const event = await Effect.runPromise(events.get(undefined, ids.published as Ids.EventId))
    // Every read hands out this one object, as a cache holding the event does.
    const fixed: Events.Events["Service"] = { ...events, get: () => Effect.succeed(event) }
    let largest = 0
    for (let i = 0; i < LeanQuery.plansPerEvent * 3; i++) {
      const prepared = prepare(`query($id: ID!) { e${i}: event(id: $id) { id t${i}: title } }`)
      for (let repeat = 0; repeat < 2; repeat++) {
        const answer = await Effect.runPromise(LeanQuery.run(prepared.lean!, { id: event.id }, undefined, fixed))
        if (answer?._tag !== "Body") throw new Error("expected a rendered answer")
        expect(JSON.parse(answer.rendered.body)).toEqual({ data: { [`e${i}`]: { id: event.id, [`t${i}`]: event.title } } })
      }
      largest = Math.max(largest, LeanQuery.renderedCount(event))
    }
    expect(largest).toBe(LeanQuery.plansPerEvent)
    expect(LeanQuery.renderedCount(event)).toBeLessThanOrEqual(LeanQuery.plansPerEvent)
  })

  it("leaves every other document to graphql-js", () => {
    for (const text of uncovered) {
      const prepared = prepare(text)
      expect(prepared.lean, text).toBeUndefined()
    }
  })
})
