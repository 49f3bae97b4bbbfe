/**
 * What a request learns about itself while it runs — its correlation id, the caller's role, the
 * response fields a later stage wants written — held in ONE object added to the request's context ONCE.
 *
 * The object is stored under the domain's `Audit.AuditContext` key, whose shape (`correlationId`) it
 * has: the audit log reads the request's correlation id from it, the loggers read the correlation id
 * from it (rather than from a copied annotation map), the rate limiter leaves its fields in it, the
 * authentication reports the role through it. Why one key: every `Context.add` of a request is an
 * overlay on the server's context, and past eight of them Effect copies the whole context (about
 * fifty services) into a new map. Before a handler runs there are now eight: the server context's
 * own scope, Node's request, Effect's request scope and frame, this state, the request's span, the
 * router's parameters and route.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import { Audit } from "@live-events/domain"

/**
 * The state of one request. Mutable on purpose: stages deep inside report outwards without touching
 * the context again.
 *
 * @since 0.1.0
 */
export class RequestState {
  readonly correlationId: string
  /** The caller's roles, joined (`admin,organizer`), once authentication knows them. */
  role: string | undefined = undefined
  /** Response fields a later stage adds (rate limits), written by the pipeline's one pre-response handler. */
  fields: Record<string, string> | undefined = undefined
  constructor(correlationId: string) {
    this.correlationId = correlationId
  }
}

/**
 * The current request's state, if the request pipeline runs (not in a background fiber, a test driving
 * the domain directly, or an embedder's own server).
 *
 * @since 0.1.0
 */
export const of = (context: Context.Context<never>): RequestState | undefined => {
  const value = Context.getOrUndefined(context, Audit.AuditContext)
  return value instanceof RequestState ? value : undefined
}

/**
 * `context` with the request's state (and with it, the audit log's correlation id).
 *
 * @since 0.1.0
 */
export const add = <R>(context: Context.Context<R>, state: RequestState): Context.Context<R> =>
  Context.add(context, Audit.AuditContext, state)
