/**
 * Builds every workspace package, dependencies first (npm's `--workspaces` runs them alphabetically,
 * which would build `server` before the packages it imports): the JavaScript with tsup, then the
 * declarations with `tsc`, one `.d.ts` per module. The declarations are compiled against the built
 * declarations of sibling packages (no source condition), exactly as a consumer of the tarballs sees
 * them, and their relative `.ts` specifiers are rewritten to `.js`.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { dependencyOrder, workspacePackages } from "./workspace.ts"

const configDir = ".tmp/dts"
mkdirSync(configDir, { recursive: true })

const emitDeclarations = (dir: string) => {
  const config = join(configDir, `${dir.replaceAll("/", "-")}.json`)
  writeFileSync(config, JSON.stringify({
    extends: "../../tsconfig.base.json",
    compilerOptions: {
      customConditions: [],
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      sourceMap: false,
      rootDir: `../../${dir}/src`,
      outDir: `../../${dir}/dist`
    },
    include: [`../../${dir}/src`]
  }))
  execFileSync("tsc", ["-p", config], { stdio: "inherit" })
  rewriteSpecifiers(`${dir}/dist`)
}

const relativeTsSpecifier = /(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.ts\2/g
const rewriteSpecifiers = (dir: string) => {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue
    const file = join(entry.parentPath, entry.name)
    const text = readFileSync(file, "utf8")
    const rewritten = text.replace(relativeTsSpecifier, "$1$2$3.js$2")
    if (rewritten !== text) writeFileSync(file, rewritten)
  }
}

for (const { dir, manifest } of dependencyOrder(workspacePackages())) {
  console.log(`\n▶ ${manifest.name}`)
  execFileSync("tsup", [], { cwd: dir, stdio: "inherit" })
  emitDeclarations(dir)
}
