/**
 * Handler of the audit log listing: the `AuditTrail` use-case decides who may read it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { AuditTrail } from "@live-events/domain"
import { Api } from "../Api.ts"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Pagination from "../Pagination.ts"
import * as Problem from "../Problem.ts"
import { toJson } from "./Api.ts"

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
