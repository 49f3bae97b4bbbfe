/**
 * `Idempotency-Key` on unsafe requests (create event, register): the first response to a key is
 * stored and replayed byte for byte to every retry of the same request, for 24 hours.
 *
 * The key is scoped by user and route, and bound to a hash of the method, path and canonical body, so
 * a key reused for another request is refused (422 `idempotency-key-reused`), and a retry that
 * overtakes the first attempt gets 409 `idempotency-key-in-progress`. 4xx answers are stored like
 * successes (the same request would get the same answer); a 5xx or a defect releases the key so a
 * retry can run again. Storage is the `IdempotencyKeys` port of `@live-events/sql`; expired responses
 * are purged by the engine (`@live-events/engine` `IdempotencyPurge`).
 *
 * @since 0.1.0
 */
import { Effect, Exit } from "effect"
import { HttpServerResponse } from "effect/http"
import { IdempotencyKeys } from "@live-events/sql"
import { createHash } from "node:crypto"
import * as Problem from "./Problem.ts"

/** A response in the form it is stored and replayed. @since 0.1.0 */
export type Stored = IdempotencyKeys.StoredResponse

/** @since 0.1.0 */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Stored => ({
  status,
  headers: { ...headers, "content-type": "application/json" },
  body: JSON.stringify(body)
})

/** @since 0.1.0 */
export const problem = (problem: Problem.Problem): Effect.Effect<Stored> =>
  Effect.map(Problem.toBody(problem), (body) => ({
    status: problem.status,
    headers: { ...problem.headers, "content-type": Problem.contentType },
    body: JSON.stringify(body)
  }))

/** Renders a stored response. @since 0.1.0 */
export const toResponse = (stored: Stored): HttpServerResponse.HttpServerResponse => {
  const { "content-type": contentType, ...headers } = stored.headers
  return HttpServerResponse.text(stored.body, {
    status: stored.status,
    headers,
    contentType: contentType ?? "application/json"
  })
}

/** sha256 over method, path and the canonical JSON of the decoded body. @since 0.1.0 */
export const requestHash = (method: string, path: string, body: unknown): string =>
  createHash("sha256").update(`${method}\n${path}\n${JSON.stringify(body ?? null)}`).digest("hex")

/** @since 0.1.0 */
export interface Request {
  /** The `Idempotency-Key` header; without it the request just runs. */
  readonly key: string | undefined
  /** Who and which route: `<userId> POST /v1/events`. */
  readonly scope: string
  /** The {@link requestHash}; computed only when there is a key. */
  readonly hash: () => string
}

/**
 * Runs `produce` at most once per key, replaying its stored response to retries. Without a key it just
 * runs: no hash, no encoding, no span.
 *
 * @since 0.1.0
 */
export const run = <R>(request: Request, produce: Effect.Effect<Stored, never, R>) =>
  request.key === undefined ? Effect.map(produce, toResponse) : runWithKey(request.key, request, produce)

const runWithKey = Effect.fn("Idempotency.run")(function*<R>(key: string, request: Request, produce: Effect.Effect<Stored, never, R>) {
  const keys = yield* IdempotencyKeys.IdempotencyKeys
  const begun = yield* Effect.result(keys.begin(request.scope, key, request.hash()))
  if (begun._tag === "Failure") return yield* Problem.toResponse(yield* Problem.reported(begun.failure))
  const state = begun.success
  switch (state._tag) {
    case "Replay":
      return toResponse({ status: state.status, headers: { ...state.headers, "idempotent-replayed": "true" }, body: state.body })
    case "Mismatch":
      return yield* Problem.respond(
        422,
        "idempotency-key-reused",
        "This Idempotency-Key was already used for a different request"
      )
    case "InProgress":
      return yield* Problem.respond(409, "idempotency-key-in-progress", "A request with this Idempotency-Key is still running", {
        headers: { "retry-after": "1" }
      })
    case "Started":
      break
  }
  // Uninterruptible: once the use-case commits, its response must be stored, even if the client left.
  return yield* Effect.uninterruptible(Effect.gen(function*() {
    const exit = yield* Effect.exit(produce)
    if (Exit.isFailure(exit) || exit.value.status >= 500) {
      yield* keys.abandon(request.scope, key).pipe(Effect.ignore({ log: "Warn" }))
      if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
    }
    const completed = yield* Effect.result(keys.complete(request.scope, key, exit.value))
    if (completed._tag === "Failure") {
      // The change is committed but its replay is not stored: say so rather than pretend.
      yield* Effect.logWarning("Idempotent response could not be stored", completed.failure)
    }
    return toResponse(exit.value)
  }))
})
