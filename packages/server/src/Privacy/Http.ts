/**
 * Handlers of GDPR export and erase: each calls the `Privacy` use-case with the actor (who may act on
 * whom is decided there). An erase answers 204, and again 204 when repeated by an admin.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Privacy } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Problem from "../Problem.ts"
import { toJson } from "@live-events/api/PrivacyApi"

/** @since 0.1.0 */
export const PrivacyLive = HttpApiBuilder.group(Api, "privacy", (handlers) =>
  Effect.gen(function*() {
    const privacy = yield* Privacy.Privacy
    return handlers
      .handle("exportMine", () =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          return toJson(yield* privacy.export(actor, actor.userId))
        }).pipe(Problem.catchDomain))
      .handle("eraseMine", () =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          yield* privacy.erase(actor, actor.userId)
        }).pipe(Problem.catchDomain))
      .handle("export", ({ params }) =>
        Effect.gen(function*() {
          return toJson(yield* privacy.export(yield* CurrentActor, params.id))
        }).pipe(Problem.catchDomain))
      .handle("erase", ({ params }) =>
        Effect.gen(function*() {
          yield* privacy.erase(yield* CurrentActor, params.id)
        }).pipe(Problem.catchDomain))
  }))
