/**
 * The outbox's part of `/health/ready`: the lag (now − oldest pending message) and backlog figures,
 * and not ready when the lag exceeds `OUTBOX_READY_MAX_LAG` — a process whose relay cannot publish
 * (broker down, database slow) should leave the load balancer's rotation.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { HttpServerResponse } from "effect/http"
import type { OutboxStore } from "@live-events/outbox"
import * as Problem from "../Problem.ts"
import type { OutboxDelivery } from "@live-events/engine"

/**
 * Adds `outbox: { lagSeconds, pending, deadLettered }` to a ready answer, or answers 503
 * `outbox-lagging` when the lag is above the bound. A failing stats query fails (→ not ready).
 *
 * @since 0.1.0
 */
export const withLag = <C>(lag: OutboxDelivery.OutboxLag["Service"], checks: C): Effect.Effect<
  | { readonly status: "ok"; readonly checks: C; readonly outbox: { lagSeconds: number; pending: number; deadLettered: number } }
  | HttpServerResponse.HttpServerResponse,
  OutboxStore.OutboxStoreError
> =>
  Effect.gen(function*() {
    const report = yield* lag.check
    const outbox = { lagSeconds: report.lagSeconds, pending: report.pending, deadLettered: report.deadLettered }
    if (!report.ok) {
      return yield* Problem.respond(
        503,
        "outbox-lagging",
        `The oldest unpublished outbox message is ${report.lagSeconds} s old`,
        { headers: { "retry-after": "5" }, extensions: { outbox } }
      )
    }
    return { status: "ok" as const, checks, outbox }
  })
