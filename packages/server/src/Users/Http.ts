/**
 * Handlers of user administration; the use-cases refuse non-admins.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Users } from "@live-events/domain"
import { Schema } from "effect"
import { Api } from "@live-events/api/Api"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Pagination from "@live-events/api/Pagination"
import * as Problem from "../Problem.ts"
import { toJson, UserJson } from "@live-events/api/UsersApi"

const encodeUser = Schema.encodeSync(Schema.toCodecJson(UserJson))

/** @since 0.1.0 */
export const UsersLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users.Users
    return handlers
      .handle("list", ({ query }) =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          if (query.email !== undefined) {
            return { items: (yield* users.findByEmail(actor, query.email)).map(toJson), nextCursor: null }
          }
          const page = yield* users.list(actor, Pagination.request(query))
          return Pagination.map(page, toJson)
        }).pipe(Problem.catchDomain))
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const user = yield* users.create(yield* CurrentActor, payload)
          return HttpServerResponse.jsonUnsafe(encodeUser(toJson(user)), {
            status: 201,
            headers: { location: `/v1/users/${user.id}` }
          })
        }).pipe(Problem.catchDomain))
      .handle("get", ({ params }) =>
        Effect.gen(function*() {
          return toJson(yield* users.get(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
      .handle("update", ({ params, payload }) =>
        Effect.gen(function*() {
          return toJson(yield* users.update(yield* CurrentActor, params.id, payload))
        }).pipe(Problem.catchDomain))
  }))
