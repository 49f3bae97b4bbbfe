/**
 * The span of a use-case call. `Effect.fn(name)` also captures the call site's stack (`new Error()`)
 * on every call: measured at about 15 µs, 8 % of a cached GET /v1/events/{id}. The use-cases run on
 * every request, so they are `Effect.fnUntraced` bodies with this span instead — same span name and
 * parent, no stack capture (error causes keep their own stacks).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

const noStack = { captureStackTrace: false } as const

/**
 * Pipeable for `Effect.fnUntraced(body, named("Events.get"))`.
 *
 * @since 0.1.0
 */
export const named = (name: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withSpan(effect, name, noStack)

/**
 * Pipeable: the span of a use-case call whose work runs in other fibers — a batched command waits for
 * its batch, whose statements have spans of their own. The span has its parent and its timing as with
 * {@link named}, but is not made the parent of what the call runs: nothing is added to the caller's
 * context. A request arrives with eight additions to the server's context already (scopes, request,
 * route, its own span and state), and a ninth makes Effect copy the whole context (some sixty services)
 * into a new map: on every registration, about a quarter of what the process allocated.
 *
 * @since 0.3.0
 */
export const leaf = (name: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.useSpan(name, () => effect)
