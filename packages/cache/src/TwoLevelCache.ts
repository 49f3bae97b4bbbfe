/**
 * A two-level cache: a bounded in-process LRU (L1) in front of an optional shared Redis tier (L2), for
 * read models that many requests and many server processes ask for at once.
 *
 * - **Single-flight**: concurrent misses of one key share one factory run per process; with `lease`, a
 *   short Redis lease makes the other processes wait for the holder's value instead of running theirs.
 * - **Invalidation** by key (a generation counter per key) and by tag (an invalidation stamp per tag,
 *   compared with each entry's creation stamp), in L1 at once and in the other processes through Redis
 *   pub/sub. Only invalidations travel on the bus, never values. When the subscription drops, L1 hits are
 *   checked against L2 until it is confirmed back, and L1 is flushed then (messages may have been lost).
 * - **Guarded fills**: a fill remembers the key's generation and its creation stamp (taken before the
 *   factory runs). A value fetched before an invalidation is handed to the readers that asked for it, never
 *   kept in L1, and not written to Redis when this process already knows; a copy another process wrote
 *   anyway is rejected by every reader because its generation or stamp is older.
 * - **Fast paths**: an L1 hit is a map lookup; a cold read answered by Redis runs in the caller's fiber
 *   (one `MGET`); only refreshes behind a stale value fork. Spans cover factory runs, not hits.
 * - **Grace**: an expired value is served while a refresh runs in the background (after `softTimeout`), and
 *   while Redis or the factory fail, until `grace` has passed. Invalidated values are never served.
 * - **Redis never fails a read**: every L2 error falls back to L1 or the factory and is counted.
 *
 * @since 0.1.0
 */
