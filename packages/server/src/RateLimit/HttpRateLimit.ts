/**
 * Rate limiting of the HTTP API (SPEC §4): `general` per client (IPv4 address or IPv6 /64, see
 * `Security/ClientAddress.ts`) on every route but the probes and `/metrics`, and `register` per user on
 * `POST /v1/events/{id}/registrations`. Decisions come from `@live-events/resilience` `RateLimiter`,
 * over Redis when `REDIS_URL` is set (one count shared by every process) or in memory. The limiter
 * never fails: a store outage is decided by the configured fallback, never answered with a 5xx.
 *
 * Every limited response carries `RateLimit-Policy` and `RateLimit` (IETF httpapi draft-10); a
 * rejection is a 429 `rate-limited` problem with `Retry-After`.
 *
 * @since 0.1.0
 */
import { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpEffect, HttpServerRequest, HttpServerResponse } from "effect/http"
import { RateLimit, RateLimitHeaders } from "@live-events/resilience"
import { TokenVerifier } from "../Auth/TokenVerifier.ts"
import * as ServerConfig from "../Config.ts"
import * as Problem from "../Problem.ts"
import * as ClientAddress from "../Security/ClientAddress.ts"

/** @since 0.1.0 */
export interface Settings {
  readonly general: RateLimit.RateLimitPolicy
  readonly register: RateLimit.RateLimitPolicy
}

/** @since 0.1.0 */
export class HttpRateLimit extends Context.Service<HttpRateLimit, {
  /** `None`: rate limiting is switched off (`RATE_LIMIT_ENABLED=false`, load tests). */
  readonly limiter: Option.Option<RateLimit.RateLimiter["Service"]>
  readonly settings: Settings
}>()("@live-events/server/HttpRateLimit") {}

/** @since 0.1.0 */
export const defaultSettings: Settings = {
  general: RateLimit.defaultPolicies.general,
  register: RateLimit.defaultPolicies.register
}

/** No rate limiting. @since 0.1.0 */
export const layerDisabled: Layer.Layer<HttpRateLimit> = Layer.succeed(HttpRateLimit, {
  limiter: Option.none(),
  settings: defaultSettings
})

const fromLimiter = (settings: Settings) =>
  Layer.effect(
    HttpRateLimit,
    Effect.gen(function*() {
      const limiter = yield* RateLimit.RateLimiter
      return HttpRateLimit.of({ limiter: Option.some(limiter), settings })
    })
  )

/** Counts in this process (embedded mode, tests). @since 0.1.0 */
export const layerMemory = (
  settings: Partial<Settings> = {},
  options?: Partial<RateLimit.LimiterOptions>
): Layer.Layer<HttpRateLimit> =>
  fromLimiter({ ...defaultSettings, ...settings }).pipe(Layer.provide(RateLimit.layerMemory(options)))

/**
 * Counts in Redis at `url`, shared by every process using the same `prefix`.
 *
 * @since 0.1.0
 */
export const layerRedis = (options: {
  readonly url: string
  readonly prefix: string
  readonly settings?: Partial<Settings> | undefined
  readonly limiter?: Partial<RateLimit.LimiterOptions> | undefined
}) =>
  fromLimiter({ ...defaultSettings, ...options.settings }).pipe(
    Layer.provide(RateLimit.layerRedis({ ...options.limiter, prefix: options.prefix })),
    Layer.provide(NodeRedis.layer({ url: options.url }))
  )

/**
 * From the environment: `RATE_LIMIT_ENABLED`, `REDIS_URL` (else memory), `RATE_LIMIT_REDIS_PREFIX`,
 * `RATE_LIMIT_GENERAL_*` / `RATE_LIMIT_REGISTER_*` (`_LIMIT`, `_WINDOW`, `_ALGORITHM`),
 * `RATE_LIMIT_ON_STORE_FAILURE`, `RATE_LIMIT_STORE_TIMEOUT`. A Redis that cannot be reached at start-up
 * is logged and replaced by the configured fallback: a process that cannot count in Redis still serves.
 *
 * @since 0.1.0
 */
