/**
 * The shared tier and the invalidation bus, on Redis through node-redis.
 *
 * Layout under a key prefix `p`:
 * - `p:v:<key>` the serialized entry: a header (`createdAt`, `freshUntil`, `graceUntil`, tags) and the
 *   JSON value, with a Redis expiry at the end of grace;
 * - `p:g:<key>` the key's generation, bumped by every invalidation;
 * - `p:t:<tag>` the tag's last invalidation stamp (Redis `TIME` in microseconds);
 * - `p:l:<key>` the fill lease (cross-process single-flight);
 * - channel `p:bus`: invalidations only, never values.
 *
 * Each entry carries the generation it was filled under and its creation stamp, so a reader rejects a copy
 * that an invalidation overtook (generation moved, or a tag stamped at or after its creation) no matter
 * who wrote it or when. That keeps every data command plain: a read is one `MGET` (entry, generation, tag
 * stamps), a fill one `SET` pipelined with the `MGET` that tells the filler whether it was overtaken (then
 * it keeps the value out of its L1). Invalidations are Lua scripts (bump or stamp, delete, publish
 * atomically). Every stamp comes from one clock (the Redis server's), so tags compare correctly across
 * processes whose clocks drift. Keys of one entry are not hash-tagged: single Redis or replica set, not
 * Redis Cluster.
 *
 * Commands fail fast instead of queueing while disconnected (`disableOfflineQueue`) and carry a per-command
 * timeout on the real clock, so a dead Redis costs a read a few milliseconds, never a hang.
 *
 * The subscriber is a connection of its own. node-redis re-subscribes by itself after a reconnect, which
 * hides the gap during which invalidations were lost; so after every (re)connect the bus is only declared up
 * once a ping published by this process comes back through the subscription, and the cache flushes its
 * in-process tier at that moment. A connection that stays open while nothing comes through (a network
 * partition, a black-holed route) raises no event at all, so while the bus is up a heartbeat ping goes
 * round every `heartbeatMillis`: one not back by the next beat declares the bus down (invalidations may
 * be passing this process by), until a ping comes back again.
 *
 * @since 0.1.0
 */
import { Effect, Schema, type Scope } from "effect"
import type { RedisClientOptions as NodeRedisClientOptions } from "redis"

/**
 * Options handed to node-redis `createClient` as they are (TLS, credentials, `socket`…). Declared
 * here rather than imported from `redis`: that package is an optional peer, and a published signature
 * naming it would break the type-check of every consumer that does not install it.
 *
 * @since 0.1.0
 */
export interface RedisClientOptions {
  readonly socket?: Readonly<Record<string, unknown>> | undefined
  readonly [option: string]: unknown
}

/**
 * A Redis operation failed; the cache falls back and never surfaces it to a reader.
 *
 * @since 0.1.0
 */
export class RedisTierError extends Schema.TaggedError<RedisTierError>()("RedisTierError", {
  operation: Schema.String,
  reason: Schema.Literals(["unavailable", "timeout", "script", "unknown"]),
  cause: Schema.Defect()
}) {
  /** @since 0.1.0 */
  get isRetryable(): boolean {
    return this.reason !== "script"
  }
}

/** @since 0.1.0 */
export interface ReadResult {
  /** The serialized entry, or `null` when absent. Its tags are checked by the caller. */
  readonly raw: string | null
  /** The key's generation at the time of the read (0 when never invalidated). */
  readonly generation: number
  /** The invalidation stamps of the tags asked for (absent: never invalidated, or long ago). */
  readonly tagStamps: ReadonlyMap<string, number>
}

/** @since 0.1.0 */
export interface BusHandlers {
  readonly onKey: (key: string, generation: number) => void
  readonly onTag: (tag: string, stamp: number) => void
  /** The subscription is confirmed live (after the first connect and after every reconnect). */
  readonly onUp: () => void
  /** The subscription dropped: invalidations may be missed from now until `onUp`. */
  readonly onDown: () => void
}

