/**
 * Retry with jittered exponential backoff, for transient failures only.
 *
 * The {@link classify} function decides what is transient without importing any driver or HTTP
 * client: it reads `SqlError` reasons (their `isRetryable`), any error with an `isRetryable` getter
 * (the domain's `RepositoryError`, this package's own errors), HTTP responses carried by an error
 * (`status` or `response.status`, 429 and 503 by default) with their `Retry-After` header, Effect's
 * `TimeoutError`, an Effect HTTP client `TransportError` and Node socket error codes. Anything else
 * — validation, constraint, business errors — is not retried.
 *
 * A delay is never shorter than a peer's `Retry-After`; a peer that asks for longer than
 * `maxRetryAfter` ends the retries instead (the caller's deadline would pass anyway).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Metric, Random, Schedule } from "effect"
import { isSqlError, isSqlErrorReason } from "effect/sql/SqlError"
import * as Metrics from "./Metrics.ts"

/** @since 0.1.0 */
export interface RetrySettings {
  /** Retries after the first attempt; 0 disables retrying. */
  readonly maxRetries: number
  /** Delay before the first retry, before jitter. */
  readonly baseDelay: Duration.Input
  /** Growth of the delay between retries. */
  readonly factor: number
  /** Cap of the backoff delay, before jitter. A peer's `Retry-After` may exceed it. */
  readonly maxDelay: Duration.Input
  /** Each delay is multiplied by a random factor in `[1 - jitter, 1 + jitter]`; 0 disables jitter. */
  readonly jitter: number
  /** A peer asking to wait longer than this ends the retries. */
  readonly maxRetryAfter: Duration.Input
}

/** What {@link classify} found out about a failure. @since 0.1.0 */
export interface Classification {
  readonly retryable: boolean
  /**
   * The dependency did not answer or said it cannot (connection refused, timeout, 503): what a circuit
   * breaker counts. Contention (deadlock, serialization failure, lock timeout, a "conflict") is worth
   * a retry but proves the dependency is up, so it is retryable without being `unavailable`: a hot
   * row must not open the database circuit for everyone.
   */
  readonly unavailable: boolean
  /** The least time to wait before the next attempt, when the failure says so (`Retry-After`). */
  readonly retryAfter: Duration.Duration | undefined
}

/** @since 0.1.0 */
export interface ClassifyOptions {
  /** HTTP statuses from a peer that are worth retrying. Default `[429, 503]`. */
  readonly retryableStatuses?: ReadonlyArray<number> | undefined
}

/** Node socket errors that mean "the peer could not be reached", worth a retry. @since 0.1.0 */
export const transientErrorCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01" // PostgreSQL admin_shutdown: the server is going away
])

const defaultStatuses: ReadonlyArray<number> = [429, 503]
const notRetryable: Classification = { retryable: false, unavailable: false, retryAfter: undefined }
const retryable: Classification = { retryable: true, unavailable: true, retryAfter: undefined }
const contention: Classification = { retryable: true, unavailable: false, retryAfter: undefined }

/** SqlError reasons that mean the database did not answer, as opposed to answering with contention. */
const sqlUnavailableReasons: ReadonlySet<string> = new Set(["ConnectionError", "StatementTimeoutError"])
/** `reason` values of an error with `isRetryable` (the domain's RepositoryError) that mean contention. */
const contentionReasons: ReadonlySet<string> = new Set(["conflict", "deadlock", "serialization", "lock-timeout"])

const isObject = (u: unknown): u is Record<PropertyKey, unknown> => typeof u === "object" && u !== null

const header = (headers: unknown, name: string): string | undefined => {
  if (!isObject(headers)) return undefined
  if (typeof headers["get"] === "function") {
    const value = (headers as unknown as { get(name: string): unknown }).get(name)
    return typeof value === "string" ? value : undefined
  }
  const value = headers[name] ?? headers[name.toLowerCase()]
  return typeof value === "string" ? value : Array.isArray(value) && typeof value[0] === "string" ? value[0] : undefined
}

/**
 * Parses an HTTP `Retry-After` value: delay-seconds or an HTTP-date (relative to `nowMillis`).
 * Returns `undefined` when the value is malformed.
 *
 * @since 0.1.0
 */
export const parseRetryAfter = (value: string, nowMillis: number): Duration.Duration | undefined => {
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - nowMillis))
}

const httpStatusOf = (error: Record<PropertyKey, unknown>): { status: number; headers: unknown } | undefined => {
  if (typeof error["status"] === "number") return { status: error["status"], headers: error["headers"] }
  const response = error["response"]
  if (isObject(response) && typeof response["status"] === "number") {
    return { status: response["status"], headers: response["headers"] }
  }
  return undefined
}

const hasTransientCode = (error: unknown): boolean =>
  isObject(error) && typeof error["code"] === "string" && transientErrorCodes.has(error["code"])

/**
 * Decides whether a failure is transient and how long a peer asked to wait.
 *
 * @since 0.1.0
 */
