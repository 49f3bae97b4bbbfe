/**
 * Handlers of key administration. Admins only: 401 without a token (middleware), 403 otherwise; 404
 * `no-data-at-rest` on the memory store; the store unavailable → 503.
 *
 * @since 0.1.0
 */
import { Audit, Ids, UnitOfWork, User } from "@live-events/domain"
import { Context, Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "../Api.ts"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Problem from "../Problem.ts"
import { Rotation } from "./Rotation.ts"

const forbidden = Problem.respond(403, "forbidden", "Only admins may manage keys")
const nothingAtRest = Problem.respond(404, "no-data-at-rest", "This store keeps no personal data at rest")

const unavailable = (cause: unknown) =>
  Effect.andThen(
    Effect.logWarning("Key administration: storage failure", cause),
    Problem.respond(503, "service-unavailable", "Key status is temporarily unavailable, please retry", {
      headers: { "retry-after": "5" }
    })
  )

/** @since 0.1.0 */
export const KeysAdminLive = HttpApiBuilder.group(Api, "keysAdmin", (handlers) =>
  Effect.gen(function*() {
    const rotation = yield* Rotation
    const unitOfWork = yield* UnitOfWork.UnitOfWork
    const auditContext = Context.make(Audit.AuditLog, yield* Audit.AuditLog).pipe(Context.add(Ids.Ids, yield* Ids.Ids))
    return handlers
      .handle("status", () =>
        Effect.gen(function*() {
          if (!User.isAdmin(yield* CurrentActor)) return yield* forbidden
          const status = yield* rotation.status
          return Option.isNone(status) ? yield* nothingAtRest : status.value
        }).pipe(Effect.catch(unavailable)))
      .handle("rotate", () =>
        Effect.gen(function*() {
          const actor = yield* CurrentActor
          if (!User.isAdmin(actor)) return yield* forbidden
          if (!(yield* rotation.start)) return yield* nothingAtRest
          yield* unitOfWork.transact(
            Effect.provideContext(Audit.record(actor, { action: "keys.rotate", targetType: "keyring", targetId: "personal-data" }), auditContext)
          )
          return { status: "running" as const }
        }).pipe(Effect.catch(unavailable)))
  }))