/** @since 0.1.0 */
export interface RedisTier {
  readonly instanceId: string
  /** One `MGET` of the entry, its generation and the stamps of `tags`. */
  readonly read: (key: string, tags: ReadonlyArray<string>) => Effect.Effect<ReadResult, RedisTierError>
  readonly tagStamps: (tags: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, number>, RedisTierError>
  /** Redis time, microseconds: the creation stamp of a fill, taken before its factory runs. */
  readonly time: Effect.Effect<number, RedisTierError>
  /**
   * Writes `raw`, then (same round trip) reads the generation and the stamps of `tags` as they are after the
   * write: the caller compares them with the fill's own to learn whether an invalidation overtook it.
   */
  readonly store: (
    key: string,
    raw: string,
    ttlMillis: number,
    tags: ReadonlyArray<string>
  ) => Effect.Effect<{ generation: number; tagStamps: ReadonlyMap<string, number> }, RedisTierError>
  /** Deletes the entry, bumps the generation and publishes; returns the new generation and Redis time. */
  readonly invalidateKey: (key: string) => Effect.Effect<{ generation: number; stamp: number }, RedisTierError>
  /** Stamps the tag with Redis time and publishes; returns the stamp. */
  readonly invalidateTag: (tag: string) => Effect.Effect<number, RedisTierError>
  readonly acquireLease: (key: string, token: string, ttlMillis: number) => Effect.Effect<boolean, RedisTierError>
  readonly releaseLease: (key: string, token: string) => Effect.Effect<void, RedisTierError>
  readonly ping: Effect.Effect<void, RedisTierError>
  readonly status: () => { readonly connected: boolean; readonly busUp: boolean }
}

/** @since 0.1.0 */
export interface RedisTierOptions {
  /** `redis://…` URL; default `redis://127.0.0.1:6379`. */
  readonly url?: string | undefined
  /** Prefix of every key and of the channel; give each test run its own. Default `"lec"`. */
  readonly prefix?: string | undefined
  /** Client name (`CLIENT SETNAME`) of the command connection; the subscriber gets `<name>:sub`. */
  readonly clientName?: string | undefined
  /** Per-command timeout, real time. Default 250 ms. */
  readonly commandTimeoutMillis?: number | undefined
  /** How long building the layer waits for the first connection before starting degraded. Default 2 s. */
  readonly connectTimeoutMillis?: number | undefined
  /** How long generation and tag stamps are kept; must exceed the longest ttl + grace. Default 24 h. */
  readonly retentionMillis?: number | undefined
  /**
   * Interval of the bus heartbeat while it is up; a ping not back by the next beat declares the bus down,
   * so a silent cut-off is noticed within two intervals. Default 1 s; 0 turns it off.
   */
  readonly heartbeatMillis?: number | undefined
  /** Any other node-redis client options (TLS, credentials…). */
  readonly clientOptions?: RedisClientOptions | undefined
}

interface Script {
  readonly lua: string
  sha: string | undefined
}

const script = (lua: string): Script => ({ lua, sha: undefined })

// An entry is `createdAt \n freshUntil \n graceUntil \n generation \n tags (tab separated) \n json`.
const INVALIDATE_KEY = script(`
local gen = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'k\\t' .. gen .. '\\t' .. ARGV[3] .. '\\t' .. ARGV[4])
local t = redis.call('TIME')
return { gen, t[1], t[2] }`)

const INVALIDATE_TAG = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local previous = tonumber(redis.call('GET', KEYS[1]) or '0')
if previous >= now then now = previous + 1 end
local stamp = string.format('%.0f', now)
redis.call('SET', KEYS[1], stamp, 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], 't\\t' .. stamp .. '\\t' .. ARGV[3] .. '\\t' .. ARGV[4])
return stamp`)

const RELEASE_LEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)

const stampOf = (seconds: string, micros: string) => Number(seconds) * 1_000_000 + Number(micros)

const stampsOf = (tags: ReadonlyArray<string>, replies: ReadonlyArray<string | null>, offset: number) => {
  const stamps = new Map<string, number>()
  tags.forEach((tag, i) => {
    const reply = replies[offset + i]
    if (reply !== null && reply !== undefined) stamps.set(tag, Number(reply))
  })
  return stamps
}

const reasonOf = (cause: unknown): RedisTierError["reason"] => {
  const text = String(cause)
  if (/timeout/i.test(text)) return "timeout"
  if (/NOSCRIPT|ERR .*script|Error running script/i.test(text)) return "script"
  if (/closed|offline|ECONN|socket|disconnect|not connected|EPIPE/i.test(text)) return "unavailable"
  return "unknown"
}

const reconnectDelay = (retries: number) => Math.min(2 ** retries * 50, 2_000) + Math.floor(Math.random() * 100)

/**
 * Connects the command and subscriber connections (waiting at most `connectTimeoutMillis`; later
 * connects happen in the background) and closes both with the scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: RedisTierOptions,
  handlers: BusHandlers
): Effect.Effect<RedisTier, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Loaded on use: `redis` is an optional peer, and `layerMemory` users need not install it.
    const { createClient } = yield* Effect.promise(() => import("redis"))
    const prefix = options.prefix ?? "lec"
    const timeout = options.commandTimeoutMillis ?? 250
    const retention = String(options.retentionMillis ?? 24 * 60 * 60 * 1000)
    const channel = `${prefix}:bus`
    const tagPrefix = `${prefix}:t:`
    const instanceId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`
    const url = options.url ?? "redis://127.0.0.1:6379"
    const baseOptions = {
      ...options.clientOptions,
      url,
      socket: { ...options.clientOptions?.socket, reconnectStrategy: reconnectDelay }
    } as NodeRedisClientOptions

    const client = createClient({
      ...baseOptions,
      disableOfflineQueue: true,
      // node-redis 6 arms an uncancellable `AbortSignal.timeout` (5 s by default) per command, whose firing
      // allocates a DOMException for every command sent: a third of an L2 read's CPU. `send` below keeps a
      // plain timer instead.
      commandOptions: { ...baseOptions.commandOptions, timeout: 0 },
      ...(options.clientName === undefined ? {} : { name: options.clientName })
    })
    const subscriber = createClient({
      ...baseOptions,
      ...(options.clientName === undefined ? {} : { name: `${options.clientName}:sub` })
    })
    // node-redis rethrows `error` events without a listener; failures already surface on commands.
    client.on("error", () => {})
    subscriber.on("error", () => {})

    let busUp = false
    let pendingPing: string | undefined
    let pingTimer: ReturnType<typeof setTimeout> | undefined
    let heartbeat: string | undefined
    let closed = false

    // The per-command timeout, as a plain timer cleared on reply.
    const send = <A>(args: ReadonlyArray<string>) =>
      new Promise<A>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Redis command timed out after ${timeout} ms`)), timeout)
        ;(client.sendCommand(args) as Promise<A>).then(
          (reply) => {
            clearTimeout(timer)
            resolve(reply)
          },
          (cause) => {
            clearTimeout(timer)
            reject(cause)
          }
        )
      })
    const evalScript = async <A>(s: Script, keys: ReadonlyArray<string>, args: ReadonlyArray<string>): Promise<A> => {
      if (s.sha === undefined) s.sha = await send<string>(["SCRIPT", "LOAD", s.lua])
      try {
        return await send<A>(["EVALSHA", s.sha, String(keys.length), ...keys, ...args])
      } catch (cause) {
        if (!String(cause).includes("NOSCRIPT")) throw cause
        // Redis restarted or its script cache was flushed.
        s.sha = await send<string>(["SCRIPT", "LOAD", s.lua])
        return await send<A>(["EVALSHA", s.sha, String(keys.length), ...keys, ...args])
      }
    }
    const attempt = <A>(operation: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) => new RedisTierError({ operation, reason: reasonOf(cause), cause })
      })

    // Bus confirmation: publish a nonce until it comes back through our own subscription.
    const confirmBus = () => {
      if (closed || busUp) return
      const nonce = Math.random().toString(36).slice(2)
      pendingPing = nonce
      send(["PUBLISH", channel, `p\t${nonce}\t${instanceId}\t`]).catch(() => {})
      clearTimeout(pingTimer)
      pingTimer = setTimeout(confirmBus, 200)
    }
    const busDown = () => {
      pendingPing = undefined
      heartbeat = undefined
      if (busUp) {
        busUp = false
        handlers.onDown()
      }
    }
    const heartbeatMillis = options.heartbeatMillis ?? 1_000
    const beat = () => {
      if (closed || !busUp) return
      if (heartbeat !== undefined) {
        // Last beat's ping is not back: the subscription may be silently cut off.
        busDown()
        confirmBus()
        return
      }
      const nonce = Math.random().toString(36).slice(2)
      heartbeat = nonce
      send(["PUBLISH", channel, `p\t${nonce}\t${instanceId}\t`]).catch(() => {})
    }
    const heartbeatTimer = heartbeatMillis > 0 ? setInterval(beat, heartbeatMillis) : undefined
    heartbeatTimer?.unref()
    const onMessage = (message: string) => {
      const first = message.indexOf("\t")
      const second = message.indexOf("\t", first + 1)
      const third = message.indexOf("\t", second + 1)
      if (first < 0 || second < 0 || third < 0) return
      const kind = message.slice(0, first)
      const value = message.slice(first + 1, second)

      const origin = message.slice(second + 1, third)
      const name = message.slice(third + 1)
      if (kind === "k") handlers.onKey(name, Number(value))
      else if (kind === "t") handlers.onTag(name, Number(value))
      else if (kind === "p" && origin === instanceId && busUp && value === heartbeat) heartbeat = undefined
      else if (kind === "p" && origin === instanceId && pendingPing !== undefined && !busUp) {
        // Any of our pings proves the subscription live: one published before a drop is never delivered
        // through the new connection.
        pendingPing = undefined
        clearTimeout(pingTimer)
        busUp = true
        handlers.onUp()
      }
    }
    subscriber.on("ready", confirmBus)
    subscriber.on("reconnecting", busDown)
    subscriber.on("end", busDown)
    // The command connection may come up after the subscriber: retry the confirmation then too.
    client.on("ready", confirmBus)

    yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())
        const connected = Promise.all([
          client.connect(),
          subscriber.connect().then(() => subscriber.subscribe(channel, onMessage))
        ]).then(() => undefined)
        connected.catch(() => {})
        await Promise.race([connected, wait(options.connectTimeoutMillis ?? 2_000)])
      }),
      () =>
        Effect.sync(() => {
          closed = true
          clearTimeout(pingTimer)
          clearInterval(heartbeatTimer)
          if (client.isOpen) client.destroy()
          if (subscriber.isOpen) subscriber.destroy()
        })
    )

    const valueKey = (key: string) => `${prefix}:v:${key}`
    const generationKey = (key: string) => `${prefix}:g:${key}`

    return {
      instanceId,
      read: (key, tags) =>
        attempt("read", () =>
          send<Array<string | null>>(["MGET", valueKey(key), generationKey(key), ...tags.map((tag) => tagPrefix + tag)])
            .then((replies) => ({
              raw: replies[0] ?? null,
              generation: Number(replies[1] ?? 0),
              tagStamps: stampsOf(tags, replies, 2)
            }))),
      tagStamps: (tags) =>
        tags.length === 0
          ? Effect.succeed(new Map())
          : attempt("tagStamps", () =>
            send<Array<string | null>>(["MGET", ...tags.map((tag) => tagPrefix + tag)]).then((replies) =>
              stampsOf(tags, replies, 0)
            )),
      time: attempt("time", () => send<[string, string]>(["TIME"]).then(([seconds, micros]) => stampOf(seconds, micros))),
      store: (key, raw, ttlMillis, tags) =>
        attempt("store", () =>
          // Issued in the same tick: node-redis writes both in one batch, one round trip.
          Promise.all([
            send<string>(["SET", valueKey(key), raw, "PX", String(Math.max(1, Math.ceil(ttlMillis)))]),
            send<Array<string | null>>(["MGET", generationKey(key), ...tags.map((tag) => tagPrefix + tag)])
          ]).then(([, replies]) => ({ generation: Number(replies[0] ?? 0), tagStamps: stampsOf(tags, replies, 1) }))),
      invalidateKey: (key) =>
        attempt("invalidateKey", () =>
          evalScript<[number, string, string]>(INVALIDATE_KEY, [valueKey(key), generationKey(key)], [
            retention,
            channel,
            instanceId,
            key
          ]).then(([generation, seconds, micros]) => ({
            generation: Number(generation),
            stamp: stampOf(seconds, micros)
          }))),
      invalidateTag: (tag) =>
        attempt("invalidateTag", () =>
          evalScript<string>(INVALIDATE_TAG, [`${tagPrefix}${tag}`], [retention, channel, instanceId, tag]).then(
            Number
          )),
      acquireLease: (key, token, ttlMillis) =>
        attempt("acquireLease", () =>
          send<string | null>(["SET", `${prefix}:l:${key}`, token, "NX", "PX", String(Math.max(1, ttlMillis))]).then(
            (reply) => reply === "OK"
          )),
      releaseLease: (key, token) =>
        attempt("releaseLease", () => evalScript<number>(RELEASE_LEASE, [`${prefix}:l:${key}`], [token])).pipe(
          Effect.asVoid
        ),
      ping: attempt("ping", () => send<string>(["PING"])).pipe(Effect.asVoid),
      status: () => ({ connected: client.isReady, busUp })
    } satisfies RedisTier
  })
