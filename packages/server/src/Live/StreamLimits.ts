/**
 * Caps on the live streams one client holds open at once: per client address (the rate-limit key of
 * `Security/ClientAddress.ts`, so an IPv6 client counts per /64) and per authenticated user. A stream
 * holds a socket, a feed subscription and a heartbeat fiber for as long as it lives; without a cap one
 * client could hold thousands. Beyond a cap the stream is refused with 429 `too-many-streams`.
 *
 * Counts are per process (a stream lives in one process); behind a balancer spreading one client over
 * N processes, the effective cap is up to N times the setting.
 *
 * @since 0.1.0
 */
import { Config, Effect } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import * as Problem from "../Problem.ts"
import * as ClientAddress from "../Security/ClientAddress.ts"

/** @since 0.1.0 */
export const config = Config.all({
  perClient: Config.Int("LIVE_MAX_STREAMS_PER_IP").pipe(Config.withDefault(20)),
  perUser: Config.Int("LIVE_MAX_STREAMS_PER_USER").pipe(Config.withDefault(5))
})

/** A slot taken by one open stream; `release` is idempotent. @since 0.1.0 */
export interface Slot {
  readonly release: Effect.Effect<void>
}

/** @since 0.1.0 */
export interface StreamLimits {
  /**
   * Takes a slot for the request's client (and `userId`, when authenticated), or answers the 429
   * refusing it.
   */
  readonly acquire: (
    userId: string | undefined
  ) => Effect.Effect<Slot | HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest>
}

/** @since 0.1.0 */
export const make = Effect.gen(function*() {
  const limits = yield* config
  const counts = new Map<string, number>()
  const count = (key: string) => counts.get(key) ?? 0
  const change = (key: string, delta: number) => {
    const next = count(key) + delta
    if (next <= 0) counts.delete(key)
    else counts.set(key, next)
  }
  const refuse = (detail: string) =>
    Problem.respond(429, "too-many-streams", detail, { headers: { "retry-after": "30" } })

  const acquire: StreamLimits["acquire"] = (userId) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const clientKey = ClientAddress.rateLimitKey(request.remoteAddress)
      const userKey = userId === undefined ? undefined : `user:${userId}`
      if (count(clientKey) >= limits.perClient) {
        return yield* refuse(`At most ${limits.perClient} live streams per client`)
      }
      if (userKey !== undefined && count(userKey) >= limits.perUser) {
        return yield* refuse(`At most ${limits.perUser} live streams per user`)
      }
      change(clientKey, 1)
      if (userKey !== undefined) change(userKey, 1)
      let released = false
      const slot: Slot = {
        release: Effect.sync(() => {
          if (released) return
          released = true
          change(clientKey, -1)
          if (userKey !== undefined) change(userKey, -1)
        })
      }
      return slot
    })

  return { acquire } satisfies StreamLimits
})
