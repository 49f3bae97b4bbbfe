/**
 * A typed client of the Live Event Service, built from its API definition (`@live-events/api`): the
 * Effect client (`LiveEventsClient`), a Promise client for code without Effect (`PromiseClient`), and
 * the retries of 429 and 503 answers both use (`Retry`). The declared problems are re-exported as
 * `Problems`, for `instanceof` and their types.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as LiveEventsClient from "./LiveEventsClient.ts"
/** @since 0.1.0 */
export * as PromiseClient from "./PromiseClient.ts"
/** @since 0.1.0 */
export * as Retry from "./Retry.ts"
/** @since 0.1.0 */
export * as Problems from "@live-events/api/Problems"
