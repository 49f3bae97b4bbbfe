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
import { refine } from "./OpenApiDocument.ts"
import { OutboxAdminApi } from "./Outbox/Api.ts"
import { KeysAdminApi } from "./Privacy/KeysApi.ts"
import { PrivacyApi } from "./Privacy/Api.ts"
import { ProblemBody } from "./Problem.ts"
import { RegistrationsApi } from "./Registrations/Api.ts"
import { UsersApi } from "./Users/Api.ts"

/** @since 0.1.0 */
export class Api extends HttpApi.make("live-events")
  .add(EventsApi, RegistrationsApi, MeApi, UsersApi, HealthApi)
  .add(LiveApi, OutboxAdminApi, PrivacyApi, AuditApi, KeysAdminApi)
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotate(OpenApi.Title, "Live Event Service")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(
    OpenApi.Description,
    "Events with capacity, registrations with a waitlist, live updates and GDPR export and erasure. " +
      "Errors are RFC 9457 problem details with a stable `code`."
  )
  .annotate(OpenApi.License, { name: "MIT", identifier: "MIT" })
  .annotate(OpenApi.Servers, [{ url: "/", description: "This server" }])
  .annotate(OpenApi.Transform, refine)
{}

/** Kept for the OpenAPI `components`: the problem body schema. @since 0.1.0 */
export { ProblemBody }
