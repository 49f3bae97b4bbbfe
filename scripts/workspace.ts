/**
 * The workspace packages (`packages/*` with a `package.json`), read once by the build and release
 * scripts so that a package added to `packages/` is built, packed and checked without a list to edit.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

export interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly exports?: Record<string, string | Record<string, string>>
  readonly bin?: string | Record<string, string>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
  readonly devDependencies?: Record<string, string>
}

export interface WorkspacePackage {
  /** Relative to the repository root, e.g. `packages/domain`. */
  readonly dir: string
  readonly manifest: Manifest
}

export const workspacePackages = (root = "."): Array<WorkspacePackage> =>
  readdirSync(join(root, "packages"))
    .sort()
    .filter((dir) => existsSync(join(root, "packages", dir, "package.json")))
    .map((dir) => ({
      dir: `packages/${dir}`,
      manifest: JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")) as Manifest
    }))

/** Package names in dependency order: every package after the workspace packages it depends on. */
export const dependencyOrder = (packages: ReadonlyArray<WorkspacePackage>): Array<WorkspacePackage> => {
  const byName = new Map(packages.map((pkg) => [pkg.manifest.name, pkg]))
  const order: Array<WorkspacePackage> = []
  const visiting = new Set<string>()
  const visit = (pkg: WorkspacePackage) => {
    if (order.includes(pkg)) return
    if (visiting.has(pkg.manifest.name)) throw new Error(`dependency cycle through ${pkg.manifest.name}`)
    visiting.add(pkg.manifest.name)
    const deps = Object.keys({ ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies })
    for (const dep of deps) {
      const sibling = byName.get(dep)
      if (sibling !== undefined) visit(sibling)
    }
    visiting.delete(pkg.manifest.name)
    order.push(pkg)
  }
  for (const pkg of packages) visit(pkg)
  return order
}
