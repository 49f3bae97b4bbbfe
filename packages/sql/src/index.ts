/**
 * @live-events/sql: the domain's ports on PostgreSQL 15+ and on embedded PGlite.
 *
 * @since 0.1.0
 */
/** @since 0.2.0 */
export * as DatabaseSchema from "./DatabaseSchema.ts"
/** @since 0.2.0 */
export * as EmbeddedSeed from "./EmbeddedSeed.ts"
/** @since 0.1.0 */
export * as FieldSealing from "./FieldSealing.ts"
/** @since 0.1.0 */
export * as IdempotencyKeys from "./IdempotencyKeys.ts"
/** @since 0.1.0 */
export * as KeyRotation from "./KeyRotation.ts"
/** @since 0.2.0 */
export * as LegacyTables from "./LegacyTables.ts"
/** @since 0.1.0 */
export * as Migrations from "./Migrations.ts"
/** @since 0.1.0 */
export * as PersonalDataKeys from "./PersonalDataKeys.ts"
/** @since 0.3.0 */
export * as SealingThread from "./SealingThread.ts"
/** @since 0.1.0 */
export * as SqlAuditLog from "./SqlAuditLog.ts"
/** @since 0.1.0 */
export * as SqlEventRepository from "./SqlEventRepository.ts"
/** @since 0.1.0 */
export * as SqlOutboxWriter from "./SqlOutboxWriter.ts"
/** @since 0.1.0 */
export * as SqlRegistrationRepository from "./SqlRegistrationRepository.ts"
/** @since 0.1.0 */
export * as SqlStore from "./SqlStore.ts"
/** @since 0.1.0 */
export * as SqlUnitOfWork from "./SqlUnitOfWork.ts"
/** @since 0.1.0 */
export * as SqlUserRepository from "./SqlUserRepository.ts"
/** @since 0.2.0 */
export * as StartupWait from "./StartupWait.ts"
