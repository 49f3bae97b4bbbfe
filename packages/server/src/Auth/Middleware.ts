/**
 * Bearer authentication as HttpApi security middleware.
 *
 * {@link Authentication} requires a valid token and provides the {@link CurrentActor};
 * {@link OptionalAuthentication} (public routes) lets anonymous requests through with no actor but
 * still rejects a token that is present and invalid. The actor is the user provisioned from the
 * token's claims (`ProvisionedUsers`: one upsert the first time, a cached read afterwards) with the
 * roles of the token.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import type { User, UserRepository, Users } from "@live-events/domain"
import * as Problem from "../Problem.ts"
import * as HttpTelemetry from "../Telemetry/HttpTelemetry.ts"
import { ProvisionedUsers } from "./Provisioning.ts"
import { TokenVerifier, unstorableClaims } from "./TokenVerifier.ts"

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
 * Resolves a token to an actor, or to the problem response that refuses it. The verification comes
 * from the verifier's cache when the token was seen (e.g. by the rate limiter of the same request);
 * the user from `ProvisionedUsers`.
 *
 * @since 0.1.0
 */
export const authenticate = (
  verifier: TokenVerifier["Service"],
  provisioned: ProvisionedUsers["Service"],
  token: string
) =>
  Effect.matchEffect(verifier.verify(token), {
    onFailure: (error) =>
      Effect.map(
        unauthenticated(
          // Claims are stored as the profile: a NUL or a lone surrogate in one makes the token unusable,
          // not the service unavailable (checked once per verification, see `TokenVerifier.fromPayload`).
          error.reason === unstorableClaims ? "The bearer token carries malformed claims" : "The bearer token is invalid or expired",
          true
        ),
        refused
      ),
    onSuccess: (claims) =>
      Effect.matchEffect(provisioned.userOf(claims), {
        onFailure: (error) =>
          Effect.andThen(
            error._tag === "RepositoryError" ? Problem.logRepositoryError(error) : Effect.void,
            Effect.map(Problem.toResponse(Problem.fromDomainError(error)), refused)
          ),
        onSuccess: (user) => {
          const actor: User.Actor = { userId: user.id, roles: claims.roles }
          return Effect.succeed({ _tag: "Authenticated" as const, actor })
        }
      })
  })

const refused = (response: HttpServerResponse.HttpServerResponse) => ({ _tag: "Refused" as const, response })

/** @since 0.1.0 */
export const layer: Layer.Layer<
  Authentication | OptionalAuthentication | ProvisionedUsers,
  never,
  TokenVerifier | Users.Users | UserRepository.UserRepository
> = Layer.mergeAll(
  Layer.effect(
    Authentication,
    Effect.gen(function*() {
      const verifier = yield* TokenVerifier
      const provisioned = yield* ProvisionedUsers
      return Authentication.of({
        bearer: (httpEffect, { credential }) => {
          const token = Redacted.value(credential)
          if (token === "") return unauthenticated("A bearer token is required", false)
          return Effect.flatMap(authenticate(verifier, provisioned, token), (result) => {
            if (result._tag === "Refused") return Effect.succeed(result.response)
            return Effect.andThen(
              HttpTelemetry.reportRoles(result.actor.roles),
              Effect.provideService(httpEffect, CurrentActor, result.actor)
            )
          })
        }
      })
    })
  ),
  Layer.effect(
    OptionalAuthentication,
    Effect.gen(function*() {
      const verifier = yield* TokenVerifier
      const provisioned = yield* ProvisionedUsers
      const anonymous = Option.none<User.Actor>()
      return OptionalAuthentication.of({
        bearer: (httpEffect, { credential }) => {
          const token = Redacted.value(credential)
          if (token === "") {
            return Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) =>
              // A credential of another scheme is not anonymity: refuse it rather than ignore it.
              request.headers["authorization"] !== undefined
                ? unauthenticated("Use the Bearer authorization scheme", true)
                : Effect.provideService(httpEffect, MaybeActor, anonymous))
          }
          return Effect.flatMap(authenticate(verifier, provisioned, token), (result) => {
            if (result._tag === "Refused") return Effect.succeed(result.response)
            return Effect.andThen(
              HttpTelemetry.reportRoles(result.actor.roles),
              Effect.provideService(httpEffect, MaybeActor, Option.some(result.actor))
            )
          })
        }
      })
    })
  )
).pipe(Layer.provideMerge(ProvisionedUsers.layer))
