/**
 * Secure defaults on every response, errors included; CORS allow-list and
 * preflight; body limit; rate limits with the draft-10 fields; client keys (trusted proxies, IPv6 /64).
 */
import { Duration } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as HttpRateLimit from "../src/RateLimit/HttpRateLimit.ts"
import * as SecuritySettings from "../src/Security/Settings.ts"
import * as Server from "../src/Server.ts"
import { eventInput, start, type TestServer } from "./support/TestServer.ts"
import { walk } from "./support/Walk.ts"

const allowedOrigin = "https://app.example"

const expectSecureHeaders = (label: string, headers: Headers, options: { authenticated: boolean; docs?: boolean }) => {
  const context = `${label}`
  const csp = headers.get("content-security-policy") ?? ""
  if (options.docs) {
    expect(csp, context).toMatch(/script-src 'sha256-[^']+'/)
    expect(csp, context).not.toContain("'unsafe-inline' 'unsafe-eval'")
  } else {
    expect(csp, context).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
  }
  expect(csp, context).toContain("frame-ancestors 'none'")
  expect(headers.get("x-frame-options"), context).toBe("DENY")
  expect(headers.get("x-content-type-options"), context).toBe("nosniff")
  expect(headers.get("referrer-policy"), context).toBe("no-referrer")
  expect(headers.get("permissions-policy"), context).toMatch(/^(?:[a-z-]+=\(\)(?:, )?)+$/)
  expect(headers.get("permissions-policy"), context).toContain("camera=()")
  expect(headers.get("cross-origin-opener-policy"), context).toBe("same-origin")
  expect(headers.get("cross-origin-resource-policy"), context).toBe("same-origin")
  expect(headers.get("x-powered-by"), context).toBeNull()
  expect(headers.get("server"), context).toBeNull()
  // Plain HTTP from an untrusted peer: no HSTS.
  expect(headers.get("strict-transport-security"), context).toBeNull()
  if (options.authenticated) expect(headers.get("cache-control"), context).toBe("no-store")
}

