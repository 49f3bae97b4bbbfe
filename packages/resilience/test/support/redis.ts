/**
 * Test helpers for Redis: a real connection (127.0.0.1:6379 unless REDIS_URL says otherwise) — tests
 * that use it FAIL when Redis is unavailable, they never skip — a unique key prefix per run, and fake
 * `Redis` services that fail or hang like a Redis that went away.
 */
import { NodeRedis } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Redis from "effect/persistence/Redis"

export const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/** A fresh client per layer build: two builds are two processes' connections. */
export const redisLayer = (): Layer.Layer<Redis.Redis, Redis.RedisError> =>
  Layer.fresh(NodeRedis.layer({ url: redisUrl })) as Layer.Layer<Redis.Redis, Redis.RedisError>

/** Unique per test run, so runs never see each other's keys (they also expire on their own). */
export const runPrefix = (name: string) =>
  `test:resilience:${name}:${process.pid}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:`

const fake = (send: Redis.Redis["Service"]["send"]): Redis.Redis["Service"] =>
  Redis.Redis.of({
    send,
    eval: () => () => send("EVALSHA"),
    subscribe: () => Effect.die("not supported"),
    reserve: Effect.die("not supported")
  })

/** A Redis whose every command fails at once, like a refused connection. */
export const redisRefusing: Layer.Layer<Redis.Redis> = Layer.succeed(
  Redis.Redis,
  fake(() => Effect.fail(new Redis.RedisError({ cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) })))
)

/** A Redis whose every command hangs, like a client queueing commands while it reconnects. */
export const redisHanging: Layer.Layer<Redis.Redis> = Layer.succeed(Redis.Redis, fake(() => Effect.never))
