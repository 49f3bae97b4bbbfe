/**
 * Bearer authentication as HttpApi security middleware.
 *
 * {@link Authentication} requires a valid token and provides the {@link CurrentActor};
 * {@link OptionalAuthentication} (public routes) lets anonymous requests through with no actor but
 * still rejects a token that is present and invalid. The actor is the user provisioned from the
 * token's claims (`Users.provision`) with the roles of the token.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { Span, Text, type User, Users } from "@live-events/domain"
import * as Problem from "../Problem.ts"
import * as HttpTelemetry from "../Telemetry/HttpTelemetry.ts"
import { TokenVerifier } from "./TokenVerifier.ts"

/** The authenticated actor of the request. @since 0.1.0 */
export class CurrentActor extends Context.Service<CurrentActor, User.Actor>()("@live-events/server/CurrentActor") {}

/** The actor of the request, if it carried a token. @since 0.1.0 */
export class MaybeActor extends Context.Service<MaybeActor, Option.Option<User.Actor>>()(
  "@live-events/server/MaybeActor"
) {}

/** @since 0.1.0 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: CurrentActor }>()(
  "@live-events/server/Authentication",
  { security: { bearer: HttpApiSecurity.bearer } }
) {}

/** @since 0.1.0 */
export class OptionalAuthentication
  extends HttpApiMiddleware.Service<OptionalAuthentication, { provides: MaybeActor }>()(
    "@live-events/server/OptionalAuthentication",
    { security: { bearer: HttpApiSecurity.bearer } }
  )
{}

const unauthenticated = (detail: string, invalid: boolean) =>
  Problem.respond(401, "unauthenticated", detail, {
    headers: { "www-authenticate": invalid ? `Bearer error="invalid_token"` : `Bearer realm="live-events"` }
  })

/**
 * Resolves a token to an actor, or to the problem response that refuses it.
 *
 * @since 0.1.0
 */
export const authenticate = Effect.fnUntraced(function*(token: string) {
  const verifier = yield* TokenVerifier
  const users = yield* Users.Users
  const verified = yield* Effect.result(verifier.verify(token))
  if (verified._tag === "Failure") {
    return { _tag: "Refused" as const, response: yield* unauthenticated("The bearer token is invalid or expired", true) }
  }
  const claims = verified.success
  // Claims are stored as the profile: a NUL or a lone surrogate in one makes the token unusable, not
  // the service unavailable.
  if (![claims.subject, claims.email ?? "", claims.name ?? ""].every(Text.isStorable)) {
    return { _tag: "Refused" as const, response: yield* unauthenticated("The bearer token carries malformed claims", true) }
  }
  const user = yield* Effect.result(users.provision({ subject: claims.subject, email: claims.email, name: claims.name }))
  if (user._tag === "Failure") {
    if (user.failure._tag === "RepositoryError") yield* Problem.logRepositoryError(user.failure)
    return { _tag: "Refused" as const, response: yield* Problem.toResponse(Problem.fromDomainError(user.failure)) }
  }
  const actor: User.Actor = { userId: user.success.id, roles: claims.roles }
  return { _tag: "Authenticated" as const, actor }
}, Span.named("Auth.authenticate"))

/** @since 0.1.0 */
export const layer = Layer.mergeAll(
  Layer.effect(
    Authentication,
    Effect.gen(function*() {
      const context = yield* Effect.context<TokenVerifier | Users.Users>()
      return Authentication.of({
        bearer: (httpEffect, { credential }) =>
          Effect.gen(function*() {
            const token = Redacted.value(credential)
            if (token === "") return yield* unauthenticated("A bearer token is required", false)
            const result = yield* authenticate(token).pipe(Effect.provideContext(context))
            if (result._tag === "Refused") return result.response
            yield* HttpTelemetry.reportRoles(result.actor.roles)
            return yield* Effect.provideService(httpEffect, CurrentActor, result.actor)
          })
      })
    })
  ),
  Layer.effect(
    OptionalAuthentication,
    Effect.gen(function*() {
      const context = yield* Effect.context<TokenVerifier | Users.Users>()
      return OptionalAuthentication.of({
        bearer: (httpEffect, { credential }) =>
          Effect.gen(function*() {
            const token = Redacted.value(credential)
            if (token === "") {
              const request = yield* HttpServerRequest.HttpServerRequest
              // A credential of another scheme is not anonymity: refuse it rather than ignore it.
              if (request.headers["authorization"] !== undefined) {
                return yield* unauthenticated("Use the Bearer authorization scheme", true)
              }
              return yield* Effect.provideService(httpEffect, MaybeActor, Option.none())
            }
            const result = yield* authenticate(token).pipe(Effect.provideContext(context))
            if (result._tag === "Refused") return result.response
            yield* HttpTelemetry.reportRoles(result.actor.roles)
            return yield* Effect.provideService(httpEffect, MaybeActor, Option.some(result.actor))
          })
      })
    })
  )
)
