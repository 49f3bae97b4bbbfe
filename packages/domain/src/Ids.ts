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
  let ms = millis
  const time = new Array<string>(6)
  for (let i = 5; i >= 0; i--) {
    time[i] = hexOf[ms % 256]!
    ms = Math.floor(ms / 256)
  }
  const h = (i: number) => hexOf[random[i]!]!
  return time[0]! + time[1]! + time[2]! + time[3]! + "-" + time[4]! + time[5]! + "-" +
    hexOf[(random[6]! & 0x0f) | 0x70]! + h(7) + "-" + hexOf[(random[8]! & 0x3f) | 0x80]! + h(9) + "-" +
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15)
}

const hexOf: ReadonlyArray<string> = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

/**
 * 16 random bytes at a time from a pool refilled by the platform's cryptographic source: one
 * `getRandomValues` call per 256 ids instead of one per id. Every byte is handed out once.
 */
const randomPool = () => {
  const pool = new Uint8Array(16 * 256)
  let offset = pool.length
  return (): Uint8Array => {
    if (offset === pool.length) {
      globalThis.crypto.getRandomValues(pool)
      offset = 0
    }
    offset += 16
    return pool.subarray(offset - 16, offset)
  }
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
  static readonly layer = Layer.sync(Ids, () => {
    const random = randomPool()
    return {
      next: Effect.clockWith((clock) => Effect.sync(() => uuidV7(clock.currentTimeMillisUnsafe(), random())))
    }
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
