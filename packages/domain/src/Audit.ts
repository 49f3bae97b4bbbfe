/**
 * The audit log: every organizer/admin action and every GDPR action, with the actor, the
 * action, the target, a before/after summary, the request's correlation id and the time. Append-only:
 * entries are written in the unit of work of the change they describe and never changed afterwards
 * (the SQL store refuses UPDATE and DELETE on the table).
 *
 * Summaries never hold personal data: the log cannot be rewritten, so it could not be erased. A change
 * to a profile lists the fields it touched, not their values; event summaries hold event fields;
 * registration summaries hold statuses.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import type { InvalidCursor, RepositoryError } from "./DomainError.ts"
import { Ids, type UserId } from "./Ids.ts"
import type { Page, PageRequest } from "./Page.ts"
import type { Actor, Role } from "./User.ts"

/** @since 0.1.0 */
export type AuditAction =
  | "event.create"
  | "event.update"
  | "event.publish"
  | "event.unpublish"
  | "event.cancel"
  | "event.delete"
  | "registration.cancel"
  | "registration.confirm"
  | "registration.attendance"
  | "user.create"
  | "user.update"
  | "user.export"
  | "user.erase"
  | "outbox.retry"
  | "keys.rotate"

/** @since 0.1.0 */
export const auditActions: ReadonlyArray<AuditAction> = [
  "event.create",
  "event.update",
  "event.publish",
  "event.unpublish",
  "event.cancel",
  "event.delete",
  "registration.cancel",
  "registration.confirm",
  "registration.attendance",
  "user.create",
  "user.update",
  "user.export",
  "user.erase",
  "outbox.retry",
  "keys.rotate"
]

/** @since 0.1.0 */
export type AuditTargetType = "event" | "registration" | "user" | "outbox-message" | "keyring"

/** @since 0.1.0 */
export const auditTargetTypes: ReadonlyArray<AuditTargetType> = ["event", "registration", "user", "outbox-message", "keyring"]

/** @since 0.1.0 */
export interface AuditEntry {
  readonly id: string
  readonly at: Date
  readonly actorId: UserId
  readonly actorRoles: ReadonlyArray<Role>
  readonly action: AuditAction
  readonly targetType: AuditTargetType
  readonly targetId: string
  /** The person the target belongs to (a registration's attendee, the user themself), for GDPR export. */
  readonly subjectUserId: UserId | null
  readonly before: Readonly<Record<string, unknown>> | null
  readonly after: Readonly<Record<string, unknown>> | null
  readonly correlationId: string | null
}

/** What a list may filter on; all optional, combined with AND. @since 0.1.0 */
export interface AuditFilter {
  readonly actorId?: UserId | undefined
  readonly action?: AuditAction | undefined
  readonly targetId?: string | undefined
  /** Entries whose actor or subject is this person (GDPR export). */
  readonly concerning?: UserId | undefined
  readonly from?: Date | undefined
  readonly to?: Date | undefined
}

/**
 * Port: where audit entries are kept. `record` runs inside the caller's unit of work; `list` pages in
 * time order (oldest first).
 *
 * @since 0.1.0
 */
export class AuditLog extends Context.Service<AuditLog, {
  readonly record: (entries: ReadonlyArray<AuditEntry>) => Effect.Effect<void, RepositoryError>
  readonly list: (filter: AuditFilter & PageRequest) => Effect.Effect<Page<AuditEntry>, RepositoryError | InvalidCursor>
}>()("@live-events/domain/AuditLog") {}

/**
 * The request an action belongs to, set by the host (the HTTP server sets the correlation id).
 *
 * @since 0.1.0
 */
export const AuditContext = Context.Reference<{ readonly correlationId: string | undefined }>(
  "@live-events/domain/AuditContext",
  { defaultValue: () => ({ correlationId: undefined }) }
)

/** The description of one action, before the id, time and request are stamped on it. @since 0.1.0 */
export interface AuditFact {
  readonly action: AuditAction
  readonly targetType: AuditTargetType
  readonly targetId: string
  readonly subjectUserId?: UserId | null | undefined
  readonly before?: Readonly<Record<string, unknown>> | null | undefined
  readonly after?: Readonly<Record<string, unknown>> | null | undefined
}

/**
 * Records what `actor` did, stamped with a fresh id, the time and the current request's correlation id.
 *
 * @since 0.1.0
 */
export const record = (actor: Actor, fact: AuditFact): Effect.Effect<void, RepositoryError, AuditLog | Ids> =>
  Effect.gen(function*() {
    const log = yield* AuditLog
    const ids = yield* Ids
    const { correlationId } = yield* AuditContext
    const entry: AuditEntry = {
      id: yield* ids.next,
      at: new Date(yield* Effect.clockWith((clock) => clock.currentTimeMillis)),
      actorId: actor.userId,
      actorRoles: actor.roles,
      action: fact.action,
      targetType: fact.targetType,
      targetId: fact.targetId,
      subjectUserId: fact.subjectUserId ?? null,
      before: fact.before ?? null,
      after: fact.after ?? null,
      correlationId: correlationId ?? null
    }
    yield* log.record([entry])
  })

/**
 * The fields of `after` that differ from `before` (by JSON value), with their values on each side.
 *
 * @since 0.1.0
 */
export const changes = (
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
  fields: ReadonlyArray<string>
): { readonly before: Record<string, unknown>; readonly after: Record<string, unknown> } => {
  const was: Record<string, unknown> = {}
  const is: Record<string, unknown> = {}
  for (const field of fields) {
    if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) {
      was[field] = before[field]
      is[field] = after[field]
    }
  }
  return { before: was, after: is }
}

