/**
 * A project outside the workspace (under the OS temporary directory) that installs the tarballs the
 * way a user does — `npm install`, no `--force`, no `--legacy-peer-deps` — and type-checks and runs
 * consumer programs against them.
 */
import { execFileSync } from "node:child_process"
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Packed } from "./pack.ts"

const fixtures = join(import.meta.dirname, "fixtures")

/** The version the workspace itself installed, so that the scratch install resolves from the npm cache. */
export const workspaceVersion = (name: string): string =>
  JSON.parse(readFileSync(join("node_modules", name, "package.json"), "utf8")).version

export const npm = (cwd: string, args: ReadonlyArray<string>): string =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

export const createProject = (packed: ReadonlyArray<Packed>, thirdParty: ReadonlyArray<string>, into: string): string => {
  const dir = join(into, "consumer")
  mkdirSync(dir)
  const dependencies: Record<string, string> = {}
  for (const { pkg, tarball } of packed) dependencies[pkg.manifest.name] = `file:${tarball}`
  for (const name of thirdParty) dependencies[name] = workspaceVersion(name)
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "tarball-consumer", private: true, type: "module", dependencies }, null, 2))
  for (const file of ["consumer.ts", "consumer.cts"]) copyFileSync(join(fixtures, file), join(dir, file))
  npm(dir, ["install"])
  return dir
}

// No `lib`: the target's default (with DOM), as `tsc --init` leaves it; effect's own declarations name
// Web Crypto types (`CryptoKey`, `JsonWebKey`) that only the DOM library declares.
const compilerOptions = {
  strict: true,
  skipLibCheck: false,
  noEmit: true,
  target: "es2023",
  types: ["node"],
  allowImportingTsExtensions: true
}

/** `nodenext` also checks the CommonJS consumer; `bundler` resolution has no `require`. */
export const typeCheck = (dir: string, resolution: "nodenext" | "bundler"): void => {
  const options = resolution === "nodenext"
    ? { ...compilerOptions, module: "nodenext", moduleResolution: "nodenext" }
    : { ...compilerOptions, module: "esnext", moduleResolution: "bundler" }
  const files = resolution === "nodenext" ? ["consumer.ts", "consumer.cts", "exports.ts"] : ["consumer.ts", "exports.ts"]
  const config = `tsconfig.${resolution}.json`
  writeFileSync(join(dir, config), JSON.stringify({ compilerOptions: options, files }, null, 2))
  try {
    execFileSync(process.execPath, [join(dir, "node_modules/typescript/bin/tsc"), "-p", config], { cwd: dir, encoding: "utf8" })
  } catch (error) {
    throw new Error(`type-check (${resolution}) failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`)
  }
}

/**
 * Writes `exports.ts`, which uses every value each package exports at runtime (one level into its
 * namespaces) as a value: a schema, class or function that exists in the JavaScript but only as a
 * type (or not at all) in the declarations fails the type-check with the exact name.
 */
export const writeExportsProgram = (dir: string, packed: ReadonlyArray<Packed>): number => {
  const names = packed.map(({ pkg }) => pkg.manifest.name)
  const listing: Record<string, Record<string, ReadonlyArray<string> | null>> = JSON.parse(execFileSync(process.execPath, [
    "--input-type=module",
    "-e",
    `const out = {}
for (const name of ${JSON.stringify(names)}) {
  const mod = await import(name)
  out[name] = {}
  for (const key of Object.keys(mod)) {
    const value = mod[key]
    // A bundled \`export * as X\` is a plain object of getters, not a module namespace object.
    const namespace = typeof value === "object" && value !== null &&
      [null, Object.prototype].includes(Object.getPrototypeOf(value)) || Object.prototype.toString.call(value) === "[object Module]"
    out[name][key] = namespace ? Object.keys(value) : null
  }
}
process.stdout.write(JSON.stringify(out))`
  ], { cwd: dir, encoding: "utf8" }))
  const lines: Array<string> = []
  let count = 0
  Object.entries(listing).forEach(([name, members], i) => {
    lines.unshift(`import * as p${i} from ${JSON.stringify(name)}`)
    for (const [key, inner] of Object.entries(members)) {
      const base = `p${i}[${JSON.stringify(key)}]`
      const values = inner === null ? [base] : inner.map((member) => `${base}[${JSON.stringify(member)}]`)
      for (const value of values) lines.push(`void ${value}`)
      count += values.length
    }
  })
  writeFileSync(join(dir, "exports.ts"), lines.join("\n") + "\nexport {}\n")
  return count
}

/** Runs a consumer with the workspace's Node and returns its one JSON line. */
export const run = (dir: string, file: string, args: ReadonlyArray<string> = []): unknown => {
  const stdout = execFileSync(process.execPath, [file, ...args], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
  try {
    return JSON.parse(stdout)
  } catch {
    throw new Error(`${file} ${args.join(" ")} wrote more than its result to stdout:\n${stdout}`)
  }
}

/**
 * A copy of the installed `effect` relabelled as the next patch version, packed: no 4.x patch after
 * the workspace's exists on the registry yet, and the point is what npm's peer resolution does with a
 * version other than the one the packages were built against.
 */
export const nextPatchOfEffect = (into: string): { readonly version: string; readonly tarball: string } => {
  const source = join("node_modules", "effect")
  const copy = join(into, "effect-next-patch")
  cpSync(source, copy, { recursive: true, filter: (path) => !/(^|\/)node_modules\/effect\/src(\/|$)|\.map$/.test(path) })
  const manifest = JSON.parse(readFileSync(join(copy, "package.json"), "utf8"))
  const [major, minor, patch] = String(manifest.version).split(".").map(Number)
  manifest.version = `${major}.${minor}.${patch! + 1}`
  manifest.files = ["dist"] // sources and source maps left out: a smaller tarball, the same modules
  writeFileSync(join(copy, "package.json"), JSON.stringify(manifest, null, 2))
  const filename = execFileSync("npm", ["pack", "--loglevel=error", "--pack-destination", into], { cwd: copy, encoding: "utf8" }).trim().split("\n").pop()!
  rmSync(copy, { recursive: true, force: true })
  return { version: manifest.version, tarball: join(into, filename) }
}
