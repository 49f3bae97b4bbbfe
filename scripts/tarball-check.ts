/**
 * What a user of the published packages gets, checked end to end (CI runs it after the build):
 *
 * 1. `npm pack` of every public package in `packages/*`; each tarball has a README, a LICENSE, the
 *    files its `exports`/`bin` name, declarations, no tests, and declarations that name only packages
 *    a consumer is sure to have (no optional peers).
 * 2. A project under the OS temporary directory installs the tarballs (plain `npm install`) with
 *    `effect`, `@effect/sql-pg` and PGlite.
 * 3. `tsc` under `strict`, `skipLibCheck: false`, with `nodenext` and with `bundler` resolution, over
 *    an embedding program, a CommonJS consumer and a program that uses every runtime export of every
 *    package as a value (a schema missing from the declarations fails here, by name).
 * 4. The embedding program runs on the in-memory store, on PostgreSQL (a database of its own, dropped
 *    afterwards) and on PGlite; the CommonJS consumer `require`s the domain package and registers.
 * 5. `effect` moved to another patch version installs without `--force`, and the consumers still run.
 *
 *   npm run check:tarballs            (builds first when a package has no build output)
 *   KEEP_SCRATCH=1 npm run check:tarballs   keeps the scratch project for a look
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { deepStrictEqual } from "node:assert/strict"
import pg from "pg"
import { pack } from "./tarball/pack.ts"
import { createProject, nextPatchOfEffect, npm, run, typeCheck, workspaceVersion, writeExportsProgram } from "./tarball/scratch.ts"
import { workspacePackages } from "./workspace.ts"

const started = performance.now()
const step = (label: string) => console.log(`▶ ${label} (${((performance.now() - started) / 1000).toFixed(1)} s)`)

const packages = workspacePackages().filter((pkg) => pkg.manifest.private !== true)
if (packages.some((pkg) => !existsSync(join(pkg.dir, "dist")))) {
  step("build (a package has no dist/)")
  execFileSync(process.execPath, ["scripts/build.ts"], { stdio: "inherit" })
}

const work = mkdtempSync(join(tmpdir(), "live-events-tarballs-"))
let project: string | undefined
const adminUrl = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432"
const database = `le_tarball_${process.pid}_${Date.now()}`
const admin = new pg.Client({ connectionString: `${adminUrl}/postgres` })
let databaseCreated = false

const expected = {
  statuses: ["confirmed", "confirmed", "waitlisted"],
  promoted: "confirmed",
  rejected: { eventId: true, notes: true, event: true, user: true, profile: true }
}
const runEmbedding = (store: "memory" | "pglite" | "postgres") => {
  const result = run(project!, "consumer.ts", store === "postgres" ? [store, `${adminUrl}/${database}`] : [store])
  deepStrictEqual(result, { store, ...expected })
}
const runCommonJs = () => deepStrictEqual(run(project!, "consumer.cts"), { store: "memory-cjs", status: "confirmed" })

try {
  step(`pack ${packages.map((pkg) => pkg.manifest.name).join(", ")}`)
  const packed = pack(packages, work)

  step(`install the tarballs into ${work}`)
  project = createProject(packed, ["effect", "@effect/sql-pg", "@electric-sql/pglite", "@electric-sql/pglite-socket", "typescript", "@types/node"], work)
  const values = writeExportsProgram(project, packed)

  step(`type-check (strict, skipLibCheck: false, nodenext; ${values} runtime exports used as values)`)
  typeCheck(project, "nodenext")
  step("type-check (strict, skipLibCheck: false, bundler)")
  typeCheck(project, "bundler")

  step("run: memory, CommonJS require, PGlite, PostgreSQL")
  runEmbedding("memory")
  runCommonJs()
  runEmbedding("pglite")
  await admin.connect()
  await admin.query(`CREATE DATABASE ${database}`)
  databaseCreated = true
  runEmbedding("postgres")

  const effect = nextPatchOfEffect(work)
  step(`effect ${workspaceVersion("effect")} → ${effect.version}: npm install without --force`)
  npm(project, ["install", `file:${effect.tarball}`])
  deepStrictEqual(JSON.parse(readFileSync(join(project, "node_modules/effect/package.json"), "utf8")).version, effect.version)
  runEmbedding("memory")
  runCommonJs()

  step("passed")
} finally {
  if (databaseCreated) await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await admin.end()
  if (process.env.KEEP_SCRATCH === undefined) rmSync(work, { recursive: true, force: true })
  else console.log(`scratch kept: ${work}`)
}
