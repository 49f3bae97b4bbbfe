/**
 * Handlers of key administration: 401 without a token (middleware), then the answers of `KeysAdmin.ts`
 * (403 for non-admins, 404 `no-data-at-rest` on the memory store, 503 while the store fails).
 *
 * @since 0.1.0
 */
import { Audit, Ids, UnitOfWork } from "@live-events/domain"
import { Context, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "@live-events/api/Api"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Problem from "../Problem.ts"
import { Rotation } from "@live-events/engine"
import * as KeysAdmin from "./KeysAdmin.ts"

/** @since 0.1.0 */
export const KeysAdminLive = HttpApiBuilder.group(Api, "keysAdmin", (handlers) =>
  Effect.gen(function*() {
    const context = Context.make(Rotation.Rotation, yield* Rotation.Rotation).pipe(
      Context.add(UnitOfWork.UnitOfWork, yield* UnitOfWork.UnitOfWork),
      Context.add(Audit.AuditLog, yield* Audit.AuditLog),
      Context.add(Ids.Ids, yield* Ids.Ids)
    )
    return handlers
      .handle("status", () =>
        Effect.gen(function*() {
          return yield* KeysAdmin.status(yield* CurrentActor).pipe(Effect.provideContext(context))
        }).pipe(Effect.catch(Problem.toResponse)))
      .handle("rotate", () =>
        Effect.gen(function*() {
          return yield* KeysAdmin.rotate(yield* CurrentActor).pipe(Effect.provideContext(context))
        }).pipe(Effect.catch(Problem.toResponse)))
  }))
