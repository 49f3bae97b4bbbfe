/**
 * The HTTP contract of user administration (admins only).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { Ids, User } from "@live-events/domain"
import { authenticated, describe } from "./Endpoint.ts"
import * as Pagination from "./Pagination.ts"
import * as Problems from "./Problems.ts"

/** @since 0.1.0 */
export const UserJson = Schema.Struct({
  id: Ids.UserId,
  subject: Schema.String,
  email: Schema.NullOr(Schema.String),
  name: Schema.NullOr(Schema.String),
  phone: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}).annotate({ identifier: "User" })
/** @since 0.1.0 */
export type UserJson = typeof UserJson.Type

/** @since 0.1.0 */
export const toJson = (user: User.User): UserJson => ({
  id: user.id,
  subject: user.subject,
  email: user.email,
  name: user.name,
  phone: user.phone,
  createdAt: user.createdAt,
  updatedAt: user.updatedAt
})

const UserIdParams = { id: Ids.UserId }

/**
 * @since 0.1.0
 */
export class UsersApi extends HttpApiGroup.make("users").add(
  authenticated(HttpApiEndpoint.get("list", "/v1/users", {
    // `email`: the people with that email (blind-index lookup, one page, no cursor).
    query: { ...Pagination.query, email: Schema.optionalKey(User.Email) },
    success: Pagination.PageJson(UserJson),
    error: [...Problems.authenticated, ...Problems.paged]
  }).annotateMerge(describe("List users", "Admins only. Cursor-paged; `email` finds the people with that address."))),
  authenticated(HttpApiEndpoint.post("create", "/v1/users", {
    payload: User.CreateUserInput,
    success: UserJson.pipe(HttpApiSchema.status(201)),
    error: [...Problems.authenticated, Problems.validationFailed]
  }).annotateMerge(describe("Create a user", "Admins only. Creates a user for a token subject ahead of their first sign-in."))),
  authenticated(HttpApiEndpoint.get("get", "/v1/users/:id", {
    params: UserIdParams,
    success: UserJson,
    error: [...Problems.authenticated, Problems.validationFailed, Problems.userNotFound]
  }).annotateMerge(describe("Get a user", "Admins only."))),
  authenticated(HttpApiEndpoint.patch("update", "/v1/users/:id", {
    params: UserIdParams,
    payload: User.AdminUpdateUserInput,
    success: UserJson,
    error: [...Problems.authenticated, Problems.validationFailed, Problems.userNotFound, Problems.erasedUserImmutable]
  }).annotateMerge(describe("Update a user", "Admins only. Changes a user's name, phone or email.")))
).annotate(OpenApi.Description, "User administration (admins only).") {}
