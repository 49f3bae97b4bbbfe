import { defineConfig } from "tsup"
import { packageBuild } from "../../tsup.shared.ts"

// The sealing thread's module is an entry of its own: `SealingThread` starts it as a worker.
export default defineConfig(packageBuild({ entry: ["src/index.ts", "src/SealingWorker.ts"] }))
