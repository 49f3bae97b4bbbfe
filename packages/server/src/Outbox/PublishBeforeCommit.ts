/**
 * A deliberately broken build, for the chaos harness's own tests only: with
 * `UNSAFE_PUBLISH_BEFORE_COMMIT=true` every domain event is published to the broker the moment it is
 * recorded, before its transaction commits — the bug the transactional outbox exists to prevent. A
 * transaction that then rolls back (a connection reset, a timeout) leaves a published event for a change
 * that never happened, which the harness must catch. The outbox row is still written, so committed
 * changes are published (again, deduplicated by id) and only the rolled-back ones show.
 *
 * Refused with `AUTH_MODE=production`: the server does not start.
 *
 * @since 0.1.0
 */
import { OutboxWriter } from "@live-events/domain"
import { OutboxMessage, OutboxPublisher } from "@live-events/outbox"
import { Config, Effect, Layer, Option } from "effect"
import * as ServerConfig from "../Config.ts"

/** @since 0.1.0 */
export const enabled = Config.Boolean("UNSAFE_PUBLISH_BEFORE_COMMIT").pipe(Config.withDefault(false))

/**
 * Decorates `OutboxWriter` when the switch is on; provide it over a store that has a publisher.
 *
 * @since 0.1.0
 */
export const layer = Layer.effect(
  OutboxWriter.OutboxWriter,
  Effect.gen(function*() {
    const writer = yield* OutboxWriter.OutboxWriter
    if (!(yield* enabled)) return writer
    if ((yield* ServerConfig.authMode) === "production") {
      return yield* Effect.die(new Error("UNSAFE_PUBLISH_BEFORE_COMMIT is a test-only switch and is refused with AUTH_MODE=production"))
    }
    // Present wherever the relay runs; without one there is nothing to publish early to.
    const found = yield* Effect.serviceOption(OutboxPublisher.OutboxPublisher)
    if (Option.isNone(found)) return writer
    const publisher = found.value
    yield* Effect.logWarning("UNSAFE_PUBLISH_BEFORE_COMMIT: events are published before their transaction commits (a broken build)")
    return OutboxWriter.OutboxWriter.of({
      record: (events) =>
        Effect.andThen(
          // The broken part: publishing inside the transaction. A failed publish is this build's own
          // problem and must not change what the transaction does, so it is ignored.
          Effect.forEach(events, (event) => Effect.ignore(publisher.publish(OutboxMessage.fromEnvelope(event))), { discard: true }),
          writer.record(events)
        )
    })
  })
)
