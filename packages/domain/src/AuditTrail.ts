/**
 * Reading the audit log: admins only (GET /v1/admin/audit).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { type AuditFilter, AuditLog } from "./Audit.ts"
import type { PageRequest } from "./Page.ts"
import * as Policy from "./Policy.ts"
import * as Span from "./Span.ts"
import { type Actor, isAdmin } from "./User.ts"

/** @since 0.1.0 */
export const make = Effect.gen(function*() {
  const log = yield* AuditLog
  const list = Effect.fnUntraced(function*(actor: Actor, filter: AuditFilter & PageRequest) {
    yield* Policy.require(isAdmin(actor), "Only admins may read the audit log")
    return yield* log.list(filter)
  }, Span.named("AuditTrail.list"))
  return { list } as const
})

/**
 * The audit-reading use-case.
 *
 * @since 0.1.0
 */
export class AuditTrail extends Context.Service<AuditTrail, Effect.Success<typeof make>>()(
  "@live-events/domain/AuditTrail"
) {
  /** @since 0.1.0 */
  static readonly layer = Layer.effect(AuditTrail, make)
}