describe("secure defaults on every response", () => {
  let server: TestServer
  const seen: Array<{ label: string; status: number; headers: Headers; authenticated: boolean; origin?: string }> = []

  beforeAll(async () => {
    server = await start(Server.storeMemory, undefined, undefined, {
      security: SecuritySettings.layer({ corsOrigins: [allowedOrigin], maxBodyBytes: 1024 }),
      // Enabled but generous: the headers must be there, the walk must not be limited.
      rateLimit: HttpRateLimit.layerMemory({
        general: { name: "general", algorithm: "sliding-window", limit: 10_000, window: "1 minute" }
      })
    })
  })
  afterAll(() => server.close())

  const recorded = (): TestServer => ({
    ...server,
    request: async (method, path, options = {}) => {
      const response = await server.request(method, path, options)
      seen.push({ label: `${method} ${path} → ${response.status}`, status: response.status, headers: response.headers, authenticated: options.token !== undefined })
      return response
    }
  })

  it("the README walk-through: every success response carries the full set", async () => {
    await walk(recorded)()
    expect(seen.length).toBeGreaterThan(10)
    for (const response of seen) expectSecureHeaders(response.label, response.headers, { authenticated: response.authenticated })
    // Limited routes carry the rate-limit fields on success too.
    for (const response of seen) {
      expect(response.headers.get("ratelimit-policy"), response.label).toMatch(/^"general";q=10000;w=60/)
      expect(response.headers.get("ratelimit"), response.label).toMatch(/^"general";r=\d+;t=\d+/)
    }
  })

  it("every route of the OpenAPI document, anonymous and authenticated, with unknown ids and bad bodies", async () => {
    const document = await server.request("GET", "/openapi.json")
    expect(document.status).toBe(200)
    const token = await server.token("walker", "organizer")
    const operations: Array<[string, string]> = []
    for (const [path, item] of Object.entries(document.body.paths as Record<string, Record<string, unknown>>)) {
      for (const [method, operation] of Object.entries(item)) {
        // Streams (SSE) never end: their headers are checked by their own tests.
        if (JSON.stringify(operation).includes("text/event-stream")) continue
        if (["get", "post", "put", "patch", "delete"].includes(method)) operations.push([method.toUpperCase(), path])
      }
    }
    expect(operations.length).toBeGreaterThan(8)
    const statuses = new Set<number>()
    for (const [method, template] of operations) {
      const path = template.replace(/\{[^}]+\}/g, "00000000-0000-0000-0000-000000000000")
      for (const withToken of [false, true]) {
        const options = {
          ...(withToken ? { token } : {}),
          ...(method === "GET" || method === "DELETE" ? {} : { body: "{\"unexpected\": " }),
          headers: { origin: allowedOrigin }
        }
        const response = await server.request(method, path, options)
        statuses.add(response.status)
        expect(response.status, `${method} ${path}`).toBeLessThan(500)
        expectSecureHeaders(`${method} ${path} → ${response.status}`, response.headers, { authenticated: withToken })
        expect(response.headers.get("access-control-allow-origin"), `${method} ${path}`).toBe(allowedOrigin)
      }
    }
    // Success and error paths were both walked.
    expect([...statuses].some((status) => status < 300)).toBe(true)
    expect([...statuses].filter((status) => status >= 400).length).toBeGreaterThan(2)
  })

  it("framework-made errors: 404 (unknown route and unknown method), 413, 400 and 401 carry the full set as problems", async () => {
    const token = await server.token("errors", "organizer")
    const cases = [
      await server.request("GET", "/no/such/route"),
      await server.request("PUT", "/health/live"),
      await server.request("POST", "/v1/events", { token, body: JSON.stringify({ title: "x".repeat(4096) }) }),
      await server.request("POST", "/v1/events", { token, body: "{not json" }),
      await server.request("POST", "/v1/events", { json: eventInput() })
    ]
    // The router answers an unknown method on a known path with 404, not 405.
    expect(cases.map((response) => response.status)).toEqual([404, 404, 413, 400, 401])
    for (const [i, response] of cases.entries()) {
      expect(response.headers.get("content-type"), String(i)).toMatch(/^application\/problem\+json/)
      expectSecureHeaders(`case ${i}`, response.headers, { authenticated: i === 2 || i === 3 })
    }
    expect(cases[2]!.body.code).toBe("payload-too-large")
  })

  it("a chunked body over the limit is cut with 413", async () => {
    const token = await server.token("chunked", "organizer")
    const chunk = new TextEncoder().encode(" ".repeat(512))
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 8) return controller.close()
        sent++
        controller.enqueue(chunk)
      }
    })
    const response = await fetch(`${server.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
      duplex: "half"
    } as RequestInit)
    expect(response.status).toBe(413)
    expect(((await response.json()) as { code: string }).code).toBe("payload-too-large")
    expectSecureHeaders("chunked", response.headers, { authenticated: true })
  })

  it("the docs page gets a CSP that allows exactly its inline scripts", async () => {
    const response = await server.request("GET", "/docs")
    expect(response.status).toBe(200)
    expectSecureHeaders("/docs", response.headers, { authenticated: false, docs: true })
    const csp = response.headers.get("content-security-policy")!
    const scripts = [...response.text.matchAll(/<script(?:\s[^>]*)?>([\s\S]*?)<\/script>/g)].map((m) => m[1]!)
    const { createHash } = await import("node:crypto")
    for (const script of scripts.filter((s) => s.length > 0)) {
      expect(csp).toContain(`'sha256-${createHash("sha256").update(script).digest("base64")}'`)
    }
    expect(csp).toContain("connect-src 'self'")
  })

  it("CORS: allowed origin, refused origin, preflight", async () => {
    const allowed = await server.request("GET", "/health/live", { headers: { origin: allowedOrigin } })
    expect(allowed.headers.get("access-control-allow-origin")).toBe(allowedOrigin)
    expect(allowed.headers.get("access-control-expose-headers")).toContain("RateLimit")
    expect(allowed.headers.get("vary")).toContain("Origin")

    const refused = await server.request("GET", "/health/live", { headers: { origin: "https://evil.example" } })
    expect(refused.status).toBe(200)
    for (const [name] of refused.headers) expect(name.startsWith("access-control-"), name).toBe(false)

    const preflight = await fetch(`${server.url}/v1/events/abc/registrations`, {
      method: "OPTIONS",
      headers: {
        origin: allowedOrigin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, idempotency-key"
      }
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get("access-control-allow-origin")).toBe(allowedOrigin)
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST")
    expect(preflight.headers.get("access-control-allow-headers")!.toLowerCase()).toContain("idempotency-key")
    expect(preflight.headers.get("access-control-max-age")).toBe("600")
    expectSecureHeaders("preflight", preflight.headers, { authenticated: false })

    const refusedPreflight = await fetch(`${server.url}/v1/events`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" }
    })
    expect(refusedPreflight.status).toBe(403)
    for (const [name] of refusedPreflight.headers) expect(name.startsWith("access-control-"), name).toBe(false)
    expectSecureHeaders("refused preflight", refusedPreflight.headers, { authenticated: false })
  })
})

describe("rate limits", () => {
  let server: TestServer
  let untrusted: TestServer

  beforeAll(async () => {
    const rateLimit = HttpRateLimit.layerMemory({
      general: { name: "general", algorithm: "sliding-window", limit: 8, window: "1 minute" },
      register: { name: "register", algorithm: "sliding-window", limit: 5, window: "1 minute" }
    })
    server = await start(Server.storeMemory, undefined, undefined, {
      security: SecuritySettings.layer({
        trustedProxies: SecuritySettings.parseNetworks(["127.0.0.1/32", "::1"]),
        requestTimeout: Duration.seconds(5)
      }),
      rateLimit
    })
    untrusted = await start(Server.storeMemory, undefined, undefined, {
      security: SecuritySettings.layer({}),
      rateLimit: HttpRateLimit.layerMemory({
        general: { name: "general", algorithm: "fixed-window", limit: 3, window: "1 minute" }
      })
    })
  })
  afterAll(async () => {
    await server.close()
    await untrusted.close()
  })

  const from = (client: string) => ({ headers: { "x-forwarded-for": client } })

  it("general: 429 problem with Retry-After, RateLimit-Policy and RateLimit once the quota is spent", async () => {
    const answers = []
    for (let i = 0; i < 9; i++) answers.push(await server.request("GET", "/v1/events", from("203.0.113.9")))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429])
    expect(answers[0]!.headers.get("ratelimit-policy")).toBe(`"general";q=8;w=60`)
    expect(answers[0]!.headers.get("ratelimit")).toMatch(/^"general";r=7;t=\d+$/)
    const limited = answers[8]!
    expect(limited.headers.get("content-type")).toMatch(/^application\/problem\+json/)
    expect(limited.body).toMatchObject({ status: 429, code: "rate-limited" })
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    expect(limited.headers.get("ratelimit")).toMatch(/^"general";r=0;t=\d+$/)
    expect(limited.headers.get("ratelimit-policy")).toBe(`"general";q=8;w=60`)
    expectSecureHeaders("429", limited.headers, { authenticated: false })
    // Probes are not limited; another client is not affected.
    expect((await server.request("GET", "/health/ready", from("203.0.113.9"))).status).toBe(200)
    expect((await server.request("GET", "/v1/events", from("203.0.113.10"))).status).toBe(200)
  })

  it("IPv6 clients are counted by /64", async () => {
    for (let i = 1; i <= 8; i++) {
      expect((await server.request("GET", "/v1/events", from(`2001:db8:1:2::${i.toString(16)}`))).status).toBe(200)
    }
    expect((await server.request("GET", "/v1/events", from("2001:db8:1:2:ffff:ffff:ffff:ffff"))).status).toBe(429)
    expect((await server.request("GET", "/v1/events", from("2001:db8:1:3::1"))).status).toBe(200)
  })

  it("X-Forwarded-For from an untrusted peer is ignored (no bypass by spoofing)", async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await untrusted.request("GET", "/v1/events", from(`198.51.100.${i}`))).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    // And no HSTS for a spoofed X-Forwarded-Proto.
    const spoofed = await untrusted.request("GET", "/health/live", { headers: { "x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.1" } })
    expect(spoofed.headers.get("strict-transport-security")).toBeNull()
  })

  it("HSTS when a trusted proxy says https", async () => {
    const response = await server.request("GET", "/health/live", { headers: { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.77" } })
    expect(response.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains")
  })

  it("HSTS when a trusted proxy says https without X-Forwarded-For; not when it says http", async () => {
    const https = await server.request("GET", "/health/live", { headers: { "x-forwarded-proto": "https" } })
    expect(https.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains")
    const http = await server.request("GET", "/health/live", { headers: { "x-forwarded-proto": "http" } })
    expect(http.headers.get("strict-transport-security")).toBeNull()
  })

  it("register: the per-user limit keys on the matched route, whatever spelling of the path", async () => {
    const organizer = await server.token("rl-spelling-org", "organizer")
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 10 }), ...from("203.0.113.80") })
    await server.request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer, ...from("203.0.113.80") })
    const attendee = await server.token("rl-spelling-attendee")
    const id = created.body.id
    const spellings = [
      `/v1/events/${id}/registrations`,
      `//v1/events/${id}/registrations`,
      `/v1/events/${id}//registrations`,
      `/v1/events/${id}/%72egistrations`,
      `//v1/events/${id}/registrations`,
      `/v1/events/${id}/%72egistrations`
    ]
    const statuses = []
    for (const [i, path] of spellings.entries()) {
      const response = await server.request("POST", path, { token: attendee, json: {}, ...from(`203.0.113.${81 + i}`) })
      statuses.push(response.status)
    }
    // Each spelling reached the registration handler (201, then 409 already-registered) and counted.
    expect(statuses).toEqual([201, 409, 409, 409, 409, 429])
  })

  it("register: 5 per minute per user, whatever the address", async () => {
    const organizer = await server.token("rl-org", "organizer")
    const created = await server.request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 10 }), ...from("203.0.113.50") })
    await server.request("POST", `/v1/events/${created.body.id}/publish`, { token: organizer, ...from("203.0.113.50") })
    const attendee = await server.token("rl-attendee")
    const statuses = []
    for (let i = 0; i < 6; i++) {
      // A new address each time: the per-IP policy never trips, the per-user one does.
      const response = await server.request("POST", `/v1/events/${created.body.id}/registrations`, {
        token: attendee,
        json: {},
        ...from(`203.0.113.${60 + i}`)
      })
      statuses.push(response.status)
      if (i === 0) {
        expect(response.headers.get("ratelimit-policy")).toBe(`"general";q=8;w=60, "register";q=5;w=60`)
        expect(response.headers.get("ratelimit")).toMatch(/^"general";r=7;t=\d+, "register";r=4;t=\d+$/)
        expect(response.headers.get("cache-control")).toBe("no-store")
      }
      if (i === 5) {
        expect(response.body.code).toBe("rate-limited")
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      }
    }
    expect(statuses).toEqual([201, 409, 409, 409, 409, 429])
    // Another user is not limited by the first one's quota.
    const other = await server.token("rl-other")
    const response = await server.request("POST", `/v1/events/${created.body.id}/registrations`, {
      token: other,
      json: {},
      ...from("203.0.113.70")
    })
    expect(response.status).toBe(201)
  })
})
