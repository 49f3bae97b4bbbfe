/**
 * The keyring from configuration: production refuses to start without keys or with a malformed one,
 * and says which variable is wrong without quoting key material; development derives a stable keyring
 * from the development secret.
 */
import { NodeServices } from "@effect/platform-node"
import { PersonalDataKeys } from "@live-events/sql"
import { ConfigProvider, Effect, Exit, Redacted, References } from "effect"
import { randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import * as Keyring from "../src/Privacy/Keyring.ts"

const key = () => randomBytes(32).toString("base64")
const load = (env: Record<string, string>) =>
  Effect.runPromiseExit(Keyring.fromConfig.pipe(
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))),
    Effect.provide(NodeServices.layer),
    Effect.provideService(References.MinimumLogLevel, "Error")
  ))
const failure = async (env: Record<string, string>) => {
  const exit = await load(env)
  if (Exit.isSuccess(exit)) throw new Error("expected the keyring to be refused")
  return String(exit.cause)
}

describe("keyring from configuration", () => {
  it("refuses production without keys, naming both variables", async () => {
    expect(await failure({ AUTH_MODE: "production" })).toMatch(/PERSONAL_DATA_KEYS and EMAIL_INDEX_KEYS are required in production/)
  })

  it("refuses malformed keys without quoting them", async () => {
    const short = randomBytes(16).toString("base64")
    const message = await failure({ AUTH_MODE: "production", PERSONAL_DATA_KEYS: `k1=${short}`, EMAIL_INDEX_KEYS: `i1=${key()}` })
    expect(message).toMatch(/PERSONAL_DATA_KEYS: key "k1" is not 32 bytes of base64/)
    expect(message).not.toContain(short)
    expect(await failure({ PERSONAL_DATA_KEYS: `k1=${key()}`, EMAIL_INDEX_KEYS: `i1=${key()}`, PERSONAL_DATA_ACTIVE_KEY: "k9" }))
      .toMatch(/active key "k9" is not among its keys/)
    expect(await failure({ PERSONAL_DATA_KEYS: `k1=${key()}` })).toMatch(/one of them is missing/)
    expect(await failure({ PERSONAL_DATA_KEYS: `k1=${key()},k1=${key()}`, EMAIL_INDEX_KEYS: `i1=${key()}` })).toMatch(/appears twice/)
  })

  it("takes several keys with the active one named, and hides them when printed", async () => {
    const [k1, k2] = [key(), key()]
    const exit = await load({
      AUTH_MODE: "production",
      PERSONAL_DATA_KEYS: `k1=${k1}, k2=${k2}`,
      PERSONAL_DATA_ACTIVE_KEY: "k2",
      EMAIL_INDEX_KEYS: `i1=${key()}`
    })
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    const keyring = exit.value
    expect([keyring.data.active, [...keyring.data.keys.keys()], keyring.index.active]).toEqual(["k2", ["k1", "k2"], "i1"])
    expect(Buffer.from(Redacted.value(keyring.data.keys.get("k1")!)).toString("base64")).toBe(k1)
    expect(JSON.stringify([...keyring.data.keys.values()]) + String(keyring.data.keys.get("k2"))).not.toContain(k2)
  })

  it("derives a stable keyring from the development secret", async () => {
    const first = await load({ AUTH_DEV_SECRET: "a development secret of the tests" })
    const again = await load({ AUTH_DEV_SECRET: "a development secret of the tests" })
    if (Exit.isFailure(first) || Exit.isFailure(again)) throw new Error("development keyring refused")
    const dataKey = PersonalDataKeys.newDataKey()
    expect(PersonalDataKeys.unwrap(again.value, PersonalDataKeys.wrap(first.value, dataKey)).export()).toEqual(dataKey.export())
    expect(PersonalDataKeys.emailIndex(first.value, "A@x.org")).toBe(PersonalDataKeys.emailIndex(again.value, " a@X.org"))
  })
})

describe("sealing switched off for a benchmark", () => {
  it("is refused in production mode and marks the keyring otherwise", async () => {
    expect(await failure({ AUTH_MODE: "production", PERSONAL_DATA_SEALING: "off", PERSONAL_DATA_KEYS: `k1=${key()}`, EMAIL_INDEX_KEYS: `i1=${key()}` }))
      .toMatch(/refused in production mode/)
    const exit = await load({ AUTH_DEV_SECRET: "a development secret of the tests", PERSONAL_DATA_SEALING: "off" })
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    expect(exit.value.unsealed).toBe(true)
  })
})
