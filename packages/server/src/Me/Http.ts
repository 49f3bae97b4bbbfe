/**
 * Handlers of the caller's own resources.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Registrations, Users } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Pagination from "@live-events/api/Pagination"
import * as Problem from "../Problem.ts"
import * as RegistrationsApi from "@live-events/api/RegistrationsApi"
import * as UsersApi from "@live-events/api/UsersApi"

/** @since 0.1.0 */
export const MeLive = HttpApiBuilder.group(Api, "me", (handlers) =>
  Effect.gen(function*() {
    const users = yield* Users.Users
    const registrations = yield* Registrations.Registrations
    return handlers
      .handle("get", () =>
        Effect.gen(function*() {
          return UsersApi.toJson(yield* users.me(yield* CurrentActor))
        }).pipe(Problem.catchDomain))
      .handle("update", ({ payload }) =>
        Effect.gen(function*() {
          return UsersApi.toJson(yield* users.updateMe(yield* CurrentActor, payload))
        }).pipe(Problem.catchDomain))
      .handle("registrations", ({ query }) =>
        Effect.gen(function*() {
          const page = yield* registrations.listMine(yield* CurrentActor, Pagination.request(query))
          return Pagination.map(page, RegistrationsApi.toJson)
        }).pipe(Problem.catchDomain))
  }))
