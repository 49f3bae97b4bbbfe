import { afterAll, beforeAll, describe, it } from "@effect/vitest"
import * as Server from "../src/Server.ts"
import { start, type TestServer } from "./support/TestServer.ts"
import { walk } from "./support/Walk.ts"

describe("walk-through on the memory store", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await start()
  })
  afterAll(() => server.close())

  it("create, publish, three registrations, waitlist, cancel, promotion", walk(() => server))
})

describe("walk-through on embedded PGlite", () => {
  let server: TestServer
  beforeAll(async () => {
    // No data directory: an in-memory PGlite, migrated on start, gone at the end.
    server = await start(Server.storeEmbedded({ dataDir: undefined }))
  }, 60_000)
  afterAll(() => server.close())

  it("create, publish, three registrations, waitlist, cancel, promotion", walk(() => server))
})
