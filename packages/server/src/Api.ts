/**
 * The whole HTTP API of the reference server, one `HttpApi` from which the handlers, `/openapi.json`
 * and `/docs` are all derived.
 *
 * @since 0.1.0
 */
import { HttpApi, OpenApi } from "effect/http-api"
import { AuditApi } from "./Audit/Api.ts"
import { EventsApi } from "./Events/Api.ts"
import { HealthApi } from "./Health/Api.ts"
import { LiveApi } from "./Live/Api.ts"
import { MeApi } from "./Me/Api.ts"
import { OutboxAdminApi } from "./Outbox/Api.ts"
import { KeysAdminApi } from "./Privacy/KeysApi.ts"
import { PrivacyApi } from "./Privacy/Api.ts"
import { ProblemBody } from "./Problem.ts"
import { RegistrationsApi } from "./Registrations/Api.ts"
import { UsersApi } from "./Users/Api.ts"

const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } }
})

/**
 * Every operation can answer with a problem; the handlers render them (see `Problem.ts`), so the
 * document lists them here once instead of on every endpoint.
 */
const addProblems = (spec: Record<string, any>): Record<string, any> => {
  spec.components ??= {}
  spec.components.schemas ??= {}
  spec.components.schemas.Problem = {
    type: "object",
    required: ["type", "title", "status", "detail", "code", "instance", "traceId"],
    properties: {
      type: { type: "string" },
      title: { type: "string" },
      status: { type: "integer" },
      detail: { type: "string" },
      code: { type: "string", description: "Stable kebab-case error code" },
      instance: { type: "string" },
      traceId: { type: "string" },
      errors: {
        type: "array",
        items: {
          type: "object",
          required: ["field", "message"],
          properties: { field: { type: "string" }, message: { type: "string" } }
        }
      }
    }
  }
  for (const path of Object.values(spec.paths ?? {}) as Array<Record<string, any>>) {
    for (const operation of Object.values(path)) {
      if (typeof operation !== "object" || operation === null || !("responses" in operation)) continue
      operation.responses["4XX"] ??= problemResponse("Client error (RFC 9457 problem details)")
      operation.responses["5XX"] ??= problemResponse("Server error (RFC 9457 problem details)")
    }
  }
  return spec
}

/** @since 0.1.0 */
export class Api extends HttpApi.make("live-events")
  .add(EventsApi, RegistrationsApi, MeApi, UsersApi, HealthApi)
  .add(LiveApi, OutboxAdminApi, PrivacyApi, AuditApi, KeysAdminApi)
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotate(OpenApi.Title, "Live Event Service")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(OpenApi.Transform, addProblems)
{}

/** Kept for the OpenAPI `components`: the problem body schema. @since 0.1.0 */
export { ProblemBody }
