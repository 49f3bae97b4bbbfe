/**
 * The read cache as the environment configures it for the reference server: which
 * {@link TwoLevelCache} sits in front of the store, and the key that seals personal data in Redis.
 *
 * The sealing key, in order:
 * 1. `CACHE_ENCRYPTION_KEY` (any secret of at least 32 characters, shared by every process of a
 *    deployment; the key is derived from it with HKDF-SHA-256);
 * 2. with Redis configured, in development auth mode: derived from the development signing secret
 *    (`AUTH_DEV_SECRET` or `<DATA_DIR>/dev-secret`), which the processes of one development setup
 *    already share;
 * 3. otherwise a random key of this process: another process cannot open what this one sealed (it
 *    sees a miss and reads the store), so a warning says to set the variable when Redis is configured.
 *
 * @since 0.1.0
 */
import { TwoLevelCache } from "@live-events/cache"
import { PgInvalidationBus, Sealing } from "@live-events/engine"
import { type Config, Effect, Layer, Option, Redacted } from "effect"
import * as DevKey from "../Auth/DevKey.ts"
import * as ServerConfig from "../Config.ts"

/**
 * The sealing key from the environment, as described in the module comment.
 *
 * @since 0.1.0
 */
export const sealingKey = Layer.unwrap(Effect.gen(function*() {
  const configured = yield* ServerConfig.cacheEncryptionKey
  if (Option.isSome(configured)) {
    if (Redacted.value(configured.value).length < 32) {
      return yield* Effect.die(new Error("CACHE_ENCRYPTION_KEY must be at least 32 characters long"))
    }
    return Sealing.layerSecret(configured.value)
  }
  // Without Redis nothing is sealed: values never leave the process.
  if (Option.isNone(yield* ServerConfig.redisUrl)) return Layer.empty
  if ((yield* ServerConfig.authMode) === "development") {
    return Layer.succeed(Sealing.CacheSealingKey, Sealing.deriveKey(yield* Effect.orDie(DevKey.secret)))
  }
  yield* Effect.logWarning(
    "CACHE_ENCRYPTION_KEY is not set: cached profiles in Redis are sealed with a key of this process only; " +
      "set it (the same secret in every process) so that processes can share them"
  )
  return Layer.empty
}))

/**
 * Without Redis, processes sharing a PostgreSQL database (`DATABASE_URL`) invalidate each other's
 * in-process cache over `LISTEN/NOTIFY` (two connections of its own); on the embedded database (one
 * process, and PGlite has no `LISTEN`) there is no bus. A bus that cannot connect leaves the cache
 * in-process only, said in the log.
 */
const postgresBus = Effect.gen(function*() {
  const database = yield* ServerConfig.database
  if (Option.isNone(database.url)) return undefined
  return yield* PgInvalidationBus.make(database.url.value).pipe(
    Effect.catchCause((cause) =>
      Effect.as(Effect.logWarning("Cache invalidation bus unavailable; the cache stays in-process only", cause), undefined)
    )
  )
})

/**
 * The cache to put in front of the store, as the environment says: `false` for none
 * (`CACHE_ENABLED=false`); otherwise `REDIS_URL` → Redis, else in-process only, with invalidations
 * over PostgreSQL `LISTEN/NOTIFY` when `DATABASE_URL` is set; `CACHE_KEY_PREFIX`, `CACHE_*` settings:
 * see `@live-events/cache` `CacheSettings`. The sealing key comes from {@link sealingKey}.
 *
 * @since 0.1.0
 */
export const fromConfig: Effect.Effect<
  Layer.Layer<TwoLevelCache.TwoLevelCache, Config.ConfigError> | false,
  Config.ConfigError
> = Effect.map(ServerConfig.cache, ({ enabled }) => enabled ? TwoLevelCache.layerConfigWithBus(postgresBus) : false)
