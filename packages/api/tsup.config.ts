import { defineConfig } from "tsup"
import { packageBuild } from "../../tsup.shared.ts"

// One entry per module: the server and the client import modules by subpath (`@live-events/api/Problems`).
export default defineConfig(packageBuild({ entry: ["src/*.ts"] }))
