/**
 * Retry: the transient-failure classifier, the backoff sequence with its jitter bounds, and — on the
 * TestClock — that retries happen at the backoff times, never before a peer's Retry-After, and not at
 * all for errors that are not transient.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Ref, Schedule, Schema } from "effect"
import {
  ConnectionError,
  DeadlockError,
  SerializationError,
  SqlError,
  SqlSyntaxError,
  UniqueViolation
} from "effect/sql/SqlError"
import { TestClock } from "effect/testing"
import * as Retry from "../src/Retry.ts"

/** Shaped like the domain's RepositoryError: a reason and an `isRetryable` getter. */
class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: Schema.Literals(["unavailable", "constraint"])
}) {
  get isRetryable() {
    return this.reason === "unavailable"
  }
}

/** Shaped like a peer's HTTP answer carried by an error (Effect's HttpClientError exposes `response`). */
class PeerError extends Schema.TaggedError<PeerError>()("PeerError", {
  status: Schema.Number,
  headers: Schema.Record(Schema.String, Schema.String)
}) {}

const settings: Retry.RetrySettings = {
  maxRetries: 5,
  baseDelay: "100 millis",
  factor: 2,
  maxDelay: "1 second",
  jitter: 0.2,
  maxRetryAfter: "30 seconds"
}

const noJitter: Retry.RetrySettings = { ...settings, jitter: 0 }

describe("Retry.classify", () => {
  it("reads SqlError reasons through isRetryable", () => {
    const cause = new Error("boom")
    expect(Retry.isRetryable(new SqlError({ reason: new ConnectionError({ cause }) }))).toBe(true)
    expect(Retry.isRetryable(new SqlError({ reason: new UniqueViolation({ cause, constraint: "users_email_key" }) }))).toBe(false)
    expect(Retry.isRetryable(new SqlError({ reason: new SqlSyntaxError({ cause }) }))).toBe(false)
  })

  it("tells contention (retry, but the database is up) from unavailability", () => {
    const cause = new Error("boom")
    const connection = Retry.classify(new SqlError({ reason: new ConnectionError({ cause }) }), 0)
    const deadlock = Retry.classify(new SqlError({ reason: new DeadlockError({ cause }) }), 0)
    const serialization = Retry.classify(new SqlError({ reason: new SerializationError({ cause }) }), 0)
    expect([connection.retryable, connection.unavailable]).toEqual([true, true])
    expect([deadlock.retryable, deadlock.unavailable]).toEqual([true, false])
    expect([serialization.retryable, serialization.unavailable]).toEqual([true, false])
    const conflict = Retry.classify({ _tag: "RepositoryError", reason: "conflict", isRetryable: true }, 0)
    expect([conflict.retryable, conflict.unavailable]).toEqual([true, false])
    const timeout = Retry.classify({ _tag: "RepositoryError", reason: "timeout", isRetryable: true }, 0)
    expect([timeout.retryable, timeout.unavailable]).toEqual([true, true])
  })

  it("reads an isRetryable getter (RepositoryError)", () => {
    expect(Retry.isRetryable(new StorageError({ reason: "unavailable" }))).toBe(true)
    expect(Retry.isRetryable(new StorageError({ reason: "constraint" }))).toBe(false)
  })

  it("retries HTTP 429 and 503 only, with their Retry-After", () => {
    const at = (status: number, headers: Record<string, string> = {}) =>
      Retry.classify(new PeerError({ status, headers }), 0)
    expect(at(429, { "retry-after": "7" })).toEqual({ retryable: true, unavailable: true, retryAfter: Duration.seconds(7) })
    expect(at(503)).toEqual({ retryable: true, unavailable: true, retryAfter: undefined })
    expect(at(500).retryable).toBe(false)
    expect(at(404).retryable).toBe(false)
    expect(at(400, { "retry-after": "7" }).retryable).toBe(false)
    // Effect's HttpClientError carries the response under `response`, headers as a lower-case record.
    const viaResponse = { _tag: "HttpClientError", response: { status: 503, headers: { "retry-after": "2" } } }
    expect(Retry.classify(viaResponse, 0)).toEqual({ retryable: true, unavailable: true, retryAfter: Duration.seconds(2) })
    // Configurable statuses, e.g. for a webhook receiver behind a gateway.
    expect(Retry.classify(new PeerError({ status: 502, headers: {} }), 0, { retryableStatuses: [502] }).retryable)
      .toBe(true)
  })

  it("retries connection and timeout failures, nothing else", () => {
    expect(Retry.isRetryable(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))).toBe(true)
    expect(Retry.isRetryable({ _tag: "HttpClientError", reason: { _tag: "TransportError" } })).toBe(true)
    expect(Retry.isRetryable({ _tag: "TimeoutError" })).toBe(true)
    expect(Retry.isRetryable(new Error("bug"))).toBe(false)
    expect(Retry.isRetryable("string failure")).toBe(false)
    expect(Retry.isRetryable({ _tag: "EventNotFound" })).toBe(false)
  })

  it("parses Retry-After as delay-seconds or an HTTP-date", () => {
    const now = Date.parse("2026-11-27T10:00:00Z")
    expect(Retry.parseRetryAfter("120", now)).toEqual(Duration.seconds(120))
    expect(Retry.parseRetryAfter("Fri, 27 Nov 2026 10:00:30 GMT", now)).toEqual(Duration.seconds(30))
    expect(Retry.parseRetryAfter("Fri, 27 Nov 2026 09:00:00 GMT", now)).toEqual(Duration.zero)
    expect(Retry.parseRetryAfter("soon", now)).toBeUndefined()
  })
})

