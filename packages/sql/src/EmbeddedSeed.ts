/**
 * A pre-initialised embedded database. A brand-new PGlite data directory costs an initdb and every
 * migration — about ten seconds on a small machine, the whole wait of a first `npm start`. The package
 * ships that work done once: `seed/pglite-<PGlite version>.tar.gz`, a dump of a PGlite data directory
 * after initdb and the migrations (in the default schema), made by `npm run seed:pglite`. A new data
 * directory is unpacked from it instead (`loadDataDir`); the migrations added since the seed was made
 * still run on top, as on any database.
 *
 * The seed is only used for the PGlite version it was made with: another version's catalog may differ,
 * and initdb is the safe way then (logged, so the slow start is explained).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { gunzip } from "node:zlib"
import * as DatabaseSchema from "./DatabaseSchema.ts"

/** The folder of the seeds: `seed/` at the package's root, from `src/` and from `dist/` alike. */
const seedDirectory = fileURLToPath(new URL("../seed/", import.meta.url))

/**
 * The installed PGlite's version (its package does not export `package.json`: found next to its entry).
 *
 * @since 0.2.0
 */
export const installedPGliteVersion = (): string | undefined => {
  try {
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite")
    const manifest = path.join(path.dirname(path.dirname(entry)), "package.json")
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version?: string }).version
  } catch {
    return undefined
  }
}

/**
 * Where the seed for a PGlite version is (or is to be written).
 *
 * @since 0.2.0
 */
export const seedPath = (pgliteVersion: string): string => path.join(seedDirectory, `pglite-${pgliteVersion}.tar.gz`)

/**
 * The seed for the installed PGlite, if this package ships one.
 *
 * @since 0.2.0
 */
export const installedSeed = (): string | undefined => {
  const version = installedPGliteVersion()
  if (version === undefined) return undefined
  const file = seedPath(version)
  return existsSync(file) ? file : undefined
}

/**
 * What is used of PGlite here, written out rather than imported: PGlite is an optional peer, and this
 * package's declarations must not name its types (the caller imports it, lazily).
 *
 * @since 0.2.0
 */
export interface PGliteLike {
  exec(query: string): Promise<unknown>
}

/** @since 0.2.0 */
export interface PGliteCreateOptions {
  readonly dataDir?: string
  readonly loadDataDir?: Blob
}

/** The PGlite class (the `PGlite` export of `@electric-sql/pglite`, loaded by the caller). @since 0.2.0 */
export interface PGliteClass<DB extends PGliteLike> {
  create(options?: PGliteCreateOptions): Promise<DB>
}

/** @since 0.2.0 */
export interface OpenOptions {
  /** `undefined`: in memory. */
  readonly dataDir: string | undefined
  /** The store's schema: the seed's tables are in the default one and are renamed into it. */
  readonly schema: string
  /** The seed to start a new database from; default {@link installedSeed}, `null` for none (initdb). */
  readonly seed?: string | null | undefined
}

/**
 * Opens PGlite: an existing data directory as it is; a new one (or memory) from the seed when there is
 * one, else through initdb. Logs what it does, since a first start takes a moment.
 *
 * @since 0.2.0
 */
export const open = <DB extends PGliteLike>(PGliteClass: PGliteClass<DB>, options: OpenOptions): Effect.Effect<DB> =>
  Effect.gen(function*() {
    const where = options.dataDir ?? "memory"
    const base: PGliteCreateOptions = options.dataDir === undefined ? {} : { dataDir: options.dataDir }
    // PG_VERSION is the first file initdb writes that a data directory cannot be without.
    if (options.dataDir !== undefined && existsSync(path.join(options.dataDir, "PG_VERSION"))) {
      return yield* Effect.promise(() => PGliteClass.create(base))
    }
    // `public` cannot be renamed into (it exists from initdb on): a `public` store starts from initdb.
    // Progress of a data directory is news to whoever waits for `npm start`; an in-memory database
    // (tests, demos) is made over and over and says so only at debug level.
    const log = (message: string, annotations: Record<string, unknown>) =>
      (options.dataDir === undefined ? Effect.logDebug(message) : Effect.logInfo(message)).pipe(
        Effect.annotateLogs({ dataDir: where, ...annotations })
      )
    const seed = options.schema === "public" ? undefined : options.seed === undefined ? installedSeed() : options.seed ?? undefined
    const started = performance.now()
    if (seed === undefined) {
      yield* log("preparing the embedded database: initdb and migrations (about ten seconds)", {})
      const db = yield* Effect.promise(() => PGliteClass.create(base))
      yield* log("embedded database initialised", { millis: Math.round(performance.now() - started) })
      return db
    }
    yield* log("preparing the embedded database from its pre-initialised copy", { seed: path.basename(seed) })
    // Unpacked here by native zlib: handed the gzip, PGlite inflates it more slowly itself.
    const tar = yield* Effect.promise(async () => new Blob([await promisify(gunzip)(await readFile(seed))]))
    const db = yield* Effect.promise(() => PGliteClass.create({ ...base, loadDataDir: tar }))
    if (options.schema !== DatabaseSchema.DEFAULT) {
      // A database made a moment ago from the seed: nothing but the seed's objects is in that schema.
      yield* Effect.promise(() => db.exec(`ALTER SCHEMA ${DatabaseSchema.DEFAULT} RENAME TO ${options.schema}`))
    }
    yield* log("embedded database ready to migrate", { millis: Math.round(performance.now() - started) })
    return db
  })
