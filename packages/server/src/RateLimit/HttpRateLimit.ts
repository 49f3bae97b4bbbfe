/**
 * Rate limiting of the HTTP API: `general` per client (IPv4 address or IPv6 /64, see
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
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { RateLimit, RateLimitHeaders } from "@live-events/resilience"
import { bearerCredential } from "../Auth/Middleware.ts"
import { TokenVerifier } from "../Auth/TokenVerifier.ts"
import * as ServerConfig from "../Config.ts"
import * as Problem from "../Problem.ts"
import * as ClientAddress from "../Security/ClientAddress.ts"
import * as RequestState from "../Telemetry/RequestState.ts"

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
 * Counts in Redis at `url`, shared by every process using the same `prefix`. The Redis client (several
 * hundred modules) is loaded only here, when a process counts in Redis: a start without `REDIS_URL`
 * does not pay for it.
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
    Layer.provide(Layer.unwrap(Effect.promise(async () => {
      const NodeRedis = await import("@effect/platform-node/NodeRedis")
      return NodeRedis.layer({ url: options.url })
    })))
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

/** The route template of registrations: the `register` policy keys on this, never on the raw URL. */
const registerRoute = "/v1/events/:id/registrations"
const unlimited = new Set(["/health/live", "/health/ready", "/metrics"])

const bearerSubject = (verifier: TokenVerifier["Service"], authorization: string | undefined) => {
  // The credential exactly as authentication reads it, so that the two share one cached verification.
  const token = bearerCredential(authorization)
  if (token === undefined) return Effect.succeed(undefined)
  return Effect.match(verifier.verify(token), {
    onFailure: () => undefined,
    onSuccess: (verified) => verified.subject
  })
}

/** `"general";q=100;w=60` per policy, and the quoted name, computed once per policy object. */
interface PolicyText {
  readonly name: string
  readonly policy: string
}
const policyTexts = new WeakMap<RateLimit.RateLimitPolicy, PolicyText>()
const policyText = (decision: RateLimit.Decision): PolicyText => {
  let text = policyTexts.get(decision.policy)
  if (text === undefined) {
    text = {
      name: RateLimitHeaders.sfString(decision.policy.name),
      policy: RateLimitHeaders.formatPolicy([{ name: decision.policy.name, quota: decision.limit, window: decision.windowSeconds }])
    }
    policyTexts.set(decision.policy, text)
  }
  return text
}

/**
 * The draft-10 fields of one or two decisions (the same text `RateLimitHeaders.fromDecisions` makes).
 *
 * @since 0.1.0
 */
export const fieldsOf = (first: RateLimit.Decision, second?: RateLimit.Decision): Record<string, string> => {
  const one = policyText(first)
  let policy = one.policy
  let rateLimit = `${one.name};r=${first.allowed ? first.remaining : 0};t=${first.resetSeconds}`
  let retryAfter = first.allowed ? 0 : first.retryAfterSeconds
  if (second !== undefined) {
    const two = policyText(second)
    policy += `, ${two.policy}`
    rateLimit += `, ${two.name};r=${second.allowed ? second.remaining : 0};t=${second.resetSeconds}`
    if (!second.allowed) retryAfter = Math.max(retryAfter, second.retryAfterSeconds)
  }
  const fields: Record<string, string> = { "ratelimit-policy": policy, "ratelimit": rateLimit }
  if (!first.allowed || (second !== undefined && !second.allowed)) fields["retry-after"] = String(Math.max(1, retryAfter))
  return fields
}

const rejection = (decision: RateLimit.Decision) =>
  Problem.respond(
    429,
    "rate-limited",
    `Too many requests (${decision.policy.name} limit ${decision.limit} per ${decision.windowSeconds} s); retry later`
  )

/**
 * Rate limiting as route middleware: it runs once the router has matched, so it keys on the route
 * template (`POST /v1/events/:id/registrations`), whatever spelling of the path reached it (`//v1/…`,
 * `%72egistrations`). `general` counts per client (the trusted address, see `ClientAddress`) on every
 * route but the probes and `/metrics`; `register` per verified token subject. An anonymous or
 * invalid-token registration is left to authentication to refuse. The fields go to the response
 * through the request's state (`Telemetry/RequestState.ts`).
 *
 * @since 0.1.0
 */
export const routeMiddleware = HttpRouter.middleware(
  Effect.gen(function*() {
    const { limiter: maybeLimiter, settings } = yield* HttpRateLimit
    const verifier = yield* TokenVerifier
    return (handler) => {
      if (Option.isNone(maybeLimiter)) return handler
      const limiter = maybeLimiter.value
      return Effect.withFiber((fiber) => {
        const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
        const route = Context.getUnsafe(fiber.context, HttpRouter.RouteContext).route
        if (request.method === "OPTIONS" || unlimited.has(route.path)) return handler
        const respond = (fields: Record<string, string>, rejected: RateLimit.Decision | undefined) => {
          const state = RequestState.of(fiber.context)
          if (state !== undefined) state.fields = fields
          return rejected === undefined ? handler : rejection(rejected)
        }
        return Effect.flatMap(limiter.consume(settings.general, ClientAddress.rateLimitKey(request.remoteAddress)), (general) => {
          if (!general.allowed || request.method !== "POST" || route.path !== registerRoute) {
            return respond(fieldsOf(general), general.allowed ? undefined : general)
          }
          return Effect.flatMap(bearerSubject(verifier, request.headers["authorization"]), (subject) =>
            subject === undefined
              ? respond(fieldsOf(general), undefined)
              : Effect.flatMap(limiter.consume(settings.register, `user:${subject}`), (register) =>
                respond(fieldsOf(general, register), register.allowed ? undefined : register)))
        })
      })
    }
  })
)
