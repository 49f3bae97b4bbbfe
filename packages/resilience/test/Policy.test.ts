/**
 * Named policies end to end on the TestClock: a database that goes down is answered with CircuitOpen
 * (503 + Retry-After) within a few attempts and recovers by itself; hung calls hit the attempt and total
 * timeouts; non-transient errors pass through once; settings come from the environment.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Breaker from "../src/Breaker.ts"
import * as Bulkhead from "../src/Bulkhead.ts"
import * as Metrics from "../src/Metrics.ts"
import * as Policy from "../src/Policy.ts"
import * as Timeout from "../src/Timeout.ts"

class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: Schema.Literals(["unavailable", "constraint"])
}) {
  get isRetryable() {
    return this.reason === "unavailable"
  }
}
const down = new StorageError({ reason: "unavailable" })

const read = Policy.defaults.policies["database-read"]!
const settings: Policy.Settings = {
  ...Policy.defaults,
  policies: {
    ...Policy.defaults.policies,
    "database-read": {
      ...read,
      attemptTimeout: "100 millis",
      timeout: "3 seconds",
      retry: { ...read.retry, jitter: 0 }, // 25 ms, then 50 ms
      bulkhead: { maxConcurrent: 1, maxQueue: 0, queueTimeout: "1 second" }
    }
  }
}

const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Policy.layerMemory(settings)), Effect.provideService(Metric.MetricRegistry, new Map()))

/** A fake database: up or down, counting the queries that reach it. */
const database = Effect.gen(function*() {
  const up = yield* Ref.make(true)
  const queries = yield* Ref.make(0)
  const query = Effect.gen(function*() {
    yield* Ref.update(queries, (n) => n + 1)
    if (!(yield* Ref.get(up))) return yield* Effect.fail(down)
    return "row"
  })
  return { up, queries, query }
})

describe("Policy.run", () => {
  it.effect("database down: retries, then the circuit opens and calls fail fast; it recovers by itself", () =>
    provide(Effect.gen(function*() {
      const db = yield* database
      yield* Ref.set(db.up, false)

      // 1st call: 3 attempts (at 0, 25, 75 ms), then the error itself.
      const first = yield* Effect.forkChild(Effect.flip(Policy.run("database-read", db.query)))
      yield* TestClock.adjust("75 millis")
      expect(yield* Fiber.join(first)).toBe(down)
      expect(yield* Ref.get(db.queries)).toBe(3)

      // 2nd call: two more failures trip the circuit (5 in a row); the next attempt is rejected, not retried.
      const second = yield* Effect.forkChild(Effect.flip(Policy.run("database-read", db.query)))
      yield* TestClock.adjust("75 millis")
      const rejected = yield* Fiber.join(second)
      expect(rejected).toBeInstanceOf(Breaker.CircuitOpen)
      expect(yield* Ref.get(db.queries)).toBe(5)

      // Meanwhile every call fails at once, without touching the database, with a Retry-After.
      const fast = yield* Effect.flip(Policy.run("database-read", db.query))
      expect(fast).toMatchObject({ _tag: "CircuitOpen", circuit: "database", state: "open" })
      expect(Policy.isPolicyError(fast)).toBe(true)
      expect(Policy.retryAfterSeconds(fast)).toEqual(Option.some(1))
      expect(yield* Ref.get(db.queries)).toBe(5)
      // database-write shares the circuit
      expect(yield* Effect.flip(Policy.run("database-write", db.query))).toBeInstanceOf(Breaker.CircuitOpen)

      const policies = yield* Policy.Policies
      const state = yield* policies.circuitState("database")
      expect(state.state).toBe("open")
      expect(state.openUntil).toBe((yield* Effect.clockWith((clock) => clock.currentTimeMillis)) + 950)

      // The database comes back; after the open time one probe closes the circuit.
      yield* Ref.set(db.up, true)
      yield* TestClock.adjust("1 second")
      expect(yield* Policy.run("database-read", db.query)).toBe("row")
      expect((yield* policies.circuitState("database")).state).toBe("closed")
      expect(yield* db.query.pipe(Policy.run("database-write"))).toBe("row")

      const calls = (outcome: string) =>
        Metric.value(Metric.withAttributes(Metrics.calls, { policy: "database-read", outcome }))
      expect((yield* calls("failure")).count).toBe(1)
      expect((yield* calls("rejected")).count).toBe(2)
      expect((yield* calls("success")).count).toBe(1)
      expect(
        (yield* Metric.value(Metric.withAttributes(Metrics.retries, { policy: "database-read", error: "StorageError" })))
          .count
      ).toBe(4) // 2 in the first call, 2 in the second (the third attempt met the open circuit)
    })))

  it.effect("a hung call times out per attempt (a failure for the breaker) and within the total budget", () =>
    provide(Effect.gen(function*() {
      const hung = Effect.never
      // attempts time out at 100, 225 (after 25 ms backoff) and 375 (after 50 ms) ms
      const fiber = yield* Effect.forkChild(Effect.flip(Policy.run("database-read", hung)))
      yield* TestClock.adjust("375 millis")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(Timeout.PolicyTimeout)
      expect(error).toMatchObject({ kind: "attempt", policy: "database-read", timeoutMillis: 100 })
      const policies = yield* Policy.Policies
      expect((yield* policies.circuitState("database")).state).toBe("closed")
      // two more timed-out attempts trip the circuit
      const again = yield* Effect.forkChild(Effect.flip(Policy.run("database-read", hung)))
      yield* TestClock.adjust("275 millis")
      expect(yield* Fiber.join(again)).toBeInstanceOf(Breaker.CircuitOpen)
    })))

  it.effect("the total timeout bounds retries and backoff", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(Policy.run("database-read", Effect.never)))
      yield* TestClock.adjust("250 millis")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "PolicyTimeout", kind: "total", timeoutMillis: 250 })
    }).pipe(
      Effect.provide(Policy.layerMemory({
        ...settings,
        policies: { ...settings.policies, "database-read": { ...settings.policies["database-read"]!, timeout: "250 millis" } }
      }))
    ))

  it.effect("errors that are not transient pass through once and leave the circuit closed", () =>
    provide(Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const conflict = new StorageError({ reason: "constraint" })
      for (let i = 0; i < 10; i++) {
        const error = yield* Effect.flip(
          Policy.run("database-write", Effect.andThen(Ref.update(attempts, (n) => n + 1), Effect.fail(conflict)))
        )
        expect(error).toBe(conflict)
      }
      expect(yield* Ref.get(attempts)).toBe(10)
      const policies = yield* Policy.Policies
      expect((yield* policies.circuitState("database")).state).toBe("closed")
    })))

  it.effect("a full bulkhead rejects with BulkheadRejected, a 503 with Retry-After", () =>
    provide(Effect.gen(function*() {
      const busy = yield* Effect.forkChild(Policy.run("database-read", Effect.never.pipe(Effect.timeout("10 seconds"))))
      yield* Effect.yieldNow
      const rejected = yield* Effect.flip(Policy.run("database-read", Effect.succeed(1)))
      expect(rejected).toBeInstanceOf(Bulkhead.BulkheadRejected)
      expect(Policy.isPolicyError(rejected)).toBe(true)
      expect(Policy.retryAfterSeconds(rejected)).toEqual(Option.some(1))
      yield* Fiber.interrupt(busy)
      const policies = yield* Policy.Policies
      expect(policies.bulkhead("database-read").inFlight()).toBe(0)
    })))

  it.effect("an unknown policy is a defect", () =>
    provide(Effect.gen(function*() {
      const exit = yield* Effect.exit(Policy.run("database-delete", Effect.void))
      expect(Exit.isFailure(exit) && !Exit.hasFails(exit)).toBe(true)
    })))
})

