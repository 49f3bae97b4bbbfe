/**
 * Every setting of the reference server, read through Effect `Config` (environment variables by
 * default). Documented in the package README; nothing else reads the environment.
 *
 * @since 0.1.0
 */
import { Config, Option } from "effect"

/** Where the embedded database and the development signing key live. @since 0.1.0 */
export const dataDir = Config.String("DATA_DIR").pipe(Config.withDefault("./.data"))

/** @since 0.1.0 */
export const http = Config.all({
  port: Config.Port("PORT").pipe(Config.withDefault(3000)),
  // Loopback by default: a development server should not be reachable from the network unless asked.
  host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
})

/** @since 0.1.0 */
export const database = Config.all({
  url: Config.option(Config.Redacted("DATABASE_URL")),
  poolSize: Config.Int("DATABASE_POOL_SIZE").pipe(Config.withDefault(8)),
  dataDir
})

/** @since 0.1.0 */
export const authMode = Config.Literals(["development", "production"], "AUTH_MODE").pipe(
  Config.withDefault("development" as const)
)

/** @since 0.1.0 */
export const devSecret = Config.option(Config.Redacted("AUTH_DEV_SECRET"))

/** @since 0.1.0 */
export const jwks = Config.all({
  url: Config.URL("AUTH_JWKS_URL"),
  issuer: Config.NonEmptyString("AUTH_ISSUER"),
  audience: Config.NonEmptyString("AUTH_AUDIENCE")
})

/** @since 0.1.0 */
export type DatabaseConfig = Config.Success<typeof database>

/** @since 0.1.0 */
export const isEmbedded = (config: DatabaseConfig): boolean => Option.isNone(config.url)
