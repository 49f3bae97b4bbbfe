/**
 * Lean handlers of the reads clients poll most: an event (public, conditional with `If-None-Match`),
 * one registration, and the caller's own registrations. Each does what the HttpApi handler of the
 * same endpoint does (`Events/Http.ts`, `Registrations/Http.ts`, `Me/Http.ts`), in straight-line code.
 *
 * @since 0.1.0
 */
import { Effect, Result } from "effect"
import { HttpServerResponse } from "effect/http"
import { Event as EventModule, Events, type Ids, type Page, Registrations } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { ProvisionedUsers } from "../Auth/Provisioning.ts"
import { TokenVerifier } from "../Auth/TokenVerifier.ts"
import * as CachedEvents from "../Events/CachedEvents.ts"
import * as ETag from "../Events/ETag.ts"
import { eventResponse } from "../Events/Http.ts"
import * as Pagination from "@live-events/api/Pagination"
import * as Problem from "../Problem.ts"
import * as CachedRegistrations from "../Registrations/CachedRegistrations.ts"
import * as RegistrationsApi from "@live-events/api/RegistrationsApi"
import * as Endpoint from "./Endpoint.ts"
import * as RouteOverrides from "./RouteOverrides.ts"

/**
 * The routes this module serves (a test checks that the API declares each).
 *
 * @since 0.1.0
 */
export const routes = {
  event: RouteOverrides.key("GET", "/v1/events/:id"),
  registration: RouteOverrides.key("GET", "/v1/registrations/:id"),
  mine: RouteOverrides.key("GET", "/v1/me/registrations")
} as const

const endpoints = {
  event: Api.groups.events.endpoints.get,
  registration: Api.groups.registrations.endpoints.get,
  mine: Api.groups.me.endpoints.registrations
}

const eventParams = Endpoint.paramsDecoder<{ readonly id: Ids.EventId }>(endpoints.event)
const registrationParams = Endpoint.paramsDecoder<{ readonly id: Ids.RegistrationId }>(endpoints.registration)
const pageQuery = Endpoint.queryDecoder<{ readonly limit?: number; readonly cursor?: string }>(endpoints.mine)
const firstPage: Page.PageRequest = Pagination.request({})

/**
 * The overrides of this module, keyed by route.
 *
 * @since 0.1.0
 */
export const overrides = Effect.gen(function*() {
  const events = yield* Events.Events
  const registrations = yield* Registrations.Registrations
  const auth: Endpoint.Authenticator = { verifier: yield* TokenVerifier, provisioned: yield* ProvisionedUsers }

  // A fresh cached event the caller may see is answered without the use-case, the response prebuilt
  // for the cached object.
  const cachedEvent = yield* CachedEvents.visible
  // Likewise a caller's fresh cached registration, and their first page when every item is cached.
  const cachedRegistrations = yield* CachedRegistrations.visible

  const answerEvent = (request: Endpoint.Incoming["request"], found: EventModule.Event) => {
    const ifNoneMatch = request.headers["if-none-match"]
    return ifNoneMatch !== undefined && ETag.noneMatch(ifNoneMatch, found)
      ? HttpServerResponse.empty({ status: 304, headers: { etag: ETag.of(found) } })
      : eventResponse(found)
  }

  const event: RouteOverrides.Handler = Endpoint.incoming(({ clock, params, request }) =>
    Endpoint.optionallyAuthenticated(auth, request, (actor) => {
      // The cache is keyed by decoded ids: a raw id found there needs no decoding.
      const cached = cachedEvent?.(actor, params.id ?? "", clock.currentTimeMillisUnsafe())
      if (cached !== undefined) return Effect.succeed(answerEvent(request, cached))
      const decoded = eventParams(params)
      if (Result.isFailure(decoded)) return decoded.failure
      return Problem.catchDomain(Effect.map(events.get(actor, decoded.success.id), (found) => answerEvent(request, found)))
    })
  )

  const registration: RouteOverrides.Handler = Endpoint.incoming(({ clock, params, request }) =>
    Endpoint.authenticated(auth, request, (actor) => {
      const cached = cachedRegistrations?.registration(actor, params.id ?? "", clock.currentTimeMillisUnsafe())
      if (cached !== undefined) return Effect.succeed(Endpoint.jsonText(RegistrationsApi.render(cached)))
      const decoded = registrationParams(params)
      if (Result.isFailure(decoded)) return decoded.failure
      return Problem.catchDomain(Effect.map(
        registrations.get(actor, decoded.success.id),
        (found) => Endpoint.jsonText(RegistrationsApi.render(found))
      ))
    })
  )

  const mine: RouteOverrides.Handler = Endpoint.incoming(({ clock, query, request }) =>
    Endpoint.authenticated(auth, request, (actor) => {
      let page = firstPage
      if (Object.keys(query).length > 0) {
        const decoded = pageQuery(query)
        if (Result.isFailure(decoded)) return decoded.failure
        page = Pagination.request(decoded.success)
      }
      const cached = page.cursor === undefined
        ? cachedRegistrations?.firstPageOfOwn(actor, page.limit, clock.currentTimeMillisUnsafe())
        : undefined
      if (cached !== undefined) return Effect.succeed(Endpoint.jsonText(RegistrationsApi.renderPage(cached)))
      return Problem.catchDomain(Effect.map(
        registrations.listMine(actor, page),
        (found) => Endpoint.jsonText(RegistrationsApi.renderPage(found))
      ))
    })
  )

  return new Map([
    [routes.event, () => event],
    [routes.registration, () => registration],
    [routes.mine, () => mine]
  ])
})
