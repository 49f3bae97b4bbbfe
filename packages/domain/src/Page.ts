/**
 * Cursor pagination shared by every list: `{ items, nextCursor }`, where the cursor is opaque to
 * clients and produced by the repository that knows the sort key.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor: string | null
}

/** @since 0.1.0 */
export interface PageRequest {
  readonly limit: number
  readonly cursor?: string | undefined
}

/** Encodes a sort key as an opaque URL-safe cursor. @since 0.1.0 */
export const encodeCursor = (key: ReadonlyArray<string | number>): string =>
  btoa(JSON.stringify(key)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")

/** Decodes a cursor; `undefined` when it was not produced by {@link encodeCursor}. @since 0.1.0 */
export const decodeCursor = (cursor: string): ReadonlyArray<string | number> | undefined => {
  try {
    const parsed: unknown = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")))
    return Array.isArray(parsed) && parsed.every((x) => typeof x === "string" || typeof x === "number")
      ? parsed
      : undefined
  } catch {
    return undefined
  }
}
