/**
 * A new embedded data directory on disk is unpacked from the shipped seed by the package itself and
 * then opened as an existing one: the store's tables arrive renamed into the configured schema, no
 * file is writable by the group or readable by others, the directory opens again as it is, an unpacking cut short is done
 * again on the next start (its marker is written last), and nothing lands outside the directory.
 */
import { describe, expect, it } from "@effect/vitest"
import { PGlite } from "@electric-sql/pglite"
import { EmbeddedSeed } from "@live-events/sql"
import { Effect, Exit } from "effect"
import { createTar } from "nanotar"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"

const scratch = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "le-seed-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const openIn = (dataDir: string, schema: string) =>
  Effect.acquireRelease(
    EmbeddedSeed.open<InstanceType<typeof PGlite>>(PGlite, { dataDir, schema }),
    (db) => Effect.promise(() => db.close())
  )

const tablesIn = (db: PGlite, schema: string) =>
  Effect.promise(async () =>
    (await db.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
      [schema]
    )).rows.map((row) => row.name)
  )

/** The seed as an uncompressed tar (what `unpack` takes). */
const seedTar = () => {
  const seed = EmbeddedSeed.installedSeed()
  if (seed === undefined) throw new Error("no seed for the installed PGlite: run `npm run seed:pglite`")
  return gunzipSync(readFileSync(seed))
}

describe("a new embedded data directory from the seed", () => {
  it.live("is unpacked with PostgreSQL's permissions, renamed into the schema, and opens again as it is", () =>
    Effect.scoped(Effect.gen(function*() {
      const dataDir = join(yield* scratch, "pglite")
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const db = yield* openIn(dataDir, "events_app")
        return { ours: yield* tablesIn(db, "events_app"), seedSchema: yield* tablesIn(db, "live_events") }
      }))
      expect(first.ours).toContain("registrations")
      expect(first.ours).toContain("live_events_migrations")
      expect(first.seedSchema).toEqual([])
      // PostgreSQL's own permissions, as archived: the owner's, at most readable by the group.
      for (const file of ["PG_VERSION", "global/pg_control", "base"]) {
        expect(statSync(join(dataDir, file)).mode & 0o027, file).toBe(0)
      }
      // The second start finds the marker: nothing unpacked or renamed again, the tables are there.
      const again = yield* Effect.scoped(Effect.flatMap(openIn(dataDir, "events_app"), (db) => tablesIn(db, "events_app")))
      expect(again).toEqual(first.ours)
    })), 120_000)

  it.live("cut short, it has no marker, and the next start unpacks it again over what was written", () =>
    Effect.scoped(Effect.gen(function*() {
      const dataDir = join(yield* scratch, "pglite")
      // A file of the archive that cannot be written (a directory stands in its place) stops the unpacking.
      mkdirSync(join(dataDir, "global", "pg_control"), { recursive: true })
      const exit = yield* Effect.exit(EmbeddedSeed.unpack(seedTar(), dataDir))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(existsSync(join(dataDir, "PG_VERSION"))).toBe(false)
      // What a crash leaves: some files written, one of them damaged.
      rmSync(join(dataDir, "global", "pg_control"), { recursive: true })
      writeFileSync(join(dataDir, "global", "pg_control"), "damaged")
      const tables = yield* Effect.scoped(
        Effect.flatMap(openIn(dataDir, "live_events"), (db) => tablesIn(db, "live_events"))
      )
      expect(tables).toContain("registrations")
      expect(statSync(join(dataDir, "global", "pg_control")).size).toBeGreaterThan("damaged".length)
    })), 120_000)

  it.live("writes nothing outside the data directory", () =>
    Effect.scoped(Effect.gen(function*() {
      const root = yield* scratch
      const dataDir = join(root, "pglite")
      const tar = createTar([
        { name: "base/" },
        { name: "base/1", data: "inside" },
        { name: "../outside", data: "escaped" }
      ])
      yield* Effect.exit(EmbeddedSeed.unpack(tar, dataDir))
      expect(existsSync(join(root, "outside"))).toBe(false)
      expect(readFileSync(join(dataDir, "base", "1"), "utf8")).toBe("inside")
    })))
})
