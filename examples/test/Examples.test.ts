/**
 * The examples are programs that must keep working: each HTTP example (plain Node, Fastify, Express)
 * embeds the engine on PGlite, registers three people for two seats, cancels one, sees the
 * waitlisted one promoted, and the relay publishes every outbox row; bad ids are 400 problems, not
 * 503. The quickstart runs to its end.
 */
import { spawnSync } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Express from "../express.ts"
import * as Fastify from "../fastify.ts"
import * as NodeHttp from "../node-http.ts"

interface Running {
  readonly url: string
  readonly close: () => Promise<void>
}

const day = 86_400_000

describe.each([
  ["plain Node", NodeHttp.start],
  ["Fastify", Fastify.start],
  ["Express", Express.start]
] as const)("the %s example", (_name, start) => {
  let server: Running

  beforeAll(async () => {
    server = await start({ port: 0 })
  }, 120_000)
  afterAll(() => server?.close(), 30_000)

  const call = async (method: string, path: string, user?: string, body?: unknown, role = "attendee") => {
    const response = await fetch(server.url + path, {
      method,
      headers: {
        ...(user === undefined ? {} : { "x-user": user, "x-role": role }),
        ...(body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
    })
    return {
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      body: await response.json() as Record<string, any>
    }
  }

  it("registers three people for two seats, promotes the waitlisted one on a cancellation, publishes every outbox row", async () => {
    const event = await call("POST", "/events", "olivia", {
      title: "Embedding meetup",
      startsAt: new Date(Date.now() + day).toISOString(),
      endsAt: new Date(Date.now() + day + 3_600_000).toISOString(),
      timeZone: "Europe/Berlin",
      location: "Berlin",
      capacity: 2
    }, "organizer")
    expect(event.status).toBe(201)
    expect(event.body.status).toBe("published")

    const registered = []
    for (const person of ["alice", "bob", "carol"]) {
      const answer = await call("POST", `/events/${event.body.id}/registrations`, person, { notes: `${person} is coming` })
      expect(answer.status).toBe(201)
      registered.push(answer.body)
    }
    expect(registered.map((registration) => registration.status)).toEqual(["confirmed", "confirmed", "waitlisted"])

    const cancelled = await call("DELETE", `/registrations/${registered[0]!.id}`, "alice")
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.status).toBe("cancelled")
    const carol = await call("GET", `/registrations/${registered[2]!.id}`, "carol")
    expect(carol.status).toBe(200)
    expect(carol.body.status).toBe("confirmed")

    // The relay publishes what the unit of work wrote to the outbox: nothing left pending.
    const deadline = Date.now() + 20_000
    let outbox = await call("GET", "/outbox")
    while ((outbox.body.pending > 0 || !outbox.body.published.includes("RegistrationPromoted")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      outbox = await call("GET", "/outbox")
    }
    expect(outbox.body).toMatchObject({ pending: 0, deadLettered: 0 })
    expect(outbox.body.published).toEqual(expect.arrayContaining([
      "RegistrationConfirmed",
      "RegistrationWaitlisted",
      "RegistrationCancelled",
      "RegistrationPromoted"
    ]))
  }, 120_000)

  it("answers bad ids and bad input with 400 problems, never 503", async () => {
    for (const [method, path] of [["GET", "/registrations/not-a-uuid"], ["DELETE", "/registrations/42"]] as const) {
      const answer = await call(method, path, "alice")
      expect(answer.status).toBe(400)
      expect(answer.contentType).toContain("application/problem+json")
      expect(answer.body).toMatchObject({ code: "validation-failed", errors: [{ field: "id" }] })
    }
    const badEvent = await call("POST", "/events/not-a-uuid/registrations", "alice", {})
    expect(badEvent.status).toBe(400)
    expect(badEvent.body.code).toBe("validation-failed")

    // A number where the schema wants a string is refused, not stored as "5".
    const unknownEvent = "00000000-0000-4000-8000-000000000000"
    const badNotes = await call("POST", `/events/${unknownEvent}/registrations`, "alice", { notes: 5 })
    expect(badNotes.status).toBe(400)
    expect(badNotes.body.errors).toEqual([expect.objectContaining({ field: "notes" })])

    const notJson = await call("POST", "/events", "olivia", "{not json", "organizer")
    expect(notJson.status).toBe(400)
    expect(notJson.contentType).toContain("application/problem+json")

    const missing = await call("GET", `/registrations/${unknownEvent}`, "alice")
    expect(missing.status).toBe(404)
    expect(missing.body.code).toBe("registration-not-found")
  }, 60_000)
})

describe("the quickstart", () => {
  it("runs to its end: two confirmed, one waitlisted, then promoted", () => {
    const run = spawnSync(process.execPath, ["--conditions=@live-events/source", "examples/quickstart.ts"], {
      encoding: "utf8",
      timeout: 60_000
    })
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/^alice confirmed/m)
    expect(run.stdout).toMatch(/^carol waitlisted 1/m)
    expect(run.stdout).toContain("after alice cancels, carol is confirmed")
  }, 90_000)
})