describe("Policy.config", () => {
  const load = (env: Record<string, string>) =>
    Effect.gen(function*() {
      return yield* Policy.config()
    }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

  it.effect("reads RESILIENCE_* over the defaults", () =>
    Effect.gen(function*() {
      const loaded = yield* load({
        RESILIENCE_DATABASE_READ_TIMEOUT: "2 seconds",
        RESILIENCE_DATABASE_WRITE_RETRY_MAX_RETRIES: "0",
        RESILIENCE_WEBHOOK_BULKHEAD_MAX_CONCURRENT: "4",
        RESILIENCE_CIRCUIT_DATABASE_MODE: "rate",
        RESILIENCE_CIRCUIT_DATABASE_OPEN_DURATION: "2 seconds"
      })
      expect(Duration.toMillis(Duration.fromInputUnsafe(loaded.policies["database-read"]!.timeout))).toBe(2000)
      expect(loaded.policies["database-write"]!.retry.maxRetries).toBe(0)
      expect(loaded.policies["webhook"]!.bulkhead.maxConcurrent).toBe(4)
      expect(loaded.circuits["database"]!.mode).toBe("rate")
      expect(Duration.toMillis(Duration.fromInputUnsafe(loaded.circuits["database"]!.openDuration))).toBe(2000)
      // untouched fields keep their defaults
      expect(loaded.policies["broker-publish"]!.retry.maxRetries).toBe(4)
      expect(loaded.policies["database-read"]!.circuit).toBe("database")
      expect(Object.keys(loaded.policies).sort()).toEqual([...Policy.policyNames].sort())
    }))

  it.effect("rejects a malformed value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load({ RESILIENCE_CIRCUIT_BROKER_MODE: "sometimes" }))
      expect(error._tag).toBe("ConfigError")
    }))

  it.effect("layerConfig builds working policies", () =>
    Effect.gen(function*() {
      expect(yield* Policy.run("webhook", Effect.succeed("sent"))).toBe("sent")
    }).pipe(
      Effect.provide(Policy.layerConfig().pipe(Layer.provide(Breaker.layerStoreMemory))),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} })))
    ))
})
