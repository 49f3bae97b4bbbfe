/**
 * The error mapping embedders use: stable code → HTTP status and problem body, input decoded with the
 * domain's schemas, nothing internal in the answer.
 */
import { DomainError, Ids, Registration } from "@live-events/domain"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { Problem } from "../src/index.ts"

const failureOf = <A, E>(effect: Effect.Effect<A, E>): E => {
  const exit = Effect.runSyncExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons[0]
  if (reason?._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error
}

describe("Problem", () => {
  it("decodes with the library's schemas: a bad id or a number for notes is a 400 naming the field", () => {
    const badId = Problem.fromUnknown(failureOf(Problem.decode(Ids.EventId, "not-a-uuid", "id")))
    expect(badId).toMatchObject({ status: 400, code: "validation-failed", errors: [{ field: "id" }] })
    const badNotes = Problem.fromUnknown(failureOf(Problem.decode(Registration.RegisterInput, { notes: 5 })))
    expect(badNotes).toMatchObject({ status: 400, code: "validation-failed", errors: [{ field: "notes" }] })
    expect(Effect.runSync(Problem.decode(Registration.RegisterInput, { notes: "hi" }))).toEqual({ notes: "hi" })
  })

  it("maps domain errors by their stable code, storage outages to 503 with retry-after, the rest to an opaque 500", () => {
    const eventId = "00000000-0000-4000-8000-000000000000" as Ids.EventId
    expect(Problem.fromUnknown(new DomainError.EventNotFound({ eventId }))).toMatchObject({
      status: 404,
      code: "event-not-found"
    })
    const outage = Problem.fromUnknown(
      new DomainError.RepositoryError({ reason: "unavailable", operation: "EventRepository.findById", cause: "host db-7" })
    )
    expect(outage).toMatchObject({ status: 503, code: "service-unavailable", headers: { "retry-after": "1" } })
    expect(JSON.stringify(outage)).not.toContain("db-7")
    expect(Problem.fromUnknown(new DomainError.RepositoryError({ reason: "invalid", operation: "insert" })).status).toBe(400)
    expect(Problem.fromUnknown(new Error("secret internals"))).toEqual({
      status: 500,
      code: "internal-error",
      detail: "An unexpected error occurred"
    })
  })

  it("renders an RFC 9457 body", () => {
    const body = Problem.toBody(Problem.make(409, "already-registered", "Already registered", {
      extensions: { registrationId: "r-1" }
    }), { instance: "/events/e-1/registrations", traceId: "0".repeat(32) })
    expect(body).toEqual({
      registrationId: "r-1",
      type: "urn:live-events:problem:already-registered",
      title: "Conflict",
      status: 409,
      detail: "Already registered",
      code: "already-registered",
      instance: "/events/e-1/registrations",
      traceId: "0".repeat(32)
    })
    expect(Problem.toBody(Problem.make(400, "x", "y")).traceId).toMatch(/^[0-9a-f]{32}$/)
  })
})
