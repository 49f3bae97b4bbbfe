/**
 * The HTTP contract of the caller's own profile and registrations.
 *
 * @since 0.1.0
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { User } from "@live-events/domain"
import { authenticated, describe } from "./Endpoint.ts"
import * as Pagination from "./Pagination.ts"
import * as Problems from "./Problems.ts"
import { RegistrationJson } from "./RegistrationsApi.ts"
import { UserJson } from "./UsersApi.ts"

/**
 * @since 0.1.0
 */
export class MeApi extends HttpApiGroup.make("me").add(
  authenticated(
    HttpApiEndpoint.get("get", "/v1/me", { success: UserJson, error: Problems.authenticated })
      .annotateMerge(describe("Get my profile", "The caller's own user record."))
  ),
  authenticated(
    HttpApiEndpoint.patch("update", "/v1/me", {
      payload: User.UpdateProfileInput,
      success: UserJson,
      error: [...Problems.authenticated, Problems.validationFailed, Problems.userErased]
    })
      .annotateMerge(describe("Update my profile", "Changes the caller's name or phone."))
  ),
  authenticated(HttpApiEndpoint.get("registrations", "/v1/me/registrations", {
    query: Pagination.query,
    success: Pagination.PageJson(RegistrationJson),
    error: [...Problems.authenticated, ...Problems.paged]
  }).annotateMerge(describe("List my registrations", "The caller's registrations across events; cursor-paged.")))
).annotate(OpenApi.Description, "The caller's own profile and registrations.") {}
