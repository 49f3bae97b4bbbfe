/**
 * Liveness (the process answers) and readiness (its dependencies answer).
 *
 * @since 0.1.0
 */
import { OutboxDelivery, Readiness } from "@live-events/engine"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Api } from "@live-events/api/Api"
import * as OutboxReadiness from "../Outbox/Readiness.ts"
import * as Problem from "../Problem.ts"

/** @since 0.1.0 */
export const HealthLive = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function*() {
    const readiness = yield* Readiness.Readiness
    const outboxLag = yield* OutboxDelivery.OutboxLag
    return handlers
      .handle("live", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () =>
        readiness.check.pipe(
          Effect.flatMap((checks) => OutboxReadiness.withLag(outboxLag, checks)),
          Effect.catch(() =>
            Problem.respond(503, "not-ready", "A dependency is not available", { headers: { "retry-after": "5" } })
          )
        ))
  }))
