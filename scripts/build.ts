/**
 * Builds every workspace package with tsup, dependencies first (npm's `--workspaces` runs them
 * alphabetically, which would build `server` before the packages it imports).
 */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"

interface Manifest {
  readonly name: string
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

const packages = new Map<string, { dir: string; deps: Array<string> }>()
for (const dir of readdirSync("packages")) {
  const file = `packages/${dir}/package.json`
  if (!existsSync(file)) continue
  const manifest: Manifest = JSON.parse(readFileSync(file, "utf8"))
  const deps = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })
    .filter((name) => name.startsWith("@live-events/"))
  packages.set(manifest.name, { dir: `packages/${dir}`, deps })
}

const order: Array<string> = []
const visiting = new Set<string>()
const visit = (name: string) => {
  if (order.includes(name)) return
  if (visiting.has(name)) throw new Error(`dependency cycle through ${name}`)
  visiting.add(name)
  for (const dep of packages.get(name)?.deps ?? []) if (packages.has(dep)) visit(dep)
  visiting.delete(name)
  order.push(name)
}
for (const name of [...packages.keys()].sort()) visit(name)

for (const name of order) {
  console.log(`\n▶ ${name}`)
  execFileSync("tsup", [], { cwd: packages.get(name)!.dir, stdio: "inherit" })
}
