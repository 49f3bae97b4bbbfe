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
 * The answer is recorded as the response is about to be written, by the pipeline's pre-response
 * handler, rather than by a step wrapped around the rest of the pipeline: every response passes there,
 * a failure arrives with the status it is answered with, and the request pays no frame or fiber step
 * for its telemetry (see docs/benchmarks.md, "Telemetry in the pre-response handler").
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, type Fiber, Metric, Option, Tracer } from "effect"
import { HttpEffect, HttpRouter, HttpServerRequest, type HttpServerResponse, HttpTraceContext } from "effect/http"
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
 * One request under observation: what recording its answer needs, kept from its start.
 *
 * @since 0.3.0
 */
export class Observation {
  readonly state: RequestState.RequestState
  readonly started: bigint
  readonly method: string
  readonly clock: Clock.Clock
  readonly settings: Settings
  /** The request's own native span (ended here), when spans do not leave the process. */
  readonly own: Tracer.Span | undefined
  /** Effect's exported server span, which gets the caller's roles. */
  readonly exported: Tracer.Span | undefined
  constructor(
    state: RequestState.RequestState,
    started: bigint,
    method: string,
    clock: Clock.Clock,
    settings: Settings,
    own: Tracer.Span | undefined,
    exported: Tracer.Span | undefined
  ) {
    this.state = state
    this.started = started
    this.method = method
    this.clock = clock
    this.settings = settings
    this.own = own
    this.exported = exported
  }

  /**
   * Records the request as answered with `status`: its span ended, its metrics, its log line. Called
   * with the fiber that ran it, whose context still holds the matched route. An effect is returned
   * only when the log line has to go through Effect's loggers (pretty logs, span events).
   */
  end(fiber: Fiber.Fiber<unknown, unknown>, status: number): Effect.Effect<void> | undefined {
    const state = this.state
    const route = Context.getOrUndefined(fiber.context, HttpRouter.RouteContext)?.route.path ?? "unmatched"
    const ended = this.clock.currentTimeNanosUnsafe()
    if (this.own !== undefined) this.own.end(ended, Exit.void)
    if (this.exported !== undefined && state.role !== undefined) this.exported.attribute("user.roles", state.role.split(","))
    const seconds = Number(ended - this.started) / 1e9
    if (this.settings.metrics) {
      const series = metricsFor(this.method, route, status)
      series.count.updateUnsafe(1, fiber.context)
      series.duration.updateUnsafe(seconds, fiber.context)
    }
    if (!this.settings.logRequests) return undefined
    const level = quietRoutes.has(route) ? "Debug" : status >= 500 ? "Warn" : "Info"
    const durationMs = Math.round(seconds * 1e6) / 1e3
    const direct = fiber.getRef(Logging.RequestLines)
    if (direct !== undefined) {
      direct(fiber, level, { method: this.method, route, status, durationMs, role: state.role })
      return undefined
    }
    return Effect.annotateLogs(Effect.logWithLevel(level)("http request"), {
      "http.method": this.method,
      "http.route": route,
      "http.status": status,
      durationMs,
      ...(state.role !== undefined ? { "user.role": state.role } : {})
    })
  }

  /** {@link end} with `response`'s status, as a pre-response handler's answer: `response` itself. */
  answer(fiber: Fiber.Fiber<unknown, unknown>, response: HttpServerResponse.HttpServerResponse): Effect.Effect<HttpServerResponse.HttpServerResponse> {
    const logged = this.end(fiber, response.status)
    return logged === undefined ? Effect.succeed(response) : Effect.as(logged, response)
  }
}

interface Settings {
  readonly logRequests: boolean
  readonly metrics: boolean
  readonly ownSpan: boolean
}

/**
 * The stage's start of a request: adds the request's state to the fiber's context (and the request's own
 * span, when it has one) and returns what recording its answer needs — `undefined` when nothing is
 * recorded (no metrics, no log line, no span of its own). The request pipeline calls {@link Observation.end}
 * from its one pre-response handler, which every response passes, including the ones the framework
 * makes for failures: no step of its own around the request, and a failure's status is the one rendered.
 *
 * @since 0.3.0
 */
export const observer = (options: Options = {}) => {
  const settings: Settings = {
    logRequests: options.logRequests ?? true,
    metrics: options.metrics ?? true,
    ownSpan: options.ownSpan ?? false
  }
  const recording = settings.logRequests || settings.metrics || settings.ownSpan
  return (fiber: Fiber.Fiber<unknown, unknown>): Observation | undefined => {
    const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
    const state = new RequestState.RequestState(Correlation.fromHeader(request.headers[Correlation.header]))
    // Added in place (the router does the same): the request's frame restores the context when it ends.
    let context = RequestState.add(fiber.context, state)
    if (!recording) {
      fiber.setContext(context)
      return undefined
    }
    const clock = fiber.getRef(Clock.Clock)
    const started = clock.currentTimeNanosUnsafe()
    const method = knownMethods.has(request.method) ? request.method : "OTHER"
    let span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
    if (settings.ownSpan) {
      span = ownSpanOf(request, method, started)
      context = Context.add(context, Tracer.ParentSpan, span)
    } else if (span !== undefined && span._tag === "Span") {
      span.attribute("correlation.id", state.correlationId)
    }
    fiber.setContext(context)
    const own = settings.ownSpan ? span as Tracer.Span : undefined
    const exported = settings.ownSpan || span === undefined || span._tag !== "Span" ? undefined : span
    return new Observation(state, started, method, clock, settings, own, exported)
  }
}

/**
 * The stage on its own, for an embedder's server: {@link observer} with a pre-response handler of its
 * own. The request pipeline (`Security/Middleware.ts`) uses the observer directly.
 *
 * @since 0.1.0
 */
export const middleware = (options: Options = {}) => {
  const observe = observer(options)
  return <E, R>(
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.withFiber((fiber) => {
      const observation = observe(fiber)
      if (observation !== undefined) {
        HttpEffect.appendPreResponseHandlerUnsafe(fiber.context, (_, response) => observation.answer(fiber, response))
      }
      return app
    })
}
