/**
 * Port: runs a use-case atomically. Everything the effect writes through the repositories and the
 * {@link OutboxWriter} commits together or not at all (invariant I5); locks taken inside are held
 * until it ends.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { RepositoryError } from "./DomainError.ts"

/** @since 0.1.0 */
export class UnitOfWork extends Context.Service<UnitOfWork, {
  readonly transact: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | RepositoryError, R>
}>()("@live-events/domain/UnitOfWork") {}
