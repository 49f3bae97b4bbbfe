/**
 * The one global router middleware of the secure HTTP defaults, in this order from the outside in:
 *
 * 1. trusted `X-Forwarded-*` applied (client address, scheme);
 * 2. security headers and CORS headers registered as a pre-response handler, so they also land on
 *    404/405/413/500 responses the framework or `Problem` makes (STACK.md);
 * 3. CORS preflight answered (allowed origin: 204 with the CORS fields; refused: 403, no CORS field);
 * 4. the request timeout (`REQUEST_TIMEOUT` → 503 `request-timeout`);
 * 5. the body limit (`MAX_BODY_BYTES`: a declared `Content-Length` above it is refused at once, a
 *    chunked body is cut while being read; both → 413 `payload-too-large`);
 * 6. rate limiting (`RateLimit/HttpRateLimit.ts`).
 *
 * One middleware rather than several because the order of global middleware depends on layer build
 * order; here it is written down.
 *
 * @since 0.1.0
 */
import { ByteSize, Context, Effect } from "effect"
import {
  HttpEffect,
  HttpIncomingMessage,
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import * as Problem from "../Problem.ts"
import { limit } from "../RateLimit/HttpRateLimit.ts"
import * as ClientAddress from "./ClientAddress.ts"
import * as SecurityHeaders from "./Headers.ts"
import { HttpSecurity } from "./Settings.ts"

/** Methods and request headers a browser may use cross-origin. @since 0.1.0 */
export const corsAllowMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"
/** @since 0.1.0 */
export const corsAllowHeaders =
  "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Correlation-Id, traceparent, tracestate"
/** Response headers a cross-origin script may read. @since 0.1.0 */
export const corsExposeHeaders =
  "Location, ETag, Retry-After, RateLimit, RateLimit-Policy, X-Correlation-Id, WWW-Authenticate"

const appendVary = (response: HttpServerResponse.HttpServerResponse, value: string) => {
  const existing = response.headers["vary"]
  return HttpServerResponse.setHeader(response, "vary", existing === undefined ? value : `${existing}, ${value}`)
}

const isSecure = (request: HttpServerRequest.HttpServerRequest): boolean => {
  if (request.protocol === "https") return true
  const socket = (request.source as { readonly socket?: { readonly encrypted?: boolean } } | undefined)?.socket
  return socket?.encrypted === true
}

const isBodyTooLarge = (error: unknown): boolean => {
  if (!HttpServerError.isHttpServerError(error) || error.reason._tag !== "RequestParseError") return false
  const reason = error.reason
  return reason.reason === "BodyTooLarge" || /maxBytes|too large/i.test(String((reason.cause as Error | undefined)?.message))
}

/** @since 0.1.0 */
export const middleware = HttpRouter.middleware(
  Effect.gen(function*() {
    const settings = yield* HttpSecurity
    const forwarded = ClientAddress.withForwarded(settings.trustedProxies)
    const anyOrigin = settings.corsOrigins.includes("*")
    const origins = new Set(settings.corsOrigins)
    const corsEnabled = settings.corsOrigins.length > 0
    const maxBodySize = ByteSize.bytes(settings.maxBodyBytes)
    // Called once when the router is built: everything per request lives inside `Effect.suspend`.
    return (routed) =>
      Effect.suspend(() => {
      // The router records the matched route in the fiber context (`RouteContext`), which request
      // metrics read after the response. The timeout below runs the request on a child fiber and
      // `provideService` restores the context on exit: carry the route back out to this fiber.
      let route: HttpRouter.RouteContext["Service"] | undefined
      const httpEffect = Effect.onExit(routed, () =>
        Effect.withFiber((fiber) => {
          route = Context.getOrUndefined(fiber.context, HttpRouter.RouteContext)
          return Effect.void
        }))
      const restoreRoute = Effect.withFiber((fiber) => {
        if (route !== undefined) fiber.setContext(Context.add(fiber.context, HttpRouter.RouteContext, route))
        return Effect.void
      })
      return forwarded(Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const origin = request.headers["origin"]
        const allowedOrigin = origin !== undefined && (anyOrigin || origins.has(origin)) ? origin : undefined
        const facts: SecurityHeaders.RequestFacts = {
          secure: isSecure(request),
          authenticated: request.headers["authorization"] !== undefined,
          hstsMaxAge: settings.hstsMaxAge
        }
        yield* HttpEffect.appendPreResponseHandler((_, response) => {
          let result = SecurityHeaders.apply(response, facts)
          if (corsEnabled) {
            result = appendVary(result, "Origin")
            if (allowedOrigin !== undefined) {
              result = HttpServerResponse.setHeaders(result, {
                "access-control-allow-origin": allowedOrigin,
                "access-control-expose-headers": corsExposeHeaders
              })
            }
          }
          return Effect.succeed(result)
        })

        if (request.method === "OPTIONS" && origin !== undefined && request.headers["access-control-request-method"] !== undefined) {
          if (allowedOrigin === undefined) {
            return yield* Problem.respond(403, "cors-origin-refused", "This origin may not call the API")
          }
          return HttpServerResponse.empty({
            status: 204,
            headers: {
              "access-control-allow-methods": corsAllowMethods,
              "access-control-allow-headers": corsAllowHeaders,
              "access-control-max-age": "600",
              "vary": "Access-Control-Request-Method, Access-Control-Request-Headers"
            }
          })
        }

        const declared = Number(request.headers["content-length"] ?? "0")
        if (Number.isFinite(declared) && declared > settings.maxBodyBytes) {
          return yield* Problem.respond(413, "payload-too-large", `The request body exceeds ${settings.maxBodyBytes} bytes`)
        }

        return yield* limit(httpEffect).pipe(
          Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize),
          // A body cut while being read may surface as a failure or as a defect of the decoder.
          Effect.catchCause((cause) =>
            cause.reasons.some((reason) => isBodyTooLarge(reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined))
              ? Problem.respond(413, "payload-too-large", `The request body exceeds ${settings.maxBodyBytes} bytes`)
              : Effect.failCause(cause)
          ),
          Effect.timeoutOrElse({
            duration: settings.requestTimeout,
            orElse: () =>
              Problem.respond(503, "request-timeout", "The request took too long; retry later", {
                headers: { "retry-after": "1" }
              })
          })
        )
      })).pipe(Effect.ensuring(restoreRoute))
    })
  }),
  { global: true }
)
