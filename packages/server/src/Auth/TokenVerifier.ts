/**
 * Verifies bearer tokens and extracts the claims the service uses.
 *
 * Every token must carry `exp`; in production mode its lifetime (`exp - iat`) is bounded too
 * (`AUTH_MAX_TOKEN_LIFETIME`). Verifications are remembered in a bounded cache ({@link cached}): a
 * token repeated by a client is verified once, then reused until its `exp` or the cache's time bound
 * (`AUTH_TOKEN_CACHE_TTL`), whichever comes first — so the rate limiter and the authentication middleware
 * of one request share one verification, and a key removed from the JWKS stops verifying within that
 * bound (the JWKS itself is refetched at the same bound). Whether the user still exists and is not
 * erased is checked on every request, by provisioning (`Auth/Provisioning.ts`).
 *
 * Two implementations: {@link TokenVerifier.layerDevelopment} (HS256 with the local development key)
 * and {@link TokenVerifier.layerJwks} (any OIDC provider: keys from its JWKS URL, issuer and audience
 * checked, asymmetric algorithms only, so a development token can never verify there).
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { LruStore } from "@live-events/cache"
import { Text, type User } from "@live-events/domain"
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose"
import { createSecretKey } from "node:crypto"
import * as ServerConfig from "../Config.ts"
import * as DevKey from "./DevKey.ts"
import * as Hs256 from "./Hs256.ts"

/** @since 0.1.0 */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  reason: Schema.String
}) {}

/** What a verified token tells us. @since 0.1.0 */
export interface VerifiedToken {
  readonly subject: string
  readonly roles: ReadonlyArray<User.Role>
  readonly email?: string | undefined
  readonly name?: string | undefined
  /** The `exp` claim, in seconds since the epoch. */
  readonly expiresAt: number
}

const knownRoles: ReadonlyArray<User.Role> = ["admin", "organizer", "attendee"]

/**
 * Roles from a `roles` array (or a single `role` string); unknown names are ignored and no role at
 * all means `attendee`.
 *
 * @since 0.1.0
 */
export const rolesOf = (payload: JWTPayload): ReadonlyArray<User.Role> => {
  const raw = Array.isArray(payload["roles"]) ? payload["roles"] : typeof payload["role"] === "string" ? [payload["role"]] : []
  const roles = knownRoles.filter((role) => raw.includes(role))
  return roles.length === 0 ? ["attendee"] : roles
}

const optionalString = (value: unknown, max: number): string | undefined =>
  typeof value === "string" && value.trim().length > 0 && value.length <= max ? value.trim() : undefined

/** The reason of a token whose claims hold text storage refuses (a NUL, a lone surrogate). @since 0.1.0 */
export const unstorableClaims = "the token carries claims that cannot be stored"

/**
 * The claims of a verified payload. A token without `exp` would be valid forever: refused. With
 * `maxLifetimeSeconds`, so is one whose `exp` lies further than that after its `iat` (or, without
 * `iat`, after now).
 *
 * @since 0.1.0
 */
export const fromPayload = (
  payload: JWTPayload,
  options: { readonly maxLifetimeSeconds?: number | undefined; readonly nowSeconds?: number | undefined } = {}
): Effect.Effect<VerifiedToken, InvalidToken> => {
  const subject = payload.sub
  if (typeof subject !== "string" || subject.length === 0 || subject.length > 255) {
    return Effect.fail(new InvalidToken({ reason: "the token has no usable sub claim" }))
  }
  const email = optionalString(payload["email"], 320)
  const name = optionalString(payload["name"], 200)
  if (![subject, email ?? "", name ?? ""].every(Text.isStorable)) {
    return Effect.fail(new InvalidToken({ reason: unstorableClaims }))
  }
  const exp = payload.exp
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    return Effect.fail(new InvalidToken({ reason: "the token has no exp claim" }))
  }
  if (options.maxLifetimeSeconds !== undefined) {
    const issuedAt = typeof payload.iat === "number" ? payload.iat : options.nowSeconds ?? Date.now() / 1000
    if (exp - issuedAt > options.maxLifetimeSeconds) {
      return Effect.fail(new InvalidToken({ reason: "the token lives longer than allowed" }))
    }
  }
  return Effect.succeed({
    subject,
    roles: rolesOf(payload),
    email,
    name,
    expiresAt: exp
  })
}

const verifyWith = (
  verify: (token: string) => Promise<{ readonly payload: JWTPayload }>,
  maxLifetimeSeconds?: number | undefined
) =>
(token: string) =>
  Effect.tryPromise({
    try: () => verify(token),
    catch: (error) =>
      new InvalidToken({ reason: error instanceof Error && "code" in error ? String(error.code) : "invalid token" })
  }).pipe(Effect.flatMap(({ payload }) => fromPayload(payload, { maxLifetimeSeconds })))

/** How the cache of verified tokens is bounded. @since 0.1.0 */
export interface CacheOptions {
  /** The longest a verification is reused (default 60 s); also how often the JWKS is refetched. */
  readonly ttl?: Duration.Input | undefined
  /** How many tokens are remembered (default 10,000); 0 turns the cache off. */
  readonly size?: number | undefined
}