export const classify = (error: unknown, nowMillis: number, options?: ClassifyOptions): Classification => {
  if (!isObject(error)) return notRetryable
  if (isSqlError(error) || isSqlErrorReason(error)) {
    if (!error.isRetryable) return notRetryable
    const reason = isSqlError(error) ? error.reason._tag : error._tag
    return sqlUnavailableReasons.has(reason) ? retryable : contention
  }
  const http = httpStatusOf(error)
  if (http !== undefined) {
    if (!(options?.retryableStatuses ?? defaultStatuses).includes(http.status)) return notRetryable
    const value = header(http.headers, "retry-after")
    return {
      retryable: true,
      unavailable: true,
      retryAfter: value === undefined ? undefined : parseRetryAfter(value, nowMillis)
    }
  }
  if (typeof error["isRetryable"] === "boolean") {
    if (!error["isRetryable"]) return notRetryable
    const after = error["retryAfter"]
    const reason = error["reason"]
    return {
      retryable: true,
      unavailable: !(typeof reason === "string" && contentionReasons.has(reason)),
      retryAfter: Duration.isDuration(after) ? after : undefined
    }
  }
  if (error["_tag"] === "TimeoutError") return retryable
  // Effect's HttpClientError: the request never got an answer.
  const reason = error["reason"]
  if (isObject(reason) && reason["_tag"] === "TransportError") return retryable
  if (hasTransientCode(error) || hasTransientCode(error["cause"])) return retryable
  return notRetryable
}

/**
 * `true` when {@link classify} says the failure is transient.
 *
 * @since 0.1.0
 */
export const isRetryable = (error: unknown, options?: ClassifyOptions): boolean =>
  classify(error, 0, options).retryable

/**
 * The backoff delay before retry number `attempt` (1-based), before jitter: `baseDelay * factor^(attempt-1)`,
 * capped at `maxDelay`.
 *
 * @since 0.1.0
 */
export const backoffDelay = (settings: RetrySettings, attempt: number): Duration.Duration => {
  const base = Duration.toMillis(Duration.fromInputUnsafe(settings.baseDelay))
  const max = Duration.toMillis(Duration.fromInputUnsafe(settings.maxDelay))
  return Duration.millis(Math.min(max, base * Math.pow(settings.factor, attempt - 1)))
}

const errorTag = (error: unknown): string =>
  isObject(error) && typeof error["_tag"] === "string" ? error["_tag"] : "unknown"

/**
 * The retry schedule: stops at `maxRetries`, on a failure that is not transient, or when a peer
 * asks to wait more than `maxRetryAfter`; otherwise waits the jittered, capped exponential delay,
 * and never less than the peer's `Retry-After`. Every retry it lets through is counted in
 * `resilience_retries_total` and recorded as a `resilience.retry` event on the current span.
 *
 * @since 0.1.0
 */
export const schedule = (
  settings: RetrySettings,
  options?: ClassifyOptions & { readonly policy?: string | undefined }
): Schedule.Schedule<Duration.Duration, unknown> => {
  const maxRetryAfter = Duration.fromInputUnsafe(settings.maxRetryAfter)
  const policy = options?.policy ?? "unnamed"
  const retriesByTag = new Map<string, Metric.Counter<number>>()
  const retriesFor = (tag: string) => {
    let metric = retriesByTag.get(tag)
    if (metric === undefined) {
      metric = Metric.withAttributes(Metrics.retries, { policy, error: tag })
      retriesByTag.set(tag, metric)
    }
    return metric
  }
  return Schedule.exponential(settings.baseDelay, settings.factor).pipe(
    Schedule.setInputType<unknown>(),
    Schedule.while(({ attempt, input, now }) => {
      if (attempt > settings.maxRetries) return false
      const classification = classify(input, now, options)
      return classification.retryable &&
        (classification.retryAfter === undefined ||
          Duration.isLessThanOrEqualTo(classification.retryAfter, maxRetryAfter))
    }),
    Schedule.modifyDelay(({ attempt, input, now }) =>
      Effect.gen(function*() {
        const backoff = Duration.toMillis(backoffDelay(settings, attempt))
        const random = settings.jitter > 0 ? yield* Random.next : 0.5
        const jittered = backoff * (1 - settings.jitter + 2 * settings.jitter * random)
        const retryAfter = classify(input, now, options).retryAfter
        const delay = retryAfter === undefined ? jittered : Math.max(jittered, Duration.toMillis(retryAfter))
        const tag = errorTag(input)
        yield* Metric.update(retriesFor(tag), 1)
        yield* recordRetryEvent(policy, attempt, delay, tag)
        return Duration.millis(Math.round(delay))
      })
    )
  )
}

const recordRetryEvent = (policy: string, attempt: number, delayMillis: number, error: string) =>
  Effect.flatMap(Clock.currentTimeNanos, (now) =>
    Effect.currentSpan.pipe(
      Effect.map((span) =>
        span.event("resilience.retry", now, {
          "resilience.policy": policy,
          "resilience.retry.attempt": attempt,
          "resilience.retry.delay_ms": Math.round(delayMillis),
          "error.type": error
        })
      ),
      // No span around the call: the metric above still counts the retry.
      Effect.catchTag("NoSuchElementError", () => Effect.void)
    ))

/**
 * Retries `self` on transient failures with the {@link schedule}.
 *
 * @since 0.1.0
 */
export const retry = (
  settings: RetrySettings,
  options?: ClassifyOptions & { readonly policy?: string | undefined }
) => {
  if (settings.maxRetries <= 0) return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => self
  const policy = schedule(settings, options)
  // Effect.retry builds its schedule state on every call; most calls succeed, so the retry loop is
  // only entered after a first failure, which is fed to the schedule as its first input.
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.catch(self, (firstError) => {
      let first = true
      const attempt = Effect.suspend(() => {
        if (!first) return self
        first = false
        return Effect.fail(firstError)
      })
      return Effect.retry(attempt, policy)
    })
}
