/**
 * The synchronous HS256 verifier of development tokens (`Auth/Hs256.ts`) against jose, on valid
 * tokens and on every way we know to get one wrong: both must accept and refuse the same tokens, but
 * for one place where this verifier is stricter.
 */
import { jwtVerify } from "jose"
import { createHmac, createSecretKey } from "node:crypto"
import { describe, expect, it } from "vitest"
import * as Hs256 from "../src/Auth/Hs256.ts"

const secret = Buffer.from("a-development-secret-of-enough-length")
const key = createSecretKey(secret)
const expectations = { issuer: "live-events-dev", audience: "live-events" }
const now = 1_900_000_000

const segment = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url")
const sign = (input: string, algorithm = "sha256", withKey: Buffer = secret) =>
  createHmac(algorithm, withKey).update(input).digest("base64url")
const token = (
  payload: unknown,
  header: unknown = { alg: "HS256", typ: "JWT" },
  options: { readonly algorithm?: string; readonly key?: Buffer } = {}
) => {
  const input = `${segment(header)}.${segment(payload)}`
  return `${input}.${sign(input, options.algorithm, options.key)}`
}
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: expectations.issuer,
  aud: expectations.audience,
  sub: "someone",
  iat: now - 10,
  exp: now + 600,
  ...extra
})

const valid = token(claims())
const cases: Record<string, string> = {
  valid,
  "audience in a list": token(claims({ aud: ["other", expectations.audience] })),
  "not yet valid": token(claims({ nbf: now + 60 })),
  "valid since": token(claims({ nbf: now - 60 })),
  expired: token(claims({ exp: now - 1 })),
  "expiring now": token(claims({ exp: now })),
  "exp as text": token(claims({ exp: String(now + 600) })),
  "iat as text": token(claims({ iat: "yesterday" })),
  "nbf as text": token(claims({ nbf: "soon" })),
  "other issuer": token(claims({ iss: "someone-else" })),
  "other audience": token(claims({ aud: "elsewhere" })),
  "audience list without ours": token(claims({ aud: ["a", "b"] })),
  "other key": token(claims(), undefined, { key: Buffer.from("another-secret-of-enough-length!!") }),
  "alg none": `${segment({ alg: "none" })}.${segment(claims())}.`,
  "alg HS512": token(claims(), { alg: "HS512" }, { algorithm: "sha512" }),
  "alg HS384": token(claims(), { alg: "HS384" }, { algorithm: "sha384" }),
  "critical header": token(claims(), { alg: "HS256", crit: ["exp"], exp: 1 }),
  "unencoded payload": token(claims(), { alg: "HS256", b64: false, crit: ["b64"] }),
  "payload is an array": token([claims()]),
  "payload is not JSON": token("not json"),
  "header is not JSON": `${segment("nope")}.${segment(claims())}.${sign(`${segment("nope")}.${segment(claims())}`)}`,
  "tampered payload": `${valid.split(".")[0]}.${segment(claims({ sub: "admin" }))}.${valid.split(".")[2]}`,
  "truncated signature": valid.slice(0, -2),
  "padded signature": `${valid}=`,
  "extra segment": `${valid}.x`,
  "two segments": valid.split(".").slice(0, 2).join("."),
  "empty header": `.${valid.split(".").slice(1).join(".")}`,
  "spaces inside": valid.replace(".", ". "),
  empty: ""
}

const jose = async (candidate: string): Promise<boolean> =>
  jwtVerify(candidate, key, { ...expectations, algorithms: ["HS256"], currentDate: new Date(now * 1000) }).then(
    () => true,
    () => false
  )

describe("HS256 development tokens", () => {
  it("accepts and refuses the tokens jose accepts and refuses, but for padding, which it refuses", async () => {
    const disagreements: Array<string> = []
    for (const [name, candidate] of Object.entries(cases)) {
      const ours = Hs256.verify(key, candidate, expectations, now)._tag === "Valid"
      if (ours !== await jose(candidate)) disagreements.push(`${name}: ours ${ours ? "accepts" : "refuses"}`)
    }
    // RFC 7515 encodes without padding; jose tolerates a trailing `=`, this verifier does not.
    expect(disagreements).toEqual(["padded signature: ours refuses"])
  })

  it("accepts the valid ones and refuses the rest", () => {
    const accepted = Object.entries(cases)
      .filter(([, candidate]) => Hs256.verify(key, candidate, expectations, now)._tag === "Valid")
      .map(([name]) => name)
    expect(accepted.sort()).toEqual(["audience in a list", "valid", "valid since"])
  })

  it("returns the payload's claims", () => {
    const verification = Hs256.verify(key, valid, expectations, now)
    expect(verification._tag === "Valid" && verification.payload.sub).toBe("someone")
  })
})
