/**
 * `npm start`: serves the API as configured by the environment until SIGINT/SIGTERM, then drains.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import * as Server from "./Server.ts"

Layer.launch(Server.layerConfig).pipe(NodeRuntime.runMain)
