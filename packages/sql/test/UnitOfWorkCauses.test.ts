/**
 * When the connection dies inside a transaction, `effect/sql` reports the statement's failure together
 * with the failed ROLLBACK as a defect; `SqlUnitOfWork` must turn that into one typed failure (so the
 * HTTP layer answers 503, not 500), and must leave interruptions and real bugs alone.
 */
import { describe, expect, it } from "@effect/vitest"
import { DomainError } from "@live-events/domain"
import { Cause, Effect, Exit } from "effect"
import { SqlError } from "effect/sql"
import { settleCleanupDefects } from "../src/SqlUnitOfWork.ts"

const connectionLost = () => new SqlError.SqlError({ reason: new SqlError.ConnectionError({ cause: new Error("ECONNRESET") }) })
const unavailable = new DomainError.RepositoryError({ reason: "unavailable", operation: "RegistrationRepository.lockForRegistration" })

const settle = (cause: Cause.Cause<unknown>) => Effect.runSyncExit(settleCleanupDefects(cause))

/** Settles `cause` and returns the one typed failure it must have become. */
const settledFailure = (cause: Cause.Cause<unknown>): unknown => {
  const exit = settle(cause)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  expect(exit.cause.reasons).toHaveLength(1)
  expect(Cause.isFailReason(exit.cause.reasons[0]!)).toBe(true)
  return Cause.squash(exit.cause)
}

describe("SqlUnitOfWork: causes of a dead connection", () => {
  it("the statement's failure plus a failed ROLLBACK (a defect) settle to the typed failure", () => {
    expect(settledFailure(Cause.combine(Cause.fail(unavailable), Cause.die(connectionLost())))).toBe(unavailable)
  })

  it("a failed COMMIT whose cleanup failed too (defects only) becomes a RepositoryError", () => {
    const error = settledFailure(Cause.combine(Cause.die(connectionLost()), Cause.die(connectionLost())))
    expect(error).toBeInstanceOf(DomainError.RepositoryError)
    expect((error as DomainError.RepositoryError).reason).toBe("unavailable")
  })

  it("a failed COMMIT after a failed statement (everything made a defect) settles to the statement's error", () => {
    expect(settledFailure(Cause.combine(Cause.die(unavailable), Cause.die(connectionLost())))).toBe(unavailable)
  })

  it("leaves a real bug and an interruption as they are", () => {
    const bug = Cause.combine(Cause.fail(unavailable), Cause.die(new TypeError("undefined is not a function")))
    const bugExit = settle(bug)
    expect(Exit.isFailure(bugExit) && bugExit.cause).toBe(bug)
    const interrupted = Cause.combine(Cause.fail(unavailable), Cause.interrupt())
    const interruptedExit = settle(interrupted)
    expect(Exit.isFailure(interruptedExit) && interruptedExit.cause).toBe(interrupted)
  })
})
