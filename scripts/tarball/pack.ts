/**
 * Packs every public workspace package with `npm pack` and checks what a consumer would receive: a
 * README, a LICENSE, every file the `exports` map and `bin` name, declarations, no tests — and that the
 * declarations reachable from the entry points name only packages the manifest makes sure are
 * installed (dependencies and required peers). An optional peer in a published signature breaks the
 * type-check (`skipLibCheck: false`) of every consumer that does not install it. A library (a package
 * without `bin`) writes nothing to the console itself: it logs through Effect's `Logger`, and the host
 * decides where that goes.
 */
import { execFileSync } from "node:child_process"
import { builtinModules } from "node:module"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, normalize } from "node:path"
import type { WorkspacePackage } from "../workspace.ts"

export interface Packed {
  readonly pkg: WorkspacePackage
  readonly tarball: string
}

interface PackResult {
  readonly name: string
  readonly filename: string
  readonly files: ReadonlyArray<{ readonly path: string }>
}

const testFile = /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.[cm]?[jt]sx?$/

export const pack = (packages: ReadonlyArray<WorkspacePackage>, destination: string): Array<Packed> => {
  const results: ReadonlyArray<PackResult> = JSON.parse(execFileSync(
    "npm",
    ["pack", "--json", "--loglevel=error", "--pack-destination", destination, ...packages.map((pkg) => `--workspace=${pkg.dir}`)],
    { encoding: "utf8" }
  ))
  return packages.map((pkg) => {
    const result = results.find((r) => r.name === pkg.manifest.name)
    if (result === undefined) throw new Error(`npm pack produced nothing for ${pkg.manifest.name}`)
    return { pkg, tarball: join(destination, result.filename), files: result.files.map((f) => f.path) }
  }).map(({ pkg, tarball, files }) => {
    const problems = contentProblems(pkg, new Set(files))
    if (problems.length > 0) throw new Error(`${pkg.manifest.name} tarball:\n  ${problems.join("\n  ")}`)
    return { pkg, tarball }
  })
}

const exportTargets = (pkg: WorkspacePackage): Array<string> => {
  const targets: Array<string> = []
  for (const entry of Object.values(pkg.manifest.exports ?? {})) {
    if (typeof entry === "string") targets.push(entry)
    else for (const [condition, target] of Object.entries(entry)) if (condition !== "@live-events/source") targets.push(target)
  }
  const bin = pkg.manifest.bin
  targets.push(...(bin === undefined ? [] : typeof bin === "string" ? [bin] : Object.values(bin)))
  return targets.map((target) => normalize(target))
}

const typesEntries = (pkg: WorkspacePackage): Array<string> =>
  Object.values(pkg.manifest.exports ?? {}).flatMap((entry) =>
    typeof entry === "string" || entry.types === undefined ? [] : [normalize(entry.types)]
  )

/** A subpath pattern (`dist/*.js`) as a test of packed paths: `*` stands for any run of characters. */
const patternOf = (target: string) =>
  new RegExp(`^${target.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".+")}$`)

/** The packed files a target names: itself, or every match of a subpath pattern. */
const matching = (target: string, files: ReadonlySet<string>): Array<string> =>
  target.includes("*") ? [...files].filter((file) => patternOf(target).test(file)) : files.has(target) ? [target] : []

const contentProblems = (pkg: WorkspacePackage, files: ReadonlySet<string>): Array<string> => {
  const problems: Array<string> = []
  for (const required of ["package.json", "README.md", "LICENSE"]) if (!files.has(required)) problems.push(`no ${required}`)
  for (const target of exportTargets(pkg)) {
    if (matching(target, files).length === 0) problems.push(`exports/bin name ${target}, not in the tarball`)
  }
  if (typesEntries(pkg).length === 0) problems.push("no `types` condition in `exports`")
  for (const file of files) if (testFile.test(file)) problems.push(`test file ${file}`)
  if (pkg.manifest.bin === undefined) {
    for (const file of files) {
      if (file.endsWith(".js") && consoleWrite.test(readFileSync(join(pkg.dir, file), "utf8"))) {
        problems.push(`${file} writes to the console (a library logs through Effect's Logger)`)
      }
    }
  }
  return problems.concat(typeImportProblems(pkg, files))
}

const consoleWrite = /\bconsole\.(log|info|warn|error|debug|trace)\b|\bprocess\.(stdout|stderr)\b/

const specifier = /(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g
const packageName = (spec: string) => spec.split("/").slice(0, spec.startsWith("@") ? 2 : 1).join("/")
const builtins = new Set(builtinModules)

/** Bare specifiers of the declarations reachable from the `types` entries, checked against the manifest. */
const typeImportProblems = (pkg: WorkspacePackage, files: ReadonlySet<string>): Array<string> => {
  const { manifest } = pkg
  const optional = new Set(Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional).map(([name]) => name))
  const installed = new Set([manifest.name, ...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})].filter((name) => !optional.has(name)))
  const problems = new Set<string>()
  const seen = new Set<string>()
  const queue = typesEntries(pkg).flatMap((entry) => entry.includes("*") ? matching(entry, files) : [entry])
    .map((entry) => join(pkg.dir, entry))
  while (queue.length > 0) {
    const file = queue.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    if (!existsSync(file)) {
      problems.add(`declaration ${file} is missing (build first)`)
      continue
    }
    for (const [, spec] of readFileSync(file, "utf8").matchAll(specifier)) {
      if (spec === undefined) continue
      if (spec.startsWith(".")) {
        queue.push(join(dirname(file), spec.replace(/\.js$/, ".d.ts")))
        continue
      }
      const name = packageName(spec)
      if (spec.startsWith("node:") || builtins.has(name)) continue
      if (optional.has(name)) problems.add(`${file} names the optional peer ${name}`)
      else if (!installed.has(name)) problems.add(`${file} names ${name}, neither a dependency nor a peer`)
    }
  }
  return [...problems]
}
