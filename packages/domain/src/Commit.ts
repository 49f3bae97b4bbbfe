/**
 * Writes a decided {@link Plan} inside the current unit of work: the registration changes (with the
 * event's counters) and the outbox messages, stamped with ids and the time.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { DomainEvent, DomainEventBody } from "./DomainEvent.ts"
import { SCHEMA_VERSION } from "./DomainEvent.ts"
import type { RepositoryError } from "./DomainError.ts"
import type { EventId } from "./Ids.ts"
import { Ids, type MessageId } from "./Ids.ts"
import { OutboxWriter } from "./OutboxWriter.ts"
import { RegistrationRepository } from "./RegistrationRepository.ts"
import type { Plan } from "./Waitlist.ts"

/** Stamps id, time and schema version on event bodies. @since 0.1.0 */
export const stamp = Effect.fnUntraced(function*(bodies: ReadonlyArray<DomainEventBody>) {
  const ids = yield* Ids
  const now = new Date(yield* Clock.currentTimeMillis)
  const stamped: Array<DomainEvent> = []
  for (const body of bodies) {
    const id = (yield* ids.next) as MessageId
    stamped.push({ ...body, id, occurredAt: now, version: SCHEMA_VERSION })
  }
  return stamped
})

/** Records domain events in the outbox of the current unit of work. @since 0.1.0 */
export const recordEvents = (
  bodies: ReadonlyArray<DomainEventBody>
): Effect.Effect<void, RepositoryError, Ids | OutboxWriter> =>
  bodies.length === 0
    ? Effect.void
    : Effect.flatMap(stamp(bodies), (events) => OutboxWriter.use((outbox) => outbox.record(events)))

/** Applies a plan's registration changes and records its events. @since 0.1.0 */
export const commitPlan = (
  eventId: EventId,
  plan: Plan
): Effect.Effect<void, RepositoryError, Ids | OutboxWriter | RegistrationRepository> =>
  // Events first: a SQL store writes them in the same statement as the changes.
  Effect.andThen(
    recordEvents(plan.events),
    plan.changes.length === 0
      ? Effect.void
      : RegistrationRepository.use((registrations) => registrations.apply(eventId, plan.changes))
  )
