/**
 * The settings of the secure HTTP defaults, parsed once: CORS allow-list, trusted proxies, body limit,
 * request timeout, HSTS max-age.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Result } from "effect"
import { IpNetwork } from "effect/net"
import * as ServerConfig from "../Config.ts"

/** @since 0.1.0 */
export interface Settings {
  /** Origins allowed by CORS, exactly as browsers send them (`https://app.example`); `*` allows any. */
  readonly corsOrigins: ReadonlyArray<string>
  /** Networks whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed. */
  readonly trustedProxies: ReadonlyArray<IpNetwork.IpNetwork>
  readonly maxBodyBytes: number
  readonly requestTimeout: Duration.Duration
  /** `Strict-Transport-Security` max-age in seconds (sent only over TLS or from a trusted proxy saying https). */
  readonly hstsMaxAge: number
}

/** @since 0.1.0 */
export const defaults: Settings = {
  corsOrigins: [],
  trustedProxies: [],
  maxBodyBytes: 64 * 1024,
  requestTimeout: Duration.seconds(15),
  hstsMaxAge: 31_536_000
}

/** Parses CIDRs (a bare address means a single host); a typo is a start-up error, not a silent hole. @since 0.1.0 */
export const parseNetworks = (cidrs: ReadonlyArray<string>): ReadonlyArray<IpNetwork.IpNetwork> =>
  cidrs.map((cidr) => {
    const input = cidr.includes("/") ? cidr : cidr.includes(":") ? `${cidr}/128` : `${cidr}/32`
    const parsed = IpNetwork.fromString(input)
    if (Result.isFailure(parsed)) throw new Error(`TRUSTED_PROXIES: "${cidr}" is not a CIDR`)
    return parsed.success
  })

/** @since 0.1.0 */
export class HttpSecurity extends Context.Service<HttpSecurity, Settings>()("@live-events/server/HttpSecurity") {}

/** @since 0.1.0 */
export const layer = (settings: Partial<Settings> = {}): Layer.Layer<HttpSecurity> =>
  Layer.succeed(HttpSecurity, { ...defaults, ...settings })

/** From the environment (`CORS_ORIGINS`, `TRUSTED_PROXIES`, `MAX_BODY_BYTES`, `REQUEST_TIMEOUT`, `HSTS_MAX_AGE`). @since 0.1.0 */
export const layerConfig = Layer.effect(
  HttpSecurity,
  Effect.gen(function*() {
    const config = yield* ServerConfig.security
    const trustedProxies = yield* Effect.try({
      try: () => parseNetworks(config.trustedProxies),
      catch: (error) => error as Error
    }).pipe(Effect.orDie)
    return HttpSecurity.of({
      corsOrigins: config.corsOrigins,
      trustedProxies,
      maxBodyBytes: config.maxBodyBytes,
      requestTimeout: config.requestTimeout,
      hstsMaxAge: config.hstsMaxAge
    })
  })
)
