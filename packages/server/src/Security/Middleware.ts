/**
 * The request pipeline: ONE global router middleware whose stages run in this order, from the outside in:
 *
 * 1. telemetry (`Telemetry/HttpTelemetry.ts`): the request's state added to the context once
 *    (correlation id, role, response fields) and its span; its metrics and log line are recorded by the
 *    pre-response handler (3.), which every response passes;
 * 2. trusted `X-Forwarded-*` applied (client address, scheme);
 * 3. ONE pre-response handler that writes, in one header copy, the correlation id, the security headers
 *    (precomputed per combination of TLS and authentication, see `Headers.ts`), the CORS fields and the
 *    rate-limit fields the route's limiter left in the request's state; registered first, so it also
 *    lands on 404/405/413/429/500 responses the framework or the problem stage makes;
 * 4. CORS preflight answered (allowed origin: 204 with the CORS fields; refused: 403, no CORS field);
 * 5. the body limit (`MAX_BODY_BYTES`: a declared `Content-Length` above it is refused at once, a
 *    chunked body is cut while being read; both → 413 `payload-too-large`);
 * 6. problems (`Problem.mapFailures`): unknown routes, framework errors and defects as problems.
 *
 * Rate limits run inside the matched route (`RateLimit/HttpRateLimit.ts`: they key on the route
 * template, never on the raw URL). There is no per-request timer here: the Node server bounds how long
 * a request may take to arrive (`requestTimeout`, see `Server.ts`) and every I/O the
 * request waits on has its own timeout (database policies → 503 with `Retry-After`, cache, rate-limit
 * store), so a request cannot hang on anything but CPU.
 *
 * One middleware rather than several because the order of global middleware depends on layer build
 * order; here it is written down. It is also cheaper: Effect's HTTP server serves a request without
 * middleware of its own in a single continuation frame (see `Server.make`).
 *
 * @since 0.1.0
 */
