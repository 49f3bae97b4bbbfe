/**
 * The HTTP contract of key administration (admins only): rows per key, and a rotation run by the
 * server (see docs/privacy.md, rotation runbook).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"
import { authenticated, describe } from "./Endpoint.ts"
import * as Problems from "./Problems.ts"

const Counts = Schema.Record(Schema.String, Schema.Int)

/** @since 0.1.0 */
export const KeysStatusJson = Schema.Struct({
  running: Schema.Boolean,
  dataKeys: Counts,
  emailIndex: Counts,
  responses: Counts,
  plaintextUsers: Schema.Int,
  plaintextNotes: Schema.Int,
  pending: Schema.Int,
  retirable: Schema.Struct({ data: Schema.Array(Schema.String), index: Schema.Array(Schema.String) })
}).annotate({ identifier: "KeysStatus" })

/** @since 0.1.0 */
export const RotationStartedJson = Schema.Struct({ status: Schema.Literal("running") })

/** @since 0.1.0 */
export class KeysAdminApi extends HttpApiGroup.make("keysAdmin").add(
  authenticated(
    HttpApiEndpoint.get("status", "/v1/admin/keys", {
      success: KeysStatusJson,
      error: [...Problems.authenticated, Problems.noDataAtRest]
    })
      .annotateMerge(describe("Get encryption key status", "Admins only. Rows per data key and email-index key, and what a rotation would still re-encrypt."))
  ),
  authenticated(HttpApiEndpoint.post("rotate", "/v1/admin/keys/rotate", {
    success: RotationStartedJson.pipe(HttpApiSchema.status(202)),
    error: [...Problems.authenticated, Problems.noDataAtRest]
  }).annotateMerge(describe("Rotate encryption keys", "Admins only. Starts re-encrypting personal data under the current keys in the background.")))
).annotate(OpenApi.Description, "Encryption key administration (admins only).") {}
