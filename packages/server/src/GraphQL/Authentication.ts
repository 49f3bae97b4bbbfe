/**
 * Who calls: a bearer token verified by the server's `TokenVerifier` and resolved to its provisioned
 * user, as the REST middleware does. No token is anonymous (public fields only); a token that fails,
 * or a credential of another scheme, refuses the whole request with the REST code
 * (`unauthenticated`, or `user-erased` for an erased person) — never silently anonymous.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { User } from "@live-events/domain"
import type { GraphQLError } from "graphql"
import { bearerCredential } from "../Auth/Middleware.ts"
import { ProvisionedUsers } from "../Auth/Provisioning.ts"
import { TokenVerifier } from "../Auth/TokenVerifier.ts"
import * as Problem from "../Problem.ts"
import * as Errors from "./Errors.ts"

/** A caller: the actor and when their token stops being valid (epoch seconds). @since 0.2.0 */
export interface Caller {
  readonly actor: User.Actor
  readonly expiresAt: number
}

/** @since 0.2.0 */
export type Authenticated =
  | { readonly _tag: "Anonymous" }
  | { readonly _tag: "Caller"; readonly caller: Caller }
  | { readonly _tag: "Refused"; readonly error: GraphQLError; readonly status: number }

/** A request without credentials. @since 0.2.0 */
export const anonymous: Authenticated = { _tag: "Anonymous" }

const refused = (status: number, code: string, message: string): Authenticated => ({
  _tag: "Refused",
  error: Errors.request(status, code, message),
  status
})

/**
 * Authenticates an `Authorization` header value (HTTP) or the `authorization` connection parameter
 * (`connection_init` of graphql-ws).
 *
 * @since 0.2.0
 */
export const authenticate = (authorization: unknown) =>
  Effect.gen(function*() {
    if (authorization === undefined || authorization === null || authorization === "") {
      return { _tag: "Anonymous" } as Authenticated
    }
    const token = typeof authorization === "string" ? bearerCredential(authorization) : undefined
    if (token === undefined) return refused(401, "unauthenticated", "Use the Bearer authorization scheme")
    const verifier = yield* TokenVerifier
    const provisioned = yield* ProvisionedUsers
    const verified = yield* Effect.result(verifier.verify(token))
    if (verified._tag === "Failure") return refused(401, "unauthenticated", "The bearer token is invalid or expired")
    const claims = verified.success
    const user = yield* Effect.result(provisioned.userOf(claims))
    if (user._tag === "Failure") {
      const problem = yield* Problem.reported(user.failure)
      return refused(problem.status, problem.code, problem.detail)
    }
    const caller: Caller = { actor: { userId: user.success.id, roles: claims.roles }, expiresAt: claims.expiresAt }
    return { _tag: "Caller", caller } as Authenticated
  })
