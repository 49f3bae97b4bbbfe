/**
 * The development signing key: HS256 over the UTF-8 bytes of `AUTH_DEV_SECRET`, or of a random secret
 * generated once and kept at `<DATA_DIR>/dev-secret` so that the server and the `live-events token`
 * CLI agree without any setup. Development tokens carry the issuer {@link issuer}, which production
 * mode never accepts.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Option, Path, Redacted } from "effect"
import { SignJWT } from "jose"
import * as ServerConfig from "../Config.ts"

/** @since 0.1.0 */
export const issuer = "live-events-dev"
/** @since 0.1.0 */
export const audience = "live-events"

const encoder = new TextEncoder()

const randomSecret = () => Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString("base64url")

/**
 * The key bytes: from `AUTH_DEV_SECRET`, else read from (or first written to) `<DATA_DIR>/dev-secret`.
 *
 * @since 0.1.0
 */
export const secret = Effect.gen(function*() {
  const configured = yield* ServerConfig.devSecret
  if (Option.isSome(configured)) return encoder.encode(Redacted.value(configured.value))
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* ServerConfig.dataDir
  const file = path.join(dir, "dev-secret")
  yield* fs.makeDirectory(dir, { recursive: true })
  // "wx" creates exclusively: when the server and the CLI race, one writes and both read the winner.
  yield* fs.writeFileString(file, randomSecret(), { flag: "wx", mode: 0o600 }).pipe(
    Effect.catchIf((error) => error.reason._tag === "AlreadyExists", () => Effect.void)
  )
  const text = (yield* fs.readFileString(file)).trim()
  return encoder.encode(text)
})

/** @since 0.1.0 */
export interface MintOptions {
  readonly subject: string
  readonly roles: ReadonlyArray<string>
  readonly email?: string | undefined
  readonly name?: string | undefined
  /** Lifetime, e.g. "24h" (jose time span). */
  readonly expiresIn?: string | undefined
}

/**
 * Signs a development token.
 *
 * @since 0.1.0
 */
export const mint = (key: Uint8Array, options: MintOptions): Effect.Effect<string> =>
  Effect.promise(() =>
    new SignJWT({
      roles: [...options.roles],
      ...(options.email !== undefined ? { email: options.email } : {}),
      ...(options.name !== undefined ? { name: options.name } : {})
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(options.subject)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? "24h")
      .sign(key)
  )
