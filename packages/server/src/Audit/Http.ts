/**
 * Handler of the audit log listing: the `AuditTrail` use-case decides who may read it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { AuditTrail } from "@live-events/domain"
import { Api } from "@live-events/api/Api"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Pagination from "@live-events/api/Pagination"
import * as Problem from "../Problem.ts"
import { toJson } from "@live-events/api/AuditApi"

/** @since 0.1.0 */
export const AuditLive = HttpApiBuilder.group(Api, "audit", (handlers) =>
  Effect.gen(function*() {
    const trail = yield* AuditTrail.AuditTrail
    return handlers.handle("list", ({ query }) =>
      Effect.gen(function*() {
        const page = yield* trail.list(yield* CurrentActor, {
          actorId: query.actor,
          action: query.action,
          targetId: query.target,
          from: query.from,
          to: query.to,
          ...Pagination.request(query)
        })
        return Pagination.map(page, toJson)
      }).pipe(Problem.catchDomain))
  }))
