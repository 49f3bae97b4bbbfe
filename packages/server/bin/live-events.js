#!/usr/bin/env node
// Launcher of the `live-events` CLI. In the repository it runs the TypeScript source
// (`src/cli.ts`, `--conditions=@live-events/source`) under a Node that strips types: this Node when it
// can (>= 22.18), else the Node 24 of the `node` devDependency. Without a capable Node it falls back
// to the built `dist/cli.js`.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const source = join(packageDir, "src", "cli.ts")
const built = join(packageDir, "dist", "cli.js")

const stripsTypes = () => {
  const [major, minor] = process.versions.node.split(".").map(Number)
  return major > 22 || (major === 22 && minor >= 18)
}

const bundledNode = () => {
  for (let dir = packageDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", "node", "bin", "node")
    if (existsSync(candidate)) return candidate
    if (dirname(dir) === dir) return undefined
  }
}

// Node refuses to strip types of files under node_modules: an installed package runs its dist/ build.
const installed = packageDir.split(/[\\/]/).includes("node_modules") && existsSync(built)
const nodeForSource = existsSync(source) && !installed ? (stripsTypes() ? process.execPath : bundledNode()) : undefined

if (nodeForSource !== undefined) {
  const child = spawn(nodeForSource, ["--conditions=@live-events/source", source, ...process.argv.slice(2)], {
    stdio: "inherit"
  })
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href)
} else {
  console.error("live-events: no Node >= 22.18 to run the sources and no dist/ build; run `npm run build`")
  process.exit(1)
}