import { Cause, Config, Context, Deferred, Duration, Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import * as CacheMetrics from "./CacheMetrics.ts"
import * as CacheSettings from "./CacheSettings.ts"
import * as InvalidationBus from "./InvalidationBus.ts"
import * as LruStore from "./LruStore.ts"
import * as RedisTier from "./RedisTier.ts"
import * as TagStamps from "./TagStamps.ts"

/**
 * The factory did not answer within the hard timeout and no stale value could stand in.
 *
 * @since 0.1.0
 */
export class CacheTimeout extends Schema.TaggedError<CacheTimeout>()("CacheTimeout", {
  key: Schema.String,
  timeoutMillis: Schema.Number
}, { httpApiStatus: 503 }) {
  readonly code = "cache-timeout"
  override get message() {
    return `Loading ${this.key} took longer than ${this.timeoutMillis} ms`
  }
}

/**
 * How values cross the process boundary: a Schema codec (its JSON form is stored), or plain
 * `JSON.stringify`/`JSON.parse` when none is given. L1 keeps the decoded value itself: treat cached values
 * as immutable.
 *
 * @since 0.1.0
 */
export type CacheCodec<A> = Schema.Codec<A, any, never, never>

/** @since 0.1.0 */
export interface ReadOptions<A> {
  readonly codec?: CacheCodec<A> | undefined
  /** Selects the metric series; default `"default"`. */
  readonly category?: CacheSettings.CacheCategory | undefined
}

/** @since 0.1.0 */
export interface WriteOptions<A> extends ReadOptions<A> {
  /** Overrides the category's time to live. */
  readonly ttl?: Duration.Input | undefined
  /** Overrides the configured grace. */
  readonly grace?: Duration.Input | undefined
  /** `invalidateTag(tag)` drops every entry written with `tag` before it. No tabs or newlines. */
  readonly tags?: ReadonlyArray<string> | undefined
}

/** @since 0.1.0 */
export interface GetOrSetOptions<A> extends WriteOptions<A> {
  readonly softTimeout?: Duration.Input | undefined
  readonly hardTimeout?: Duration.Input | undefined
  /** Cross-process single-flight through a Redis lease (default from settings). */
  readonly lease?: boolean | undefined
}

/** @since 0.1.0 */
export interface CacheHealth {
  /** `degraded`: Redis is configured but unreachable or the bus is down; reads still succeed. */
  readonly status: "up" | "degraded"
  readonly l1: { readonly entries: number; readonly capacity: number }
  readonly l2: "disabled" | "up" | "down"
  readonly bus: "disabled" | "up" | "down"
  /** Invalidations that could not reach Redis yet and are being retried. */
  readonly pendingInvalidations: number
  /** Share of reads answered by L1 or L2 since start. */
  readonly hitRatio: number
}

/** @since 0.1.0 */
export interface Service {
  /**
   * Returns the cached value of `key`, or runs `factory` once per process for all concurrent callers and
   * caches its value. Fails only when the factory fails (or times out) and no value within grace exists.
   */
  readonly getOrSet: <A, E = never, R = never>(
    key: string,
    factory: Effect.Effect<A, E, R>,
    options?: GetOrSetOptions<A>
  ) => Effect.Effect<A, E | CacheTimeout, R>
  /** Returns a fresh cached value, from L1 or L2, without loading. */
  readonly get: <A>(key: string, options?: ReadOptions<A>) => Effect.Effect<Option.Option<A>>
  /**
   * This process's fresh copy of `key` — exactly what `getOrSet` would answer without loading — counted
   * as a hit; otherwise `undefined`, counted as nothing (the caller goes on to `getOrSet`, which counts
   * the miss and loads). Synchronous, for the hottest reads: a hit is a map lookup, with no effect built.
   * `nowMillis` is the caller's clock (the fiber's `Clock`, so test clocks apply).
   */
  readonly peek: <A>(key: string, nowMillis: number, options?: { readonly category?: CacheSettings.CacheCategory | undefined }) => A | undefined
  /** Replaces the value (write-through): invalidates older copies everywhere, then stores this one. */
  readonly set: <A>(key: string, value: A, options?: WriteOptions<A>) => Effect.Effect<void>
  /** Drops `key` from every process and from Redis. Fills that started earlier are not stored. */
  readonly invalidate: (key: string) => Effect.Effect<void>
  /** Drops every entry written with `tag` before now, in every process. */
  readonly invalidateTag: (tag: string) => Effect.Effect<void>
  /**
   * `invalidate` of every key and `invalidateTag` of every tag, as one step: what a committed batch of
   * writes touched. Without Redis the local drops are made in place and the messages to the other
   * processes leave one after the other (no fiber or span per key); with Redis the keys and tags go
   * to it concurrently.
   */
  readonly invalidateAll: (keys: Iterable<string>, tags: Iterable<string>) => Effect.Effect<void>
  /** Empties this process's L1 (Redis and other processes untouched). */
  readonly clearLocal: Effect.Effect<void>
  /** Never fails: reports what is reachable. */
  readonly health: Effect.Effect<CacheHealth>
}

/** @since 0.1.0 */
export class TwoLevelCache extends Context.Service<TwoLevelCache, Service>()("@live-events/cache/TwoLevelCache") {}

interface Entry {
  readonly value: unknown
  /** Stamp (µs) at which the fill that produced it started: Redis time when L2 is up. */
  readonly createdAt: number
  /** Clock milliseconds. */
  readonly freshUntil: number
  readonly graceUntil: number
  readonly tags: ReadonlyArray<string>
  /** The key's L2 generation when the fill started (0 without L2). */
  readonly generation: number
}

interface Flight {
  readonly deferred: Deferred.Deferred<unknown, unknown>
  readonly epoch: number
  readonly tags: ReadonlyArray<string>
  /** The generation its Redis read saw; undefined until the read answers. */
  generation: number | undefined
  /** Highest generation announced on the bus before the read answered. */
  announced: number
  /** Overtaken by an invalidation: the result goes to its readers and is stored nowhere. */
  poisoned: boolean
}

interface Serializer {
  readonly encode: (value: unknown) => string
  readonly decode: (json: string) => unknown
}

const plainJson: Serializer = { encode: (value) => JSON.stringify(value), decode: (json) => JSON.parse(json) }
const serializers = new WeakMap<object, Serializer>()
const serializerFor = (codec: CacheCodec<any> | undefined): Serializer => {
  if (codec === undefined) return plainJson
  let found = serializers.get(codec)
  if (found === undefined) {
    const json = Schema.toCodecJson(codec)
    const encode = Schema.encodeSync(json)
    const decode = Schema.decodeSync(json)
    found = { encode: (value) => JSON.stringify(encode(value)), decode: (text) => decode(JSON.parse(text)) }
    serializers.set(codec, found)
  }
  return found
}

const serialize = (entry: Entry, json: string) =>
  `${entry.createdAt}\n${entry.freshUntil}\n${entry.graceUntil}\n${entry.generation}\n${
    entry.tags.join("\t")
  }\n${json}`

const deserialize = (raw: string, serializer: Serializer): Entry => {
  const p1 = raw.indexOf("\n")
  const p2 = raw.indexOf("\n", p1 + 1)
  const p3 = raw.indexOf("\n", p2 + 1)
  const p4 = raw.indexOf("\n", p3 + 1)
  const p5 = raw.indexOf("\n", p4 + 1)
  if (p1 < 0 || p5 < 0) throw new Error("malformed cache entry")
  const tags = raw.slice(p4 + 1, p5)
  return {
    createdAt: Number(raw.slice(0, p1)),
    freshUntil: Number(raw.slice(p1 + 1, p2)),
    graceUntil: Number(raw.slice(p2 + 1, p3)),
    generation: Number(raw.slice(p3 + 1, p4)),
    tags: tags.length === 0 ? [] : tags.split("\t"),
    value: serializer.decode(raw.slice(p5 + 1))
  }
}

const validTag = /^[^\t\n]+$/

/** Marks a fill that has not read Redis yet. */
const notRead: unique symbol = Symbol("notRead")

/**
 * Options of {@link make}: the settings and, for the shared tier, the Redis options.
 *
 * @since 0.1.0
 */
export interface MakeOptions {
  readonly settings?: CacheSettings.CacheSettings | undefined
  readonly redis?: RedisTier.RedisTierOptions | undefined
  /**
   * Without Redis: carries invalidations to the other processes sharing the data (ignored with
   * `redis`, whose own pub/sub does it).
   */
  readonly bus?: InvalidationBus.InvalidationBus | undefined
}

/**
 * Builds a cache whose background work (shared fills, refreshes, retried invalidations) and Redis
 * connections live in the current scope.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: MakeOptions = {}) {
  const settings = options.settings ?? CacheSettings.defaults
  const scope = yield* Effect.scope
  const context = yield* Effect.context<never>()
  const recorder = CacheMetrics.makeRecorder(context)
  const l1 = LruStore.make<Entry>(settings.l1Capacity)
  /** The flight new readers of a key join. */
  const flights = new Map<string, Flight>()
  /** Every unsettled flight per key, joinable or not: invalidations must reach them all. */
  const inFlight = new Map<string, Set<Flight>>()
  const tagStamps = TagStamps.make()
  const pendingKeys = new Set<string>()
  const pendingTags = new Set<string>()
  let epoch = 0
  let lastStamp = 0
  const bus = options.redis === undefined ? options.bus : undefined
  let busUp = options.redis === undefined && bus === undefined
  let reads = 0
  let hitCount = 0

  const maxLifetimeMicros = (Math.max(...Object.values(settings.ttl).map(Duration.toMillis)) +
    Duration.toMillis(settings.grace)) * 1000

  const perCategory = new Map(CacheSettings.categories.map((category) => [category, {
    l1Hit: recorder.counter(CacheMetrics.hits, { tier: "l1", category }),
    l1Miss: recorder.counter(CacheMetrics.misses, { tier: "l1", category }),
    l2Hit: recorder.counter(CacheMetrics.hits, { tier: "l2", category }),
    l2Miss: recorder.counter(CacheMetrics.misses, { tier: "l2", category }),
    staleRefreshing: recorder.counter(CacheMetrics.staleServed, { category, reason: "refreshing" }),
    staleFailed: recorder.counter(CacheMetrics.staleServed, { category, reason: "factory-failed" }),
    factorySuccess: recorder.counter(CacheMetrics.factoryCalls, { category, outcome: "success" }),
    factoryFailure: recorder.counter(CacheMetrics.factoryCalls, { category, outcome: "failure" })
  }]))
  const metricsFor = (category: CacheSettings.CacheCategory | undefined) =>
    perCategory.get(category ?? "default") ?? perCategory.get("default")!
  const discardedL1 = recorder.counter(CacheMetrics.fillsDiscarded, { tier: "l1" })
  const discardedL2 = recorder.counter(CacheMetrics.fillsDiscarded, { tier: "l2" })
  const evicted = recorder.counter(CacheMetrics.evictions)
  const l2ErrorCounters = new Map<string, (amount?: number) => void>()
  const l2Error = (operation: string) => {
    let counter = l2ErrorCounters.get(operation)
    if (counter === undefined) {
      l2ErrorCounters.set(operation, counter = recorder.counter(CacheMetrics.l2Errors, { operation }))
    }
    counter()
  }
  const invalidationCounter = (kind: string, source: string) =>
    recorder.counter(CacheMetrics.invalidations, { kind, source })
  const invalidatedKeyLocal = invalidationCounter("key", "local")
  const invalidatedKeyRemote = invalidationCounter("key", "remote")
  const invalidatedTagLocal = invalidationCounter("tag", "local")
  const invalidatedTagRemote = invalidationCounter("tag", "remote")
  const flushed = invalidationCounter("flush", "bus-reconnect")

  // Stamps order fills and tag invalidations. Redis time when we have it; otherwise the local clock,
  // never going backwards and never below a Redis stamp already seen.
  const nextStamp = (nowMillis: number) => (lastStamp = Math.max(nowMillis * 1000, lastStamp + 1))
  const observeStamp = (stamp: number) => {
    if (stamp > lastStamp) lastStamp = stamp
  }

  const isValid = (entry: Entry) => {
    for (const tag of entry.tags) {
      const stamp = tagStamps.get(tag)
      if (stamp !== undefined && stamp >= entry.createdAt) return false
    }
    return true
  }

  const storeL1 = (key: string, entry: Entry) => {
    if (l1.set(key, entry) > 0) evicted()
  }

  // ---- invalidation, local part -------------------------------------------------------------------

  /** Drops the key's L1 copy and in-flight fill if they predate `generation` (all when undefined). */
  const dropKeyLocally = (key: string, generation: number | undefined) => {
    const entry = l1.peek(key)
    if (entry !== undefined && (generation === undefined || entry.generation < generation)) l1.delete(key)
    const running = inFlight.get(key)
    if (running === undefined) return
    for (const flight of running) {
      if (generation === undefined || (flight.generation !== undefined && flight.generation < generation)) {
        flight.poisoned = true
      } else if (flight.generation === undefined) {
        // The read has not answered: it may predate this invalidation or not; `noteRead` decides.
        if (flight.announced < generation) flight.announced = generation
      } else {
        continue
      }
      // Readers arriving from now on start a fresh flight.
      if (flights.get(key) === flight) flights.delete(key)
    }
  }

  /** Records the generation a flight's Redis read saw; poisons it if an announced invalidation is newer. */
  const noteRead = (flight: Flight, generation: number) => {
    flight.generation = generation
    if (generation < flight.announced) flight.poisoned = true
  }

  const raiseTag = (tag: string, stamp: number) => {
    tagStamps.raise(tag, stamp)
    // In-flight fills carrying the tag are not joined any more; their stores are refused by `isValid`.
    for (const [key, flight] of flights) if (flight.tags.includes(tag)) flights.delete(key)
    // A stamp older than any live entry can no longer invalidate anything.
    tagStamps.prune(lastStamp - maxLifetimeMicros)
  }

  /**
   * Empties L1 and makes fills that started earlier unable to enter it on their own word (`admit` compares
   * epochs); a fill whose Redis write read back an unchanged generation afterwards may still enter.
   */
  const flushLocal = () => {
    epoch++
    l1.clear()
    flights.clear()
  }

  // ---- Redis tier -----------------------------------------------------------------------------------

  let retryPending: Effect.Effect<void> = Effect.void
  const l2: RedisTier.RedisTier | undefined = options.redis === undefined ? undefined : yield* RedisTier.make(
    options.redis,
    {
      onKey: (key, generation) => {
        invalidatedKeyRemote()
        dropKeyLocally(key, generation)
      },
      onTag: (tag, stamp) => {
        invalidatedTagRemote()
        observeStamp(stamp)
        raiseTag(tag, stamp)
      },
      onUp: () => {
        busUp = true
        flushed()
        flushLocal()
        Effect.runForkWith(context)(retryPending)
      },
      onDown: () => {
        busUp = false
      }
    }
  )

  if (l2 !== undefined) {
    retryPending = Effect.gen(function*() {
      for (const key of [...pendingKeys]) {
        const done = yield* Effect.exit(l2.invalidateKey(key))
        if (Exit.isFailure(done)) return
        pendingKeys.delete(key)
        dropKeyLocally(key, done.value.generation)
      }
      for (const tag of [...pendingTags]) {
        const done = yield* Effect.exit(l2.invalidateTag(tag))
        if (Exit.isFailure(done)) return
        pendingTags.delete(tag)
        raiseTag(tag, done.value)
      }
    })
    // Invalidations that could not reach Redis are retried until they do: otherwise Redis would keep
    // serving the old value to every process once it is back.
    yield* Effect.forkIn(
      Effect.forever(Effect.andThen(Effect.sleep("1 second"), () =>
        pendingKeys.size + pendingTags.size === 0 ? Effect.void : retryPending)),
      scope
    )
  }

  // ---- invalidation bus without Redis ------------------------------------------------------------------

  const origin = globalThis.crypto.randomUUID()
  const clock = yield* Effect.clockWith(Effect.succeed)
  /** Messages the bus could not take: retried every second, so no other process keeps a stale copy. */
  const pendingBus = new Set<string>()
  const publish = (message: Omit<InvalidationBus.Message, "origin">): Effect.Effect<void> => {
    if (bus === undefined) return Effect.void
    const payload = InvalidationBus.encode({ ...message, origin })
    return Effect.catch(bus.publish(payload), (error) => {
      const firstOfOutage = pendingBus.size === 0
      pendingBus.add(payload)
      return firstOfOutage
        ? Effect.logWarning("TwoLevelCache: invalidation bus unreachable; invalidations are queued and retried", error)
        : Effect.void
    })
  }
  if (bus !== undefined) {
    yield* Effect.forkIn(
      Effect.forever(Effect.andThen(Effect.sleep("1 second"), () =>
        Effect.gen(function*() {
          for (const payload of [...pendingBus]) {
            if (Exit.isFailure(yield* Effect.exit(bus.publish(payload)))) return
            pendingBus.delete(payload)
          }
        }))),
      scope
    )
    yield* Scope.provide(
      bus.subscribe({
        onMessage: (payload) => {
          const message = InvalidationBus.decode(payload)
          if (message === undefined || message.origin === origin) return
          if (message.kind === "key") {
            invalidatedKeyRemote()
            dropKeyLocally(message.name, undefined)
          } else {
            invalidatedTagRemote()
            raiseTag(message.name, nextStamp(clock.currentTimeMillisUnsafe()))
          }
        },
        onUp: () => {
          busUp = true
          flushed()
          flushLocal()
        },
        onDown: () => {
          busUp = false
        }
      }),
      scope
    )
  }

  const readL2 = (key: string, tags: ReadonlyArray<string>) =>
    l2 === undefined ? Effect.succeed(undefined) : Effect.catch(l2.read(key, tags), () => {
      l2Error("read")
      return Effect.succeed(undefined)
    })

  /**
   * Whether an entry read from Redis survives its tags' invalidations: the read fetched the stamps of the
   * tags the caller named; others the entry carries are fetched now. Unverifiable counts as invalid.
   */
  const verifyTags = (
    entry: Entry,
    asked: ReadonlyArray<string>,
    stamps: ReadonlyMap<string, number>
  ): Effect.Effect<boolean> => {
    for (const [tag, stamp] of stamps) {
      tagStamps.raise(tag, stamp)
    }
    if (entry.tags.length === 0) return Effect.succeed(true)
    const unasked = entry.tags.filter((tag) => !asked.includes(tag))
    if (unasked.length === 0 || l2 === undefined) return Effect.succeed(isValid(entry))
    return l2.tagStamps(unasked).pipe(
      Effect.map((more) => {
        for (const [tag, stamp] of more) {
          tagStamps.raise(tag, stamp)
        }
        return isValid(entry)
      }),
      Effect.catch(() => {
        l2Error("read")
        return Effect.succeed(false)
      })
    )
  }

  /** Decodes an L2 copy; one filled under an older generation (overtaken by an invalidation) is a miss. */
  const decodeEntry = (raw: string, generation: number, serializer: Serializer): Entry | undefined => {
    try {
      const entry = deserialize(raw, serializer)
      return entry.generation === generation ? entry : undefined
    } catch {
      // Written by an incompatible version, or corrupt: a miss, and the fill overwrites it.
      l2Error("decode")
      return undefined
    }
  }

  // ---- fills ----------------------------------------------------------------------------------------

  interface Policy {
    readonly category: CacheSettings.CacheCategory | undefined
    readonly ttlMillis: number
    readonly graceMillis: number
    readonly tags: ReadonlyArray<string>
    readonly serializer: Serializer
    readonly softTimeout: Duration.Duration
    readonly hardTimeout: Duration.Duration
    readonly lease: boolean
  }

  const policyOf = <A>(options: GetOrSetOptions<A> | undefined): Policy => {
    const tags = options?.tags ?? []
    for (const tag of tags) if (!validTag.test(tag)) throw new TypeError(`Invalid cache tag: ${JSON.stringify(tag)}`)
    return {
      category: options?.category,
      ttlMillis: Duration.toMillis(
        options?.ttl === undefined
          ? settings.ttl[options?.category ?? "default"] ?? settings.ttl.default
          : Duration.fromInputUnsafe(options.ttl)
      ),
      graceMillis: Duration.toMillis(
        options?.grace === undefined ? settings.grace : Duration.fromInputUnsafe(options.grace)
      ),
      tags,
      serializer: serializerFor(options?.codec),
      softTimeout: options?.softTimeout === undefined
        ? settings.softTimeout
        : Duration.fromInputUnsafe(options.softTimeout),
      hardTimeout: options?.hardTimeout === undefined
        ? settings.hardTimeout
        : Duration.fromInputUnsafe(options.hardTimeout),
      lease: options?.lease ?? settings.lease
    }
  }

  /**
   * Writes an entry to L2 and tells whether it is still current there: false when the key's generation
   * moved or one of its tags was stamped at or after its creation; undefined when Redis failed (then only
   * local knowledge guards L1).
   */
  const storeL2 = (key: string, entry: Entry, raw: string, policy: Policy): Effect.Effect<boolean | undefined> =>
    l2 === undefined ? Effect.succeed(true) : l2.store(key, raw, policy.ttlMillis + policy.graceMillis, entry.tags).pipe(
      Effect.map(({ generation, tagStamps: stamps }) => {
        let current = generation === entry.generation
        for (const [tag, stamp] of stamps) {
          tagStamps.raise(tag, stamp)
          if (stamp >= entry.createdAt) current = false
        }
        return current
      }),
      Effect.catch(() => {
        l2Error("store")
        return Effect.succeed(undefined)
      })
    )

  /** Keeps `entry` in L1 unless the fill was overtaken by an invalidation or a flush. */
  const admit = (key: string, entry: Entry, flightEpoch: number, poisoned: boolean) => {
    if (poisoned || flightEpoch !== epoch || !isValid(entry)) {
      discardedL1()
      return
    }
    storeL1(key, entry)
  }

  const waitForLeaseHolder = (key: string, policy: Policy, flight: Flight) =>
    Effect.gen(function*() {
      const deadline = Duration.toMillis(settings.leaseTimeout)
      let waited = 0
      while (waited < deadline) {
        yield* Effect.sleep(25)
        waited += 25
        const read = yield* readL2(key, policy.tags)
        if (read === undefined) return undefined
        if (read.raw !== null) {
          const entry = decodeEntry(read.raw, read.generation, policy.serializer)
          const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
          if (entry !== undefined && now < entry.freshUntil && (yield* verifyTags(entry, policy.tags, read.tagStamps))) {
            noteRead(flight, read.generation)
            return entry
          }
        }
      }
      return undefined
    })

  const fill = <A, E, R>(
    key: string,
    factory: Effect.Effect<A, E, R>,
    policy: Policy,
    flight: Flight,
    known: Entry | undefined,
    initialRead: RedisTier.ReadResult | undefined | typeof notRead
  ): Effect.Effect<unknown, E | CacheTimeout, R> =>
    Effect.gen(function*() {
      const metrics = metricsFor(policy.category)
      const startedAt = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
      let createdAt = nextStamp(startedAt)
      let fallback = known !== undefined && startedAt < known.graceUntil ? known : undefined
      let l2Up = false

      if (l2 !== undefined) {
        const read = initialRead === notRead ? yield* readL2(key, policy.tags) : initialRead
        if (read === undefined) {
          // Redis is unreachable. An L1 value we only wanted to double-check stands while the bus is up;
          // with the bus down it may have been invalidated elsewhere meanwhile: the factory decides (and
          // the value stays the fallback within grace if the factory fails too).
          if (known !== undefined && startedAt < known.freshUntil && busUp) return known.value
        } else {
          noteRead(flight, read.generation)
          let entry = read.raw === null ? undefined : decodeEntry(read.raw, read.generation, policy.serializer)
          if (entry !== undefined && !(yield* verifyTags(entry, policy.tags, read.tagStamps))) entry = undefined
          if (entry !== undefined && startedAt < entry.freshUntil) {
            metrics.l2Hit()
            admit(key, entry, flight.epoch, flight.poisoned)
            return entry.value
          }
          metrics.l2Miss()
          const newer = fallback === undefined || (entry !== undefined && entry.createdAt > fallback.createdAt)
          if (entry !== undefined && startedAt < entry.graceUntil && newer) fallback = entry
          // A tagged fill's creation stamp, on Redis' clock, taken before the factory runs: a tag
          // invalidated after this instant refuses the store. Untagged entries need no stamp.
          if (policy.tags.length === 0) {
            l2Up = true
          } else {
            const time = yield* Effect.exit(l2.time)
            if (Exit.isSuccess(time)) {
              l2Up = true
              observeStamp(time.value)
              createdAt = time.value
            } else {
              l2Error("time")
            }
          }
        }
      }

      let leaseToken: string | undefined
      if (l2 !== undefined && l2Up && policy.lease) {
        const token = `${createdAt}-${Math.random().toString(36).slice(2)}`
        const acquired = yield* Effect.catch(
          l2.acquireLease(key, token, Duration.toMillis(settings.leaseTimeout)),
          () => {
            l2Error("lease")
            return Effect.succeed(true)
          }
        )
        if (acquired) {
          leaseToken = token
        } else {
          const entry = yield* waitForLeaseHolder(key, policy, flight)
          if (entry !== undefined) {
            admit(key, entry, flight.epoch, flight.poisoned)
            return entry.value
          }
        }
      }

      const hardMillis = Duration.toMillis(policy.hardTimeout)
      const bounded = Duration.isFinite(policy.hardTimeout)
        ? Effect.timeoutOrElse(factory, {
          duration: policy.hardTimeout,
          orElse: () => Effect.fail(new CacheTimeout({ key, timeoutMillis: hardMillis }))
        })
        : factory
      // The span covers the factory only: cache hits stay span-free, since a span per read would cost more
      // than the read. Data-first `withSpan` because the piped form captures a stack trace per call.
      const result = yield* Effect.exit(
        Effect.withSpan(bounded, "TwoLevelCache.load", {
          attributes: { key, category: policy.category ?? "default" },
          captureStackTrace: false
        })
      )
      if (leaseToken !== undefined && l2 !== undefined) {
        yield* Effect.catch(l2.releaseLease(key, leaseToken), () => Effect.sync(() => l2Error("lease")))
      }

      if (Exit.isFailure(result)) {
        metrics.factoryFailure()
        const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
        if (fallback !== undefined && now < fallback.graceUntil && !Cause.hasInterruptsOnly(result.cause)) {
          metrics.staleFailed()
          return fallback.value
        }
        return yield* result
      }
      metrics.factorySuccess()
      const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
      const entry: Entry = {
        value: result.value,
        createdAt,
        freshUntil: now + policy.ttlMillis,
        graceUntil: now + policy.ttlMillis + policy.graceMillis,
        tags: policy.tags,
        generation: flight.generation ?? 0
      }
      if (flight.poisoned) {
        // Invalidated while loading: the value goes to its readers and nowhere else.
        discardedL1()
        return entry.value
      }
      // A write confirmed current by Redis may enter L1 even if L1 was flushed during the fill, as long as
      // no flush happened while the write was on its way.
      let admitEpoch = flight.epoch
      if (l2 !== undefined && l2Up) {
        let raw: string | undefined
        try {
          raw = serialize(entry, policy.serializer.encode(entry.value))
        } catch (cause) {
          yield* Effect.logWarning("TwoLevelCache: value could not be encoded; kept in-process only", key, cause)
        }
        if (raw !== undefined) {
          const storeEpoch = epoch
          const current = yield* storeL2(key, entry, raw, policy)
          if (current === true) admitEpoch = storeEpoch
          if (current === false) {
            // An invalidation overtook this fill: hand the value to its readers, keep it out of L1 (readers
            // of L2 reject the copy by its generation or creation stamp).
            discardedL2()
            return entry.value
          }
        }
      }
      admit(key, entry, admitEpoch, flight.poisoned)
      return entry.value
    })

  const newFlight = (key: string, policy: Policy): Flight => {
    const flight: Flight = {
      deferred: Deferred.makeUnsafe<unknown, unknown>(),
      epoch,
      tags: policy.tags,
      generation: undefined,
      announced: 0,
      poisoned: false
    }
    flights.set(key, flight)
    const running = inFlight.get(key)
    if (running === undefined) inFlight.set(key, new Set([flight]))
    else running.add(flight)
    return flight
  }

  const settle = (key: string, flight: Flight, exit: Exit.Exit<unknown, unknown>) => {
    if (flights.get(key) === flight) flights.delete(key)
    const running = inFlight.get(key)
    if (running !== undefined && running.delete(flight) && running.size === 0) inFlight.delete(key)
    Deferred.doneUnsafe(flight.deferred, exit)
  }

  /** Runs a fill in the background (a refresh behind a stale value), in the cache's scope. */
  const forkFill = <A, E, R>(
    key: string,
    factory: Effect.Effect<A, E, R>,
    policy: Policy,
    flight: Flight,
    known: Entry | undefined,
    initialRead: RedisTier.ReadResult | undefined | typeof notRead,
    callerContext: Context.Context<R>
  ) => {
    const run = fill(key, factory, policy, flight, known, initialRead).pipe(
      Effect.onExit((exit) => Effect.sync(() => settle(key, flight, exit as Exit.Exit<unknown, unknown>))),
      Effect.provideContext(callerContext)
    )
    Effect.runForkWith(context)(Effect.forkIn(run, scope))
  }

  /**
   * Joins a flight. The flight runs in the fiber of the reader that started it; if that reader is
   * interrupted, its waiters do not inherit the interruption: they start over (one of them leads the
   * next flight).
   */
  const awaitFlight = <A, E, R>(
    key: string,
    factory: Effect.Effect<A, E, R>,
    flight: Flight,
    policy: Policy | undefined,
    options: GetOrSetOptions<A> | undefined,
    known: Entry | undefined,
    now: number
  ): Effect.Effect<A, E | CacheTimeout, R> => {
    const waitForFill = Effect.catchCause(
      Deferred.await(flight.deferred) as Effect.Effect<A, E | CacheTimeout>,
      (cause) => Cause.hasInterruptsOnly(cause) ? getOrSet(key, factory, options) : Effect.failCause(cause)
    )
    // An expired value within grace: answer with it if the refresh is not back within the soft timeout.
    if (known !== undefined && now >= known.freshUntil && now < known.graceUntil) {
      const stale = known.value as A
      const { category, softTimeout } = policy ?? policyOf(options)
      const metrics = metricsFor(category)
      if (Duration.isZero(softTimeout)) {
        metrics.staleRefreshing()
        return Effect.succeed(stale)
      }
      return Effect.map(Effect.timeoutOption(waitForFill, softTimeout), (fresh) => {
        if (Option.isSome(fresh)) return fresh.value
        metrics.staleRefreshing()
        return stale
      })
    }
    return waitForFill
  }

  const missPath = <A, E, R>(
    key: string,
    factory: Effect.Effect<A, E, R>,
    options: GetOrSetOptions<A> | undefined,
    known: Entry | undefined,
    now: number
  ): Effect.Effect<A, E | CacheTimeout, R> =>
    Effect.contextWith((callerContext: Context.Context<R>) => {
      const existing = flights.get(key)
      if (existing !== undefined) return awaitFlight(key, factory, existing, undefined, options, known, now)
      const policy = policyOf(options)
      const flight = newFlight(key, policy)
      if (known !== undefined) {
        // A refresh behind a value we already hold: in the background, so the holder can answer at once.
        forkFill(key, factory, policy, flight, known, notRead, callerContext)
        return awaitFlight(key, factory, flight, policy, options, known, now)
      }
      // Cold in L1: the first reader runs the fill in its own fiber (no fork on the hot miss path) and
      // settles the flight for everyone else, whatever the outcome.
      const inline = (read: RedisTier.ReadResult | undefined | typeof notRead) =>
        Effect.onExit(
          fill(key, factory, policy, flight, undefined, read) as Effect.Effect<A, E | CacheTimeout, R>,
          (exit) => Effect.sync(() => settle(key, flight, exit as Exit.Exit<unknown, unknown>))
        )
      if (l2 === undefined) return inline(notRead)
      // Read Redis first (uninterruptible: bounded by the command timeout) and answer an L2 hit directly.
      return Effect.flatMap(Effect.uninterruptible(readL2(key, policy.tags)), (read) => {
        if (read !== undefined && read.raw !== null) {
          const entry = decodeEntry(read.raw, read.generation, policy.serializer)
          if (
            entry !== undefined && now < entry.freshUntil && entry.tags.every((tag) => policy.tags.includes(tag))
          ) {
            noteRead(flight, read.generation)
            for (const tag of entry.tags) {
              const stamp = read.tagStamps.get(tag)
              if (stamp !== undefined) tagStamps.raise(tag, stamp)
            }
            if (isValid(entry)) {
              metricsFor(policy.category).l2Hit()
              admit(key, entry, flight.epoch, flight.poisoned)
              settle(key, flight, Exit.succeed(entry.value))
              return Effect.succeed(entry.value as A)
            }
          }
        }
        return inline(read)
      })
    })

  // ---- the service ----------------------------------------------------------------------------------

  const getOrSet = <A, E = never, R = never>(
    key: string,
    factory: Effect.Effect<A, E, R>,
    options?: GetOrSetOptions<A>
  ): Effect.Effect<A, E | CacheTimeout, R> =>
    Effect.clockWith((clock) => {
      const now = clock.currentTimeMillisUnsafe()
      reads++
      let entry = l1.get(key)
      if (entry !== undefined && !isValid(entry)) {
        l1.delete(key)
        entry = undefined
      }
      if (entry !== undefined && now < entry.freshUntil && busUp) {
        hitCount++
        metricsFor(options?.category).l1Hit()
        return Effect.succeed(entry.value as A)
      }
      metricsFor(options?.category).l1Miss()
      if (entry !== undefined && now >= entry.graceUntil) {
        l1.delete(key)
        entry = undefined
      }
      return missPath(key, factory, options, entry, now)
    })

  const peek = <A>(key: string, nowMillis: number, options?: { readonly category?: CacheSettings.CacheCategory | undefined }): A | undefined => {
    const entry = l1.get(key)
    // The hit condition of `getOrSet`; an invalid entry is left for `getOrSet` to drop.
    if (entry === undefined || nowMillis >= entry.freshUntil || !busUp || !isValid(entry)) return undefined
    reads++
    hitCount++
    metricsFor(options?.category).l1Hit()
    return entry.value as A
  }

  const get = <A>(key: string, options?: ReadOptions<A>): Effect.Effect<Option.Option<A>> =>
    Effect.clockWith((clock) => {
      const now = clock.currentTimeMillisUnsafe()
      reads++
      const metrics = metricsFor(options?.category)
      const entry = l1.get(key)
      if (entry !== undefined && isValid(entry) && now < entry.freshUntil && busUp) {
        hitCount++
        metrics.l1Hit()
        return Effect.succeed(Option.some(entry.value as A))
      }
      metrics.l1Miss()
      if (l2 === undefined) return Effect.succeed(Option.none())
      const startEpoch = epoch
      return Effect.flatMap(readL2(key, []), (read) => {
        if (read === undefined) {
          // Redis unreachable: a fresh L1 copy is the best answer there is while the bus is up; with the
          // bus down it may have been invalidated elsewhere meanwhile, so the caller reads the source.
          return Effect.succeed(
            entry !== undefined && isValid(entry) && now < entry.freshUntil && busUp
              ? Option.some(entry.value as A)
              : Option.none()
          )
        }
        const found = read.raw === null ? undefined : decodeEntry(read.raw, read.generation, serializerFor(options?.codec))
        if (found === undefined || now >= found.freshUntil) {
          metrics.l2Miss()
          return Effect.succeed(Option.none())
        }
        return Effect.map(verifyTags(found, [], read.tagStamps), (valid) => {
          if (!valid) {
            metrics.l2Miss()
            return Option.none()
          }
          metrics.l2Hit()
          hitCount++
          // A racing invalidation raised the generation past the one read: keep the value out of L1.
          const pending = flights.get(key)
          admit(key, found, startEpoch, pending !== undefined && pending.poisoned)
          return Option.some(found.value as A)
        })
      })
    })

  /** Keeps an invalidation Redis refused for the retry loop; logs once per outage, not once per write. */
  const queueInvalidation = (operation: string, enqueue: () => void, target: string, error: unknown) =>
    Effect.suspend(() => {
      l2Error(operation)
      const firstOfOutage = pendingKeys.size + pendingTags.size === 0
      enqueue()
      return firstOfOutage
        ? Effect.logWarning("TwoLevelCache: Redis unreachable; invalidations are queued and retried", target, error)
        : Effect.void
    })

  const invalidate = (key: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      invalidatedKeyLocal()
      dropKeyLocally(key, undefined)
      if (l2 === undefined) return publish({ kind: "key", name: key })
      return l2.invalidateKey(key).pipe(
        Effect.map(({ generation, stamp }) => {
          observeStamp(stamp)
          // A fill that read Redis between our local drop and the script would otherwise keep the old value.
          dropKeyLocally(key, generation)
        }),
        Effect.catch((error) => queueInvalidation("invalidate", () => pendingKeys.add(key), key, error))
      )
    })

  const invalidateTag = (tag: string): Effect.Effect<void> =>
    Effect.clockWith((clock) => {
      if (!validTag.test(tag)) return Effect.die(new TypeError(`Invalid cache tag: ${JSON.stringify(tag)}`))
      invalidatedTagLocal()
      raiseTag(tag, nextStamp(clock.currentTimeMillisUnsafe()))
      if (l2 === undefined) return publish({ kind: "tag", name: tag })
      return l2.invalidateTag(tag).pipe(
        Effect.map((stamp) => {
          observeStamp(stamp)
          raiseTag(tag, stamp)
        }),
        Effect.catch((error) => queueInvalidation("invalidateTag", () => pendingTags.add(tag), tag, error))
      )
    })

  // Without Redis each drop is local work and a message to the bus: one after the other, no fiber or span
  // per key. With Redis each waits on it: concurrently.
  const invalidateAll = (keys: Iterable<string>, tags: Iterable<string>): Effect.Effect<void> => {
    if (l2 === undefined) {
      return Effect.andThen(
        Effect.forEach(keys, invalidate, { discard: true }),
        Effect.forEach(tags, invalidateTag, { discard: true })
      )
    }
    const work: Array<Effect.Effect<void>> = []
    for (const key of keys) work.push(invalidate(key))
    for (const tag of tags) work.push(invalidateTag(tag))
    return Effect.all(work, { concurrency: "unbounded", discard: true })
  }

  const set = <A>(key: string, value: A, options?: WriteOptions<A>): Effect.Effect<void> =>
    Effect.gen(function*() {
      const policy = policyOf(options)
      dropKeyLocally(key, undefined)
      const writeEpoch = epoch
      const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
      const makeEntry = (createdAt: number, generation: number): Entry => ({
        value,
        createdAt,
        freshUntil: now + policy.ttlMillis,
        graceUntil: now + policy.ttlMillis + policy.graceMillis,
        tags: policy.tags,
        generation
      })
      if (l2 === undefined) {
        yield* publish({ kind: "key", name: key })
        admit(key, makeEntry(nextStamp(now), 0), writeEpoch, false)
        return
      }
      const bumped = yield* Effect.exit(l2.invalidateKey(key))
      if (Exit.isFailure(bumped)) {
        yield* queueInvalidation("set", () => pendingKeys.add(key), key, bumped.cause)
        admit(key, makeEntry(nextStamp(now), 0), writeEpoch, false)
        return
      }
      observeStamp(bumped.value.stamp)
      dropKeyLocally(key, bumped.value.generation)
      const entry = makeEntry(bumped.value.stamp, bumped.value.generation)
      let raw: string | undefined
      try {
        raw = serialize(entry, policy.serializer.encode(value))
      } catch (cause) {
        yield* Effect.logWarning("TwoLevelCache: value could not be encoded; kept in-process only", key, cause)
      }
      const stored = raw === undefined ? undefined : yield* storeL2(key, entry, raw, policy)
      if (stored !== false) admit(key, entry, writeEpoch, false)
      else discardedL2()
    }).pipe(Effect.withSpan("TwoLevelCache.set", { attributes: { key } }))

  const health = Effect.gen(function*() {
    recorder.set(CacheMetrics.l1Entries, l1.size())
    let l2State: CacheHealth["l2"] = "disabled"
    let busState: CacheHealth["bus"] = "disabled"
    if (l2 !== undefined) {
      const ping = yield* Effect.exit(l2.ping)
      l2State = Exit.isSuccess(ping) ? "up" : "down"
      busState = l2.status().busUp ? "up" : "down"
    } else if (bus !== undefined) {
      busState = busUp ? "up" : "down"
    }
    return {
      status: l2State === "down" || busState === "down" ? "degraded" : "up",
      l1: { entries: l1.size(), capacity: l1.capacity },
      l2: l2State,
      bus: busState,
      pendingInvalidations: pendingKeys.size + pendingTags.size,
      hitRatio: reads === 0 ? 0 : hitCount / reads
    } satisfies CacheHealth
  }).pipe(Effect.withSpan("TwoLevelCache.health"))

  return TwoLevelCache.of({
    getOrSet,
    get,
    peek,
    set,
    // Data-first, without a stack trace: every write invalidates, and the piped form captures one per call.
    invalidate: (key) =>
      Effect.withSpan(invalidate(key), "TwoLevelCache.invalidate", { attributes: { key }, captureStackTrace: false }),
    invalidateTag: (tag) =>
      Effect.withSpan(invalidateTag(tag), "TwoLevelCache.invalidateTag", { attributes: { tag }, captureStackTrace: false }),
    invalidateAll: (keys, tags) =>
      Effect.withSpan(invalidateAll(keys, tags), "TwoLevelCache.invalidateAll", { captureStackTrace: false }),
    clearLocal: Effect.sync(flushLocal),
    health
  })
})

