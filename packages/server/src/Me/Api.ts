/**
 * The HTTP contract of the caller's own profile and registrations.
 *
 * @since 0.1.0
 */
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { User } from "@live-events/domain"
import { authenticated } from "../Endpoint.ts"
import * as Pagination from "../Pagination.ts"
import { RegistrationJson } from "../Registrations/Api.ts"
import { UserJson } from "../Users/Api.ts"

/**
 * @since 0.1.0
 */
export class MeApi extends HttpApiGroup.make("me").add(
  authenticated(HttpApiEndpoint.get("get", "/v1/me", { success: UserJson })),
  authenticated(HttpApiEndpoint.patch("update", "/v1/me", { payload: User.UpdateProfileInput, success: UserJson })),
  authenticated(HttpApiEndpoint.get("registrations", "/v1/me/registrations", {
    query: Pagination.query,
    success: Pagination.PageJson(RegistrationJson)
  }))
) {}
