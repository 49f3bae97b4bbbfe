import { defineConfig } from "tsup"
import { packageBuild } from "../../tsup.shared.ts"

// The library entry plus the two programs: the server (main) and the `live-events` CLI.
export default defineConfig(packageBuild({
  entry: ["src/index.ts", "src/main.ts", "src/cli.ts"],
  external: [/^effect/, /^@effect\//, /^@live-events\//, /^@electric-sql\//, "jose"]
}))
