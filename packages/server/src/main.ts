/**
 * `npm start`: serves the API as configured by the environment until SIGINT/SIGTERM, then drains.
 *
 * @since 0.1.0
 */
// Node's modules one by one, here and in the server, not the package index: the index loads every
// platform module, the Redis client among them (about 750 modules in all), which a start without
// `REDIS_URL` never uses.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Layer } from "effect"
import * as Server from "./Server.ts"

Layer.launch(Server.layerConfig).pipe(NodeRuntime.runMain)
