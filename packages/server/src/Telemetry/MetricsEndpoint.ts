/**
 * `GET /metrics`: every Effect metric of the process (this server's and those of the packages it runs —
 * cache, outbox, resilience — which all record into Effect's default registry) in the Prometheus text
 * format, rendered by `PrometheusMetrics` from `effect/observability`.
 *
 * Access: `METRICS_ENABLED=false` removes the route (404); with `METRICS_TOKEN` set a scraper must send
 * `Authorization: Bearer <token>` (compared in constant time), else 401. The token is a `Redacted`
 * config value, so it never appears in logs.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Option, Redacted } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Problem from "../Problem.ts"

/** @since 0.1.0 */
export interface Options {
  readonly enabled: boolean
  readonly token: Option.Option<Redacted.Redacted<string>>
}

const digest = (value: string) => createHash("sha256").update(value).digest()

/** Whether an `Authorization` header carries the token. @since 0.1.0 */
export const authorizes = (header: string | undefined, token: Redacted.Redacted<string>): boolean => {
  const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim())
  // Hash both sides so the comparison is constant-time whatever the lengths.
  return match !== null && timingSafeEqual(digest(match[1]!), digest(Redacted.value(token)))
}

/**
 * The route (nothing when disabled).
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<never, never, HttpRouter.HttpRouter> => {
  if (!options.enabled) return Layer.empty as Layer.Layer<never, never, HttpRouter.HttpRouter>
  const render = Effect.map(
    PrometheusMetrics.format(),
    (body) => HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
  )
  const handler = Option.match(options.token, {
    onNone: () => render,
    onSome: (token) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        authorizes(request.headers["authorization"], token)
          ? render
          : Problem.respond(401, "unauthenticated", "A metrics token is required", {
            headers: { "www-authenticate": `Bearer realm="metrics"` }
          }))
  })
  return HttpRouter.add("GET", "/metrics", handler) as Layer.Layer<never, never, HttpRouter.HttpRouter>
}
