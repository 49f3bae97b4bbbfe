/**
 * Per-request telemetry, as one `HttpServer.serve` middleware so that it sees every request — routed,
 * unrouted, refused by authentication, failed — exactly once:
 *
 * - the correlation id (`X-Correlation-ID` accepted when well-formed, else generated), annotated on
 *   every log line of the request and echoed on every response (by the security middleware's one
 *   pre-response handler, so framework-made 4xx/5xx carry it too);
 * - `http_server_requests_total` and `http_server_request_duration_seconds` by method, route template
 *   (`/v1/events/:id`, `unmatched` for unknown paths — never the raw path) and status;
 * - one log line per request (`http request`: method, route, status, duration, role — no path, query,
 *   header or body), at DEBUG for probes and scrapes;
 * - the caller's role on the server span (`user.roles`), set by the authentication middleware through
 *   {@link RequestInfo};
 * - the correlation id for the audit log (`Audit.AuditContext`).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, Metric, References, Tracer } from "effect"
import {
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  type HttpServerResponse
} from "effect/http"
import { Audit } from "@live-events/domain"
import * as Correlation from "./Correlation.ts"
import * as Logging from "./Logging.ts"

/**
 * What the request learns about itself while it runs. Mutable on purpose: the authentication
 * middleware runs deep inside and reports the role outwards.
 *
 * @since 0.1.0
 */
export interface RequestState {
  readonly correlationId: string
  role: string | undefined
  /** Response fields a later stage adds (rate limits), written by the security middleware's handler. */
  fields: Record<string, string> | undefined
}

/** @since 0.1.0 */
export class RequestInfo extends Context.Service<RequestInfo, RequestState>()("@live-events/server/RequestInfo") {}

/**
 * Reports the caller's roles for the request's metrics, log line and span. Roles are a closed set
 * (`admin`, `organizer`, `attendee`), so this never carries personal data.
 *
 * @since 0.1.0
 */
export const reportRoles = (roles: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const info = Context.getOrUndefined(fiber.context, RequestInfo)
    if (info !== undefined) info.role = roleText(roles)
    return Effect.void
  })

// A verified token's roles array is reused for as long as the verification is cached: join it once.
const roleTexts = new WeakMap<ReadonlyArray<string>, string>()
const roleText = (roles: ReadonlyArray<string>): string => {
  let text = roleTexts.get(roles)
  if (text === undefined) {
    text = roles.length === 0 ? "attendee" : [...roles].sort().join(",")
    roleTexts.set(roles, text)
  }
  return text
}

const requestsTotalOptions = {
  description: "HTTP requests answered, by method, route template and status",
  incremental: true
}

const requestDurationOptions = {
  description: "Time from receiving a request to sending its response, by method, route template and status",
  boundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
}

/** @since 0.1.0 */
export const requestsTotal = Metric.counter("http_server_requests_total", requestsTotalOptions)

/** @since 0.1.0 */
export const requestDuration = Metric.histogram("http_server_request_duration_seconds", requestDurationOptions)

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

/** Routes whose request lines are logged at DEBUG: probes and scrapes would drown the rest. */
const quietRoutes = new Set(["/metrics", "/health/live", "/health/ready"])

interface Bound {
  readonly count: Metric.Metric<number, unknown>
  readonly duration: Metric.Metric<number, unknown>
}
// method → route → status: all three bounded, so this cache is too; nested so that a lookup builds no key.
const bound = new Map<string, Map<string, Map<number, Bound>>>()

const metricsFor = (method: string, route: string, status: number): Bound => {
  let byRoute = bound.get(method)
  if (byRoute === undefined) bound.set(method, byRoute = new Map())
  let byStatus = byRoute.get(route)
  if (byStatus === undefined) byRoute.set(route, byStatus = new Map())
  let metrics = byStatus.get(status)
  if (metrics === undefined) {
    // One metric object per series, its attributes given at construction: `Metric.withAttributes` over a
    // shared metric would re-derive the series key whenever consecutive updates hit different series.
    const attributes = { method, route, status: String(status) }
    metrics = {
      count: Metric.counter("http_server_requests_total", { ...requestsTotalOptions, attributes }),
      duration: Metric.histogram("http_server_request_duration_seconds", { ...requestDurationOptions, attributes })
    }
    byStatus.set(status, metrics)
  }
  return metrics
}

const statusOf = (exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>): Effect.Effect<number> =>
  Exit.isSuccess(exit)
    ? Effect.succeed(exit.value.status)
    : Effect.map(HttpServerError.causeResponse(exit.cause), ([response]) => response.status)

/** @since 0.1.0 */
export interface Options {
  /** Log one line per request (default true). */
  readonly logRequests?: boolean | undefined
  /** The tracer the request runs with, when the edge runs on another (see `Server.make`). */
  readonly requestTracer?: Tracer.Tracer | undefined
}

/**
 * The middleware; pass it to `HttpServer.serve`.
 *
 * @since 0.1.0
 */
export const middleware = (options: Options = {}) => {
  const logRequests = options.logRequests ?? true
  const requestTracer = options.requestTracer
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      const clock = fiber.getRef(Clock.Clock)
      const started = clock.currentTimeNanosUnsafe()
      // Echoed on the response by the security middleware's pre-response handler, with the other fields.
      const state: RequestState = {
        correlationId: Correlation.fromHeader(request.headers[Correlation.header]),
        role: undefined,
        fields: undefined
      }
      const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
      if (span !== undefined && span._tag === "Span") span.attribute("correlation.id", state.correlationId)
      const method = knownMethods.has(request.method) ? request.method : "OTHER"
      return app.pipe(
        // Innermost, so the router's `RouteContext` is still in the fiber's context when it runs.
        Effect.onExit((exit) =>
          Effect.withFiber((inner) => {
            const route = Context.getOrUndefined(inner.context, HttpRouter.RouteContext)?.route.path ?? "unmatched"
            return Effect.flatMap(statusOf(exit), (status) => {
              const seconds = Number(clock.currentTimeNanosUnsafe() - started) / 1e9
              if (span !== undefined && span._tag === "Span" && state.role !== undefined) {
                span.attribute("user.roles", state.role.split(","))
              }
              const metrics = metricsFor(method, route, status)
              metrics.count.updateUnsafe(1, inner.context)
              metrics.duration.updateUnsafe(seconds, inner.context)
              if (!logRequests) return Effect.void
              const level = quietRoutes.has(route) ? "Debug" : status >= 500 ? "Warn" : "Info"
              const durationMs = Math.round(seconds * 1e6) / 1e3
              const direct = inner.getRef(Logging.RequestLines)
              if (direct !== undefined) {
                direct(inner, level, { method, route, status, durationMs, role: state.role })
                return Effect.void
              }
              return Effect.annotateLogs(Effect.logWithLevel(level)("http request"), {
                "http.method": method,
                "http.route": route,
                "http.status": status,
                durationMs,
                ...(state.role !== undefined ? { "user.role": state.role } : {})
              })
            })
          })
        ),
        // One context switch for the request's state, its log annotation and (maybe) its tracer.
        Effect.updateContext((context: Context.Context<R | HttpServerRequest.HttpServerRequest>) => {
          const annotations = Context.get(context, References.CurrentLogAnnotations)
          let next = Context.add(context, RequestInfo, state)
          // The audit log records which request an action came from.
          next = Context.add(next, Audit.AuditContext, { correlationId: state.correlationId })
          next = Context.add(next, References.CurrentLogAnnotations, { ...annotations, correlationId: state.correlationId })
          return requestTracer === undefined ? next : Context.add(next, Tracer.Tracer, requestTracer)
        })
      )
    })
}
