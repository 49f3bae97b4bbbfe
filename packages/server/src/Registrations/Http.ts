/**
 * Handlers of the registrations group.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { type Ids, Page, Registration, Registrations, type User } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { CurrentActor } from "../Auth/Middleware.ts"
// Imported so the emitted declaration of this layer can name the idempotency port it requires.
import type { IdempotencyKeys as _IdempotencyKeys } from "@live-events/sql"
import * as Idempotency from "../Idempotency.ts"
import * as Pagination from "@live-events/api/Pagination"
import * as Problem from "../Problem.ts"
import * as RegistrationsApi from "@live-events/api/RegistrationsApi"
import { toJson } from "@live-events/api/RegistrationsApi"
import * as Csv from "./Csv.ts"

const encodeRegisterInput = Schema.encodeSync(Schema.toCodecJson(Schema.NullOr(Registration.RegisterInput)))

/** Pages through the whole list for the CSV export; the use-case checks access on every page. */
const exportAll = (
  registrations: Registrations.Registrations["Service"],
  actor: Parameters<Registrations.Registrations["Service"]["listForEvent"]>[0],
  eventId: Ids.EventId,
  status: Registration.RegistrationStatus | undefined
) => Page.collectAll((page) => registrations.listForEvent(actor, eventId, { ...page, status }))

/**
 * The answer to a registration, as stored for idempotent replays: 201 with the registration and its
 * `Location`, or the problem of a refusal.
 *
 * @since 0.1.0
 */
export const registered = (
  registrations: Registrations.Registrations["Service"],
  actor: User.Actor,
  eventId: Ids.EventId,
  input: Registration.RegisterInput
): Effect.Effect<Idempotency.Stored> => answer(registrations.register(actor, eventId, input))

/**
 * The answer to a registration made by `register` (or `registerNewcomer`), as `registered` stores it.
 *
 * @since 0.2.0
 */
export const answer = (
  register: ReturnType<Registrations.Registrations["Service"]["register"]>
): Effect.Effect<Idempotency.Stored> =>
  register.pipe(
    Effect.map((registration) =>
      Idempotency.json(201, RegistrationsApi.wire(registration), {
        location: `/v1/registrations/${registration.id}`
      })
    ),
    Effect.catch((error) => Effect.flatMap(Problem.reported(error), Idempotency.problem))
  )

/** @since 0.1.0 */
export const RegistrationsLive = HttpApiBuilder.group(Api, "registrations", (handlers) =>
  Effect.gen(function*() {
    const registrations = yield* Registrations.Registrations
    return handlers
      .handle("register", ({ params, headers, payload, request }) =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          const path = `/v1/events/${params.id}/registrations`
          const produce = registered(registrations, actor, params.id, payload ?? {})
          return yield* Idempotency.run({
            key: headers["idempotency-key"],
            scope: `${actor.userId} ${request.method} /v1/events/{id}/registrations`,
            hash: () => Idempotency.requestHash(request.method, path, encodeRegisterInput(payload))
          }, produce)
        }))
      .handle("listForEvent", ({ params, query, request }) =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          if (Csv.accepts(request.headers["accept"])) {
            const all = yield* exportAll(registrations, actor, params.id, query.status)
            return HttpServerResponse.text(Csv.render(all), {
              contentType: "text/csv; charset=utf-8",
              headers: { "content-disposition": `attachment; filename="registrations-${params.id}.csv"` }
            })
          }
          const page = yield* registrations.listForEvent(actor, params.id, {
            status: query.status,
            ...Pagination.request(query)
          })
          return Pagination.map(page, toJson)
        }).pipe(Problem.catchDomain))
      .handle("waitlist", ({ params, query }) =>
        Effect.gen(function*() {
          const page = yield* registrations.waitlist(yield* CurrentActor, params.id, Pagination.request(query))
          return Pagination.map(page, toJson)
        }).pipe(Problem.catchDomain))
      .handle("get", ({ params }) =>
        Effect.gen(function*() {
          return toJson(yield* registrations.get(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
      .handle("cancel", ({ params }) =>
        Effect.gen(function*() {
          return toJson(yield* registrations.cancel(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
      .handle("confirm", ({ params }) =>
        Effect.gen(function*() {
          return toJson(yield* registrations.confirm(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
      .handle("attendance", ({ params, payload }) =>
        Effect.gen(function*() {
          return toJson(yield* registrations.markAttendance(yield* CurrentActor, params.id, payload.attended))
        }).pipe(Problem.catchDomain))
  }))
