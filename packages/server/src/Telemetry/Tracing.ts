/**
 * Tracing: which `Tracer` the server runs with, and the span bookkeeping every tracer gets.
 *
 * - With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, spans are exported
 *   over OTLP/HTTP (JSON) by `OtlpTracer` from `effect/observability`, configured by the standard
 *   `OTEL_*` variables (service name, headers, batch size…). Otherwise Effect's in-memory tracer runs:
 *   trace ids still exist (logs and problem bodies quote them, `traceparent` is still propagated to the
 *   outbox) but nothing is exported.
 * - Spans come from Effect itself: one server span per request (`HttpMiddleware.tracer`, parented on
 *   the caller's W3C `traceparent`; the router adds `http.route`, the server `user.roles`), one span per
 *   use-case (`Effect.fn`), and one client span per SQL statement (`effect/sql`, with `db.query.text` —
 *   placeholders, never the values).
 * - {@link instrument} wraps whichever tracer runs: SQL statement spans feed the
 *   `db_client_operation_duration_seconds` histogram and `sql.transaction` spans the
 *   `db_client_transaction_duration_seconds` one (so database latency is measured with tracing on or
 *   off), and server spans drop `client.address` and `user_agent.original` (personal data not worth
 *   keeping).
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Exit, Layer, Option, Tracer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import * as DbMetrics from "./DbMetrics.ts"

const droppedServerAttributes = new Set(["client.address", "user_agent.original"])

class ServerSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly span: Tracer.Span
  constructor(span: Tracer.Span) {
    this.span = span
  }
  get name() { return this.span.name }
  get spanId() { return this.span.spanId }
  get traceId() { return this.span.traceId }
  get parent() { return this.span.parent }
  get annotations() { return this.span.annotations }
  get status() { return this.span.status }
  get attributes() { return this.span.attributes }
  get links() { return this.span.links }
  get sampled() { return this.span.sampled }
  get kind() { return this.span.kind }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) { this.span.end(endTime, exit) }
  attribute(key: string, value: unknown) {
    if (!droppedServerAttributes.has(key)) this.span.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>) {
    this.span.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>) { this.span.addLinks(links) }
}

class StatementSpan extends ServerSpan {
  operation: string | undefined = undefined
  readonly startTime: bigint
  readonly context: Context.Context<never>
  constructor(span: Tracer.Span, startTime: bigint, context: Context.Context<never>) {
    super(span)
    this.startTime = startTime
    this.context = context
  }
  override attribute(key: string, value: unknown) {
    if (key === "db.query.text" && typeof value === "string") this.operation = DbMetrics.operationOf(value)
    this.span.attribute(key, value)
  }
  override end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.span.end(endTime, exit)
    // Client spans that never named a statement are not SQL (e.g. an HTTP client call).
    if (this.operation === undefined) return
    const seconds = Number(endTime - this.startTime) / 1e9
    DbMetrics.recordStatement(this.operation, Exit.isSuccess(exit) ? "success" : "error", seconds, this.context)
  }
}

class TransactionSpan extends ServerSpan {
  readonly startTime: bigint
  readonly context: Context.Context<never>
  constructor(span: Tracer.Span, startTime: bigint, context: Context.Context<never>) {
    super(span)
    this.startTime = startTime
    this.context = context
  }
  override attribute(key: string, value: unknown) {
    this.span.attribute(key, value)
  }
  override end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.span.end(endTime, exit)
    const seconds = Number(endTime - this.startTime) / 1e9
    DbMetrics.recordTransaction(Exit.isSuccess(exit) ? "commit" : "rollback", seconds, this.context)
  }
}

const insideTransaction = (parent: Option.Option<Tracer.AnySpan>): boolean => {
  let current = Option.getOrUndefined(parent)
  while (current !== undefined) {
    if (current instanceof TransactionSpan) return true
    current = current._tag === "Span" ? Option.getOrUndefined(current.parent) : undefined
  }
  return false
}

/**
 * Wraps a tracer with the bookkeeping described above.
 *
 * @since 0.1.0
 */
export const instrument = (
  inner: Tracer.Tracer,
  context: Context.Context<never> = Context.empty(),
  sampleRatio = 1
): Tracer.Tracer =>
  Tracer.make({
    span(spanOptions) {
      // Head sampling, parent-based: only a trace's root decides; children (and requests whose
      // `traceparent` carries a decision) inherit it.
      const options = sampleRatio < 1 && spanOptions.parent._tag === "None" && spanOptions.sampled
        ? { ...spanOptions, sampled: Math.random() < sampleRatio }
        : spanOptions
      const span = inner.span(options)
      if (options.kind === "client") return new StatementSpan(span, options.startTime, context)
      if (options.kind === "server") return new ServerSpan(span)
      // Only outermost transactions: a nested `withTransaction` is a savepoint inside one.
      if (options.name === "sql.transaction" && !insideTransaction(options.parent)) {
        return new TransactionSpan(span, options.startTime, context)
      }
      return span
    },
    ...(inner.context !== undefined ? { context: inner.context } : {})
  })

/**
 * Instruments the tracer already in context (the in-memory one by default, or one provided below
 * this layer).
 *
 * @since 0.1.0
 */
export const layerInstrumented = (options: { readonly sampleRatio?: number | undefined } = {}): Layer.Layer<never> =>
  Layer.effect(
    Tracer.Tracer,
    Effect.gen(function*() {
      const inner = yield* Tracer.Tracer
      return instrument(inner, yield* Effect.context<never>(), options.sampleRatio ?? 1)
    })
  ) as Layer.Layer<never>

/**
 * A given tracer (tests: an in-memory recorder), instrumented.
 *
 * @since 0.1.0
 */
export const layerTracer = (tracer: Tracer.Tracer): Layer.Layer<never> =>
  Layer.succeed(Tracer.Tracer, instrument(tracer)) as Layer.Layer<never>

/**
 * OTLP/HTTP (JSON) export of every span to `url`, instrumented.
 *
 * @since 0.1.0
 */
export const layerOtlp = (options: {
  /** The traces URL, e.g. `http://collector:4318/v1/traces`. */
  readonly url: string
  readonly headers?: Record<string, string> | undefined
  readonly exportInterval?: Duration.Input | undefined
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** Share of traces exported, 0..1 (default 1: every trace). */
  readonly sampleRatio?: number | undefined
}): Layer.Layer<never> =>
  layerInstrumented({ sampleRatio: options.sampleRatio }).pipe(
    Layer.provide(
      OtlpTracer.layer({
        url: options.url,
        headers: options.headers,
        exportInterval: options.exportInterval,
        resource: { serviceName: options.serviceName ?? "live-events", serviceVersion: options.serviceVersion }
      }).pipe(Layer.provide([FetchHttpClient.layer, OtlpSerialization.layerJson]))
    )
  ) as Layer.Layer<never>

/**
 * The traces URL from the standard variables: the traces-specific one as given, else the base one with
 * `/v1/traces` appended. `undefined` when neither is set (or both are empty).
 *
 * @since 0.1.0
 */
export const tracesUrl = (base: string | undefined, traces: string | undefined): string | undefined => {
  if (traces !== undefined && traces.trim() !== "") return traces.trim()
  if (base === undefined || base.trim() === "") return undefined
  return base.trim().replace(/\/+$/, "") + "/v1/traces"
}

/**
 * Parses `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key2=value2`, values URL-encoded).
 *
 * @since 0.1.0
 */
export const parseHeaders = (value: string): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const pair of value.split(",")) {
    const at = pair.indexOf("=")
    if (at <= 0) continue
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim())
  }
  return headers
}
