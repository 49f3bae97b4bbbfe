/**
 * The whole HTTP API of the reference server, one `HttpApi` from which the handlers, `/openapi.json`
 * and `/docs` are all derived.
 *
 * @since 0.1.0
 */
import { HttpApi, OpenApi } from "effect/http-api"
import { AuditApi } from "./AuditApi.ts"
import { EventsApi } from "./EventsApi.ts"
import { HealthApi } from "./HealthApi.ts"
import { LiveApi } from "./LiveApi.ts"
import { MeApi } from "./MeApi.ts"
import { refine } from "./OpenApiDocument.ts"
import { OutboxAdminApi } from "./OutboxApi.ts"
import { KeysAdminApi } from "./KeysApi.ts"
import { PrivacyApi } from "./PrivacyApi.ts"
import { ProblemBody } from "./Problems.ts"
import { RegistrationsApi } from "./RegistrationsApi.ts"
import { UsersApi } from "./UsersApi.ts"

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
