/**
 * Retries of 429 and 503 answers: `Retry-After` is waited for (on the test clock), a longer one than
 * `maxDelay` is not, a 503 is retried only where repeating is safe, and the number of retries is bounded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "effect/http"
import { Retry } from "../src/index.ts"

/** A client answering from a script of (status, headers), then 200; it counts what it was sent. */
const scripted = (answers: ReadonlyArray<readonly [number, Record<string, string>]>) => {
  const sent: Array<string> = []
  const client = HttpClient.make((request) =>
    Effect.sync(() => {
      const [status, headers] = answers[sent.length] ?? [200, {}]
      sent.push(request.method)
      return HttpClientResponse.fromWeb(request, new Response(status === 200 ? "{}" : "{\"code\":\"x\"}", { status, headers }))
    })
  )
  return { client, sent }
}

const get = HttpClientRequest.get("http://127.0.0.1/v1/events")
const post = HttpClientRequest.post("http://127.0.0.1/v1/events/1/registrations")

describe("Retry", () => {
  it.effect("waits the Retry-After of a 503 before retrying a GET, then answers with the retry's response", () =>
    Effect.gen(function*() {
      const { client, sent } = scripted([[503, { "retry-after": "2" }]])
      const fiber = yield* Effect.forkChild(Retry.withRetries()(client).execute(get))
      yield* TestClock.adjust(Duration.millis(1_900))
      assert.strictEqual(sent.length, 1)
      yield* TestClock.adjust(Duration.millis(100))
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(sent.length, 2)
    }))

  it.effect("retries a 429 even for a POST, at most `times` times", () =>
    Effect.gen(function*() {
      const { client, sent } = scripted([[429, { "retry-after": "1" }], [429, { "retry-after": "1" }], [429, { "retry-after": "1" }]])
      const fiber = yield* Effect.forkChild(Retry.withRetries({ times: 2 })(client).execute(post))
      yield* TestClock.adjust(Duration.seconds(5))
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 429)
      assert.deepStrictEqual(sent, ["POST", "POST", "POST"])
    }))

  it.effect("does not wait for a Retry-After beyond maxDelay: the answer is returned at once", () =>
    Effect.gen(function*() {
      const { client, sent } = scripted([[503, { "retry-after": "120" }]])
      const response = yield* Retry.withRetries({ maxDelay: "10 seconds" })(client).execute(get)
      assert.strictEqual(response.status, 503)
      assert.strictEqual(sent.length, 1)
    }))

  it.effect("retries a POST's 503 only when it carries an Idempotency-Key", () =>
    Effect.gen(function*() {
      const plain = scripted([[503, { "retry-after": "1" }]])
      const refused = yield* Retry.withRetries()(plain.client).execute(post)
      assert.strictEqual(refused.status, 503)
      assert.strictEqual(plain.sent.length, 1)

      const keyed = scripted([[503, { "retry-after": "1" }]])
      const fiber = yield* Effect.forkChild(
        Retry.withRetries()(keyed.client).execute(HttpClientRequest.setHeader(post, "idempotency-key", "k1"))
      )
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      assert.strictEqual(keyed.sent.length, 2)
    }))

  it("backs off exponentially without a Retry-After, capped at maxDelay", () => {
    const response = HttpClientResponse.fromWeb(get, new Response(null, { status: 503 }))
    const delay = (attempt: number) =>
      Duration.toMillis(Option.getOrThrow(Retry.delayOf(response, attempt, 0, { baseDelay: "100 millis", maxDelay: "1 second" })))
    assert.deepStrictEqual([0, 1, 2, 3, 4].map(delay), [100, 200, 400, 800, 1_000])
    const dated = HttpClientResponse.fromWeb(get, new Response(null, { status: 503, headers: { "retry-after": new Date(5_000).toUTCString() } }))
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(Retry.delayOf(dated, 0, 2_000))), 3_000)
  })
})
