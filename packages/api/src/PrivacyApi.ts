/**
 * The HTTP contract of GDPR export and erase: for the caller (`/v1/me/export`,
 * `DELETE /v1/me`) and, for admins, for anyone (`/v1/users/{id}/export`, `DELETE /v1/users/{id}`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
// `Audit` is imported so the emitted declarations can name the audit action type.
import { type Audit as _Audit, Ids, type Privacy, Registration } from "@live-events/domain"
import * as AuditApi from "./AuditApi.ts"
import { authenticated, describe } from "./Endpoint.ts"
import * as Problems from "./Problems.ts"
import * as RegistrationsApi from "./RegistrationsApi.ts"
import * as UsersApi from "./UsersApi.ts"

/** @since 0.1.0 */
export const StatusChangeJson = Schema.Struct({ status: Registration.RegistrationStatus, at: Schema.Date })

/** A domain event as held in the outbox. @since 0.1.0 */
export const MessageJson = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  occurredAt: Schema.Date,
  aggregateId: Schema.String,
  version: Schema.Int,
  data: Schema.Record(Schema.String, Schema.Unknown)
}).annotate({ identifier: "PersonalDataMessage" })

/** Everything held about a person. @since 0.1.0 */
export const PersonalDataJson = Schema.Struct({
  exportedAt: Schema.Date,
  user: Schema.Struct({ ...UsersApi.UserJson.fields, erasedAt: Schema.NullOr(Schema.Date) }),
  registrations: Schema.Array(Schema.Struct({ ...RegistrationsApi.RegistrationJson.fields, history: Schema.Array(StatusChangeJson) })),
  audit: Schema.Array(AuditApi.AuditEntryJson),
  /** Outbox messages whose data names the person (ids and counts only, as every message). */
  messages: Schema.Array(MessageJson)
}).annotate({ identifier: "PersonalData" })
/** @since 0.1.0 */
export type PersonalDataJson = typeof PersonalDataJson.Type

/** @since 0.1.0 */
export const toJson = (data: Privacy.PersonalData): PersonalDataJson => ({
  exportedAt: data.exportedAt,
  user: { ...UsersApi.toJson(data.user), erasedAt: data.user.erasedAt },
  registrations: data.registrations.map((registration) => ({
    ...RegistrationsApi.toJson(registration),
    history: registration.history.map(({ at, status }) => ({ status, at }))
  })),
  audit: data.audit.map(AuditApi.toJson),
  messages: data.messages.map((message) => ({
    id: message.id,
    type: message.type,
    occurredAt: message.occurredAt,
    aggregateId: message.aggregateId,
    version: message.version,
    data: { ...message.data }
  }))
})

const UserIdParams = { id: Ids.UserId }

/** @since 0.1.0 */
export class PrivacyApi extends HttpApiGroup.make("privacy").add(
  authenticated(
    HttpApiEndpoint.get("exportMine", "/v1/me/export", { success: PersonalDataJson, error: Problems.authenticated })
      .annotateMerge(describe("Export my personal data", "Everything held about the caller: profile, registrations with their history, audit entries and outbox messages."))
  ),
  authenticated(
    HttpApiEndpoint.delete("eraseMine", "/v1/me", { success: HttpApiSchema.NoContent, error: Problems.authenticated })
      .annotateMerge(describe("Erase my personal data", "Erases the caller's personal data (see the privacy documentation for what is kept)."))
  ),
  authenticated(
    HttpApiEndpoint.get("export", "/v1/users/:id/export", {
      params: UserIdParams,
      success: PersonalDataJson,
      error: [...Problems.authenticated, Problems.validationFailed, Problems.userNotFound]
    })
      .annotateMerge(describe("Export a user's personal data", "Admins only. Everything held about one person."))
  ),
  authenticated(
    HttpApiEndpoint.delete("erase", "/v1/users/:id", {
      params: UserIdParams,
      success: HttpApiSchema.NoContent,
      error: [...Problems.authenticated, Problems.validationFailed, Problems.userNotFound]
    })
      .annotateMerge(describe("Erase a user's personal data", "Admins only. Erases one person's personal data."))
  )
).annotate(OpenApi.Description, "Export and erasure of personal data.") {}
