/**
 * Runs `changeset version` in a scratch copy of the manifests and pending changesets (nothing in the
 * working tree changes) and checks what a release would publish:
 *
 * - every package a changeset names gets the version its largest bump implies, and a CHANGELOG.md
 *   whose newest section is that version and holds the summary of every such changeset;
 * - a package no changeset names changes only when a workspace package it depends on moved out of its
 *   range, and then by a patch with an "Updated dependencies" note — never a major nobody asked for
 *   (changesets turns a moved peer dependency into a major bump of the dependent);
 * - every workspace dependency range is satisfied by the new versions; the changesets are consumed.
 *
 *   npm run check:changesets
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { workspacePackages, type Manifest } from "./workspace.ts"

type Bump = "patch" | "minor" | "major"
const rank: Record<Bump, number> = { patch: 1, minor: 2, major: 3 }

interface Changeset {
  readonly file: string
  readonly bumps: ReadonlyMap<string, Bump>
  readonly summary: string
}

const readChangesets = (dir: string): Array<Changeset> =>
  readdirSync(dir).filter((file) => file.endsWith(".md") && file !== "README.md").map((file) => {
    const text = readFileSync(join(dir, file), "utf8")
    const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text)
    if (match === null) throw new Error(`${file}: no front matter`)
    const bumps = new Map<string, Bump>()
    for (const line of match[1]!.split("\n").filter((l) => l.trim() !== "")) {
      const entry = /^["']?([^"':]+)["']?\s*:\s*(patch|minor|major)\s*$/.exec(line.trim())
      if (entry === null) throw new Error(`${file}: cannot read "${line}"`)
      bumps.set(entry[1]!, entry[2] as Bump)
    }
    return { file, bumps, summary: match[2]!.trim() }
  })

const increment = (version: string, bump: Bump): string => {
  const [major, minor, patch] = version.split(".").map(Number) as [number, number, number]
  return bump === "major" ? `${major + 1}.0.0` : bump === "minor" ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`
}

/** Exact versions and `^`/`~` ranges: what the workspace's internal dependencies use. */
const satisfies = (version: string, range: string): boolean => {
  if (range === "*" || range === version) return true
  const operator = range[0]
  if (operator !== "^" && operator !== "~") return false
  const [vMajor, vMinor, vPatch] = version.split(".").map(Number) as [number, number, number]
  const [rMajor, rMinor, rPatch] = range.slice(1).split(".").map(Number) as [number, number, number]
  const atLeast = vMajor > rMajor || (vMajor === rMajor && (vMinor > rMinor || (vMinor === rMinor && vPatch >= rPatch)))
  if (!atLeast) return false
  if (operator === "~") return vMajor === rMajor && vMinor === rMinor
  if (rMajor > 0) return vMajor === rMajor
  return vMajor === 0 && vMinor === rMinor && (rMinor > 0 || vPatch === rPatch)
}

const root = resolve(".")
const scratch = mkdtempSync(join(tmpdir(), "live-events-changesets-"))
const problems: Array<string> = []
try {
  const before = workspacePackages()
  for (const file of ["package.json", "package-lock.json"]) copyFileSync(file, join(scratch, file))
  cpSync(".changeset", join(scratch, ".changeset"), { recursive: true })
  for (const { dir } of before) {
    mkdirSync(join(scratch, dir), { recursive: true })
    for (const file of ["package.json", "CHANGELOG.md"]) if (existsSync(join(dir, file))) copyFileSync(join(dir, file), join(scratch, dir, file))
  }
  // The changelog generator named in .changeset/config.json resolves from the copy.
  symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"), "dir")

  const changesets = readChangesets(".changeset")
  execFileSync(process.execPath, [join(root, "node_modules/@changesets/cli/bin.js"), "version"], { cwd: scratch, stdio: ["ignore", "pipe", "pipe"] })

  const after = new Map(workspacePackages(scratch).map((pkg) => [pkg.manifest.name, pkg.manifest]))
  const oldVersion = new Map(before.map((pkg) => [pkg.manifest.name, pkg.manifest.version]))
  const workspaceDeps = (manifest: Manifest) =>
    Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies }).filter(([name]) => oldVersion.has(name))

  for (const { dir, manifest: old } of before) {
    const name = old.name
    const next = after.get(name)!
    const declared = changesets.flatMap((c) => c.bumps.get(name) ?? []).reduce<Bump | undefined>(
      (max, bump) => max === undefined || rank[bump] > rank[max] ? bump : max,
      undefined
    )
    const changelog = existsSync(join(scratch, dir, "CHANGELOG.md")) ? readFileSync(join(scratch, dir, "CHANGELOG.md"), "utf8") : ""
    const newest = changelog.split(/^## /m)[1] ?? ""
    if (declared !== undefined) {
      const expected = increment(old.version, declared)
      if (next.version !== expected) problems.push(`${name}: ${old.version} → ${next.version}, its changesets say ${declared} (${expected})`)
      if (!newest.startsWith(`${next.version}\n`)) problems.push(`${name}: CHANGELOG.md's newest section is not ${next.version}`)
      for (const changeset of changesets.filter((c) => c.bumps.has(name))) {
        const firstLine = changeset.summary.split("\n")[0]!
        if (!newest.includes(firstLine)) problems.push(`${name}: CHANGELOG.md ${next.version} lacks ${changeset.file}`)
      }
    } else if (next.version !== old.version) {
      const moved = workspaceDeps(old).filter(([dep, range]) => !satisfies(after.get(dep)!.version, range))
      if (moved.length === 0) problems.push(`${name}: ${old.version} → ${next.version} with no changeset and no moved dependency`)
      if (next.version !== increment(old.version, "patch")) problems.push(`${name}: ${old.version} → ${next.version}, more than a patch for a dependency update`)
      if (!newest.includes("Updated dependencies")) problems.push(`${name}: CHANGELOG.md does not say which dependencies moved`)
    }
    for (const [dep, range] of workspaceDeps(next)) {
      if (!satisfies(after.get(dep)!.version, range)) problems.push(`${name}: depends on ${dep}@${range}, which becomes ${after.get(dep)!.version}`)
    }
  }
  const left = readChangesets(join(scratch, ".changeset"))
  if (left.length > 0) problems.push(`changesets left after \`changeset version\`: ${left.map((c) => c.file).join(", ")}`)

  const summary = before.map(({ manifest }) => `${manifest.name} ${manifest.version} → ${after.get(manifest.name)!.version}`)
  console.log(`${changesets.length} changesets\n  ${summary.join("\n  ")}`)
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
if (problems.length > 0) {
  console.error(`changeset version would publish something wrong:\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
