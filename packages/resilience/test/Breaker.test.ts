/**
 * Circuit breakers: closed → open → half-open → closed / open again, in both trip modes, on the
 * TestClock with the memory store; which outcomes count; the state readout with `openUntil`; metrics;
 * a store that hangs; and a circuit shared by two "processes" through Redis (real Redis, real time).
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Ref, References, Schema, type Scope } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { DeadlockError, SqlError } from "effect/sql/SqlError"
import { TestClock } from "effect/testing"
import * as Breaker from "../src/Breaker.ts"
import * as Metrics from "../src/Metrics.ts"
import { redisHanging, redisLayer, runPrefix } from "./support/redis.ts"

class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: Schema.Literals(["unavailable", "constraint"])
}) {
  get isRetryable() {
    return this.reason === "unavailable"
  }
}
const down = new StorageError({ reason: "unavailable" })
const constraint = new StorageError({ reason: "constraint" })

const consecutive: Breaker.CircuitSettings = {
  mode: "consecutive",
  failures: 3,
  failureRate: 0.5,
  windowSize: 10,
  minimumCalls: 10,
  openDuration: "1 second",
  maxOpenDuration: "4 seconds"
}
const rate: Breaker.CircuitSettings = {
  mode: "rate",
  failures: 100,
  failureRate: 0.5,
  windowSize: 10,
  minimumCalls: 6,
  openDuration: "10 seconds",
  maxOpenDuration: "10 seconds"
}

const withBreakers = <A, E>(
  f: (breakers: Breaker.Breakers["Service"]) => Effect.Effect<A, E, Scope.Scope>,
  store: Layer.Layer<CircuitBreaker.CircuitBreakerStore> = Breaker.layerStoreMemory
) =>
  Effect.gen(function*() {
    const breakers = yield* Breaker.make({ db: consecutive, api: rate })
    return yield* f(breakers)
  }).pipe(Effect.provide(store), Effect.provideService(Metric.MetricRegistry, new Map()))

describe("Breaker, consecutive mode", () => {
  it.effect("closed → open after 3 transient failures → half-open after 1 s → closed on a good probe", () =>
    withBreakers((breakers) =>
      Effect.gen(function*() {
        const runs = yield* Ref.make(0)
        const call = (effect: Effect.Effect<string, StorageError>) =>
          breakers.execute(Effect.andThen(Ref.update(runs, (n) => n + 1), effect), { circuit: "db", policy: "read" })

        yield* Effect.flip(call(Effect.fail(down)))
        yield* Effect.flip(call(Effect.fail(down)))
        expect((yield* breakers.state("db")).state).toBe("closed")
        yield* Effect.flip(call(Effect.fail(down)))

        const open = yield* breakers.state("db")
        expect(open.state).toBe("open")
        expect(Duration.toMillis(open.retryAfter)).toBe(1000)
        expect(open.openUntil).toBe(1000) // TestClock starts at 0

        const rejected = yield* Effect.flip(call(Effect.succeed("ok")))
        expect(rejected).toBeInstanceOf(Breaker.CircuitOpen)
        expect(rejected).toMatchObject({ circuit: "db", policy: "read", state: "open", retryAfterMillis: 1000 })
        expect(yield* Ref.get(runs)).toBe(3) // the rejected call did not run

        yield* TestClock.adjust("999 millis")
        expect(yield* Effect.flip(call(Effect.succeed("ok")))).toMatchObject({ retryAfterMillis: 1 })
        yield* TestClock.adjust("1 millis")
        expect(yield* call(Effect.succeed("probe"))).toBe("probe")
        expect((yield* breakers.state("db")).state).toBe("closed")
        expect(yield* call(Effect.succeed("ok"))).toBe("ok")

        yield* Effect.yieldNow // let the transition watcher catch up
        const transitions = (from: string, to: string) =>
          Metric.value(Metric.withAttributes(Metrics.circuitTransitions, { circuit: "db", from, to }))
        expect((yield* transitions("closed", "open")).count).toBe(1)
        expect((yield* transitions("open", "half-open")).count).toBe(1)
        expect((yield* transitions("half-open", "closed")).count).toBe(1)
        expect(
          (yield* Metric.value(
            Metric.withAttributes(Metrics.rejections, { policy: "read", reason: "circuit-open" })
          )).count
        ).toBe(2)
        expect((yield* Metric.value(Metric.withAttributes(Metrics.circuitState, { circuit: "db" }))).value).toBe(0)
      })
    ))

  it.effect("half-open → open again on a failed probe, for twice as long", () =>
    withBreakers((breakers) =>
      Effect.gen(function*() {
        const call = (effect: Effect.Effect<string, StorageError>) =>
          breakers.execute(effect, { circuit: "db", policy: "read" })
        for (let i = 0; i < 3; i++) yield* Effect.flip(call(Effect.fail(down)))
        yield* TestClock.adjust("1 second")
        yield* Effect.flip(call(Effect.fail(down))) // the probe fails

        const reopened = yield* breakers.state("db")
        expect(reopened).toMatchObject({ state: "open", consecutiveOpenings: 2 })
        expect(Duration.toMillis(reopened.retryAfter)).toBe(2000)
        yield* TestClock.adjust("1999 millis")
        expect(yield* Effect.flip(call(Effect.succeed("ok")))).toBeInstanceOf(Breaker.CircuitOpen)
        yield* TestClock.adjust("1 millis")
        expect(yield* call(Effect.succeed("ok"))).toBe("ok")
        expect((yield* breakers.state("db")).state).toBe("closed")
      })
    ))

  it.effect("lets one probe through while half-open and rejects the others", () =>
    withBreakers((breakers) =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) yield* Effect.flip(breakers.execute(Effect.fail(down), { circuit: "db", policy: "read" }))
        yield* TestClock.adjust("1 second")
        const gate = yield* Deferred.make<void>()
        const probe = yield* Effect.forkChild(
          breakers.execute(Effect.as(Deferred.await(gate), "probe"), { circuit: "db", policy: "read" })
        )
        yield* Effect.yieldNow
        expect(yield* breakers.state("db")).toMatchObject({ state: "half-open", probing: true })
        const other = yield* Effect.flip(breakers.execute(Effect.succeed("other"), { circuit: "db", policy: "write" }))
        expect(other).toMatchObject({ state: "half-open", policy: "write" })
        yield* Deferred.succeed(gate, void 0)
        expect(yield* Fiber.join(probe)).toBe("probe")
        expect((yield* breakers.state("db")).state).toBe("closed")
      })
    ))

  it.effect("counts only transient failures and defects; business errors and interruptions do not trip it", () =>
    withBreakers((breakers) =>
      Effect.gen(function*() {
        const call = <A, E>(effect: Effect.Effect<A, E>) => breakers.execute(effect, { circuit: "db", policy: "read" })
        for (let i = 0; i < 10; i++) yield* Effect.flip(call(Effect.fail(constraint)))
        expect((yield* breakers.state("db")).state).toBe("closed")
        // contention is retried elsewhere but proves the database answers: a hot row never opens the circuit
        const deadlock = new SqlError({ reason: new DeadlockError({ cause: new Error("40P01") }) })
        for (let i = 0; i < 10; i++) yield* Effect.flip(call(Effect.fail(deadlock)))
        expect((yield* breakers.state("db")).state).toBe("closed")
        // a success-like outcome in between resets the streak
        yield* Effect.flip(call(Effect.fail(down)))
        yield* Effect.flip(call(Effect.fail(down)))
        yield* Effect.flip(call(Effect.fail(constraint)))
        yield* Effect.flip(call(Effect.fail(down)))
        expect((yield* breakers.state("db")).state).toBe("closed")
        // interruptions are ignored
        const hung = yield* Effect.forkChild(call(Effect.never))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(hung)
        yield* Effect.flip(call(Effect.fail(down)))
        expect((yield* breakers.state("db")).state).toBe("closed")
        // a defect counts: three in a row open the circuit
        yield* Effect.exit(call(Effect.die("bug")))
        expect((yield* breakers.state("db")).state).toBe("open")
      })
    ))
})

describe("Breaker, failure-rate mode", () => {
  it.effect("opens when failures reach 50 % of the last 10 calls, once 6 are recorded", () =>
    withBreakers((breakers) =>
      Effect.gen(function*() {
        const call = (ok: boolean) =>
          Effect.exit(breakers.execute(ok ? Effect.succeed(1) : Effect.fail(down), { circuit: "api", policy: "webhook" }))
        // 3 failures out of 5: below minimumCalls, stays closed
        for (const ok of [false, true, false, true, false]) yield* call(ok)
        expect((yield* breakers.state("api")).state).toBe("closed")
        // the 6th call (a success) makes 3/6 = 50 %
        yield* call(true)
        expect((yield* breakers.state("api")).state).toBe("open")
        expect(Duration.toMillis((yield* breakers.state("api")).retryAfter)).toBe(10_000)

        yield* TestClock.adjust("10 seconds")
        expect(Exit.isSuccess(yield* call(true))).toBe(true) // the probe closes it
        expect((yield* breakers.state("api")).state).toBe("closed")

        // the window slides: 6 successes then 4 failures = 40 %, closed; one more failure = 50 %, open
        for (let i = 0; i < 6; i++) yield* call(true)
        for (let i = 0; i < 4; i++) yield* call(false)
        expect((yield* breakers.state("api")).state).toBe("closed")
        yield* call(false)
        expect((yield* breakers.state("api")).state).toBe("open")
        yield* TestClock.adjust("10 seconds")
        yield* call(false) // failed probe
        expect((yield* breakers.state("api")).state).toBe("open")
      })
    ))
})

describe("Breaker stores", () => {
  it.effect("a store that hangs costs the store timeout, then the call runs unrecorded", () =>
    Effect.gen(function*() {
      const store = Layer.effect(
        CircuitBreaker.CircuitBreakerStore,
        Effect.gen(function*() {
          const context = yield* Layer.build(CircuitBreaker.layerStoreRedis({ prefix: "never:" }))
          return Breaker.withStoreTimeout(
            Context.get(context, CircuitBreaker.CircuitBreakerStore),
            "250 millis"
          )
        })
      ).pipe(Layer.provide(redisHanging))
      yield* withBreakers(
        (breakers) =>
          Effect.gen(function*() {
            const fiber = yield* Effect.forkChild(breakers.execute(Effect.succeed("ran"), { circuit: "db", policy: "read" }))
            yield* TestClock.adjust("250 millis")
            expect(yield* Fiber.join(fiber)).toBe("ran")
            const stateFiber = yield* Effect.forkChild(breakers.state("db"))
            yield* TestClock.adjust("250 millis")
            expect(yield* Fiber.join(stateFiber)).toMatchObject({ state: "closed", source: "local" })
          }),
        store
      )
    }).pipe(Effect.provideService(References.UnhandledLogLevel, undefined)))

  it.live("Redis: a circuit opened by one process rejects calls in another, and a probe there closes it for both", () =>
    Effect.gen(function*() {
      const prefix = runPrefix("circuit")
      const settings: Record<string, Breaker.CircuitSettings> = {
        db: { ...consecutive, openDuration: "400 millis", maxOpenDuration: "400 millis" }
      }
      // Two connections, two breakers: what two server processes would have.
      const process = Effect.gen(function*() {
        const store = yield* Layer.build(Breaker.layerStoreRedis({ prefix }).pipe(Layer.provide(redisLayer())))
        return yield* Breaker.make(settings).pipe(Effect.provideContext(store))
      })
      const processA = yield* process
      const processB = yield* process
      for (let i = 0; i < 3; i++) yield* Effect.flip(processA.execute(Effect.fail(down), { circuit: "db", policy: "read" }))

      const seenByB = yield* processB.state("db")
      expect(seenByB).toMatchObject({ state: "open", source: "store" })
      expect(Duration.toMillis(seenByB.retryAfter)).toBeGreaterThan(200)
      const runs = yield* Ref.make(0)
      const rejected = yield* Effect.flip(
        processB.execute(Ref.update(runs, (n) => n + 1), { circuit: "db", policy: "read" })
      )
      expect(rejected).toBeInstanceOf(Breaker.CircuitOpen)
      expect(yield* Ref.get(runs)).toBe(0)

      yield* Effect.sleep("450 millis")
      yield* processB.execute(Ref.update(runs, (n) => n + 1), { circuit: "db", policy: "read" })
      expect(yield* Ref.get(runs)).toBe(1)
      expect((yield* processA.state("db")).state).toBe("closed")
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