describe("Retry.schedule", () => {
  const transient = new StorageError({ reason: "unavailable" })

  const delays = (retrySettings: Retry.RetrySettings, inputs: ReadonlyArray<unknown>) =>
    Effect.gen(function*() {
      const step = yield* Schedule.toStep(Retry.schedule(retrySettings))
      const result: Array<number> = []
      for (const input of inputs) {
        const exit = yield* Effect.exit(step(0, input))
        if (Exit.isFailure(exit)) break
        result.push(Duration.toMillis(exit.value[1]))
      }
      return result
    })

  it.effect("backs off exponentially, capped, within the jitter bounds", () =>
    Effect.gen(function*() {
      const nominal = [100, 200, 400, 800, 1000]
      const samples: Array<Array<number>> = []
      for (let run = 0; run < 50; run++) samples.push(yield* delays(settings, Array(6).fill(transient)))
      for (const sample of samples) {
        expect(sample).toHaveLength(5) // maxRetries, then the schedule ends
        sample.forEach((delay, i) => {
          expect(delay).toBeGreaterThanOrEqual(nominal[i]! * 0.8)
          expect(delay).toBeLessThanOrEqual(nominal[i]! * 1.2)
        })
      }
      // Jitter actually spreads the retries.
      expect(new Set(samples.map((sample) => sample[0])).size).toBeGreaterThan(10)
      expect(yield* delays(noJitter, Array(6).fill(transient))).toEqual(nominal)
    }))

  it.effect("stops on the first failure that is not transient", () =>
    Effect.gen(function*() {
      expect(yield* delays(noJitter, [transient, new StorageError({ reason: "constraint" }), transient])).toEqual([100])
    }))

  it.effect("waits at least a peer's Retry-After, and gives up when it asks for too long", () =>
    Effect.gen(function*() {
      const busy = (seconds: number) => new PeerError({ status: 429, headers: { "retry-after": String(seconds) } })
      expect(yield* delays(noJitter, [busy(3), transient, busy(0)])).toEqual([3000, 200, 400])
      expect(yield* delays(noJitter, [busy(31)])).toEqual([])
    }))
})

describe("Retry.retry on the TestClock", () => {
  const failing = (attempts: Ref.Ref<number>, error: unknown, failures: number) =>
    Effect.flatMap(Ref.updateAndGet(attempts, (n) => n + 1), (n) => n <= failures ? Effect.fail(error) : Effect.succeed(n))

  it.effect("retries at 100, 200, 400 ms after each failure", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* failing(attempts, new StorageError({ reason: "unavailable" }), 3).pipe(
        Retry.retry(noJitter),
        Effect.forkChild
      )
      yield* Effect.yieldNow
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust("99 millis")
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("199 millis")
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(attempts)).toBe(3)
      yield* TestClock.adjust("400 millis")
      expect(yield* Fiber.join(fiber)).toBe(4)
    }))

  it.effect("does not retry an error that is not transient", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const error = new StorageError({ reason: "constraint" })
      const exit = yield* failing(attempts, error, 10).pipe(Retry.retry(noJitter), Effect.exit)
      expect(exit).toEqual(Exit.fail(error))
      expect(yield* Ref.get(attempts)).toBe(1)
    }))

  it.effect("never retries sooner than Retry-After", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const error = new PeerError({ status: 503, headers: { "retry-after": "5" } })
      const fiber = yield* failing(attempts, error, 1).pipe(Retry.retry(settings), Effect.forkChild)
      yield* Effect.yieldNow
      yield* TestClock.adjust("4999 millis")
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe(2)
    }))

  it.effect("gives up after maxRetries with the last error", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const error = new StorageError({ reason: "unavailable" })
      const fiber = yield* failing(attempts, error, 100).pipe(
        Retry.retry({ ...noJitter, maxRetries: 2 }),
        Effect.exit,
        Effect.forkChild
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toEqual(Exit.fail(error))
      expect(yield* Ref.get(attempts)).toBe(3)
    }))
})
