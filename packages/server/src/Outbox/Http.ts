/**
 * Handlers of outbox administration. Admins only: 401 without a token (middleware), 403 otherwise.
 * `DeadLetterNotFound` → 404 `dead-letter-not-found`; the store unavailable → 503.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Audit, Ids, UnitOfWork, User } from "@live-events/domain"
import { OutboxStore } from "@live-events/outbox"
import { Api } from "@live-events/api/Api"
import { CurrentActor } from "../Auth/Middleware.ts"
import * as Pagination from "@live-events/api/Pagination"
import * as Problem from "../Problem.ts"
import { toJson } from "@live-events/api/OutboxApi"

/** The 503 of a storage failure, logged with its cause (an answer alone would leave nothing to go on). */
const unavailable = (error: { readonly _tag: string; readonly reason?: unknown; readonly operation?: unknown }) =>
  Effect.andThen(
    Effect.logWarning("Outbox administration: storage failure", error),
    Problem.respond(503, "service-unavailable", "The outbox is temporarily unavailable, please retry", {
      headers: { "retry-after": "5" }
    })
  )

const requireAdmin = Effect.gen(function*() {
  const actor = yield* CurrentActor
  return User.isAdmin(actor)
})

const forbidden = Problem.respond(403, "forbidden", "Only admins may manage the outbox")

/** @since 0.1.0 */
export const OutboxAdminLive = HttpApiBuilder.group(Api, "outboxAdmin", (handlers) =>
  Effect.gen(function*() {
    const store = yield* OutboxStore.OutboxStore
    const unitOfWork = yield* UnitOfWork.UnitOfWork
    const auditContext = Context.make(Audit.AuditLog, yield* Audit.AuditLog).pipe(Context.add(Ids.Ids, yield* Ids.Ids))
    return handlers
      .handle("list", ({ query }) =>
        Effect.gen(function*() {
          if (!(yield* requireAdmin)) return yield* forbidden
          const page = yield* store.listDeadLetters(Pagination.request(query))
          return { items: page.items.map(toJson), nextCursor: page.nextCursor }
        }).pipe(Effect.catchTag("OutboxStoreError", unavailable)))
      .handle("retry", ({ params }) =>
        Effect.gen(function*() {
          if (!(yield* requireAdmin)) return yield* forbidden
          yield* store.redrive(params.id)
          // Audited once it happened (the outbox store is not part of the unit of work).
          yield* unitOfWork.transact(
            Effect.provideContext(
              Audit.record(yield* CurrentActor, { action: "outbox.retry", targetType: "outbox-message", targetId: params.id }),
              auditContext
            )
          )
          return { id: params.id, status: "pending" as const }
        }).pipe(
          Effect.catchTags({
            DeadLetterNotFound: (error) => Problem.respond(404, error.code, error.message),
            OutboxStoreError: unavailable,
            RepositoryError: unavailable
          })
        ))
  }))
