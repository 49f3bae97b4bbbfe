/**
 * The port contract suites and the waitlist property, for every implementation of the domain's ports.
 *
 * Usage (e.g. from packages/sql/test):
 *
 * ```ts
 * import * as Contracts from "../../domain/test/contracts/index.ts"
 * const ports = Layer.mergeAll(SqlPorts.layer, Ids.Ids.layer).pipe(Layer.provideMerge(PgliteLayer))
 * Contracts.eventRepositoryContract("pglite", ports)
 * Contracts.unitOfWorkContract("pglite", Layer.provideMerge(SqlOutboxProbe, ports))
 * Contracts.waitlistProperties("pglite", ports, { numRuns: 25 })
 * ```
 *
 * Each call builds its own instance of the layer (one `layer(...)` block per suite); all suites create
 * their own users and events with fresh ids, so they may share one database.
 *
 * @since 0.1.0
 */
export { eventRepositoryContract } from "./EventRepositoryContract.ts"
export * from "./Fixtures.ts"
export { registrationRepositoryContract } from "./RegistrationRepositoryContract.ts"
export { unitOfWorkContract } from "./UnitOfWorkContract.ts"
export { userRepositoryContract } from "./UserRepositoryContract.ts"
export { waitlistProperties } from "./WaitlistProperties.ts"
