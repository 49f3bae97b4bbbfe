/**
 * CSV export of an event's registrations (RFC 4180). Cells a spreadsheet would evaluate as a formula
 * (`=`, `+`, `-`, `@`, tab, CR) are prefixed with `'`: notes are attendee input.
 *
 * @since 0.1.0
 */
import type { Registration } from "@live-events/domain"

/** @since 0.1.0 */
export const columns = [
  "id",
  "eventId",
  "userId",
  "status",
  "waitlistPosition",
  "notes",
  "createdAt",
  "updatedAt",
  "confirmedAt",
  "cancelledAt"
] as const

/** @since 0.1.0 */
export const cell = (value: string | number | null): string => {
  if (value === null) return ""
  let text = String(value)
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll("\"", "\"\"")}"` : text
}

const iso = (date: Date | null) => date === null ? null : date.toISOString()

/** @since 0.1.0 */
export const row = (r: Registration.Registration): string =>
  [
    r.id,
    r.eventId,
    r.userId,
    r.status,
    r.waitlistPosition,
    r.notes,
    iso(r.createdAt),
    iso(r.updatedAt),
    iso(r.confirmedAt),
    iso(r.cancelledAt)
  ].map(cell).join(",")

/** @since 0.1.0 */
export const render = (registrations: Iterable<Registration.Registration>): string => {
  const lines = [columns.join(",")]
  for (const registration of registrations) lines.push(row(registration))
  return lines.join("\r\n") + "\r\n"
}

/** Does the `Accept` header prefer CSV? @since 0.1.0 */
export const accepts = (accept: string | undefined): boolean =>
  accept !== undefined && /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept)
