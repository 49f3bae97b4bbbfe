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
import { Effect, Layer, Option } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import { Authentication, CurrentActor, MaybeActor, OptionalAuthentication } from "@live-events/api/Security"
import type { DomainError, User, UserRepository, Users } from "@live-events/domain"
import * as Problem from "../Problem.ts"
import * as HttpTelemetry from "../Telemetry/HttpTelemetry.ts"
import { ProvisionedUsers } from "./Provisioning.ts"
import { TokenVerifier, unstorableClaims, type VerifiedToken } from "./TokenVerifier.ts"

// The tags are part of the HTTP contract (a client sees which routes take a token); this module implements them.
export { Authentication, CurrentActor, MaybeActor, OptionalAuthentication } from "@live-events/api/Security"

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
  authenticateWith(verifier, token, (claims) =>
    Effect.map(provisioned.userOf(claims), (user) => authenticated({ userId: user.id, roles: claims.roles })))

const authenticated = (actor: User.Actor) => ({ _tag: "Authenticated" as const, actor })

/** Verifies the token, then finds its person with `identify`; every refusal is a problem response. */
const authenticateWith = <A>(
  verifier: TokenVerifier["Service"],
  token: string,
  identify: (claims: VerifiedToken) => Effect.Effect<A, DomainError.UserErased | DomainError.RepositoryError>
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
      Effect.matchEffect(identify(claims), {
        onFailure: (error) =>
          Effect.andThen(
            error._tag === "RepositoryError" ? Problem.logRepositoryError(error) : Effect.void,
            Effect.map(Problem.toResponse(Problem.fromDomainError(error)), refused)
          ),
        onSuccess: (identified): Effect.Effect<A | ReturnType<typeof refused>> => Effect.succeed(identified)
      })
  })

const refused = (response: HttpServerResponse.HttpServerResponse) => ({ _tag: "Refused" as const, response })

/**
 * The credential of an `Authorization: Bearer …` field, as HttpApi's bearer security reads it (scheme
 * case-insensitive, one or more spaces); `undefined` for no field, another scheme or an empty token.
 *
 * @since 0.1.0
 */
export const bearerCredential = (authorization: string | undefined): string | undefined => {
  if (authorization === undefined || authorization.length <= 6 || authorization.charCodeAt(6) !== 32) return undefined
  if (authorization.slice(0, 6).toLowerCase() !== "bearer") return undefined
  let start = 7
  while (authorization.charCodeAt(start) === 32) start++
  return start === authorization.length ? undefined : authorization.slice(start)
}

/** @since 0.1.0 */
export type Resolution =
  | { readonly _tag: "Anonymous" }
  | { readonly _tag: "Authenticated"; readonly actor: User.Actor }
  | { readonly _tag: "Refused"; readonly response: HttpServerResponse.HttpServerResponse }

const anonymousResolution: Resolution = { _tag: "Anonymous" }

/**
 * The one decision of both middlewares, from the request's `Authorization` field: a required token
 * that is missing is refused; an optional one may be missing, but a credential of another scheme is
 * not anonymity and is refused too. The lean handlers (`HotPaths`) call it directly.
 *
 * @since 0.1.0
 */
export const resolve = (
  verifier: TokenVerifier["Service"],
  provisioned: ProvisionedUsers["Service"],
  authorization: string | undefined,
  required: boolean
): Effect.Effect<Resolution> => {
  const token = bearerCredential(authorization)
  if (token === undefined) {
    if (required) return Effect.map(unauthenticated("A bearer token is required", false), refused)
    return authorization === undefined
      ? Effect.succeed(anonymousResolution)
      : Effect.map(unauthenticated("Use the Bearer authorization scheme", true), refused)
  }
  return reportingRoles(authenticate(verifier, provisioned, token))
}

const reportingRoles = <A extends { readonly _tag: string; readonly actor?: User.Actor }>(resolution: Effect.Effect<A>) =>
  Effect.tap(resolution, (result) => result.actor === undefined ? Effect.void : HttpTelemetry.reportRoles(result.actor.roles))

/**
 * `resolve` of a required token for a use-case that provisions a person seen for the first time in
 * its own unit of work (`Registrations.registerNewcomer`): such a subject is not provisioned here but
 * answered as a `Newcomer`, with the candidate user (whose id is the actor's until the use-case stores
 * them). The caller `ProvisionedUsers.remember`s the stored id once the use-case has committed.
 *
 * @since 0.2.0
 */
export const resolveDeferringProvisioning = (
  verifier: TokenVerifier["Service"],
  provisioned: ProvisionedUsers["Service"],
  authorization: string | undefined
): Effect.Effect<
  | Extract<Resolution, { readonly _tag: "Authenticated" | "Refused" }>
  | { readonly _tag: "Newcomer"; readonly actor: User.Actor; readonly candidate: User.User }
> => {
  const token = bearerCredential(authorization)
  if (token === undefined) return Effect.map(unauthenticated("A bearer token is required", false), refused)
  return reportingRoles(authenticateWith(verifier, token, (claims) =>
    Effect.map(provisioned.userOrNewcomer(claims), (sighting) =>
      sighting._tag === "Stored"
        ? authenticated({ userId: sighting.user.id, roles: claims.roles })
        : {
          _tag: "Newcomer" as const,
          actor: { userId: sighting.candidate.id, roles: claims.roles },
          candidate: sighting.candidate
        })))
}

/** The middleware's request: the decoded credential is ignored for `resolve`'s reading of the field. */
const fromRequest = <E, R>(
  verifier: TokenVerifier["Service"],
  provisioned: ProvisionedUsers["Service"],
  required: boolean,
  use: (
    resolution: Exclude<Resolution, { readonly _tag: "Refused" }>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) =>
    Effect.flatMap(resolve(verifier, provisioned, request.headers["authorization"], required), (resolution) =>
      resolution._tag === "Refused" ? Effect.succeed(resolution.response) : use(resolution)))

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
        bearer: (httpEffect) =>
          fromRequest(verifier, provisioned, true, (resolution) =>
            resolution._tag === "Authenticated"
              ? Effect.provideService(httpEffect, CurrentActor, resolution.actor)
              : Effect.die("a required token resolved to no actor"))
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
        bearer: (httpEffect) =>
          fromRequest(verifier, provisioned, false, (resolution) =>
            Effect.provideService(
              httpEffect,
              MaybeActor,
              resolution._tag === "Authenticated" ? Option.some(resolution.actor) : anonymous
            ))
      })
    })
  )
).pipe(Layer.provideMerge(ProvisionedUsers.layer))
