/**
 * Bulkhead: concurrency limit, bounded queue, rejection when full, queue timeout on the TestClock,
 * and no slot leaked by an interrupted waiter.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Bulkhead from "../src/Bulkhead.ts"

describe("Bulkhead", () => {
  it.effect("runs up to maxConcurrent, queues up to maxQueue, rejects the rest", () =>
    Effect.gen(function*() {
      const bulkhead = Bulkhead.make({ policy: "test", maxConcurrent: 2, maxQueue: 1, queueTimeout: "10 seconds" })
      const gate = yield* Deferred.make<void>()
      const started: Array<number> = []
      const call = (n: number) =>
        bulkhead.run(Effect.sync(() => started.push(n)).pipe(Effect.andThen(Deferred.await(gate)), Effect.as(n)))

      const first = yield* Effect.forkChild(call(1))
      const second = yield* Effect.forkChild(call(2))
      const third = yield* Effect.forkChild(call(3))
      yield* Effect.yieldNow
      expect(started).toEqual([1, 2])
      expect([bulkhead.inFlight(), bulkhead.queued()]).toEqual([2, 1])

      const rejected = yield* Effect.flip(call(4))
      expect(rejected).toBeInstanceOf(Bulkhead.BulkheadRejected)
      expect(rejected.reason).toBe("queue-full")
      expect(started).toEqual([1, 2])

      yield* Deferred.succeed(gate, void 0)
      expect(yield* Fiber.join(first)).toBe(1)
      expect(yield* Fiber.join(second)).toBe(2)
      expect(yield* Fiber.join(third)).toBe(3)
      expect(started).toEqual([1, 2, 3])
      expect([bulkhead.inFlight(), bulkhead.queued()]).toEqual([0, 0])
    }))

  it.effect("a queued call gives up after queueTimeout", () =>
    Effect.gen(function*() {
      const bulkhead = Bulkhead.make({ policy: "test", maxConcurrent: 1, maxQueue: 5, queueTimeout: "2 seconds" })
      const running = yield* Effect.forkChild(bulkhead.run(Effect.never))
      yield* Effect.yieldNow
      const waiting = yield* Effect.forkChild(Effect.flip(bulkhead.run(Effect.succeed("late"))))
      yield* TestClock.adjust("1999 millis")
      expect(bulkhead.queued()).toBe(1)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(waiting)
      expect(error.reason).toBe("queue-timeout")
      expect(bulkhead.queued()).toBe(0)
      yield* Fiber.interrupt(running)
      expect(bulkhead.inFlight()).toBe(0)
    }))

  it.effect("maxQueue 0 rejects as soon as every slot is busy; failures and interruptions free the slot", () =>
    Effect.gen(function*() {
      const bulkhead = Bulkhead.make({ policy: "test", maxConcurrent: 1, maxQueue: 0, queueTimeout: "1 second" })
      const running = yield* Effect.forkChild(bulkhead.run(Effect.never))
      yield* Effect.yieldNow
      expect((yield* Effect.flip(bulkhead.run(Effect.void))).reason).toBe("queue-full")
      yield* Fiber.interrupt(running)
      expect(yield* Effect.exit(bulkhead.run(Effect.fail("boom")))).toEqual(Exit.fail("boom"))
      expect(yield* bulkhead.run(Effect.succeed("free again"))).toBe("free again")
    }))

  it.effect("an interrupted waiter leaves the queue and takes no slot", () =>
    Effect.gen(function*() {
      const bulkhead = Bulkhead.make({ policy: "test", maxConcurrent: 1, maxQueue: 1, queueTimeout: "1 minute" })
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.forkChild(bulkhead.run(Deferred.await(gate)))
      yield* Effect.yieldNow
      const waiter = yield* Effect.forkChild(bulkhead.run(Effect.succeed("never runs")))
      yield* Effect.yieldNow
      expect(bulkhead.queued()).toBe(1)
      yield* Fiber.interrupt(waiter)
      expect(bulkhead.queued()).toBe(0)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(running)
      expect(yield* bulkhead.run(Effect.succeed(1))).toBe(1)
      expect([bulkhead.inFlight(), bulkhead.queued()]).toEqual([0, 0])
    }))
})
