/**
 * @live-events/domain: the rules of the Live Event Service, its ports and its use-cases.
 *
 * @since 0.1.0
 */
/** @since 0.1.0 */
export * as Audit from "./Audit.ts"
/** @since 0.1.0 */
export * as AuditTrail from "./AuditTrail.ts"
/** @since 0.1.0 */
export * as Commit from "./Commit.ts"
/** @since 0.1.0 */
export * as DomainError from "./DomainError.ts"
/** @since 0.1.0 */
export * as DomainEvent from "./DomainEvent.ts"
/** @since 0.1.0 */
export * as Event from "./Event.ts"
/** @since 0.1.0 */
export * as EventRepository from "./EventRepository.ts"
/** @since 0.1.0 */
export * as Events from "./Events.ts"
/** @since 0.1.0 */
export * as Ids from "./Ids.ts"
/** @since 0.1.0 */
export * as Memory from "./Memory.ts"
/** @since 0.1.0 */
export * as Metrics from "./Metrics.ts"
/** @since 0.1.0 */
export * as OutboxWriter from "./OutboxWriter.ts"
/** @since 0.1.0 */
export * as Page from "./Page.ts"
/** @since 0.1.0 */
export * as PersonalDataCopies from "./PersonalDataCopies.ts"
/** @since 0.1.0 */
export * as Policy from "./Policy.ts"
/** @since 0.1.0 */
export * as Privacy from "./Privacy.ts"
/** @since 0.1.0 */
export * as Registration from "./Registration.ts"
/** @since 0.2.0 */
export * as RegistrationBatch from "./RegistrationBatch.ts"
/** @since 0.1.0 */
export * as RegistrationRepository from "./RegistrationRepository.ts"
/** @since 0.1.0 */
export * as Registrations from "./Registrations.ts"
/** @since 0.1.0 */
export * as Span from "./Span.ts"
/** @since 0.1.0 */
export * as Text from "./Text.ts"
/** @since 0.1.0 */
export * as UnitOfWork from "./UnitOfWork.ts"
/** @since 0.1.0 */
export * as User from "./User.ts"
/** @since 0.1.0 */
export * as UserRepository from "./UserRepository.ts"
/** @since 0.1.0 */
export * as Users from "./Users.ts"
/** @since 0.1.0 */
export * as Waitlist from "./Waitlist.ts"
