/**
 * Liveness and readiness probes.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { anonymous, describe } from "./Endpoint.ts"
import * as Problems from "./Problems.ts"

/** @since 0.1.0 */
export const HealthJson = Schema.Struct({
  status: Schema.Literal("ok"),
  checks: Schema.optionalKey(Schema.Record(Schema.String, Schema.Literals(["ok", "degraded"]))),
  /** Outbox backlog: lag = now − oldest pending message (see Outbox/Readiness.ts). */
  outbox: Schema.optionalKey(Schema.Struct({ lagSeconds: Schema.Number, pending: Schema.Int, deadLettered: Schema.Int }))
})

/** @since 0.1.0 */
export class HealthApi extends HttpApiGroup.make("health").add(
  anonymous(
    HttpApiEndpoint.get("live", "/health/live", { success: HealthJson })
      .annotateMerge(describe("Liveness probe", "Answers while the process serves requests; no dependency is checked."))
  ),
  anonymous(
    HttpApiEndpoint.get("ready", "/health/ready", {
      success: HealthJson,
      error: [Problems.notReady, Problems.outboxLagging]
    })
      .annotateMerge(describe("Readiness probe", "Answers 200 when the database and the other dependencies answer, 503 otherwise; includes the outbox backlog."))
  )
).annotate(OpenApi.Description, "Liveness and readiness probes for load balancers and orchestrators.") {}
