/**
 * Port: records domain events in the current unit of work (the transactional outbox). Delivery is
 * someone else's job (the relay); this only guarantees that the facts commit with the change.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { RepositoryError } from "./DomainError.ts"
import type { DomainEvent } from "./DomainEvent.ts"

/** @since 0.1.0 */
export class OutboxWriter extends Context.Service<OutboxWriter, {
  readonly record: (events: ReadonlyArray<DomainEvent>) => Effect.Effect<void, RepositoryError>
}>()("@live-events/domain/OutboxWriter") {}
