/**
 * Where rate-limit counters live, and the three algorithms that update them atomically.
 *
 * - **fixed window**: a counter per key and window (`floor(now / window)`); resets at the window end.
 * - **sliding window** (counter approximation): the previous window's count weighted by how much of it
 *   still overlaps the sliding window, plus the current window's count. Two integers per key, no
 *   burst of 2× the limit at a window edge, within a few percent of an exact log.
 * - **token bucket**: `limit` tokens, refilled continuously at `limit / window`; allows bursts up to
 *   `limit` and a steady rate of `limit` per window.
 *
 * A rejected request consumes nothing. `retryAfterMillis` is exact for each algorithm (the soonest a
 * request of the same cost could pass, assuming no other traffic); on a rejection `resetMillis` equals
 * it, so `Retry-After` is never earlier than the `RateLimit` reset (draft-10 §6).
 *
 * `layerMemory` keeps state in the process (uses `Clock`, so TestClock drives it); `layerRedis` runs one
 * Lua script per decision (atomic, one round trip) with time from Redis `TIME`, so processes with
 * skewed clocks agree. Effect's `persistence/RateLimiter` was not reused: it has no sliding window, its
 * "fixed window" extends a TTL per request rather than using a window, its token bucket takes the time
 * from each client, and its results lack what the draft-10 headers need on success.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as Redis from "effect/persistence/Redis"

/** @since 0.1.0 */
export type Algorithm = "fixed-window" | "sliding-window" | "token-bucket"

/** @since 0.1.0 */
export interface ConsumeRequest {
  readonly algorithm: Algorithm
  /** The full key, already namespaced by policy. */
  readonly key: string
  readonly limit: number
  readonly windowMillis: number
  /** Units this request consumes (integer, ≥ 1). */
  readonly cost: number
}

/** @since 0.1.0 */
export interface ConsumeResult {
  readonly allowed: boolean
  /** Whole units left after this request. */
  readonly remaining: number
  /** Milliseconds until more quota becomes available (window end, next token; on a rejection, = retryAfterMillis). */
  readonly resetMillis: number
  /** Milliseconds before a rejected request could pass; 0 when allowed. */
  readonly retryAfterMillis: number
}

/** The store could not be reached or answered nonsense. @since 0.1.0 */
export class RateLimitStoreError extends Schema.TaggedError<RateLimitStoreError>()("RateLimitStoreError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  get isRetryable(): boolean {
    return true
  }
}

/** @since 0.1.0 */
export class RateLimitStore extends Context.Service<RateLimitStore, {
  readonly consume: (request: ConsumeRequest) => Effect.Effect<ConsumeResult, RateLimitStoreError>
  /**
   * The same decision taken synchronously at `nowMillis`, offered by in-process stores only: they cannot
   * fail or be slow, so the limiter skips its store timeout (a timer per decision) for them.
   */
  readonly consumeNow?: ((request: ConsumeRequest, nowMillis: number) => ConsumeResult) | undefined
}>()("@live-events/resilience/RateLimitStore") {}

// ---------------------------------------------------------------------------------------------------
// The algorithms, as pure state transitions (the memory store; the Lua scripts mirror them)

/** @since 0.1.0 */
export interface FixedWindowState {
  windowStart: number
  count: number
}

/** @since 0.1.0 */
export const fixedWindow = (
  state: FixedWindowState | undefined,
  request: ConsumeRequest,
  now: number
): { readonly state: FixedWindowState; readonly result: ConsumeResult; readonly expiresAt: number } => {
  const window = request.windowMillis
  const windowStart = now - (now % window)
  const count = state !== undefined && state.windowStart === windowStart ? state.count : 0
  const allowed = count + request.cost <= request.limit
  const next = allowed ? count + request.cost : count
  const resetMillis = windowStart + window - now
  return {
    state: { windowStart, count: next },
    result: {
      allowed,
      remaining: Math.max(0, request.limit - next),
      resetMillis,
      retryAfterMillis: allowed ? 0 : resetMillis
    },
    expiresAt: windowStart + window
  }
}

/** @since 0.1.0 */
export interface SlidingWindowState {
  index: number
  current: number
  previous: number
}

/**
 * The soonest time (ms from now) at which a request of `cost` fits under `limit`, given the counts.
 *
 * @since 0.1.0
 */
