/**
 * The HTTP contract of the Live Event Service: one `HttpApi` definition (schemas, endpoint groups,
 * declared problems, OpenAPI refinements) without a handler, shared by the reference server, which
 * implements it, and `@live-events/client`, which calls it. It depends on `effect` and
 * `@live-events/domain` only.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Api from "./Api.ts"
/** @since 0.1.0 */
export * as AuditApi from "./AuditApi.ts"
/** @since 0.1.0 */
export * as Endpoint from "./Endpoint.ts"
/** @since 0.1.0 */
export * as EventsApi from "./EventsApi.ts"
/** @since 0.1.0 */
export * as HealthApi from "./HealthApi.ts"
/** @since 0.1.0 */
export * as KeysApi from "./KeysApi.ts"
/** @since 0.1.0 */
export * as LiveApi from "./LiveApi.ts"
/** @since 0.1.0 */
export * as MeApi from "./MeApi.ts"
/** @since 0.1.0 */
export * as OpenApiDocument from "./OpenApiDocument.ts"
/** @since 0.1.0 */
export * as OutboxApi from "./OutboxApi.ts"
/** @since 0.1.0 */
export * as Pagination from "./Pagination.ts"
/** @since 0.1.0 */
export * as PrivacyApi from "./PrivacyApi.ts"
/** @since 0.1.0 */
export * as Problems from "./Problems.ts"
/** @since 0.1.0 */
export * as RegistrationsApi from "./RegistrationsApi.ts"
/** @since 0.1.0 */
export * as Security from "./Security.ts"
/** @since 0.1.0 */
export * as UsersApi from "./UsersApi.ts"
