/**
 * The server renders domain errors itself (`Problem.fromDomainError`); the contract declares what a
 * client decodes (`@live-events/api/Problems`). Each rendered body must decode with the declaration of
 * its code, at the declared status, or a typed client would meet it as an undecodable answer.
 */
import { Effect, Schema } from "effect"
import { HttpApi } from "effect/http-api"
import { Api } from "@live-events/api/Api"
import { describe, expect, it } from "vitest"
import * as Problems from "@live-events/api/Problems"
import { DomainError } from "@live-events/domain"
import * as Problem from "../src/Problem.ts"

const eventId = "0190a5c8-0000-7000-8000-000000000001"
const id = "0190a5c8-0000-7000-8000-000000000002"

/** Every declared problem schema by status, as the endpoints of the API (and so a client) hold them. */
const declaredByStatus = new Map<number, Set<Schema.Top>>()
HttpApi.reflect(Api, {
  onGroup: () => {},
  onEndpoint: ({ errors }) => {
    for (const [status, schemas] of errors) {
      const set = declaredByStatus.get(status) ?? new Set()
      for (const schema of schemas) set.add(schema)
      declaredByStatus.set(status, set)
    }
  }
})

const cases: ReadonlyArray<readonly [DomainError.DomainError, string]> = [
  [new DomainError.ValidationFailed({ message: "bad", errors: [{ field: "title", message: "too long" }] }), "ValidationFailed"],
  [new DomainError.InvalidCursor({}), "InvalidCursor"],
  [new DomainError.Forbidden({ message: "no" }), "Forbidden"],
  [new DomainError.UserErased({}), "UserErased"],
  [new DomainError.ErasedUserImmutable({ userId: id }), "ErasedUserImmutable"],
  [new DomainError.EventNotFound({ eventId }), "EventNotFound"],
  [new DomainError.RegistrationNotFound({ registrationId: id }), "RegistrationNotFound"],
  [new DomainError.UserNotFound({ userId: id }), "UserNotFound"],
  [new DomainError.AlreadyRegistered({ registrationId: id, status: "waitlisted" }), "AlreadyRegistered"],
  [new DomainError.RegistrationClosed({ eventId, reason: "closed" }), "RegistrationClosed"],
  [new DomainError.WaitlistFull({ eventId, limit: 3 }), "WaitlistFull"],
  [new DomainError.WaitlistClosed({ eventId }), "WaitlistClosed"],
  [new DomainError.CapacityBelowConfirmed({ capacity: 1, confirmedCount: 2 }), "CapacityBelowConfirmed"],
  [new DomainError.InvalidTransition({ from: "draft", to: "cancelled" }), "InvalidTransition"],
  [new DomainError.EventHasActiveRegistrations({ eventId, activeCount: 2 }), "EventHasActiveRegistrations"],
  [new DomainError.NoSeatAvailable({ eventId }), "NoSeatAvailable"],
  [new DomainError.EventNotStarted({ eventId }), "EventNotStarted"],
  [new DomainError.VersionMismatch({ expected: 1, actual: 2 }), "PreconditionFailed"]
]

describe("declared problems", () => {
  it.each(cases.map(([error, tag]) => ({ error, tag, name: error._tag })))(
    "$name renders a body its declaration decodes, at the declared status",
    async ({ error, tag }) => {
      const problem = Problem.fromDomainError(error)
      const body = JSON.parse(JSON.stringify(await Effect.runPromise(Problem.toBody(problem))))
      // What a client does with an answer of this status: decode it with the problems declared for it.
      const declared = [...declaredByStatus.get(problem.status) ?? []]
      expect(declared.length).toBeGreaterThan(0)
      const decoded = Schema.decodeUnknownSync(Schema.Union(declared) as unknown as Schema.Codec<{ _tag: string; code: string }, unknown>)(body)
      expect(decoded._tag).toBe(tag)
      expect(decoded.code).toBe(error.code)
    }
  )

  it("keeps the extension members of already-registered", async () => {
    const body = await Effect.runPromise(
      Problem.toBody(Problem.fromDomainError(new DomainError.AlreadyRegistered({ registrationId: id, status: "confirmed" })))
    )
    const decoded = Schema.decodeUnknownSync(Problems.alreadyRegistered)(body)
    expect([decoded.registrationId, decoded.registrationStatus]).toEqual([id, "confirmed"])
  })
})
