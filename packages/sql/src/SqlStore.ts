/**
 * The whole storage side of the domain on one SQL database: every port, the migrations, and the two
 * ways to get a database — a PostgreSQL URL, or an embedded PGlite in a data directory.
 *
 * @since 0.1.0
 */
import {
  type Audit,
  type EventRepository,
  type OutboxWriter,
  type PersonalDataCopies,
  type RegistrationRepository,
  type UnitOfWork,
  type UserRepository
} from "@live-events/domain"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, type Redacted } from "effect"
import { SqlClient, type SqlError, type Migrator } from "effect/sql"
import * as DatabaseSchema from "./DatabaseSchema.ts"
import * as EmbeddedSeed from "./EmbeddedSeed.ts"
import * as Migrations from "./Migrations.ts"
import * as SqlAuditLog from "./SqlAuditLog.ts"
import * as SqlEventRepository from "./SqlEventRepository.ts"
import * as SqlOutboxWriter from "./SqlOutboxWriter.ts"
import * as SqlPersonalDataCopies from "./SqlPersonalDataCopies.ts"
import * as SqlRegistrationRepository from "./SqlRegistrationRepository.ts"
import * as SqlUnitOfWork from "./SqlUnitOfWork.ts"
import * as SqlUserRepository from "./SqlUserRepository.ts"
import * as StartupWait from "./StartupWait.ts"
import * as IdempotencyKeys from "./IdempotencyKeys.ts"
import * as Keys from "./PersonalDataKeys.ts"
import * as SealingThread from "./SealingThread.ts"

/** Every port the domain needs. @since 0.1.0 */
export type Ports =
  | EventRepository.EventRepository
  | RegistrationRepository.RegistrationRepository
  | UserRepository.UserRepository
  | UnitOfWork.UnitOfWork
  | OutboxWriter.OutboxWriter
  | IdempotencyKeys.IdempotencyKeys
  | Audit.AuditLog
  | PersonalDataCopies.PersonalDataCopies

/**
 * The ports over an existing `SqlClient` (bring your own pool) and the keyring personal data is sealed
 * with (`PersonalDataKeys`). Does not migrate. The client's connections must resolve names in the
 * store's schema: give it `DatabaseSchema.startupParameters(schema)`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Ports, never, SqlClient.SqlClient | Keys.PersonalDataKeys> = Layer.mergeAll(
  SqlEventRepository.layer,
  SqlRegistrationRepository.layer,
  SqlUserRepository.layer,
  SqlUnitOfWork.layer,
  SqlOutboxWriter.layer,
  IdempotencyKeys.layerSql,
  SqlAuditLog.layer,
  SqlPersonalDataCopies.layer
)

/**
 * {@link layer} whose outbox writer `pg_notify`s `outboxNotifyChannel` in every insert (PostgreSQL only).
 *
 * @since 0.1.0
 */
export const layerNotifying = (
  outboxNotifyChannel: string
): Layer.Layer<Ports, never, SqlClient.SqlClient | Keys.PersonalDataKeys> =>
  Layer.mergeAll(
    SqlEventRepository.layer,
    SqlRegistrationRepository.layer,
    SqlUserRepository.layer,
    SqlUnitOfWork.layer,
    SqlOutboxWriter.layerNotify(outboxNotifyChannel),
    IdempotencyKeys.layerSql,
    SqlAuditLog.layer,
    SqlPersonalDataCopies.layer
  )

/** Runs the migrations in `schema` (default `live_events`) when built. @since 0.2.0 */
export const layerMigrationsIn = (
  schema: string = DatabaseSchema.DEFAULT
): Layer.Layer<never, SqlError.SqlError | Migrator.MigrationError, SqlClient.SqlClient> =>
  Layer.effectDiscard(Migrations.runIn(schema))

/** Runs the migrations in the default schema when built. @since 0.1.0 */
export const layerMigrations: Layer.Layer<never, SqlError.SqlError | Migrator.MigrationError, SqlClient.SqlClient> =
  layerMigrationsIn()

/** Migrates, then checks that the connections really resolve names in `schema`. */
const layerMigrationsVerified = (schema: string) =>
  Layer.effectDiscard(Effect.andThen(Migrations.runIn(schema), DatabaseSchema.verify(schema)))

/** @since 0.2.0 */
export interface SchemaOptions {
  /**
   * The PostgreSQL schema the store's tables live in (default `live_events`), so they never meet an
   * application's own tables of the same names; `public` keeps a deployment where it was. See
   * `DatabaseSchema` and `LegacyTables` for deployments whose tables are still in `public`.
   */
  readonly schema?: string | undefined
}

/** @since 0.3.0 */
export interface SealingOptions {
  /**
   * Seal the personal data of the registration hot path on a worker thread of its own (`SealingThread`),
   * one message each way per batch, instead of on the event loop (default `false`: inline). Worth it
   * for a server under load; the format is the same either way.
   */
  readonly sealingThread?: boolean | undefined
}

