/**
 * Batch lanes: several on PostgreSQL, one on embedded PGlite (its one connection would only see
 * smaller batches), whatever `REGISTRATION_BATCH_CONCURRENCY` says when it is set.
 */
import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as ServerConfig from "../src/Config.ts"

const lanes = (env: Record<string, string>) =>
  Effect.runPromise(Effect.map(ServerConfig.batching.parse(ConfigProvider.fromEnv({ env })), (batching) => batching.concurrency))

describe("registration batch lanes", () => {
  it("default to 4 on PostgreSQL and to 1 on embedded PGlite", async () => {
    expect(await lanes({ DATABASE_URL: "postgres://127.0.0.1/db" })).toBe(4)
    expect(await lanes({})).toBe(1)
  })

  it("follow REGISTRATION_BATCH_CONCURRENCY when set", async () => {
    expect(await lanes({ REGISTRATION_BATCH_CONCURRENCY: "2" })).toBe(2)
    expect(await lanes({ DATABASE_URL: "postgres://127.0.0.1/db", REGISTRATION_BATCH_CONCURRENCY: "1" })).toBe(1)
  })
})