export const slidingRetryAfter = (
  previous: number,
  current: number,
  elapsed: number,
  window: number,
  limit: number,
  cost: number
): number => {
  const left = window - elapsed
  // Still in this window: the previous count decays linearly until the window ends.
  if (previous > 0 && current + cost <= limit) {
    const wait = left - ((limit - current - cost) * window) / previous
    if (wait < left) return Math.max(1, Math.ceil(wait))
  }
  // Next window: this window's count becomes the decaying previous one.
  if (limit - cost < 0) return left + window
  const wait = current > 0 ? window * (1 - (limit - cost) / current) : 0
  return Math.max(1, Math.ceil(left + Math.max(0, wait)))
}

/** @since 0.1.0 */
export const slidingWindow = (
  state: SlidingWindowState | undefined,
  request: ConsumeRequest,
  now: number
): { readonly state: SlidingWindowState; readonly result: ConsumeResult; readonly expiresAt: number } => {
  const window = request.windowMillis
  const index = Math.floor(now / window)
  const elapsed = now - index * window
  let current = 0
  let previous = 0
  if (state !== undefined && state.index === index) {
    current = state.current
    previous = state.previous
  } else if (state !== undefined && state.index === index - 1) {
    previous = state.current
  }
  const estimate = (previous * (window - elapsed)) / window + current
  const allowed = estimate + request.cost <= request.limit
  if (allowed) current += request.cost
  const retryAfterMillis = allowed
    ? 0
    : slidingRetryAfter(previous, current, elapsed, window, request.limit, request.cost)
  return {
    state: { index, current, previous },
    result: {
      allowed,
      remaining: Math.max(0, Math.floor(request.limit - estimate - (allowed ? request.cost : 0))),
      resetMillis: allowed ? window - elapsed : retryAfterMillis,
      retryAfterMillis
    },
    expiresAt: (index + 2) * window
  }
}

/** @since 0.1.0 */
export interface TokenBucketState {
  tokens: number
  updatedAt: number
}

/** @since 0.1.0 */
export const tokenBucket = (
  state: TokenBucketState | undefined,
  request: ConsumeRequest,
  now: number
): { readonly state: TokenBucketState; readonly result: ConsumeResult; readonly expiresAt: number } => {
  const rate = request.limit / request.windowMillis
  const available = state === undefined
    ? request.limit
    : Math.min(request.limit, state.tokens + Math.max(0, now - state.updatedAt) * rate)
  const allowed = available >= request.cost
  const tokens = allowed ? available - request.cost : available
  const retryAfterMillis = allowed ? 0 : Math.max(1, Math.ceil((request.cost - tokens) / rate))
  const nextToken = tokens >= request.limit ? 0 : Math.max(1, Math.ceil((Math.floor(tokens) + 1 - tokens) / rate))
  return {
    state: { tokens, updatedAt: now },
    result: {
      allowed,
      remaining: Math.max(0, Math.floor(tokens)),
      resetMillis: allowed ? nextToken : retryAfterMillis,
      retryAfterMillis
    },
    expiresAt: now + Math.ceil((request.limit - tokens) / rate)
  }
}

// ---------------------------------------------------------------------------------------------------
// Memory

interface Entry<S> {
  readonly state: S
  readonly expiresAt: number
  /** The expiry the entry had when it took its place in the map's order (see `sweep`). */
  readonly placedFor: number
}

type Step<S> = (
  state: S | undefined,
  request: ConsumeRequest,
  now: number
) => { readonly state: S; readonly result: ConsumeResult; readonly expiresAt: number }

