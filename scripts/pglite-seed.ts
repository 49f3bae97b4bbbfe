/**
 * Writes the pre-initialised embedded database that a new PGlite data directory starts from
 * (`@live-events/sql` `EmbeddedSeed`): initdb and every migration, in the default schema, dumped to
 * `packages/sql/seed/pglite-<PGlite version>.tar.gz`. Run it after upgrading PGlite (the old seed is
 * then ignored and removed here) and, to keep first starts short, after adding a migration:
 * `npm run seed:pglite`.
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { PgClient } from "@effect/sql-pg"
import { DatabaseSchema, EmbeddedSeed, Migrations } from "@live-events/sql"
import { Effect } from "effect"
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"

const version = EmbeddedSeed.installedPGliteVersion()
if (version === undefined) throw new Error("cannot tell the installed PGlite version")

const db = await PGlite.create()
const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 })
await server.start()
const [host, port] = server.getServerConn().split(":")
await Effect.runPromise(
  Migrations.runIn(DatabaseSchema.DEFAULT).pipe(
    Effect.provide(PgClient.layer({ host, port: Number(port), username: "postgres", database: "postgres", maxConnections: 1 }))
  )
)
await server.stop()
const dump = await db.dumpDataDir("gzip")
await db.close()

const file = EmbeddedSeed.seedPath(version)
mkdirSync(path.dirname(file), { recursive: true })
for (const old of readdirSync(path.dirname(file))) {
  if (old.startsWith("pglite-") && old !== path.basename(file)) rmSync(path.join(path.dirname(file), old))
}
writeFileSync(file, Buffer.from(await dump.arrayBuffer()))
console.log(`${file}: ${dump.size} bytes`)
