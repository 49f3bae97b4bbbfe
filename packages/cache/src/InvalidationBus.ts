/**
 * A transport for invalidations between processes that share no Redis: the cache publishes each local
 * invalidation as a short text message and applies those of the other processes to its L1. Only the
 * transport is pluggable (a database's `LISTEN/NOTIFY`, a broker subject…); the message format, the
 * filtering of a process's own messages and what to do while the transport is down belong to the cache.
 *
 * While the transport is down (`onDown` until the next `onUp`) a process may miss invalidations, so the
 * cache serves no L1 hit in that time, and empties L1 when the transport is back.
 *
 * @since 0.1.0
 */
import type { Effect, Scope } from "effect"

/** @since 0.1.0 */
export interface Handlers {
  /** A message published by any process (this one included: the cache filters its own). */
  readonly onMessage: (payload: string) => void
  /** Messages are delivered from now on (after the first subscription and after every reconnect). */
  readonly onUp: () => void
  /** The subscription dropped: messages may be lost until `onUp`. */
  readonly onDown: () => void
}

/** @since 0.1.0 */
export interface InvalidationBus {
  /** Publishes a message to every subscribed process; fails when the transport cannot take it. */
  readonly publish: (payload: string) => Effect.Effect<void, unknown>
  /** Delivers messages to `handlers` for the lifetime of the scope, reconnecting on its own. */
  readonly subscribe: (handlers: Handlers) => Effect.Effect<void, never, Scope.Scope>
}

/** An invalidation as it travels: which kind, what, and from which cache instance. @since 0.1.0 */
export interface Message {
  readonly kind: "key" | "tag"
  readonly name: string
  readonly origin: string
}

/** `k\t<origin>\t<key>` or `t\t<origin>\t<tag>`. @since 0.1.0 */
export const encode = (message: Message): string =>
  `${message.kind === "key" ? "k" : "t"}\t${message.origin}\t${message.name}`

/** The message of a payload; `undefined` for anything else on the channel. @since 0.1.0 */
export const decode = (payload: string): Message | undefined => {
  const first = payload.indexOf("\t")
  const second = first < 0 ? -1 : payload.indexOf("\t", first + 1)
  if (second < 0) return undefined
  const kind = payload.slice(0, first)
  if (kind !== "k" && kind !== "t") return undefined
  return { kind: kind === "k" ? "key" : "tag", origin: payload.slice(first + 1, second), name: payload.slice(second + 1) }
}
