/**
 * The server's one telemetry setup, swappable as a Layer: the tracer (OTLP or in-memory, instrumented
 * for database metrics), the loggers (JSON or pretty, with trace and correlation ids, scrubbed) and the
 * settings of `/metrics` and request logging. `Server.make` takes it as its `telemetry` option;
 * {@link layerConfig} builds it from the environment, {@link layer} from explicit options (tests pass an
 * in-memory tracer and a log sink).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Option, Redacted, type Tracer } from "effect"
import { HttpMiddleware } from "effect/http"
import * as ServerConfig from "../Config.ts"
import * as Logging from "./Logging.ts"
import type * as MetricsEndpoint from "./MetricsEndpoint.ts"
import * as Tracing from "./Tracing.ts"

/** @since 0.1.0 */
export interface Settings {
  /** False: no request middleware at all (no correlation ids, request metrics or request logs). */
  readonly enabled: boolean
  readonly metrics: MetricsEndpoint.Options
  readonly logRequests: boolean
  /**
   * Whether spans leave the process (an exporter or a test's recorder). When they do not, the HTTP
   * edge keeps Effect's own tracer, whose server spans skip the request/response attributes nobody
   * would read, and the instrumented tracer (SQL metrics) runs inside the request.
   */
  readonly tracesExported: boolean
}

/**
 * The settings the HTTP layer reads; the tracer and loggers travel as Effect references beside it.
 *
 * @since 0.1.0
 */
export class Telemetry extends Context.Service<Telemetry, Settings>()("@live-events/server/Telemetry") {}

/** @since 0.1.0 */
export interface Options {
  /** A tracer to use (tests: an in-memory recorder); default: Effect's in-memory tracer. */
  readonly tracer?: Tracer.Tracer | undefined
  readonly logFormat?: Logging.Format | undefined
  readonly logLevel?: Logging.Level | undefined
  /** Where log lines go; default stdout. */
  readonly logSink?: Logging.Sink | undefined
  /** One line per request (default true). */
  readonly logRequests?: boolean | undefined
  /** Serve `/metrics` (default true). */
  readonly metricsEnabled?: boolean | undefined
  /** Require `Authorization: Bearer <token>` on `/metrics`. */
  readonly metricsToken?: Redacted.Redacted<string> | undefined
}

// Liveness probes and scrapes are frequent and say nothing worth a trace.
const untraced = Layer.succeed(HttpMiddleware.TracerDisabledWhen)((request) =>
  request.url === "/metrics" || request.url === "/health/live"
)

const settings = (options: Options & { readonly tracesExported: boolean }) =>
  Layer.succeed(Telemetry)({
    enabled: true,
    tracesExported: options.tracesExported,
    logRequests: options.logRequests ?? true,
    metrics: { enabled: options.metricsEnabled ?? true, token: Option.fromUndefinedOr(options.metricsToken) }
  })

/**
 * Telemetry from explicit options.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Telemetry> =>
  Layer.mergeAll(
    settings({ ...options, tracesExported: options.tracer !== undefined }),
    options.tracer === undefined ? Tracing.layerInstrumented() : Tracing.layerTracer(options.tracer),
    Logging.layer({
      format: options.logFormat,
      level: options.logLevel,
      sink: options.logSink,
      spanEvents: options.tracer !== undefined
    }),
    untraced
  )

/**
 * No telemetry: Effect's in-memory tracer uninstrumented, no request middleware, no `/metrics`, and
 * only warnings and errors logged. The reference point of `bench/telemetry.ts`; not for production.
 *
 * @since 0.1.0
 */
export const layerDisabled = (options: { readonly logSink?: Logging.Sink | undefined } = {}): Layer.Layer<Telemetry> =>
  Layer.merge(
    Layer.succeed(Telemetry)({
      enabled: false,
      tracesExported: false,
      logRequests: false,
      metrics: { enabled: false, token: Option.none() }
    }),
    Logging.layer({ level: "warn", sink: options.logSink })
  )

/**
 * Telemetry from the environment: OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-only
 * variant) is set, `LOG_FORMAT`, `LOG_LEVEL`, `METRICS_ENABLED`, `METRICS_TOKEN`.
 *
 * @since 0.1.0
 */
export const layerConfig = (options: { readonly logRequests?: boolean | undefined } = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const config = yield* ServerConfig.telemetry
    const url = Tracing.tracesUrl(Option.getOrUndefined(config.otlpEndpoint), Option.getOrUndefined(config.otlpTracesEndpoint))
    const exporting = url !== undefined && config.tracesExporter.split(",").map((s) => s.trim()).includes("otlp")
    return Layer.mergeAll(
      settings({
        tracesExported: exporting,
        logRequests: options.logRequests,
        metricsEnabled: config.metricsEnabled,
        metricsToken: Option.getOrUndefined(config.metricsToken)
      }),
      exporting
        ? Tracing.layerOtlp({
          url,
          headers: Option.match(config.otlpHeaders, {
            onNone: () => undefined,
            onSome: (headers) => Tracing.parseHeaders(Redacted.value(headers))
          }),
          exportInterval: Duration.millis(config.otlpExportIntervalMillis),
          sampleRatio: config.traceSampleRatio,
          serviceVersion: "0.1.0"
        })
        : Tracing.layerInstrumented(),
      Logging.layer({ format: config.logFormat, level: config.logLevel, spanEvents: exporting }),
      untraced
    )
  }))