export const layerConfig = Layer.unwrap(Effect.gen(function*() {
  const config = yield* ServerConfig.rateLimit
  if (!config.enabled) return layerDisabled
  const settings: Settings = {
    general: yield* RateLimit.policyConfig(RateLimit.defaultPolicies.general),
    register: yield* RateLimit.policyConfig(RateLimit.defaultPolicies.register)
  }
  const limiter = yield* RateLimit.optionsConfig
  const redisUrl = yield* ServerConfig.redisUrl
  if (Option.isNone(redisUrl)) return layerMemory(settings, limiter)
  const fallback = limiter.onStoreFailure === "fail-open"
    ? Layer.succeed(HttpRateLimit, {
      limiter: Option.some(RateLimit.RateLimiter.of({
        consume: (policy) =>
          Effect.succeed(RateLimit.toDecision(policy, {
            allowed: true,
            remaining: policy.limit,
            resetMillis: 0,
            retryAfterMillis: 0
          }, "fail-open"))
      })),
      settings
    })
    : layerMemory(settings, limiter)
  return layerRedis({ url: Redacted.value(redisUrl.value), prefix: config.redisPrefix, settings, limiter }).pipe(
    Layer.catchCause((cause) =>
      Layer.effectDiscard(Effect.logWarning(
        `Redis unreachable at start-up: rate limits decided with ${limiter.onStoreFailure}`,
        cause
      )).pipe(Layer.provideMerge(fallback))
    )
  )
}))

const registerRoute = /^\/v1\/events\/[^/]+\/registrations\/?$/
const unlimited = new Set(["/health/live", "/health/ready", "/metrics"])

const subjectOf = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const authorization = request.headers["authorization"]
    if (authorization === undefined || !/^bearer /i.test(authorization)) return Option.none<string>()
    const verifier = yield* TokenVerifier
    const verified = yield* Effect.result(verifier.verify(authorization.slice(7).trim()))
    return verified._tag === "Success" ? Option.some(verified.success.subject) : Option.none<string>()
  })

/**
 * Limits `httpEffect` (the request must already carry its trusted client address, see
 * `ClientAddress.withForwarded`). The `register` policy is keyed by the verified token subject; an
 * anonymous or invalid-token registration is left to authentication to refuse.
 *
 * @since 0.1.0
 */
export const limit = <E, R>(
  httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  E,
  R | HttpServerRequest.HttpServerRequest | HttpRateLimit | TokenVerifier
> =>
  Effect.gen(function*() {
    const { limiter: maybeLimiter, settings } = yield* HttpRateLimit
    if (Option.isNone(maybeLimiter)) return yield* httpEffect
    const limiter = maybeLimiter.value
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = request.url.split("?")[0] ?? request.url
    if (request.method === "OPTIONS" || unlimited.has(path)) return yield* httpEffect
    const decisions: Array<RateLimit.Decision> = [
      yield* limiter.consume(settings.general, ClientAddress.rateLimitKey(request.remoteAddress))
    ]
    if (decisions[0]!.allowed && request.method === "POST" && registerRoute.test(path)) {
      const subject = yield* subjectOf(request)
      if (Option.isSome(subject)) decisions.push(yield* limiter.consume(settings.register, `user:${subject.value}`))
    }
    const headers = RateLimitHeaders.fromDecisions(decisions)
    if (headers !== undefined) {
      const fields: Record<string, string> = {
        "ratelimit-policy": headers["RateLimit-Policy"],
        "ratelimit": headers.RateLimit
      }
      if (headers["Retry-After"] !== undefined) fields["retry-after"] = headers["Retry-After"]
      yield* HttpEffect.appendPreResponseHandler((_, response) =>
        Effect.succeed(HttpServerResponse.setHeaders(response, fields))
      )
    }
    const rejected = decisions.find((decision) => !decision.allowed)
    if (rejected !== undefined) {
      return yield* Problem.respond(
        429,
        "rate-limited",
        `Too many requests (${rejected.policy.name} limit ${rejected.limit} per ${rejected.windowSeconds} s); retry later`
      )
    }
    return yield* httpEffect
  })