/** The keyring, and the sealing thread when asked for. */
const keyringLayer = (options: { readonly keyring: Keys.Keyring } & SealingOptions) => {
  const keys = Layer.succeed(Keys.PersonalDataKeys, options.keyring)
  return options.sealingThread === true ? Layer.provideMerge(SealingThread.layer, keys) : keys
}

/** A cheap query for readiness checks. @since 0.1.0 */
export const ping: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = SqlClient.SqlClient.use((sql) =>
  Effect.asVoid(sql`SELECT 1`)
)

/** @since 0.1.0 */
export interface PostgresOptions extends SchemaOptions, SealingOptions {
  readonly url: Redacted.Redacted<string>
  /** The keys personal data is sealed with (see `PersonalDataKeys`). */
  readonly keyring: Keys.Keyring
  /** Small pools beat large ones on this workload (measured: a pool of 5–10 beat 20–32, most clearly on a hot event); default 8. */
  readonly maxConnections?: number | undefined
  /**
   * Channel the outbox writer `pg_notify`s on commit, waking relays that `LISTEN` on it (default
   * `"outbox"`; `null` turns it off). Channels belong to the database, not to a schema: two
   * deployments in one database need channels of their own.
   */
  readonly outboxNotifyChannel?: string | null | undefined
  /**
   * How long the start waits for a database it cannot reach (default 60 seconds; 0: fail at once).
   * Retried every 100 ms at first, at most a second apart. A wrong password, a missing database or a
   * failed migration fail the start at once (see `StartupWait`).
   */
  readonly startupWait?: Duration.Input | undefined
}

/**
 * PostgreSQL 15+ from a URL: pool, migrations, ports.
 *
 * @since 0.1.0
 */
export const layerPostgres = (
  options: PostgresOptions
): Layer.Layer<Ports | SqlClient.SqlClient | PgClient.PgClient, SqlError.SqlError | Migrator.MigrationError> => {
  const channel = options.outboxNotifyChannel === undefined ? "outbox" : options.outboxNotifyChannel
  const schema = DatabaseSchema.validate(options.schema ?? DatabaseSchema.DEFAULT)
  const store = Layer.mergeAll(channel === null ? layer : layerNotifying(channel), layerMigrationsVerified(schema)).pipe(
    Layer.provide(keyringLayer(options)),
    Layer.provideMerge(PgClient.layer({
      url: options.url,
      maxConnections: options.maxConnections ?? 8,
      startupParameters: DatabaseSchema.startupParameters(schema)
    }))
  )
  const wait = Duration.fromInputUnsafe(options.startupWait ?? Duration.seconds(60))
  return Duration.isZero(wait) ? store : StartupWait.waitingForDatabase(store, wait)
}

/** @since 0.1.0 */
export interface EmbeddedOptions extends SchemaOptions, SealingOptions {
  /** Where PGlite keeps its files; `undefined` for a throw-away in-memory database. */
  readonly dataDir: string | undefined
  /** The keys personal data is sealed with (see `PersonalDataKeys`). */
  readonly keyring: Keys.Keyring
}

/**
 * PGlite (PostgreSQL compiled to WASM) in this process, served over a loopback socket so the very same
 * driver and SQL run against it. PGlite serialises everything on one connection, hence a pool of 1.
 *
 * A new data directory starts from the pre-initialised database shipped with this package (see
 * `EmbeddedSeed`) when there is one for the installed PGlite, instead of running initdb and every
 * migration (seconds instead of ten); progress is logged.
 *
 * @since 0.1.0
 */
export const layerEmbedded = (
  options: EmbeddedOptions
): Layer.Layer<Ports | SqlClient.SqlClient | PgClient.PgClient, SqlError.SqlError | Migrator.MigrationError> =>
  Layer.unwrap(Effect.gen(function*() {
    const schema = DatabaseSchema.validate(options.schema ?? DatabaseSchema.DEFAULT)
    const { PGlite } = yield* Effect.promise(() => import("@electric-sql/pglite"))
    const { PGLiteSocketServer } = yield* Effect.promise(() => import("@electric-sql/pglite-socket"))
    const db = yield* Effect.acquireRelease(
      EmbeddedSeed.open<InstanceType<typeof PGlite>>(PGlite, { dataDir: options.dataDir, schema }),
      (db) => Effect.promise(() => db.close())
    )
    // PGlite is one backend session shared by every socket connection, and it ignores startup
    // parameters: the session's own setting is what every connection sees.
    yield* Effect.promise(() => db.exec(`SET search_path TO ${schema}`))
    const server = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 })
        await server.start()
        return server
      }),
      (server) => Effect.promise(() => server.stop())
    )
    const [host, port] = server.getServerConn().split(":")
    return Layer.mergeAll(layer, layerMigrationsVerified(schema)).pipe(
      Layer.provide(keyringLayer(options)),
      Layer.provideMerge(PgClient.layer({
        host: host ?? "127.0.0.1",
        port: Number(port),
        username: "postgres",
        database: "postgres",
        maxConnections: 1
      }))
    )
  }))