/**
 * In-process only: the embedded default, and the cache of a single-process deployment.
 *
 * @since 0.1.0
 */
export const layerMemory = (settings?: CacheSettings.CacheSettingsInput): Layer.Layer<TwoLevelCache> =>
  Layer.effect(TwoLevelCache, make({ settings: CacheSettings.make(settings) }))

/**
 * In-process only, with invalidations carried to the other processes by `bus` (processes that share a
 * database but no Redis).
 *
 * @since 0.1.0
 */
export const layerBus = (
  bus: InvalidationBus.InvalidationBus,
  settings?: CacheSettings.CacheSettingsInput
): Layer.Layer<TwoLevelCache> => Layer.effect(TwoLevelCache, make({ settings: CacheSettings.make(settings), bus }))

/**
 * L1 in front of Redis, with cross-process invalidation. Builds even when Redis is down (reads then go
 * to the factory and the cache reports `degraded`); connects in the background.
 *
 * @since 0.1.0
 */
export const layerRedis = (
  redis: RedisTier.RedisTierOptions,
  settings?: CacheSettings.CacheSettingsInput
): Layer.Layer<TwoLevelCache> => Layer.effect(TwoLevelCache, make({ settings: CacheSettings.make(settings), redis }))

const fromConfig = <E = never, R = never>(bus?: Effect.Effect<InvalidationBus.InvalidationBus | undefined, E, R>) =>
  Effect.gen(function*() {
    const settings = yield* CacheSettings.config
    const url = yield* Config.option(Config.String("REDIS_URL"))
    const prefix = yield* Config.String("CACHE_KEY_PREFIX").pipe(Config.withDefault("lec"))
    // 0 turns the bus heartbeat off: a silent cut from Redis then goes unnoticed (tests of that failure only).
    const heartbeat = yield* Config.Duration("CACHE_BUS_HEARTBEAT").pipe(
      // A bare `0` (as documented) is not a duration string ("0 millis" is).
      Config.orElse(() => Config.map(Config.Literal("0", "CACHE_BUS_HEARTBEAT"), () => Duration.zero)),
      Config.withDefault(Duration.seconds(1))
    )
    if (Option.isSome(url)) {
      return yield* make({ settings, redis: { url: url.value, prefix, heartbeatMillis: Duration.toMillis(heartbeat) } })
    }
    return yield* make({ settings, bus: bus === undefined ? undefined : yield* bus })
  })

/**
 * Reads {@link CacheSettings.config} and `REDIS_URL` (optional: without it, {@link layerMemory}) and
 * `CACHE_KEY_PREFIX` (default `"lec"`).
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<TwoLevelCache, Config.ConfigError> = Layer.effect(TwoLevelCache, fromConfig())

/**
 * {@link layerConfig}, with `bus` (when it yields one) carrying invalidations when `REDIS_URL` is not set.
 *
 * @since 0.1.0
 */
export const layerConfigWithBus = <E, R>(
  bus: Effect.Effect<InvalidationBus.InvalidationBus | undefined, E, R>
): Layer.Layer<TwoLevelCache, Config.ConfigError | E, Exclude<R, Scope.Scope>> =>
  Layer.effect(TwoLevelCache, fromConfig(bus))

