/**
 * Writes the OpenAPI document that `GET /openapi.json` serves, generated from the `HttpApi`
 * definition without starting a server (`npm run lint:openapi` lints it):
 * `node --conditions=@live-events/source scripts/openapi.ts [file]`, by default `.tmp/openapi.json`.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { OpenApi } from "effect/http-api"
import { Api } from "../packages/api/src/Api.ts"

const file = process.argv[2] ?? ".tmp/openapi.json"
mkdirSync(dirname(file), { recursive: true })
writeFileSync(file, `${JSON.stringify(OpenApi.fromApi(Api), null, 2)}\n`)
