/**
 * Per-request telemetry, the outermost stage of the request pipeline's one global middleware
 * (`Security/Middleware.ts`), so that it sees every request — routed, unrouted, refused by
 * authentication, failed — exactly once:
 *
 * - the request's state (`RequestState.ts`), added to the context once: the correlation id
 *   (`X-Correlation-ID` accepted when well-formed, else generated), read by every log line of the
 *   request and by the audit log, and echoed on every response (by the pipeline's one pre-response
 *   handler, so framework-made 4xx/5xx carry it too);
 * - the request's span: Effect's server span when spans are exported; otherwise a native span of our
 *   own (no URL parsing, no header copied into attributes), whose ids the log line and problems carry
 *   and under which the use-cases' spans nest;
 * - `http_server_requests_total` and `http_server_request_duration_seconds` by method, route template
 *   (`/v1/events/:id`, `unmatched` for unknown paths — never the raw path) and status;
 * - one log line per request (`http request`: method, route, status, duration, role — no path, query,
 *   header or body), at DEBUG for probes and scrapes;
 * - the caller's role on an exported server span (`user.roles`), reported by authentication through
 *   {@link reportRoles}.
 *
 * @since 0.1.0
 */
import { type Cause, Clock, Context, Effect, Exit, Metric, Option, Tracer } from "effect"
import {
  HttpRouter,
  HttpServerError,
  HttpServerRequest,
  type HttpServerResponse,
  HttpTraceContext
} from "effect/http"
import * as Correlation from "./Correlation.ts"
import * as Logging from "./Logging.ts"
import * as RequestState from "./RequestState.ts"

/**
 * Reports the caller's roles for the request's metrics, log line and span. Roles are a closed set
 * (`admin`, `organizer`, `attendee`), so this never carries personal data.
 *
 * @since 0.1.0
 */
export const reportRoles = (roles: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const state = RequestState.of(fiber.context)
    if (state !== undefined) state.role = roleText(roles)
    return Effect.void
  })

// A verified token's roles array is reused for as long as the verification is cached: join it once.
// No role or one role (nearly every token) needs no join, and no entry: a person's first request
// brings a new token, and a weak map's entries cost more than the join they save.
const roleTexts = new WeakMap<ReadonlyArray<string>, string>()
const roleText = (roles: ReadonlyArray<string>): string => {
  if (roles.length <= 1) return roles.length === 0 ? "attendee" : roles[0]!
  let text = roleTexts.get(roles)
  if (text === undefined) {
    text = [...roles].sort().join(",")
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

/** The status a failure is answered with (as the server will render it). */
const failureStatus = (cause: Cause.Cause<unknown>): Effect.Effect<number> =>
  Effect.map(HttpServerError.causeResponse(cause), ([response]) => response.status)

/** @since 0.1.0 */
export interface Options {
  /** Log one line per request (default true). */
  readonly logRequests?: boolean | undefined
  /** Count requests and their durations (default true). */
  readonly metrics?: boolean | undefined
  /**
   * Give the request a native span of its own (default false): set when Effect's HTTP server tracing
   * is switched off for requests because no span leaves the process (see `Server.make`).
   */
  readonly ownSpan?: boolean | undefined
}

// Shared by every request's own span: neither is ever written to.
const noLinks: Array<Tracer.SpanLink> = []
const noAnnotations = Context.empty()

const ownSpanOf = (request: HttpServerRequest.HttpServerRequest, method: string, startTime: bigint): Tracer.Span => {
  const headers = request.headers
  // A client's trace continues (W3C or B3), as Effect's server span would continue it.
  const parent = headers["traceparent"] !== undefined || headers["b3"] !== undefined || headers["x-b3-traceid"] !== undefined
    ? HttpTraceContext.fromHeaders(headers)
    : Option.none()
  return new Tracer.NativeSpan({
    // The name Effect's server span has by default.
    name: method,
    parent,
    annotations: noAnnotations,
    links: noLinks,
    startTime,
    kind: "server",
    sampled: Option.isSome(parent) ? parent.value.sampled : true
  })
}

/**
 * The stage, around the rest of the pipeline.
 *
 * @since 0.1.0
 */
export const middleware = (options: Options = {}) => {
  const logRequests = options.logRequests ?? true
  const metrics = options.metrics ?? true
  const ownSpan = options.ownSpan ?? false
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      const state = new RequestState.RequestState(Correlation.fromHeader(request.headers[Correlation.header]))
      // Added in place (the router does the same): the request's frame restores the context when it ends.
      let context = RequestState.add(fiber.context, state)
      if (!metrics && !logRequests && !ownSpan) {
        fiber.setContext(context)
        return app
      }
      const clock = fiber.getRef(Clock.Clock)
      const started = clock.currentTimeNanosUnsafe()
      const method = knownMethods.has(request.method) ? request.method : "OTHER"
      let span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
      if (ownSpan) {
        span = ownSpanOf(request, method, started)
        context = Context.add(context, Tracer.ParentSpan, span)
      } else if (span !== undefined && span._tag === "Span") {
        span.attribute("correlation.id", state.correlationId)
      }
      fiber.setContext(context)
      const own = ownSpan ? span as Tracer.Span : undefined
      const exported = ownSpan || span === undefined || span._tag !== "Span" ? undefined : span
      // Innermost, so the router's `RouteContext` is still in the fiber's context when it runs.
      return Effect.onExit(app, (exit) =>
        Effect.withFiber((inner) => {
          const route = Context.getOrUndefined(inner.context, HttpRouter.RouteContext)?.route.path ?? "unmatched"
          const record = (status: number): Effect.Effect<void> => {
            const ended = clock.currentTimeNanosUnsafe()
            if (own !== undefined) own.end(ended, Exit.void)
            if (exported !== undefined && state.role !== undefined) exported.attribute("user.roles", state.role.split(","))
            const seconds = Number(ended - started) / 1e9
            if (metrics) {
              const series = metricsFor(method, route, status)
              series.count.updateUnsafe(1, inner.context)
              series.duration.updateUnsafe(seconds, inner.context)
            }
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
          }
          // An answer has its status at hand; only a failure is rendered to learn it.
          return Exit.isSuccess(exit) ? record(exit.value.status) : Effect.flatMap(failureStatus(exit.cause), record)
        })
      )
    })
}
