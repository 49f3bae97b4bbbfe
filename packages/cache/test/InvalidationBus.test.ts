/**
 * Two in-process caches joined by an invalidation bus (the transport of processes without Redis): a key
 * or tag invalidated in one is dropped in the other, a process's own messages are ignored, and while the
 * bus is down no L1 hit is served (invalidations may be lost then); when it is back L1 starts empty.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Scope } from "effect"
import { InvalidationBus, TwoLevelCache } from "../src/index.ts"

/** A bus in memory: every subscriber gets every message; `down()`/`up()` simulate the transport. */
const memoryBus = () => {
  const subscribers = new Set<InvalidationBus.Handlers>()
  const bus: InvalidationBus.InvalidationBus = {
    publish: (payload) => Effect.sync(() => subscribers.forEach((handlers) => handlers.onMessage(payload))),
    subscribe: (handlers) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          subscribers.add(handlers)
          handlers.onUp()
        }),
        () => Effect.sync(() => subscribers.delete(handlers))
      ).pipe(Effect.asVoid)
  }
  return {
    bus,
    down: () => subscribers.forEach((handlers) => handlers.onDown()),
    up: () => subscribers.forEach((handlers) => handlers.onUp())
  }
}

const counter = () => {
  let loads = 0
  return { load: Effect.sync(() => ++loads), loads: () => loads }
}

describe("TwoLevelCache over an invalidation bus", () => {
  it.live("invalidations travel between processes; a downed bus serves no L1 hit", () =>
    Effect.scoped(Effect.gen(function*() {
      const transport = memoryBus()
      const scope = yield* Effect.scope
      const a = yield* Scope.provide(TwoLevelCache.make({ bus: transport.bus }), scope)
      const b = yield* Scope.provide(TwoLevelCache.make({ bus: transport.bus }), scope)
      const sourceB = counter()

      // B caches the key; A invalidates it: B loads again.
      expect(yield* b.getOrSet("k", sourceB.load)).toBe(1)
      expect(yield* b.getOrSet("k", sourceB.load)).toBe(1)
      yield* a.invalidate("k")
      expect(yield* b.getOrSet("k", sourceB.load)).toBe(2)

      // Tags too.
      const tagged = counter()
      expect(yield* b.getOrSet("t", tagged.load, { tags: ["event:1"] })).toBe(1)
      yield* a.invalidateTag("event:1")
      expect(yield* b.getOrSet("t", tagged.load, { tags: ["event:1"] })).toBe(2)

      // A batch of keys and tags in one step.
      const batch = counter()
      expect(yield* b.getOrSet("bk", batch.load)).toBe(1)
      expect(yield* b.getOrSet("bt", batch.load, { tags: ["event:2"] })).toBe(2)
      yield* a.invalidateAll(["bk"], ["event:2"])
      expect(yield* b.getOrSet("bk", batch.load)).toBe(3)
      expect(yield* b.getOrSet("bt", batch.load, { tags: ["event:2"] })).toBe(4)

      // B's own invalidation is applied locally once, not again when it comes back over the bus.
      const own = counter()
      yield* b.getOrSet("o", own.load)
      yield* b.invalidate("o")
      expect(yield* b.getOrSet("o", own.load)).toBe(2)
      expect(yield* b.getOrSet("o", own.load)).toBe(2)

      // Bus down: every read goes to the source; back up: L1 was emptied, then hits resume.
      transport.down()
      expect((yield* b.health).bus).toBe("down")
      expect(yield* b.getOrSet("o", own.load)).toBe(3)
      expect(yield* b.getOrSet("o", own.load)).toBe(4)
      transport.up()
      expect((yield* b.health).bus).toBe("up")
      expect(yield* b.getOrSet("o", own.load)).toBe(5)
      expect(yield* b.getOrSet("o", own.load)).toBe(5)
    })))

  it("messages round-trip and foreign payloads are ignored", () => {
    const message = { kind: "tag", name: "event:1:waitlist", origin: "abc" } as const
    expect(InvalidationBus.decode(InvalidationBus.encode(message))).toEqual(message)
    expect(InvalidationBus.decode("hello")).toBeUndefined()
    expect(InvalidationBus.decode("x\ta\tb")).toBeUndefined()
  })
})
