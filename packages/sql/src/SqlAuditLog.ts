/**
 * `AuditLog` on PostgreSQL.
 *
 * `record` writes all of a call's entries in one statement (rows unpacked from one JSON parameter, as
 * `RegistrationRepository.apply` does), inside whatever transaction the caller's unit of work holds. The
 * table refuses UPDATE, DELETE and TRUNCATE (see the 0002 migration), so nothing here changes an entry.
 * `list` pages by keyset on `(at, id)`, oldest first.
 *
 * @since 0.1.0
 */
import { Audit, type Ids, Page, type User } from "@live-events/domain"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { mapSqlError } from "./SqlFailure.ts"

const columns = `a.id, a.at, a.actor_id, a.actor_roles, a.action, a.target_type, a.target_id, a.subject_user_id,
  a.before, a.after, a.correlation_id`

type Summary = Readonly<Record<string, unknown>>

interface AuditRow {
  readonly id: string
  readonly at: Date
  readonly actor_id: string
  readonly actor_roles: ReadonlyArray<string> | string
  readonly action: Audit.AuditAction
  readonly target_type: Audit.AuditTargetType
  readonly target_id: string
  readonly subject_user_id: string | null
  readonly before: Summary | string | null
  readonly after: Summary | string | null
  readonly correlation_id: string | null
}

/** jsonb arrives decoded; a text form (a driver configured otherwise) is parsed. */
const summary = (value: Summary | string | null): Summary | null =>
  value === null ? null : typeof value === "string" ? JSON.parse(value) : value

/** text[] arrives as an array; the `{a,b}` literal form is accepted too (roles never need quoting). */
const roles = (value: ReadonlyArray<string> | string): ReadonlyArray<User.Role> =>
  (typeof value === "string"
    ? value.replace(/^\{|\}$/g, "").split(",").filter((role) => role.length > 0)
    : value) as ReadonlyArray<User.Role>

const toEntry = (row: AuditRow): Audit.AuditEntry => ({
  id: row.id,
  at: row.at,
  actorId: row.actor_id as Ids.UserId,
  actorRoles: roles(row.actor_roles),
  action: row.action,
  targetType: row.target_type,
  targetId: row.target_id,
  subjectUserId: row.subject_user_id as Ids.UserId | null,
  before: summary(row.before),
  after: summary(row.after),
  correlationId: row.correlation_id
})

/** @since 0.1.0 */
export const make: Effect.Effect<Audit.AuditLog["Service"], never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const record = (entries: ReadonlyArray<Audit.AuditEntry>) => {
    if (entries.length === 0) return Effect.void
    const rows = entries.map((entry) => ({
      id: entry.id,
      at: entry.at.toISOString(),
      actor_id: entry.actorId,
      actor_roles: entry.actorRoles,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId,
      subject_user_id: entry.subjectUserId,
      before: entry.before,
      after: entry.after,
      correlation_id: entry.correlationId
    }))
    // A JSON null in a jsonb record column stays the jsonb value `null`; NULLIF makes it SQL NULL.
    return sql`
      INSERT INTO audit_log (id, at, actor_id, actor_roles, action, target_type, target_id, subject_user_id,
        before, after, correlation_id)
      SELECT c.id, c.at, c.actor_id, c.actor_roles, c.action, c.target_type, c.target_id, c.subject_user_id,
        NULLIF(c.before, 'null'::jsonb), NULLIF(c.after, 'null'::jsonb), c.correlation_id
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS c(id uuid, at timestamptz, actor_id uuid,
        actor_roles text[], action text, target_type text, target_id text, subject_user_id uuid, before jsonb,
        after jsonb, correlation_id text)`.pipe(Effect.asVoid, mapSqlError("AuditLog.record"))
  }

  const list = Effect.fnUntraced(function*(request: Audit.AuditFilter & Page.PageRequest) {
    const after = request.cursor === undefined ? undefined : yield* Page.decodeCursor(request.cursor, ["number", "uuid"])
    const person = request.concerning
    const concerning = person === undefined
      ? sql``
      : sql`AND (a.actor_id = ${person}::uuid OR a.subject_user_id = ${person}::uuid)`
    const rows = yield* sql<AuditRow>`SELECT ${sql.literal(columns)} FROM audit_log a
      WHERE TRUE
        ${request.actorId !== undefined ? sql`AND a.actor_id = ${request.actorId}::uuid` : sql``}
        ${request.action !== undefined ? sql`AND a.action = ${request.action}` : sql``}
        ${request.targetId !== undefined ? sql`AND a.target_id = ${request.targetId}` : sql``}
        ${concerning}
        ${request.from !== undefined ? sql`AND a.at >= ${request.from}` : sql``}
        ${request.to !== undefined ? sql`AND a.at < ${request.to}` : sql``}
        ${after ? sql`AND (a.at, a.id) > (${new Date(Number(after[0]))}, ${String(after[1])}::uuid)` : sql``}
      ORDER BY a.at, a.id LIMIT ${request.limit + 1}`.pipe(mapSqlError("AuditLog.list"))
    const items = rows.slice(0, request.limit)
    const last = items[items.length - 1]
    return {
      items: items.map(toEntry),
      nextCursor: rows.length > request.limit && last ? Page.encodeCursor([last.at.getTime(), last.id]) : null
    }
  })

  return Audit.AuditLog.of({ record, list })
})

/** @since 0.1.0 */
export const layer = Layer.effect(Audit.AuditLog, make)
