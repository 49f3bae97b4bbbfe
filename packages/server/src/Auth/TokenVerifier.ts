/**
 * Verifies bearer tokens and extracts the claims the service uses.
 *
 * Two implementations: {@link TokenVerifier.layerDevelopment} (HS256 with the local development key)
 * and {@link TokenVerifier.layerJwks} (any OIDC provider: keys from its JWKS URL, issuer and audience
 * checked, asymmetric algorithms only, so a development token can never verify there).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { User } from "@live-events/domain"
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose"
import { createSecretKey } from "node:crypto"
import * as ServerConfig from "../Config.ts"
import * as DevKey from "./DevKey.ts"

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

/** @since 0.1.0 */
export const fromPayload = (payload: JWTPayload): Effect.Effect<VerifiedToken, InvalidToken> => {
  const subject = payload.sub
  if (typeof subject !== "string" || subject.length === 0 || subject.length > 255) {
    return Effect.fail(new InvalidToken({ reason: "the token has no usable sub claim" }))
  }
  return Effect.succeed({
    subject,
    roles: rolesOf(payload),
    email: optionalString(payload["email"], 320),
    name: optionalString(payload["name"], 200)
  })
}

const verifyWith = (verify: (token: string) => Promise<{ readonly payload: JWTPayload }>) => (token: string) =>
  Effect.tryPromise({
    try: () => verify(token),
    catch: (error) =>
      new InvalidToken({ reason: error instanceof Error && "code" in error ? String(error.code) : "invalid token" })
  }).pipe(Effect.flatMap(({ payload }) => fromPayload(payload)))

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
  static readonly layerDevelopment = (key: Uint8Array) =>
    Layer.sync(TokenVerifier, () => {
      // A KeyObject made once: handing jose raw bytes would import a new WebCrypto key on every request.
      const secretKey = createSecretKey(key)
      return {
        mode: "development" as const,
        verify: verifyWith((token) =>
          jwtVerify(token, secretKey, { issuer: DevKey.issuer, audience: DevKey.audience, algorithms: ["HS256"] })
        )
      }
    })

  /**
   * Keys from a JWKS URL (cached and refreshed by jose), issuer and audience checked.
   *
   * @since 0.1.0
   */
  static readonly layerJwks = (options: { readonly url: URL; readonly issuer: string; readonly audience: string }) =>
    Layer.effect(
      TokenVerifier,
      Effect.gen(function*() {
        if (options.issuer === DevKey.issuer) {
          return yield* Effect.die(new Error(`AUTH_ISSUER must not be the development issuer "${DevKey.issuer}"`))
        }
        const keys = createRemoteJWKSet(options.url)
        return TokenVerifier.of({
          mode: "production",
          verify: verifyWith((token) =>
            jwtVerify(token, keys, { issuer: options.issuer, audience: options.audience, algorithms: asymmetric })
          )
        })
      })
    )

  /**
   * `AUTH_MODE=production` → {@link layerJwks} from `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`;
   * otherwise (the default) → {@link layerDevelopment} with {@link DevKey.secret}.
   *
   * @since 0.1.0
   */
  static readonly layerConfig = Layer.unwrap(Effect.gen(function*() {
    const mode = yield* ServerConfig.authMode
    if (mode === "production") return TokenVerifier.layerJwks(yield* ServerConfig.jwks)
    return TokenVerifier.layerDevelopment(yield* DevKey.secret)
  }))
}
