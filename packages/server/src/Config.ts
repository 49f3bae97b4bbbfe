/**
 * Every setting of the reference server, read through Effect `Config` (environment variables by
 * default). Documented in the package README; nothing else reads the environment.
 *
 * @since 0.1.0
 */
import { DatabaseSchema } from "@live-events/sql"
import { Config, Duration, Option, Schema } from "effect"

/** Where the embedded database and the development signing key live. @since 0.1.0 */
export const dataDir = Config.String("DATA_DIR").pipe(Config.withDefault("./.data"))

/** @since 0.1.0 */
export const http = Config.all({
  port: Config.Port("PORT").pipe(Config.withDefault(3000)),
  // Loopback by default: a development server should not be reachable from the network unless asked.
  host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
})

/**
 * `DATABASE_SCHEMA`: the PostgreSQL schema of the store's tables (default `live_events`), on
 * PostgreSQL and on the embedded database alike; see `@live-events/sql` `DatabaseSchema`.
 *
 * @since 0.2.0
 */
export const databaseSchema = Config.schema(
  Schema.String.check(Schema.isPattern(DatabaseSchema.namePattern, {
    expected: "a lower-case PostgreSQL identifier (letters, digits, _; at most 63; not pg_…)"
  })),
  "DATABASE_SCHEMA"
).pipe(Config.withDefault(DatabaseSchema.DEFAULT))

/** @since 0.1.0 */
export const database = Config.all({
  url: Config.option(Config.Redacted("DATABASE_URL")),
  poolSize: Config.Int("DATABASE_POOL_SIZE").pipe(Config.withDefault(8)),
  // How long the start waits for an unreachable PostgreSQL (a restart, a failover) before it fails.
  startupWait: Config.Duration("DATABASE_STARTUP_WAIT").pipe(Config.withDefault(Duration.seconds(60))),
  schema: databaseSchema,
  dataDir,
  // Personal data of the registration hot path sealed on a worker thread beside the event loop.
  sealingThread: Config.Boolean("PERSONAL_DATA_SEALING_THREAD").pipe(Config.withDefault(true))
})

/**
 * How registrations and cancellations are batched into units of work (see `Registrations.Options`).
 * One lane by default, on PostgreSQL and embedded PGlite alike: on the reference machine (two cores
 * shared with the database), more lanes split the same load into more, smaller batches — more
 * statements and more CPU per registration (docs/benchmarks.md); on PGlite, with its one connection,
 * they can only wait for each other. Raise it when the database has cores to spare.
 *
 * @since 0.2.0
 */
export const batching = Config.all({
  maxBatchSize: Config.Int("REGISTRATION_BATCH_MAX_SIZE").pipe(Config.withDefault(64)),
  concurrency: Config.Int("REGISTRATION_BATCH_CONCURRENCY").pipe(Config.withDefault(1))
})

/** @since 0.1.0 */
export const authMode = Config.Literals(["development", "production"], "AUTH_MODE").pipe(
  Config.withDefault("development" as const)
)

/** @since 0.1.0 */
export const devSecret = Config.option(Config.Redacted("AUTH_DEV_SECRET"))

/**
 * The keyrings personal data is sealed with (see `Privacy/Keyring.ts`): `<id>=<base64 of 32 bytes>`
 * entries, comma-separated, and the id of the active one (default: the first).
 *
 * @since 0.1.0
 */
export const personalDataKeys = Config.all({
  dataKeys: Config.option(Config.Redacted("PERSONAL_DATA_KEYS")),
  activeDataKey: Config.option(Config.String("PERSONAL_DATA_ACTIVE_KEY")),
  indexKeys: Config.option(Config.Redacted("EMAIL_INDEX_KEYS")),
  activeIndexKey: Config.option(Config.String("EMAIL_INDEX_ACTIVE_KEY")),
  // Benchmarks price sealing with `off` (development mode only); see `Privacy/Keyring.ts`.
  sealing: Config.Literals(["on", "off"], "PERSONAL_DATA_SEALING").pipe(Config.withDefault("on" as const))
})

/** @since 0.1.0 */
export const jwks = Config.all({
  url: Config.URL("AUTH_JWKS_URL"),
  issuer: Config.NonEmptyString("AUTH_ISSUER"),
  audience: Config.NonEmptyString("AUTH_AUDIENCE"),
  // The longest `exp - iat` accepted: a token leaked from a careless client stays usable at most this long.
  maxTokenLifetime: Config.Duration("AUTH_MAX_TOKEN_LIFETIME").pipe(Config.withDefault(Duration.hours(24)))
})

/**
 * The cache of verified tokens (see `Auth/TokenVerifier.ts`): `AUTH_TOKEN_CACHE_TTL` bounds how long a
 * verification is reused (and how long a key removed from the JWKS keeps verifying), `AUTH_TOKEN_CACHE_SIZE`
 * how many tokens are remembered; 0 turns the cache off.
 *
 * @since 0.1.0
 */
export const tokenCache = Config.all({
  ttl: Config.Duration("AUTH_TOKEN_CACHE_TTL").pipe(Config.withDefault(Duration.seconds(60))),
  size: Config.Int("AUTH_TOKEN_CACHE_SIZE").pipe(Config.withDefault(10_000))
})

/** @since 0.1.0 */
export type DatabaseConfig = Config.Success<typeof database>

/** @since 0.1.0 */
export const isEmbedded = (config: DatabaseConfig): boolean => Option.isNone(config.url)

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "none"] as const
const logLevelAliases: Record<string, (typeof logLevels)[number]> = { warning: "warn", all: "trace", off: "none" }
const logLevelOf = (value: string): (typeof logLevels)[number] => {
  const lower = value.trim().toLowerCase()
  return logLevelAliases[lower] ?? logLevels.find((level) => level === lower) ?? "info"
}