/** One algorithm's entries, keyed by the request's key as given. */
const keyedBy = <S>(step: Step<S>) => {
  const entries = new Map<string, Entry<S>>()
  const consumeAt = (request: ConsumeRequest, now: number): ConsumeResult => {
    const previous = entries.get(request.key)
    const next = step(previous?.state, request, now)
    // Replaced in place: a key used again keeps its place (deleting and adding it again on every use
    // leaves a deleted slot in its hash bucket each time, which every lookup of that key then walks).
    entries.set(request.key, { state: next.state, expiresAt: next.expiresAt, placedFor: previous?.placedFor ?? next.expiresAt })
    return next.result
  }
  /**
   * Walks the map from the front, in the order keys were placed: drops expired entries, moves an entry
   * whose expiry was pushed back since it was placed to the end (placed anew), and stops at the first
   * live entry still in its place, or after `budget` steps. A sweep so costs what it drops or moves, never
   * much: scanning every entry took milliseconds a second with a key per new person in a registration
   * rush, and a fixed window's keys all expire at once. An entry that expires before one placed earlier
   * (a shorter window), or beyond the budget, waits for a later sweep; until then it only takes memory,
   * since an expired state counts as a fresh one.
   */
  const sweep = (now: number, budget: number) => {
    for (const [key, entry] of entries) {
      if (budget-- === 0) return
      if (entry.expiresAt <= now) {
        entries.delete(key)
      } else if (entry.expiresAt > entry.placedFor) {
        entries.delete(key)
        entries.set(key, { ...entry, placedFor: entry.expiresAt })
      } else {
        return
      }
    }
  }
  return { consumeAt, sweep }
}

/**
 * In-process counting (never fails). Expired keys are swept in small steps (see `keyedBy`), so memory
 * follows the number of active keys.
 *
 * @since 0.1.0
 */
export const memoryConsumer = (): (request: ConsumeRequest) => Effect.Effect<ConsumeResult> => {
  const consumeAt = memoryConsumerNow()
  return (request) => Effect.clockWith((clock) => Effect.succeed(consumeAt(request, clock.currentTimeMillisUnsafe())))
}

/**
 * The synchronous decision function behind {@link memoryConsumer}.
 *
 * @since 0.1.0
 */
export const memoryConsumerNow = (): (request: ConsumeRequest, now: number) => ConsumeResult => {
  // A map per algorithm, keyed by the request's key as given: no key string is built per request
  // (callers that repeat a key pass the same string, whose hash V8 then keeps).
  const algorithms: Record<Algorithm, ReturnType<typeof keyedBy>> = {
    "fixed-window": keyedBy(fixedWindow),
    "sliding-window": keyedBy(slidingWindow),
    "token-bucket": keyedBy(tokenBucket)
  }
  const all = Object.values(algorithms)
  let lastSweep = 0
  return (request, now) => {
    // Ten sweeps a second of at most 1,000 entries each: up to 10,000 expired keys a second, in steps
    // short enough not to hold up the requests behind them.
    if (now - lastSweep >= 100) {
      lastSweep = now
      for (const algorithm of all) algorithm.sweep(now, 1_000)
    }
    return algorithms[request.algorithm].consumeAt(request, now)
  }
}

/** An in-process store. @since 0.1.0 */
export const makeMemory = (): RateLimitStore["Service"] => {
  const consumeNow = memoryConsumerNow()
  return RateLimitStore.of({
    consume: (request) => Effect.clockWith((clock) => Effect.succeed(consumeNow(request, clock.currentTimeMillisUnsafe()))),
    consumeNow
  })
}

/** @since 0.1.0 */
export const layerMemory: Layer.Layer<RateLimitStore> = Layer.sync(RateLimitStore, makeMemory)

// ---------------------------------------------------------------------------------------------------
// Redis

const luaNow = `
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
`

// Returns { allowed, remaining, resetMillis, retryAfterMillis }, integers.
const fixedWindowScript = Redis.script(
  (key: string, limit: number, windowMillis: number, cost: number) => [key, limit, windowMillis, cost],
  {
    numberOfKeys: 1,
    lua: `${luaNow}
local start = now - (now % window)
local key = KEYS[1] .. ":" .. start
local count = tonumber(redis.call("GET", key) or "0")
local allowed = 0
if count + cost <= limit then
  count = redis.call("INCRBY", key, cost)
  redis.call("PEXPIRE", key, window - (now - start) + 1000)
  allowed = 1
end
local reset = start + window - now
local retry = 0
if allowed == 0 then retry = reset end
return { allowed, math.max(0, limit - count), reset, retry }
`
  }
).withReturnType<readonly [number, number, number, number]>()

