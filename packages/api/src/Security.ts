/**
 * The middleware of the contract, declared without an implementation: bearer authentication
 * (required or optional) and request validation. The server provides their layers; a client only needs
 * to know that a route takes a bearer token.
 *
 * @since 0.1.0
 */
import { Context, type Option } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import type { User } from "@live-events/domain"

/** The authenticated actor of the request. @since 0.1.0 */
export class CurrentActor extends Context.Service<CurrentActor, User.Actor>()("@live-events/api/CurrentActor") {}

/** The actor of the request, if it carried a token. @since 0.1.0 */
export class MaybeActor extends Context.Service<MaybeActor, Option.Option<User.Actor>>()(
  "@live-events/api/MaybeActor"
) {}

/** A route that requires a bearer token. @since 0.1.0 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: CurrentActor }>()(
  "@live-events/api/Authentication",
  { security: { bearer: HttpApiSecurity.bearer } }
) {}

/** A route open to anonymous callers that still honours a token when one is sent. @since 0.1.0 */
export class OptionalAuthentication
  extends HttpApiMiddleware.Service<OptionalAuthentication, { provides: MaybeActor }>()(
    "@live-events/api/OptionalAuthentication",
    { security: { bearer: HttpApiSecurity.bearer } }
  )
{}

/**
 * Turns request decoding failures into 400 `validation-failed` problems that name each field.
 *
 * @since 0.1.0
 */
export class RequestValidation extends HttpApiMiddleware.Service<RequestValidation>()(
  "@live-events/api/RequestValidation"
) {}
