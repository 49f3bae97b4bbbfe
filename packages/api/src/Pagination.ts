/**
 * Query parameters and JSON shape shared by every list: `limit` (1..100, default 20) and an opaque
 * `cursor`; responses are `{ items, nextCursor }`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Page } from "@live-events/domain"

/** @since 0.1.0 */
export const defaultLimit = 20

/** @since 0.1.0 */
export const Limit = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 }))

/** @since 0.1.0 */
export const Cursor = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))

/** @since 0.1.0 */
export const query = {
  limit: Schema.optionalKey(Limit),
  cursor: Schema.optionalKey(Cursor)
}

/** @since 0.1.0 */
export const request = (query: { readonly limit?: number; readonly cursor?: string }): Page.PageRequest => ({
  limit: query.limit ?? defaultLimit,
  cursor: query.cursor
})

/** @since 0.1.0 */
export const PageJson = <S extends Schema.Top>(item: S) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.NullOr(Schema.String) })

/** @since 0.1.0 */
export const map = <A, B>(page: Page.Page<A>, f: (a: A) => B) => ({ items: page.items.map(f), nextCursor: page.nextCursor })
