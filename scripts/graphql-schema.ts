/**
 * Writes the GraphQL schema as SDL to packages/server/schema.graphql, the published copy of what
 * `GET /graphql/schema.graphql` serves (a test fails when the two differ: run this after changing it).
 */
import { writeFileSync } from "node:fs"
import * as Schema from "../packages/server/src/GraphQL/Schema.ts"

writeFileSync("packages/server/schema.graphql", Schema.print(Schema.make()))
