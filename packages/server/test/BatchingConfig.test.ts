/**
 * Batch lanes: one unless `REGISTRATION_BATCH_CONCURRENCY` says otherwise, on PostgreSQL and on
 * embedded PGlite alike.
 */
import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as ServerConfig from "../src/Config.ts"

const lanes = (env: Record<string, string>) =>
  Effect.runPromise(Effect.map(ServerConfig.batching.parse(ConfigProvider.fromEnv({ env })), (batching) => batching.concurrency))

describe("registration batch lanes", () => {
  it("default to one, whatever the store", async () => {
    expect(await lanes({ DATABASE_URL: "postgres://127.0.0.1/db" })).toBe(1)
    expect(await lanes({})).toBe(1)
  })

  it("follow REGISTRATION_BATCH_CONCURRENCY when set", async () => {
    expect(await lanes({ REGISTRATION_BATCH_CONCURRENCY: "2" })).toBe(2)
    expect(await lanes({ DATABASE_URL: "postgres://127.0.0.1/db", REGISTRATION_BATCH_CONCURRENCY: "4" })).toBe(4)
  })
})
