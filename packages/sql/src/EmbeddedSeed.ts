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
 * A data directory on disk is unpacked here, with Node's own file calls ({@link unpack}), and then
 * opened like any existing one. Handed the archive instead (`loadDataDir`), PGlite writes its ~1,000
 * files through its emulated file system: measured on a 2-core machine, 1.5 s of CPU for the seed's
 * stage of a first start, against 1.0 s unpacking here and opening (docs/benchmarks.md). An in-memory
 * database has no directory to unpack into and is still handed the archive.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { parseTar } from "nanotar"
import { existsSync, readFileSync } from "node:fs"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { gunzip } from "node:zlib"
import * as DatabaseSchema from "./DatabaseSchema.ts"

/**
 * The top-level file whose presence marks a data directory as made: the first one initdb writes that a
 * data directory cannot be without, and the last one {@link unpack} writes, so that an unpacking cut
 * short (a crash, a full disk) is simply done again on the next start.
 */
const MARKER = "PG_VERSION"

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
    if (options.dataDir !== undefined && existsSync(path.join(options.dataDir, MARKER))) {
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
    // Inflated here by native zlib: handed the gzip, PGlite inflates it more slowly itself.
    const tar = yield* Effect.promise(async () => promisify(gunzip)(await readFile(seed)))
    const db = options.dataDir === undefined
      ? yield* Effect.promise(() => PGliteClass.create({ loadDataDir: new Blob([tar]) }))
      : yield* Effect.andThen(unpack(tar, options.dataDir), Effect.promise(() => PGliteClass.create(base)))
    if (options.schema !== DatabaseSchema.DEFAULT) {
      // A database made a moment ago from the seed: nothing but the seed's objects is in that schema.
      yield* Effect.promise(() => db.exec(`ALTER SCHEMA ${DatabaseSchema.DEFAULT} RENAME TO ${options.schema}`))
    }
    yield* log("embedded database ready to migrate", { millis: Math.round(performance.now() - started) })
    return db
  })

/**
 * Writes an uncompressed tar of a data directory (as PGlite dumps it: directories and regular files)
 * into `dataDir`, with the archive's permissions (PostgreSQL's: nothing for others).
 *
 * @since 0.2.0
 */
export const unpack = (tar: Uint8Array, dataDir: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    // nanotar reads `tar.buffer` from its start: hand it a buffer that is exactly the archive.
    const exact = tar.byteOffset === 0 && tar.byteLength === tar.buffer.byteLength ? tar : tar.slice()
    const entries = parseTar(exact)
    const root = path.resolve(dataDir)
    const target = (name: string) => {
      const file = path.resolve(root, name)
      if (!file.startsWith(root + path.sep)) throw new Error(`seed entry outside the data directory: ${name}`)
      return file
    }
    const mode = (octal: string | undefined, fallback: number) => octal === undefined ? fallback : parseInt(octal, 8)
    yield* Effect.promise(() => mkdir(root, { recursive: true, mode: 0o700 }))
    // The directories first, then the files side by side.
    for (const entry of entries) {
      if (entry.type === "directory") {
        yield* Effect.promise(() => mkdir(target(entry.name), { recursive: true, mode: mode(entry.attrs?.mode, 0o700) }))
      } else if (entry.type !== "file") {
        return yield* Effect.die(new Error(`unexpected ${entry.type ?? "unknown"} entry in the seed: ${entry.name}`))
      }
    }
    const write = (entry: (typeof entries)[number]) =>
      Effect.promise(() =>
        writeFile(target(entry.name), entry.data ?? new Uint8Array(0), { mode: mode(entry.attrs?.mode, 0o600) })
      )
    const files = entries.filter((entry) => entry.type === "file")
    yield* Effect.forEach(files.filter((entry) => entry.name !== MARKER), write, { concurrency: 8, discard: true })
    yield* Effect.forEach(files.filter((entry) => entry.name === MARKER), write, { discard: true })
  })
