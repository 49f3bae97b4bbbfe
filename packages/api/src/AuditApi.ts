/**
 * The HTTP contract of the audit log (admins only): GET /v1/admin/audit, filtered by actor, action,
 * target and time, oldest first, cursor-paged.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Audit, Event, Ids, Text, User } from "@live-events/domain"
import { authenticated, describe } from "./Endpoint.ts"
import * as Pagination from "./Pagination.ts"
import * as Problems from "./Problems.ts"

/** @since 0.1.0 */
export const AuditEntryJson = Schema.Struct({
  id: Schema.String,
  at: Schema.Date,
  actorId: Ids.UserId,
  actorRoles: Schema.Array(User.Role),
  action: Schema.Literals(Audit.auditActions),
  targetType: Schema.Literals(Audit.auditTargetTypes),
  targetId: Schema.String,
  subjectUserId: Schema.NullOr(Ids.UserId),
  before: Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown)),
  after: Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown)),
  correlationId: Schema.NullOr(Schema.String)
}).annotate({ identifier: "AuditEntry" })
/** @since 0.1.0 */
export type AuditEntryJson = typeof AuditEntryJson.Type

/** @since 0.1.0 */
export const toJson = (entry: Audit.AuditEntry): AuditEntryJson => ({
  ...entry,
  before: entry.before === null ? null : { ...entry.before },
  after: entry.after === null ? null : { ...entry.after }
})

/** @since 0.1.0 */
export class AuditApi extends HttpApiGroup.make("audit").add(
  authenticated(HttpApiEndpoint.get("list", "/v1/admin/audit", {
    query: {
      actor: Schema.optionalKey(Ids.UserId),
      action: Schema.optionalKey(Schema.Literals(Audit.auditActions)),
      target: Schema.optionalKey(Text.plain(1, 64)),
      from: Schema.optionalKey(Event.Instant),
      to: Schema.optionalKey(Event.Instant),
      ...Pagination.query
    },
    success: Pagination.PageJson(AuditEntryJson),
    error: [...Problems.authenticated, ...Problems.paged]
  }).annotateMerge(describe("List audit entries", "Admins only. Who did what to which resource, oldest first, filtered by actor, action, target and time range; cursor-paged.")))
).annotate(OpenApi.Description, "The audit log of privileged and personal-data actions (admins only).") {}
