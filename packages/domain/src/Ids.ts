/**
 * Identifiers of the domain and the service that mints them.
 *
 * Ids are UUIDs, branded per entity so an `EventId` can never be passed where a `UserId` is expected.
 * New ids are UUID v7 (time-ordered), which keeps B-tree inserts local and lets ids double as a
 * stable tiebreaker in cursor pagination.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"

/** @since 0.1.0 */
export const EventId = Schema.String.check(Schema.isUUID()).pipe(Schema.brand("EventId"))
/** @since 0.1.0 */
export type EventId = typeof EventId.Type

/** @since 0.1.0 */
export const RegistrationId = Schema.String.check(Schema.isUUID()).pipe(Schema.brand("RegistrationId"))
/** @since 0.1.0 */
export type RegistrationId = typeof RegistrationId.Type

/** @since 0.1.0 */
export const UserId = Schema.String.check(Schema.isUUID()).pipe(Schema.brand("UserId"))
/** @since 0.1.0 */
export type UserId = typeof UserId.Type

/** @since 0.1.0 */
export const MessageId = Schema.String.check(Schema.isUUID()).pipe(Schema.brand("MessageId"))
/** @since 0.1.0 */
export type MessageId = typeof MessageId.Type

/**
 * Formats 16 bytes as a UUID v7: 48 bits of Unix milliseconds, version and variant bits, random rest.
 *
 * @since 0.1.0
 */
export const uuidV7 = (millis: number, random: Uint8Array): string => {
  const bytes = new Uint8Array(16)
  bytes.set(random.subarray(0, 16))
  let ms = millis
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256
    ms = Math.floor(ms / 256)
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * Mints new identifiers. Injected so that tests can make ids deterministic.
 *
 * @since 0.1.0
 */
export class Ids extends Context.Service<Ids, {
  readonly next: Effect.Effect<string>
}>()("@live-events/domain/Ids") {
  /**
   * UUID v7 from the Effect clock and the platform's cryptographic random source.
   *
   * @since 0.1.0
   */
  static readonly layer = Layer.succeed(Ids, {
    next: Effect.clockWith((clock) =>
      Effect.sync(() => uuidV7(clock.currentTimeMillisUnsafe(), globalThis.crypto.getRandomValues(new Uint8Array(16))))
    )
  })

  /**
   * Sequential, predictable ids for tests: `00000000-0000-7000-8000-000000000001`, ...
   *
   * @since 0.1.0
   */
  static readonly layerTest = Layer.sync(Ids, () => {
    let counter = 0
    return {
      next: Effect.sync(() => `00000000-0000-7000-8000-${(++counter).toString(16).padStart(12, "0")}`)
    }
  })
}

const nextId = <A>(): Effect.Effect<A, never, Ids> => Ids.use((ids) => ids.next as Effect.Effect<any>)

/** @since 0.1.0 */
export const nextEventId: Effect.Effect<EventId, never, Ids> = nextId()
/** @since 0.1.0 */
export const nextRegistrationId: Effect.Effect<RegistrationId, never, Ids> = nextId()
/** @since 0.1.0 */
export const nextUserId: Effect.Effect<UserId, never, Ids> = nextId()
/** @since 0.1.0 */
export const nextMessageId: Effect.Effect<MessageId, never, Ids> = nextId()
