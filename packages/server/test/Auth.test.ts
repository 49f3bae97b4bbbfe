/**
 * Authentication modes: JWKS (production) against a local JWKS endpoint, and the development key.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from "jose"
import { createServer, type Server } from "node:http"
import * as DevKey from "../src/Auth/DevKey.ts"
import { rolesOf, TokenVerifier } from "../src/Auth/TokenVerifier.ts"
import { eventInput, start, testKey, type TestServer } from "./support/TestServer.ts"

const issuer = "https://issuer.test/"
const audience = "live-events-api"

describe("production mode (JWKS)", () => {
  let jwks: Server
  let server: TestServer
  let privateKey: CryptoKey
  let jwksUrl: URL

  // What the JWKS endpoint serves; a test may rotate it.
  let published: Array<Record<string, unknown>> = []
  // Verifications are reused for at most this long (short, so the rotation test can wait it out).
  const cacheTtlMillis = 300

  const sign = (
    claims: Record<string, unknown>,
    options: { iss?: string; aud?: string; exp?: string | number | null; key?: CryptoKey; kid?: string } = {}
  ) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: options.kid ?? "test-key" })
      .setSubject(String(claims["sub"] ?? "jwks-user"))
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? audience)
      .setIssuedAt()
    if (options.exp !== null) jwt.setExpirationTime(options.exp ?? "5m")
    return jwt.sign(options.key ?? privateKey)
  }

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256")
    privateKey = pair.privateKey
    published = [{ ...(await exportJWK(pair.publicKey)), kid: "test-key", alg: "RS256", use: "sig" }]
    jwks = createServer((_, response) => {
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({ keys: published }))
    })
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve))
    const address = jwks.address() as { port: number }
    jwksUrl = new URL(`http://127.0.0.1:${address.port}/.well-known/jwks.json`)
    server = await start(
      undefined,
      TokenVerifier.layerJwks({ url: jwksUrl, issuer, audience, maxTokenLifetime: "1 hour", cache: { ttl: cacheTtlMillis } })
    )
  })
  afterAll(async () => {
    await server.close()
    await new Promise((resolve) => jwks.close(resolve))
  })

  it("refuses a correctly signed token without exp, and one living longer than the configured bound", async () => {
    const forever = await sign({ sub: "oidc|forever" }, { exp: null })
    const noExp = await server.request("GET", "/v1/me", { token: forever })
    expect(noExp.status).toBe(401)
    expect(noExp.body.code).toBe("unauthenticated")
    const long = await sign({ sub: "oidc|long" }, { exp: "2h" })
    expect((await server.request("GET", "/v1/me", { token: long })).status).toBe(401)
    const withinBound = await sign({ sub: "oidc|long" }, { exp: "59m" })
    expect((await server.request("GET", "/v1/me", { token: withinBound })).status).toBe(200)
  })

  it("stops accepting a key removed from the JWKS once the verification cache's bound has passed", async () => {
    const rotated = await generateKeyPair("RS256")
    const previous = published
    published = [...previous, { ...(await exportJWK(rotated.publicKey)), kid: "rotated-key", alg: "RS256", use: "sig" }]
    // Outlive the key set the verifier holds, so it fetches the one with the new key.
    await new Promise((resolve) => setTimeout(resolve, cacheTtlMillis + 100))
    const token = await sign({ sub: "oidc|rotated" }, { key: rotated.privateKey, kid: "rotated-key" })
    expect((await server.request("GET", "/v1/me", { token })).status).toBe(200)
    // The provider revokes the key: the repeated token still verifies from the cache for a moment…
    published = previous
    expect((await server.request("GET", "/v1/me", { token })).status).toBe(200)
    // …and is refused once the cache's bound (also the key set's refetch interval) has passed.
    await new Promise((resolve) => setTimeout(resolve, cacheTtlMillis + 100))
    const refused = await server.request("GET", "/v1/me", { token })
    expect(refused.status).toBe(401)
  })

  it("accepts a token of the provider and provisions the user from its claims", async () => {
    const token = await sign({ sub: "oidc|42", email: "ada@example.com", name: "Ada", roles: ["organizer"] })
    const me = await server.request("GET", "/v1/me", { token })
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ subject: "oidc|42", email: "ada@example.com", name: "Ada" })
    const again = await server.request("GET", "/v1/me", { token })
    expect(again.body.id).toBe(me.body.id)
    const created = await server.request("POST", "/v1/events", { token, json: eventInput() })
    expect(created.status).toBe(201)
    expect(created.body.organizerId).toBe(me.body.id)
  })

  it("takes a single role claim and defaults to attendee", async () => {
    const admin = await sign({ sub: "oidc|admin", role: "admin" })
    expect((await server.request("GET", "/v1/users", { token: admin })).status).toBe(200)
    const plain = await sign({ sub: "oidc|plain" })
    expect((await server.request("GET", "/v1/users", { token: plain })).status).toBe(403)
    expect((await server.request("POST", "/v1/events", { token: plain, json: eventInput() })).status).toBe(403)
  })

  it("rejects development tokens, foreign audiences and issuers, expired tokens and other keys", async () => {
    const dev = await Effect.runPromise(DevKey.mint(testKey, { subject: "dev", roles: ["admin"] }))
    const otherKey = (await generateKeyPair("RS256")).privateKey
    const refused = [
      dev,
      await sign({ sub: "a" }, { aud: "someone-else" }),
      await sign({ sub: "a" }, { iss: DevKey.issuer }),
      await sign({ sub: "a" }, { exp: Math.floor(Date.now() / 1000) - 60 }),
      await sign({ sub: "a" }, { key: otherKey })
    ]
    for (const token of refused) {
      const response = await server.request("GET", "/v1/me", { token })
      expect(response.status).toBe(401)
      expect(response.body.code).toBe("unauthenticated")
    }
  })

  it("refuses to configure the development issuer", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(Layer.build(TokenVerifier.layerJwks({ url: jwksUrl, issuer: DevKey.issuer, audience })))
    )
    expect(Exit.isFailure(exit)).toBe(true)
  })
})

describe("development mode", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await start()
  })
  afterAll(() => server.close())

  it("accepts tokens of its key only", async () => {
    const good = await server.token("dev-user", "organizer")
    expect((await server.request("POST", "/v1/events", { token: good, json: eventInput() })).status).toBe(201)
    const otherKey = new TextEncoder().encode("another-secret-another-secret-000")
    const forged = await Effect.runPromise(DevKey.mint(otherKey, { subject: "dev-user", roles: ["admin"] }))
    expect((await server.request("GET", "/v1/me", { token: forged })).status).toBe(401)
    const expired = await Effect.runPromise(DevKey.mint(testKey, { subject: "dev-user", roles: [], expiresIn: "-1m" }))
    expect((await server.request("GET", "/v1/me", { token: expired })).status).toBe(401)
  })

  it("refuses a correctly signed token without exp; the CLI's tokens carry one", async () => {
    const forever = await new SignJWT({ roles: ["admin"] })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject("dev-forever")
      .setIssuer(DevKey.issuer)
      .setAudience(DevKey.audience)
      .setIssuedAt()
      .sign(testKey)
    const response = await server.request("GET", "/v1/me", { token: forever })
    expect(response.status).toBe(401)
    expect(response.body.code).toBe("unauthenticated")
    const minted = await Effect.runPromise(DevKey.mint(testKey, { subject: "dev-cli", roles: [] }))
    const payload = JSON.parse(Buffer.from(minted.split(".")[1]!, "base64url").toString("utf8"))
    expect(payload.exp - payload.iat).toBe(24 * 3600)
    expect((await server.request("GET", "/v1/me", { token: minted })).status).toBe(200)
  })

  it("reads roles from `roles` or `role`, ignoring unknown names", () => {
    expect(rolesOf({ roles: ["admin", "superuser"] })).toEqual(["admin"])
    expect(rolesOf({ role: "organizer" })).toEqual(["organizer"])
    expect(rolesOf({ roles: "admin" })).toEqual(["attendee"])
    expect(rolesOf({})).toEqual(["attendee"])
  })
})