/**
 * Remembers successful verifications of `verify` for at most `ttl` and never past the token's `exp`;
 * failures are not remembered. Bounded: past `size` entries the least recently used is dropped, in
 * constant time. (Dropping the oldest key of a `Map` through a fresh iterator, as this did first, skips
 * every slot deleted before it: with a new token per request — a rush of first registrations — that cost
 * about 10 µs per request once the cache was full.)
 *
 * @since 0.1.0
 */
export const cached = (
  verify: (token: string) => Effect.Effect<VerifiedToken, InvalidToken>,
  options: CacheOptions = {}
): (token: string) => Effect.Effect<VerifiedToken, InvalidToken> => {
  const size = options.size ?? 10_000
  if (size <= 0) return verify
  const ttlMillis = Duration.toMillis(Duration.fromInputUnsafe(options.ttl ?? Duration.seconds(60)))
  const entries = LruStore.make<{ readonly verified: VerifiedToken; readonly validUntil: number }>(size)
  return (token) =>
    Effect.withFiber((fiber) => {
      const clock = fiber.getRef(Clock.Clock)
      const hit = entries.get(token)
      if (hit !== undefined) {
        if (hit.validUntil > clock.currentTimeMillisUnsafe()) return Effect.succeed(hit.verified)
        entries.delete(token)
      }
      return Effect.map(verify(token), (verified) => {
        const now = clock.currentTimeMillisUnsafe()
        entries.set(token, { verified, validUntil: Math.min(verified.expiresAt * 1000, now + ttlMillis) })
        return verified
      })
    })
}

const asymmetric = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]

/**
 * @since 0.1.0
 */
export class TokenVerifier extends Context.Service<TokenVerifier, {
  readonly mode: "development" | "production"
  readonly verify: (token: string) => Effect.Effect<VerifiedToken, InvalidToken>
}>()("@live-events/server/TokenVerifier") {
  /**
   * HS256 with the given development key, issuer `live-events-dev`, audience `live-events`.
   *
   * @since 0.1.0
   */
  static readonly layerDevelopment = (key: Uint8Array, cache?: CacheOptions) =>
    Layer.sync(TokenVerifier, () => {
      // A KeyObject made once: handing jose raw bytes would import a new WebCrypto key on every request.
      const secretKey = createSecretKey(key)
      const expectations = { issuer: DevKey.issuer, audience: DevKey.audience }
      // Synchronous HMAC (`Hs256.ts`): jose's WebCrypto path costs a promise and an async digest per token.
      const verify = (token: string) =>
        Effect.withFiber<VerifiedToken, InvalidToken>((fiber) => {
          const nowSeconds = Math.floor(fiber.getRef(Clock.Clock).currentTimeMillisUnsafe() / 1000)
          const verification = Hs256.verify(secretKey, token, expectations, nowSeconds)
          return verification._tag === "Invalid"
            ? Effect.fail(new InvalidToken({ reason: verification.reason }))
            : fromPayload(verification.payload, { nowSeconds })
        })
      return { mode: "development" as const, verify: cached(verify, cache) }
    })

  /**
   * Keys from a JWKS URL (cached and refreshed by jose), issuer and audience checked.
   *
   * @since 0.1.0
   */
  static readonly layerJwks = (options: {
    readonly url: URL
    readonly issuer: string
    readonly audience: string
    /** The longest `exp - iat` accepted (default 24 hours). */
    readonly maxTokenLifetime?: Duration.Input | undefined
    readonly cache?: CacheOptions | undefined
  }) =>
    Layer.effect(
      TokenVerifier,
      Effect.gen(function*() {
        if (options.issuer === DevKey.issuer) {
          return yield* Effect.die(new Error(`AUTH_ISSUER must not be the development issuer "${DevKey.issuer}"`))
        }
        // The key set is refetched at the cache's bound, so a removed key stops verifying within it.
        const ttlMillis = Duration.toMillis(Duration.fromInputUnsafe(options.cache?.ttl ?? Duration.seconds(60)))
        const keys = createRemoteJWKSet(options.url, {
          cacheMaxAge: ttlMillis,
          cooldownDuration: Math.min(30_000, ttlMillis)
        })
        const maxLifetimeSeconds = Duration.toSeconds(Duration.fromInputUnsafe(options.maxTokenLifetime ?? Duration.hours(24)))
        return TokenVerifier.of({
          mode: "production",
          verify: cached(
            verifyWith(
              (token) => jwtVerify(token, keys, { issuer: options.issuer, audience: options.audience, algorithms: asymmetric }),
              maxLifetimeSeconds
            ),
            options.cache
          )
        })
      })
    )

  /**
   * `AUTH_MODE=production` → {@link layerJwks} from `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`,
   * `AUTH_MAX_TOKEN_LIFETIME`; otherwise (the default) → {@link layerDevelopment} with {@link DevKey.secret}.
   *
   * @since 0.1.0
   */
  static readonly layerConfig = Layer.unwrap(Effect.gen(function*() {
    const mode = yield* ServerConfig.authMode
    const cache = yield* ServerConfig.tokenCache
    if (mode === "production") return TokenVerifier.layerJwks({ ...(yield* ServerConfig.jwks), cache })
    return TokenVerifier.layerDevelopment(yield* DevKey.secret, cache)
  }))
}
