/**
 * Retries of answers that say "later": 429 (rate limited: the request was refused before it did
 * anything) and 503 (an outage), honouring the server's `Retry-After` within bounds.
 *
 * A 503 can come after a write took effect (e.g. the answer was lost to a timeout), so it is retried
 * only for methods that are safe to repeat, or for a request that carries an `Idempotency-Key` (the
 * server then answers a repeat with the first result). A `Retry-After` longer than `maxDelay` is not
 * waited for: the answer is returned as it is, and the caller decides.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option, Result } from "effect"
import { Headers, HttpClient, type HttpClientRequest, type HttpClientResponse } from "effect/http"

/** @since 0.1.0 */
export interface Options {
  /** Retries after the first attempt; `0` turns retries off. Default 3. */
  readonly times?: number | undefined
  /** The longest wait before one retry; a longer `Retry-After` is not waited for. Default 10 seconds. */
  readonly maxDelay?: Duration.Input | undefined
  /** The first wait when an answer has no `Retry-After`, doubled for each further retry. Default 250 millis. */
  readonly baseDelay?: Duration.Input | undefined
}

/** @since 0.1.0 */
export const defaults = { times: 3, maxDelay: Duration.seconds(10), baseDelay: Duration.millis(250) } as const

const repeatable = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])

/**
 * Whether an answer may be retried: every 429, and a 503 for a repeatable method or a request with an
 * `Idempotency-Key`.
 *
 * @since 0.1.0
 */
export const isRetryable = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse
): boolean =>
  response.status === 429 ||
  (response.status === 503 && (repeatable.has(request.method) || request.headers["idempotency-key"] !== undefined))

/**
 * How long to wait before retry number `attempt` (0 for the first): the answer's `Retry-After`
 * (seconds or an HTTP date), else an exponential backoff; none when `Retry-After` exceeds `maxDelay`.
 *
 * @since 0.1.0
 */
export const delayOf = (
  response: HttpClientResponse.HttpClientResponse,
  attempt: number,
  nowMillis: number,
  options: Options = {}
): Option.Option<Duration.Duration> => {
  const maxDelay = Duration.fromInputUnsafe(options.maxDelay ?? defaults.maxDelay)
  const header = response.headers["retry-after"]
  const parsed = header === undefined ? undefined : Headers.parseRetryAfter(header)
  if (parsed !== undefined && Result.isSuccess(parsed)) {
    const delay = Headers.retryAfterDelay(parsed.success, nowMillis)
    return Duration.isGreaterThan(delay, maxDelay) ? Option.none() : Option.some(delay)
  }
  const backoff = Duration.times(Duration.fromInputUnsafe(options.baseDelay ?? defaults.baseDelay), 2 ** attempt)
  return Option.some(Duration.min(backoff, maxDelay))
}

/**
 * An `HttpClient` that retries retryable answers (see {@link isRetryable}) up to `times`, waiting as
 * {@link delayOf} says. The body of an answer that is retried is read and dropped first, so its
 * connection is released.
 *
 * @since 0.1.0
 */
export const withRetries = (options: Options = {}) => <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> => {
  const times = options.times ?? defaults.times
  return HttpClient.transform(client, (send, request) => {
    const attempt = (retry: number): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> =>
      Effect.flatMap(send, (response) => {
        if (retry >= times || !isRetryable(request, response)) return Effect.succeed(response)
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Option.match(delayOf(response, retry, now, options), {
            onNone: () => Effect.succeed(response),
            onSome: (delay) =>
              Effect.ignore(response.arrayBuffer).pipe(
                Effect.andThen(Effect.sleep(delay)),
                Effect.andThen(attempt(retry + 1))
              )
          }))
      })
    return attempt(0)
  })
}