const slidingWindowScript = Redis.script(
  (key: string, limit: number, windowMillis: number, cost: number) => [key, limit, windowMillis, cost],
  {
    numberOfKeys: 1,
    lua: `${luaNow}
local index = math.floor(now / window)
local elapsed = now - index * window
local fields = redis.call("HMGET", KEYS[1], "index", "current", "previous")
local stored = tonumber(fields[1])
local current = 0
local previous = 0
if stored == index then
  current = tonumber(fields[2]) or 0
  previous = tonumber(fields[3]) or 0
elseif stored == index - 1 then
  previous = tonumber(fields[2]) or 0
end
local estimate = previous * (window - elapsed) / window + current
local allowed = 0
local retry = 0
local reset
if estimate + cost <= limit then
  allowed = 1
  current = current + cost
  estimate = estimate + cost
  reset = window - elapsed
else
  local left = window - elapsed
  retry = -1
  if previous > 0 and current + cost <= limit then
    local wait = left - (limit - current - cost) * window / previous
    if wait < left then retry = math.max(1, math.ceil(wait)) end
  end
  if retry < 0 then
    if limit - cost < 0 then
      retry = left + window
    else
      local wait = 0
      if current > 0 then wait = window * (1 - (limit - cost) / current) end
      retry = math.max(1, math.ceil(left + math.max(0, wait)))
    end
  end
  reset = retry
end
redis.call("HSET", KEYS[1], "index", index, "current", current, "previous", previous)
redis.call("PEXPIRE", KEYS[1], 2 * window - elapsed + 1000)
return { allowed, math.max(0, math.floor(limit - estimate)), reset, retry }
`
  }
).withReturnType<readonly [number, number, number, number]>()

const tokenBucketScript = Redis.script(
  (key: string, limit: number, windowMillis: number, cost: number) => [key, limit, windowMillis, cost],
  {
    numberOfKeys: 1,
    lua: `${luaNow}
local rate = limit / window
local fields = redis.call("HMGET", KEYS[1], "tokens", "updatedAt")
local tokens = tonumber(fields[1])
local updatedAt = tonumber(fields[2])
if tokens == nil or updatedAt == nil then
  tokens = limit
else
  tokens = math.min(limit, tokens + math.max(0, now - updatedAt) * rate)
end
local allowed = 0
local retry = 0
if tokens >= cost then
  allowed = 1
  tokens = tokens - cost
else
  retry = math.max(1, math.ceil((cost - tokens) / rate))
end
local reset = retry
if allowed == 1 then
  if tokens >= limit then reset = 0 else reset = math.max(1, math.ceil((math.floor(tokens) + 1 - tokens) / rate)) end
end
redis.call("HSET", KEYS[1], "tokens", string.format("%.17g", tokens), "updatedAt", now)
redis.call("PEXPIRE", KEYS[1], math.ceil((limit - tokens) / rate) + 1000)
return { allowed, math.max(0, math.floor(tokens)), reset, retry }
`
  }
).withReturnType<readonly [number, number, number, number]>()

/**
 * A store shared by every process through Redis; keys are `${prefix}${algorithm}:${key}`.
 *
 * @since 0.1.0
 */
export const makeRedis = Effect.fnUntraced(function*(options?: { readonly prefix?: string | undefined }) {
  const redis = yield* Redis.Redis
  const prefix = options?.prefix ?? "live-events:ratelimit:"
  const scripts = {
    "fixed-window": redis.eval(fixedWindowScript),
    "sliding-window": redis.eval(slidingWindowScript),
    "token-bucket": redis.eval(tokenBucketScript)
  } as const
  return RateLimitStore.of({
    consume: (request) =>
      scripts[request.algorithm](
        `${prefix}${request.algorithm}:${request.key}`,
        request.limit,
        request.windowMillis,
        request.cost
      ).pipe(
        Effect.mapError((error) =>
          new RateLimitStoreError({ message: `Rate-limit store failed (${request.algorithm})`, cause: error.cause })
        ),
        Effect.map(([allowed, remaining, resetMillis, retryAfterMillis]) => ({
          allowed: Number(allowed) === 1,
          remaining: Number(remaining),
          resetMillis: Number(resetMillis),
          retryAfterMillis: Number(retryAfterMillis)
        }))
      )
  })
})

/** @since 0.1.0 */
export const layerRedis = (
  options?: { readonly prefix?: string | undefined }
): Layer.Layer<RateLimitStore, never, Redis.Redis> => Layer.effect(RateLimitStore, makeRedis(options))
