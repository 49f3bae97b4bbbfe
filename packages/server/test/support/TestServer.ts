/**
 * Starts the real server (Node listener on 127.0.0.1, port 0) on a given store, with development auth
 * over a fixed test key, and offers a small fetch client plus token minting.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import { SqlClient } from "effect/sql"
import * as DevKey from "../../src/Auth/DevKey.ts"
import { TokenVerifier } from "../../src/Auth/TokenVerifier.ts"
import * as HttpRateLimit from "../../src/RateLimit/HttpRateLimit.ts"
import * as Server from "../../src/Server.ts"
import * as Telemetry from "../../src/Telemetry/Telemetry.ts"

export const testKey = new TextEncoder().encode("test-secret-for-the-server-tests-only")

export interface Response {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly body: any
}

export interface TestServer {
  readonly url: string
  readonly request: (
    method: string,
    path: string,
    options?: {
      readonly token?: string | undefined
      readonly json?: unknown
      readonly body?: string
      readonly headers?: Record<string, string>
    }
  ) => Promise<Response>
  readonly token: (subject: string, ...roles: Array<string>) => Promise<string>
  readonly close: () => Promise<void>
  /** Everything the server layer built (store services included), for tests that look underneath. */
  readonly context: Context.Context<never>
}

export const start = async (
  store: Layer.Layer<Server.Store, any, never> = Server.storeMemory,
  auth: Layer.Layer<TokenVerifier, any, never> = TokenVerifier.layerDevelopment(testKey),
  telemetry?: Layer.Layer<Telemetry.Telemetry, any, never>,
  /** Further `Server.make` options; rate limiting is off unless given here. */
  extra: Pick<Server.Options<any, any, any, any>, "security" | "rateLimit" | "policies" | "cache" | "pipeline"> = {}
): Promise<TestServer> => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(Server.make({
      store,
      auth,
      port: 0,
      host: "127.0.0.1",
      logRequests: false,
      // Quiet: hostile-input sweeps make the server log the refusals they provoke. A test that reads
      // the logs passes its own telemetry with a sink.
      telemetry: telemetry ?? Telemetry.layer({ logRequests: false, logLevel: "fatal" }),
      rateLimit: HttpRateLimit.layerDisabled,
      ...extra
    }), scope)
  )
  const server = Context.get(context, HttpServer.HttpServer)
  const url = HttpServer.formatAddress(server.address)
  const request: TestServer["request"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
    let body: string | undefined = options.body
    if (options.json !== undefined) {
      body = JSON.stringify(options.json)
      headers["content-type"] ??= "application/json"
    } else if (body !== undefined) headers["content-type"] ??= "application/json"
    const response = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) })
    const text = await response.text()
    let parsed: unknown = undefined
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined
    } catch {
      parsed = undefined
    }
    return { status: response.status, headers: response.headers, text, body: parsed }
  }
  return {
    url,
    request,
    token: (subject, ...roles) =>
      Effect.runPromise(DevKey.mint(testKey, { subject, roles: roles.length === 0 ? ["attendee"] : roles, expiresIn: "1h" })),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
    context: context as Context.Context<never>
  }
}

/** A valid create-event body starting `days` from now. */
export const eventInput = (overrides: Record<string, unknown> = {}, days = 30) => {
  const startsAt = new Date(Date.now() + days * 86_400_000)
  return {
    title: "Effect meetup",
    description: "Talks and pizza",
    startsAt: startsAt.toISOString(),
    endsAt: new Date(startsAt.getTime() + 2 * 3_600_000).toISOString(),
    timeZone: "Europe/Berlin",
    location: "Berlin",
    capacity: 2,
    ...overrides
  }
}

/**
 * A server on a fresh in-memory PGlite (the SQL runs), with its `SqlClient` for looking at the tables,
 * and an organizer's and an admin's token.
 */
export const startEmbedded = async (prefix: string) => {
  const server = await start(Server.storeEmbedded({ dataDir: undefined }))
  const sql = Context.get(server.context as Context.Context<SqlClient.SqlClient>, SqlClient.SqlClient)
  return {
    server,
    sql,
    organizer: await server.token(`${prefix}-organizer`, "organizer"),
    admin: await server.token(`${prefix}-admin`, "admin")
  }
}
