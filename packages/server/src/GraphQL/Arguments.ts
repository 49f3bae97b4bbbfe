/**
 * Decoders of GraphQL arguments, with the REST routes' schemas: ids, page sizes (1..100), cursors and
 * filters follow the same field rules whatever the transport. GraphQL's explicit `null` for an optional
 * filter or cursor means "not given".
 *
 * @since 0.2.0
 */
// Imported so the emitted declarations can name the domain types the resolvers return.
import type { DomainError as _DomainError } from "@live-events/domain"
import { Effect, Schema } from "effect"
import { Audit, Event, Ids, type Page, Text, User } from "@live-events/domain"
import * as Pagination from "@live-events/api/Pagination"
import * as Errors from "./Errors.ts"

/** Drops the keys a GraphQL client set to `null` (an optional argument left out). @since 0.2.0 */
export const withoutNulls = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return value
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== null && field !== undefined))
}

/** @since 0.2.0 */
export const eventId = Errors.decode(Ids.EventId, "id")
/** @since 0.2.0 */
export const registrationId = Errors.decode(Ids.RegistrationId, "id")
/** @since 0.2.0 */
export const userId = Errors.decode(Ids.UserId, "id")
/** @since 0.2.0 */
export const email = Errors.decode(User.Email, "email")

const decodePage = Errors.decode(
  Schema.Struct({ first: Pagination.Limit, after: Schema.optionalKey(Pagination.Cursor) }),
  "first"
)

/** `first`/`after` as the repositories' page request. @since 0.2.0 */
export const page = (args: { readonly first?: unknown; readonly after?: unknown }) =>
  Effect.map(
    decodePage(withoutNulls({ first: args.first ?? Pagination.defaultLimit, after: args.after })),
    (decoded): Page.PageRequest => ({ limit: decoded.first, cursor: decoded.after })
  )

/** @since 0.2.0 */
export const eventFilter = Errors.decode(
  Schema.Struct({
    from: Schema.optionalKey(Event.Instant),
    to: Schema.optionalKey(Event.Instant),
    organizerId: Schema.optionalKey(Ids.UserId),
    q: Schema.optionalKey(Text.plain(0, 200)),
    status: Schema.optionalKey(Event.EventStatus)
  }),
  "filter"
)

/** @since 0.2.0 */
export const auditFilter = Errors.decode(
  Schema.Struct({
    actor: Schema.optionalKey(Ids.UserId),
    action: Schema.optionalKey(Schema.Literals(Audit.auditActions)),
    target: Schema.optionalKey(Text.plain(1, 64)),
    from: Schema.optionalKey(Event.Instant),
    to: Schema.optionalKey(Event.Instant)
  }),
  "filter"
)

/** A page as a Relay-style connection: `nodes` and `pageInfo`. @since 0.2.0 */
export const connection = <A>(result: Page.Page<A>) => ({
  nodes: result.items,
  pageInfo: { hasNextPage: result.nextCursor !== null, endCursor: result.nextCursor }
})
