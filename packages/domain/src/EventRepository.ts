/**
 * Port: where events are kept.
 *
 * `lock` is the per-event serialisation point: inside a {@link UnitOfWork} it returns the event and
 * holds it until the unit of work ends, so capacity checks, inserts and promotions of one event never
 * interleave (invariants I1, I3, I4) — across processes when the implementation is a database.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Option } from "effect"
import type { InvalidCursor, RepositoryError } from "./DomainError.ts"
import type { Event, EventQuery } from "./Event.ts"
import type { EventId } from "./Ids.ts"
import type { Page } from "./Page.ts"

/** @since 0.1.0 */
export class EventRepository extends Context.Service<EventRepository, {
  readonly insert: (event: Event) => Effect.Effect<void, RepositoryError>
  /** Writes the editable fields, capacity and status; bumps `version`. Counters are not touched. */
  readonly update: (event: Event) => Effect.Effect<Event, RepositoryError>
  readonly delete: (id: EventId) => Effect.Effect<void, RepositoryError>
  readonly findById: (id: EventId) => Effect.Effect<Option.Option<Event>, RepositoryError>
  /** Serialises the rest of the unit of work with every other one that locks this event. */
  readonly lock: (id: EventId) => Effect.Effect<Option.Option<Event>, RepositoryError>
  readonly list: (query: EventQuery) => Effect.Effect<Page<Event>, RepositoryError | InvalidCursor>
}>()("@live-events/domain/EventRepository") {}
