/**
 * Entity tags of events: a strong tag over the event's `version`, which bumps on every change of the
 * event or its counts. Strong, because `If-Match` only accepts strong comparison (RFC 9110 §13.1.1).
 *
 * @since 0.1.0
 */
import type { Event } from "@live-events/domain"

/** @since 0.1.0 */
export const of = (event: Event.Event): string => `"${event.version}"`

const tags = (header: string): ReadonlyArray<string> =>
  header.split(",").map((tag) => tag.trim()).filter((tag) => tag.length > 0)

/** `If-None-Match`: weak comparison, `*` matches any current representation. @since 0.1.0 */
export const noneMatch = (header: string, event: Event.Event): boolean => {
  const current = of(event)
  return tags(header).some((tag) => tag === "*" || tag.replace(/^W\//, "") === current)
}

/**
 * The version an `If-Match` header asks for: `"any"` for `*`, a number for one of our tags, or
 * `"none"` when no listed tag can be current (weak or foreign tags never match).
 *
 * @since 0.1.0
 */
export const expectedVersion = (header: string): number | "any" | "none" => {
  const list = tags(header)
  if (list.includes("*")) return "any"
  for (const tag of list) {
    const match = /^"(\d{1,15})"$/.exec(tag)
    if (match) return Number(match[1])
  }
  return "none"
}
