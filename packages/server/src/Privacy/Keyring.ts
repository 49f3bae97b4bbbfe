/**
 * The keyring personal data is sealed with, from configuration:
 * - `PERSONAL_DATA_KEYS` (`<id>=<base64 of 32 bytes>,…`) wraps each person's data key, and
 *   `PERSONAL_DATA_ACTIVE_KEY` names the one new data keys are wrapped with (default: the first);
 * - `EMAIL_INDEX_KEYS` / `EMAIL_INDEX_ACTIVE_KEY`, the same for the blind index of emails.
 *
 * Production mode (`AUTH_MODE=production`) refuses to start without both, or with a malformed one. In
 * development both are derived from the development signing secret (`AUTH_DEV_SECRET` or
 * `<DATA_DIR>/dev-secret`, generated once), so a development database stays readable across restarts
 * and the CLI opens what the server sealed. Key material is `Redacted` from the environment on, and no
 * message ever quotes it.
 *
 * `PERSONAL_DATA_SEALING=off` exists for benchmarks only (pricing sealing within one run): new rows are
 * written in plain text, as before sealing existed, until a rotation seals them. Production mode
 * refuses it.
 *
 * @since 0.1.0
 */
import { PersonalDataKeys } from "@live-events/sql"
import { Effect, Option, Redacted } from "effect"
import * as DevKey from "../Auth/DevKey.ts"
import * as ServerConfig from "../Config.ts"

const parse = (name: string, spec: Redacted.Redacted<string>, active: Option.Option<string>) => {
  const ring = PersonalDataKeys.parseRing(name, Redacted.value(spec), Option.getOrUndefined(active))
  return ring instanceof PersonalDataKeys.KeyringInvalid ? Effect.fail(ring) : Effect.succeed(ring)
}

/**
 * The configured keyring (see the module comment); fails with `KeyringInvalid` naming the variable.
 *
 * @since 0.1.0
 */
export const fromConfig = Effect.gen(function*() {
  const config = yield* ServerConfig.personalDataKeys
  const mode = yield* ServerConfig.authMode
  if (config.sealing === "off") {
    if (mode === "production") {
      return yield* new PersonalDataKeys.KeyringInvalid({
        message: "PERSONAL_DATA_SEALING=off is for benchmarks and refused in production mode"
      })
    }
    yield* Effect.logWarning("PERSONAL_DATA_SEALING=off: personal data is written in plain text (benchmarks only)")
    return { ...(yield* configured), unsealed: true } satisfies PersonalDataKeys.Keyring
  }
  return yield* configured
})

const configured = Effect.gen(function*() {
  const config = yield* ServerConfig.personalDataKeys
  const mode = yield* ServerConfig.authMode
  if (Option.isNone(config.dataKeys) && Option.isNone(config.indexKeys)) {
    if (mode === "production") {
      return yield* new PersonalDataKeys.KeyringInvalid({
        message: "PERSONAL_DATA_KEYS and EMAIL_INDEX_KEYS are required in production mode " +
          "(`live-events keys generate` prints a new key)"
      })
    }
    return PersonalDataKeys.fromSecret(yield* DevKey.secret)
  }
  if (Option.isNone(config.dataKeys) || Option.isNone(config.indexKeys)) {
    return yield* new PersonalDataKeys.KeyringInvalid({
      message: "PERSONAL_DATA_KEYS and EMAIL_INDEX_KEYS are set together (one of them is missing)"
    })
  }
  const data = yield* parse("PERSONAL_DATA_KEYS", config.dataKeys.value, config.activeDataKey)
  const index = yield* parse("EMAIL_INDEX_KEYS", config.indexKeys.value, config.activeIndexKey)
  return { data, index } satisfies PersonalDataKeys.Keyring
})