/**
 * Telemetry: where spans go, who may read `/metrics`, and how logs look. Tracing follows the standard
 * OpenTelemetry variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL, `/v1/traces` appended) or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (full URL), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_EXPORTER`
 * (`none` turns export off), `OTEL_BSP_SCHEDULE_DELAY`; `OTEL_SERVICE_NAME` and
 * `OTEL_RESOURCE_ATTRIBUTES` are read by `OtlpTracer` itself.
 *
 * @since 0.1.0
 */
export const telemetry = Config.all({
  otlpEndpoint: Config.option(Config.String("OTEL_EXPORTER_OTLP_ENDPOINT")),
  otlpTracesEndpoint: Config.option(Config.String("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")),
  // `k=v,k2=v2`; may carry an API key, hence redacted.
  otlpHeaders: Config.option(Config.Redacted("OTEL_EXPORTER_OTLP_HEADERS")),
  tracesExporter: Config.String("OTEL_TRACES_EXPORTER").pipe(Config.withDefault("otlp")),
  otlpExportIntervalMillis: Config.Int("OTEL_BSP_SCHEDULE_DELAY").pipe(Config.withDefault(5000)),
  // The ratio of `parentbased_traceidratio`: share of new traces exported (callers' decisions are kept).
  traceSampleRatio: Config.Number("OTEL_TRACES_SAMPLER_ARG").pipe(
    Config.withDefault(1),
    Config.map((ratio) => Math.min(1, Math.max(0, ratio)))
  ),
  metricsEnabled: Config.Boolean("METRICS_ENABLED").pipe(Config.withDefault(true)),
  metricsToken: Config.option(Config.Redacted("METRICS_TOKEN")),
  logFormat: Config.Literals(["json", "pretty"], "LOG_FORMAT").pipe(Config.withDefault("json" as const)),
  // Case-insensitive, with the usual aliases (`Warning`, `all`, `off`); anything else falls back to `info`.
  logLevel: Config.String("LOG_LEVEL").pipe(Config.withDefault("info"), Config.map(logLevelOf)),
  dbPoolSampleSeconds: Config.Int("DB_POOL_SAMPLE_SECONDS").pipe(Config.withDefault(10))
})

/** @since 0.1.0 */
export type TelemetryConfig = Config.Success<typeof telemetry>

const commaList = (value: string): ReadonlyArray<string> =>
  value.split(",").map((item) => item.trim()).filter((item) => item.length > 0)

/**
 * Secure HTTP defaults (see `Security/`): `CORS_ORIGINS` (comma-separated origins allowed by CORS; empty:
 * none), `TRUSTED_PROXIES` (comma-separated CIDRs whose `X-Forwarded-For` / `X-Forwarded-Proto` are
 * believed), `MAX_BODY_BYTES`, `REQUEST_TIMEOUT`, `HSTS_MAX_AGE` (seconds).
 *
 * @since 0.1.0
 */
export const security = Config.all({
  corsOrigins: Config.String("CORS_ORIGINS").pipe(Config.withDefault(""), Config.map(commaList)),
  trustedProxies: Config.String("TRUSTED_PROXIES").pipe(Config.withDefault(""), Config.map(commaList)),
  maxBodyBytes: Config.Int("MAX_BODY_BYTES").pipe(Config.withDefault(64 * 1024)),
  requestTimeout: Config.Duration("REQUEST_TIMEOUT").pipe(Config.withDefault(Duration.seconds(15))),
  hstsMaxAge: Config.Int("HSTS_MAX_AGE").pipe(Config.withDefault(31_536_000))
})

/** @since 0.1.0 */
export type SecurityConfig = Config.Success<typeof security>

/**
 * Rate limiting (see `RateLimit/`): `RATE_LIMIT_ENABLED` (default true), `RATE_LIMIT_REDIS_PREFIX`;
 * the policies and the store fallback are read by `@live-events/resilience` (`RATE_LIMIT_<POLICY>_*`,
 * `RATE_LIMIT_ON_STORE_FAILURE`).
 *
 * @since 0.1.0
 */
export const rateLimit = Config.all({
  enabled: Config.Boolean("RATE_LIMIT_ENABLED").pipe(Config.withDefault(true)),
  redisPrefix: Config.String("RATE_LIMIT_REDIS_PREFIX").pipe(Config.withDefault("live-events:ratelimit:"))
})

/** `REDIS_URL`: shared state (rate limits) across processes; unset keeps it in memory. @since 0.1.0 */
export const redisUrl = Config.option(Config.Redacted("REDIS_URL"))

/**
 * The read cache (see `Cache/`): `CACHE_ENABLED` (default true). Its tiers and lifetimes are read by
 * `@live-events/cache` (`REDIS_URL`, `CACHE_KEY_PREFIX`, `CACHE_TTL_*`, `CACHE_GRACE`, …).
 *
 * @since 0.1.0
 */
export const cache = Config.all({
  enabled: Config.Boolean("CACHE_ENABLED").pipe(Config.withDefault(true))
})

/**
 * `CACHE_ENCRYPTION_KEY`: the secret (at least 32 characters, the same in every process) from which
 * the key sealing cached personal data in Redis is derived (see `Cache/CacheConfig.ts`).
 *
 * @since 0.1.0
 */
export const cacheEncryptionKey = Config.option(Config.Redacted("CACHE_ENCRYPTION_KEY"))
