/**
 * The engine's database policies on the TestClock: however many times a restarting database re-opened
 * the circuit, the circuit lets a probe through a second later, so requests are served again within
 * about a second of the database's return.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Policy } from "@live-events/resilience"
import * as DatabasePolicies from "../src/DatabasePolicies.ts"

class ConnectionLost extends Schema.TaggedError<ConnectionLost>()("ConnectionLost", {}) {
  get isRetryable() {
    return true
  }
}

it.effect("a database circuit that re-opened again and again still probes a second after opening", () =>
  Effect.gen(function*() {
    let up = false
    const query = Effect.suspend(() => up ? Effect.succeed("row") : Effect.fail(new ConnectionLost()))
    // A call with its retries and their backoff, the clock moved on until it is done.
    const call = Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.exit(Policy.run("database-read", query)))
      yield* TestClock.adjust("500 millis")
      return yield* Fiber.join(fiber)
    })
    const policies = yield* Policy.Policies
    // Trip the circuit: five consecutive failures (two calls with their retries).
    yield* call
    yield* call
    expect((yield* policies.circuitState("database")).state).toBe("open")
    // The database is still restarting: each time the circuit lets a probe through, the probe fails and
    // the circuit opens again; five times in a row (the package's doubling would be at 4 s by now).
    for (let i = 0; i < 5; i++) {
      yield* TestClock.adjust("600 millis")
      const probe = yield* call
      expect(probe._tag).toBe("Failure")
      expect((yield* policies.circuitState("database")).state).toBe("open")
    }
    // Back: the first call within a second of the last opening is served.
    up = true
    yield* TestClock.adjust("600 millis")
    const served = yield* call
    expect(served).toEqual(Exit.succeed("row"))
    expect((yield* policies.circuitState("database")).state).toBe("closed")
  }).pipe(
    Effect.provide(DatabasePolicies.layerPolicies()),
    Effect.provideService(Metric.MetricRegistry, new Map())
  ))
