/**
 * The database and keyring the `keys` commands work on: the server's own settings, without anything
 * else the server runs (no relay, no HTTP, a pool of two).
 *
 * @since 0.1.0
 */
import { PersonalDataKeys, SqlStore } from "@live-events/sql"
import { Effect, Layer, Option, Path } from "effect"
import * as ServerConfig from "../Config.ts"
import * as Keyring from "./Keyring.ts"

/** @since 0.1.0 */
export const layerConfig = Layer.unwrap(Effect.gen(function*() {
  const config = yield* ServerConfig.database
  const keyring = yield* Keyring.fromConfig
  const path = yield* Path.Path
  const store = Option.isSome(config.url)
    ? SqlStore.layerPostgres({ url: config.url.value, schema: config.schema, maxConnections: 2, outboxNotifyChannel: null, keyring })
    : SqlStore.layerEmbedded({ dataDir: path.join(config.dataDir, "pglite"), schema: config.schema, keyring })
  return Layer.merge(store, Layer.succeed(PersonalDataKeys.PersonalDataKeys, keyring))
}))
