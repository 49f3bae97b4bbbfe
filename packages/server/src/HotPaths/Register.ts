/**
 * The lean handler of `POST /v1/events/{id}/registrations`, the write clients send most. It serves
 * the common request — a JSON body (or none) that decodes, no `Idempotency-Key` — the way the HttpApi
 * handler does (`Registrations/Http.ts` `registered`: the same use-case, answer and problems), and
 * hands anything else to that handler, which answers it as it always has: an idempotent request, a
 * body of another media type, malformed JSON, a body that does not decode. A person's first request
 * provisions them in the registration's unit of work (`Registrations.registerNewcomer`) rather than in
 * a transaction of its own before it.
 *
 * @since 0.1.0
 */
import { Effect, Exit, Result, Schema, SchemaParser } from "effect"
import { type Ids, Registration, Registrations } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { ProvisionedUsers } from "../Auth/Provisioning.ts"
import { TokenVerifier } from "../Auth/TokenVerifier.ts"
import * as Idempotency from "../Idempotency.ts"
import { answer } from "../Registrations/Http.ts"
import * as Endpoint from "./Endpoint.ts"
import * as RouteOverrides from "./RouteOverrides.ts"

/** @since 0.1.0 */
export const route = RouteOverrides.key("POST", "/v1/events/:id/registrations")

const params = Endpoint.paramsDecoder<{ readonly id: Ids.EventId }>(Api.groups.registrations.endpoints.register)
const decodeInput = SchemaParser.decodeUnknownExit(Schema.toCodecJson(Registration.RegisterInput), { errors: "all" })
const noNotes: Registration.RegisterInput = {}

const isJson = (contentType: string | undefined): boolean => {
  if (contentType === undefined) return false
  const semicolon = contentType.indexOf(";")
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() === "application/json"
}

/**
 * This module's override.
 *
 * @since 0.1.0
 */
export const overrides = Effect.gen(function*() {
  const registrations = yield* Registrations.Registrations
  const auth: Endpoint.Authenticator = { verifier: yield* TokenVerifier, provisioned: yield* ProvisionedUsers }

  const lean = (generic: RouteOverrides.Handler): RouteOverrides.Handler =>
    Endpoint.incoming(({ params: raw, request }) => {
      if (request.headers["idempotency-key"] !== undefined || !isJson(request.headers["content-type"])) return generic
      // A first request of a person provisions them in the registration's unit of work (one commit).
      return Endpoint.authenticatedOrNewcomer(auth, request, (actor, candidate) => {
        const decoded = params(raw)
        if (Result.isFailure(decoded)) return decoded.failure
        return Effect.matchEffect(request.json, {
          onFailure: () => generic,
          onSuccess: (body) => {
            let input = noNotes
            if (body !== null) {
              const exit = decodeInput(body)
              if (Exit.isFailure(exit)) return generic
              input = exit.value
            }
            const eventId = decoded.success.id
            const registering = candidate === undefined
              ? registrations.register(actor, eventId, input)
              : Effect.tap(registrations.registerNewcomer(candidate, actor.roles, eventId, input), (registration) =>
                Effect.sync(() => auth.provisioned.remember(candidate.subject, registration.userId)))
            return Effect.map(answer(registering), Idempotency.toResponse)
          }
        })
      })
    })

  return new Map([[route, lean]])
})
