/**
 * `DATABASE_SCHEMA`: the store's PostgreSQL schema, `live_events` unless set; names that would need
 * quoting are refused at start-up, before any connection.
 */
import { ConfigProvider, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import * as ServerConfig from "../src/Config.ts"

const schemaOf = (env: Record<string, string>) =>
  Effect.runPromiseExit(Effect.map(ServerConfig.database.parse(ConfigProvider.fromEnv({ env })), (db) => db.schema))

describe("DATABASE_SCHEMA", () => {
  it("defaults to live_events and follows the variable", async () => {
    expect(await schemaOf({})).toEqual(Exit.succeed("live_events"))
    expect(await schemaOf({ DATABASE_SCHEMA: "public" })).toEqual(Exit.succeed("public"))
    expect(await schemaOf({ DATABASE_SCHEMA: "events_app" })).toEqual(Exit.succeed("events_app"))
  })

  it("refuses names that are not lower-case identifiers or are PostgreSQL's own", async () => {
    for (const bad of ["Events", "live-events", "pg_temp", "a; DROP TABLE users", "1st"]) {
      const exit = await schemaOf({ DATABASE_SCHEMA: bad })
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("DATABASE_SCHEMA")
    }
  })
})
