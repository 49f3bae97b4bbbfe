/**
 * A store whose database is unreachable at start waits for it: the layer is built again until it
 * succeeds, and what each failed attempt opened is closed at once. A database that answers with a
 * refusal (a wrong password) is not waited for, and the wait has an end.
 */
import { it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, References } from "effect"
import { SqlError } from "effect/sql"
import { expect } from "vitest"
import { StartupWait } from "@live-events/sql"

class Store extends Context.Service<Store, { readonly attempt: number }>()("test/Store") {}

const failure = (reason: SqlError.SqlError["reason"]) => new SqlError.SqlError({ reason })
const refused = failure(new SqlError.ConnectionError({ cause: new Error("connect ECONNREFUSED 127.0.0.1:5432") }))
const badPassword = failure(new SqlError.AuthenticationError({ cause: new Error("password authentication failed") }))

/** A store that fails its first `failures` starts with `error`, counting starts and releases. */
const flaky = (failures: number, error: SqlError.SqlError) => {
  const counts = { attempts: 0, open: 0 }
  const layer = Layer.effect(Store, Effect.gen(function*() {
    const attempt = ++counts.attempts
    // A resource opened before the failure (like a pool before its first connection fails).
    yield* Effect.acquireRelease(Effect.sync(() => counts.open++), () => Effect.sync(() => counts.open--))
    if (attempt <= failures) return yield* Effect.fail(error)
    return Store.of({ attempt })
  }))
  return { counts, layer }
}

it.live("an unreachable database is waited for; each failed attempt's resources are released", () =>
  Effect.gen(function*() {
    const { counts, layer } = flaky(4, refused)
    const store = yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(StartupWait.waitingForDatabase(layer, "10 seconds"))
      // Only the successful attempt's resource is still open.
      expect(counts.open).toBe(1)
      return Context.get(context, Store)
    }))
    expect(store.attempt).toBe(5)
    expect(counts.open).toBe(0)
  }).pipe(Effect.provideService(References.MinimumLogLevel, "None")))

it.live("a refusal is not waited for, and the wait ends", () =>
  Effect.gen(function*() {
    const wrongPassword = flaky(1, badPassword)
    const exit = yield* Effect.exit(Effect.scoped(Layer.build(StartupWait.waitingForDatabase(wrongPassword.layer, "10 seconds"))))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(wrongPassword.counts).toEqual({ attempts: 1, open: 0 })

    const forever = flaky(Number.POSITIVE_INFINITY, refused)
    const started = Date.now()
    const gaveUp = yield* Effect.exit(Effect.scoped(Layer.build(StartupWait.waitingForDatabase(forever.layer, "700 millis"))))
    expect(Exit.isFailure(gaveUp)).toBe(true)
    expect(forever.counts.attempts).toBeGreaterThan(2)
    expect(forever.counts.open).toBe(0)
    expect(Date.now() - started).toBeLessThan(5_000)
  }).pipe(Effect.provideService(References.MinimumLogLevel, "None")))

it("classifies what an unreachable database looks like", () => {
  expect(StartupWait.isUnreachable(refused)).toBe(true)
  expect(StartupWait.isUnreachable(badPassword)).toBe(false)
  const startingUp = failure(new SqlError.UnknownError({ cause: Object.assign(new Error("the database system is starting up"), { code: "57P03" }) }))
  expect(StartupWait.isUnreachable(startingUp)).toBe(true)
  const missingTable = failure(new SqlError.UnknownError({ cause: Object.assign(new Error("relation does not exist"), { code: "42P01" }) }))
  expect(StartupWait.isUnreachable(missingTable)).toBe(false)
})
