/**
 * @live-events/server: the reference HTTP server of the Live Event Service.
 *
 * @since 0.1.0
 */
/** @since 0.1.0 */
export * as Api from "./Api.ts"
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
export * as Readiness from "./Health/Readiness.ts"
/** @since 0.1.0 */
export * as Server from "./Server.ts"
/** @since 0.1.0 */
export { make as makeServerLayer } from "./Server.ts"