import { ByteSize, Context, Effect, Layer, Option } from "effect"
import {
  HttpEffect,
  HttpIncomingMessage,
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import * as Problem from "../Problem.ts"
import * as Correlation from "../Telemetry/Correlation.ts"
import * as HttpTelemetry from "../Telemetry/HttpTelemetry.ts"
import * as RequestState from "../Telemetry/RequestState.ts"
import { Telemetry } from "../Telemetry/Telemetry.ts"
import * as ClientAddress from "./ClientAddress.ts"
import * as SecurityHeaders from "./Headers.ts"
import { HttpSecurity } from "./Settings.ts"

/** @since 0.1.0 */
export const { corsAllowHeaders, corsAllowMethods, corsExposeHeaders } = SecurityHeaders

/**
 * The stages this middleware runs; all on in production. `bench/pipeline.ts` switches them off one at
 * a time to price each.
 *
 * @since 0.1.0
 */
export interface Stages {
  /** Security headers and CORS (preflight included). */
  readonly security: boolean
  readonly bodyLimit: boolean
  /** Framework errors and defects turned into problems (`Problem.mapFailures`). */
  readonly problems: boolean
}

/** @since 0.1.0 */
export const allStages: Stages = { security: true, bodyLimit: true, problems: true }

const isBodyTooLarge = (error: unknown): boolean => {
  if (!HttpServerError.isHttpServerError(error) || error.reason._tag !== "RequestParseError") return false
  const reason = error.reason
  return reason.reason === "BodyTooLarge" || /maxBytes|too large/i.test(String((reason.cause as Error | undefined)?.message))
}

const encrypted = (request: HttpServerRequest.HttpServerRequest): boolean =>
  (request.source as { readonly socket?: { readonly encrypted?: boolean } } | undefined)?.socket?.encrypted === true

/**
 * The middleware with some stages switched off (benchmarks). Telemetry follows the server's
 * `Telemetry` settings (off when they are absent): the request's state is added either way.
 *
 * @since 0.1.0
 */
export const make = (stages: Stages = allStages) =>
  HttpRouter.middleware(
    Effect.gen(function*() {
      const settings = yield* HttpSecurity
      const telemetry = Option.getOrUndefined(yield* Effect.serviceOption(Telemetry))
      const observe = HttpTelemetry.observer({
        logRequests: telemetry?.enabled === true && telemetry.logRequests,
        metrics: telemetry?.enabled === true,
        // Without an exporter, Effect's HTTP tracing is off for requests (see `Server.make`): the
        // request's span is then ours.
        ownSpan: telemetry?.enabled === true && !telemetry.tracesExported
      })
      const forwarded = ClientAddress.forwarded(settings.trustedProxies)
      const anyOrigin = settings.corsOrigins.includes("*")
      const origins = new Set(settings.corsOrigins)
      const corsEnabled = settings.corsOrigins.length > 0 && stages.security
      const headerSets = SecurityHeaders.precompute(settings.hstsMaxAge, corsEnabled)
      const tooLarge = () =>
        Problem.respond(413, "payload-too-large", `The request body exceeds ${settings.maxBodyBytes} bytes`)
      // Called once when the router is built: everything per request lives inside `withFiber`.
      return (routed) => {
        const limited = stages.bodyLimit
          ? routed.pipe(
            // A body cut while being read may surface as a failure or as a defect of the decoder.
            Effect.catchCause((cause) =>
              cause.reasons.some((reason) => isBodyTooLarge(reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined))
                ? tooLarge()
                : Effect.failCause(cause)
            )
          )
          : routed
        const inner = stages.problems ? Problem.mapFailures(limited) : limited
        return Effect.withFiber((fiber) => {
          const observation = observe(fiber)
          let request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
          let secure = request.protocol === "https" || encrypted(request)
          if (forwarded !== undefined) {
            const applied = forwarded(request)
            if (applied.request !== request) {
              request = applied.request
              fiber.setContext(Context.add(fiber.context, HttpServerRequest.HttpServerRequest, request))
            }
            secure = secure || applied.secure
          }
          const state = RequestState.of(fiber.context)!
          const headers = request.headers
          const origin = headers["origin"]
          const allowedOrigin = corsEnabled && origin !== undefined && (anyOrigin || origins.has(origin)) ? origin : undefined
          const base = stages.security
            ? SecurityHeaders.select(headerSets, secure, headers["authorization"] !== undefined, allowedOrigin !== undefined)
            : undefined
          HttpEffect.appendPreResponseHandlerUnsafe(fiber.context, (_, response) => {
            const fields: Record<string, string> = base === undefined ? {} : { ...base }
            if (base !== undefined) {
              const csp = SecurityHeaders.cspFor(response)
              if (csp !== SecurityHeaders.apiCsp) fields["content-security-policy"] = csp
              if (allowedOrigin !== undefined) fields["access-control-allow-origin"] = allowedOrigin
              const vary = response.headers["vary"]
              if (corsEnabled && vary !== undefined) fields["vary"] = `${vary}, Origin`
            }
            fields[Correlation.header] = state.correlationId
            if (state.fields !== undefined) Object.assign(fields, state.fields)
            let result = HttpServerResponse.setHeaders(response, fields)
            if (result.headers["x-powered-by"] !== undefined) result = HttpServerResponse.removeHeader(result, "x-powered-by")
            if (result.headers["server"] !== undefined) result = HttpServerResponse.removeHeader(result, "server")
            return observation === undefined ? Effect.succeed(result) : observation.answer(fiber, result)
          })

          if (
            stages.security && request.method === "OPTIONS" && origin !== undefined &&
            headers["access-control-request-method"] !== undefined
          ) {
            if (allowedOrigin === undefined) {
              return Problem.respond(403, "cors-origin-refused", "This origin may not call the API")
            }
            return Effect.succeed(HttpServerResponse.empty({ status: 204, headers: SecurityHeaders.preflight }))
          }

          if (stages.bodyLimit) {
            const declared = headers["content-length"]
            if (declared !== undefined && Number(declared) > settings.maxBodyBytes) return tooLarge()
          }
          // The body limit itself, `MaxBodySize`, is in the server's context: see {@link layerBodyLimit}.
          return inner
        })
      }
    }),
    { global: true }
  )

/** @since 0.1.0 */
export const middleware = make()

/**
 * The body limit (`MAX_BODY_BYTES`) of every request the server reads: a reference in the server's
 * context, set once, rather than a context change per request.
 *
 * @since 0.1.0
 */
export const layerBodyLimit = (stages: Stages = allStages): Layer.Layer<never, never, HttpSecurity> =>
  stages.bodyLimit
    ? Layer.effectContext(Effect.map(Effect.service(HttpSecurity), (settings) =>
      Context.make(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(settings.maxBodyBytes))))
    : Layer.empty
