/**
 * Cursor pagination shared by every list: `{ items, nextCursor }`, where the cursor is opaque to
 * clients and produced by the repository that knows the sort key.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { InvalidCursor } from "./DomainError.ts"

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

/**
 * Every item of a paged list, fetching pages of `pageSize` until the last (exports, GDPR).
 *
 * @since 0.1.0
 */
export const collectAll = <A, E, R>(
  fetch: (request: PageRequest) => Effect.Effect<Page<A>, E, R>,
  pageSize = 100
): Effect.Effect<Array<A>, E, R> =>
  Effect.gen(function*() {
    const all: Array<A> = []
    let cursor: string | undefined = undefined
    do {
      const page: Page<A> = yield* fetch({ limit: pageSize, cursor })
      all.push(...page.items)
      cursor = page.nextCursor ?? undefined
    } while (cursor !== undefined)
    return all
  })

/** Encodes a sort key as an opaque URL-safe cursor. @since 0.1.0 */
export const encodeCursor = (key: ReadonlyArray<string | number>): string =>
  btoa(JSON.stringify(key)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The kinds of a cursor's key parts, checked on decode so a forged cursor never reaches a query. */
export type CursorPart = "number" | "uuid"

/**
 * The range of a cursor's numbers: the instants of years 0001..9999 in epoch milliseconds. Every sort key
 * is an instant or a sequence number far inside it; a number outside would become an invalid date or a
 * value the database rejects, which is the client's mistake, not an outage.
 */
const MIN_KEY = -62_135_596_800_000 // 0001-01-01T00:00:00Z
const MAX_KEY = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

const isKeyNumber = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= MIN_KEY && (x as number) <= MAX_KEY

/**
 * Decodes a cursor of the given shape, or fails with {@link InvalidCursor} when it was not produced by
 * {@link encodeCursor} for that shape.
 *
 * @since 0.1.0
 */
export const decodeCursor = (
  cursor: string,
  shape: ReadonlyArray<CursorPart>
): Effect.Effect<ReadonlyArray<string | number>, InvalidCursor> => {
  try {
    const parsed: unknown = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")))
    if (
      Array.isArray(parsed) && parsed.length === shape.length &&
      parsed.every((x, i) =>
        shape[i] === "number" ? isKeyNumber(x) : typeof x === "string" && UUID.test(x)
      )
    ) return Effect.succeed(parsed)
  } catch {
    // fall through: not base64 or not JSON
  }
  return Effect.fail(new InvalidCursor({}))
}
