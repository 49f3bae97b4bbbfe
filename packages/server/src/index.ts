/**
 * @live-events/server: the reference HTTP server of the Live Event Service, built on
 * `@live-events/engine` (the store, outbox delivery, policies, cache and use-cases come from there).
 *
 * @since 0.1.0
 */
/** @since 0.1.0 */
export * as Api from "@live-events/api/Api"
/** @since 0.1.0 */
export * as AuthMiddleware from "./Auth/Middleware.ts"
/** @since 0.1.0 */
export * as DevKey from "./Auth/DevKey.ts"
/** @since 0.1.0 */
export * as TokenVerifier from "./Auth/TokenVerifier.ts"
/** @since 0.1.0 */
export * as Config from "./Config.ts"
/** @since 0.1.0 */
export * as Idempotency from "./Idempotency.ts"
/** @since 0.1.0 */
export * as Problem from "./Problem.ts"
/** @since 0.1.0 */
export * as Server from "./Server.ts"
/** @since 0.1.0 */
export { make as makeServerLayer } from "./Server.ts"
/** @since 0.1.0 */
export * as Telemetry from "./Telemetry/Telemetry.ts"
/** @since 0.1.0 */
export * as Logging from "./Telemetry/Logging.ts"
/** @since 0.1.0 */
export * as Tracing from "./Telemetry/Tracing.ts"
/** @since 0.1.0 */
export * as HttpTelemetry from "./Telemetry/HttpTelemetry.ts"
/** @since 0.1.0 */
export * as RequestState from "./Telemetry/RequestState.ts"
/** @since 0.1.0 */
export * as MetricsEndpoint from "./Telemetry/MetricsEndpoint.ts"
/** @since 0.1.0 */
export * as DbMetrics from "./Telemetry/DbMetrics.ts"
/** @since 0.1.0 */
export * as Correlation from "./Telemetry/Correlation.ts"
