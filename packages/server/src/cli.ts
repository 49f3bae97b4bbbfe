/**
 * The `live-events` command line:
 *
 * - `live-events token --sub alice --role admin [--role organizer] [--email a@x] [--name Alice] [--ttl 24h]`
 *   prints a development token, alone, on stdout (signed with the same key the server uses in
 *   development mode: `AUTH_DEV_SECRET`, else `<DATA_DIR>/dev-secret`).
 * - `live-events serve` runs the server as `npm start` does.
 * - `live-events keys rotate [--batch-size 200]` brings every stored row onto the active keys of
 *   `PERSONAL_DATA_KEYS` / `EMAIL_INDEX_KEYS` (and seals rows written before sealing existed), in small
 *   batches while the servers keep running; progress on stderr; safe to kill and run again.
 * - `live-events keys status` prints the rows per key and which old keys can be retired.
 * - `live-events keys generate [--id k2]` prints a new random key entry (`<id>=<base64>`).
 *
 * The `keys` commands use the same database settings as the server (`DATABASE_URL`, else the embedded
 * database under `DATA_DIR`, which only one process can open: stop the server first, or use the admin
 * route `POST /v1/admin/keys/rotate`).
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { KeyRotation } from "@live-events/sql"
import { Console, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { parseArgs, type ParseArgsOptionsConfig } from "node:util"
import * as DevKey from "./Auth/DevKey.ts"
import * as KeysStore from "./Privacy/KeysStore.ts"
import * as Server from "./Server.ts"

const usage = `Usage:
  live-events token --sub <subject> [--role admin|organizer|attendee]... [--email <email>] [--name <name>] [--ttl 24h]
  live-events serve
  live-events keys rotate [--batch-size 200]
  live-events keys status
  live-events keys generate [--id <key id>]`

const roles = new Set(["admin", "organizer", "attendee"])

class UsageError extends Error {}

const token = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { values } = yield* Effect.try({
      try: () =>
        parseArgs({
          args: [...args],
          options: {
            sub: { type: "string" },
            role: { type: "string", multiple: true },
            email: { type: "string" },
            name: { type: "string" },
            ttl: { type: "string" }
          },
          strict: true
        }),
      catch: (error) => new UsageError(error instanceof Error ? error.message : String(error))
    })
    if (values.sub === undefined || values.sub.length === 0) return yield* Effect.fail(new UsageError("--sub is required"))
    const requested = values.role ?? ["attendee"]
    const unknown = requested.filter((role) => !roles.has(role))
    if (unknown.length > 0) return yield* Effect.fail(new UsageError(`unknown role: ${unknown.join(", ")}`))
    const key = yield* DevKey.secret
    const jwt = yield* DevKey.mint(key, {
      subject: values.sub,
      roles: requested,
      email: values.email,
      name: values.name,
      expiresIn: values.ttl
    })
    yield* Console.log(jwt)
  }).pipe(Effect.provide(NodeServices.layer))

const parse = <const Options extends ParseArgsOptionsConfig>(args: ReadonlyArray<string>, options: Options) =>
  Effect.try({
    try: () => parseArgs({ args: [...args], options, strict: true }),
    catch: (error) => new UsageError(error instanceof Error ? error.message : String(error))
  })

const describeStatus = (status: KeyRotation.Status) => {
  const counts = (record: Readonly<Record<string, number>>) =>
    Object.entries(record).map(([id, n]) => `${id}: ${n}`).join(", ") || "none"
  return [
    `data keys by keyring key:    ${counts(status.dataKeys)}`,
    `email index by index key:    ${counts(status.emailIndex)}`,
    `stored responses by key:     ${counts(status.responses)}`,
    `users not sealed yet:        ${status.plaintextUsers}`,
    `registration notes in plain: ${status.plaintextNotes}`,
    `rows a rotation would change: ${status.pending}`,
    `retirable data keys:  ${status.retirable.data.join(", ") || "none"}`,
    `retirable index keys: ${status.retirable.index.join(", ") || "none"}`
  ].join("\n")
}

const keys = (args: ReadonlyArray<string>) => {
  const [subcommand, ...rest] = args
  switch (subcommand) {
    case "generate":
      return Effect.gen(function*() {
        const { values } = yield* parse(rest, { id: { type: "string" } })
        yield* Console.log(`${values.id ?? "k1"}=${randomBytes(32).toString("base64")}`)
      })
    case "status":
      return Effect.gen(function*() {
        yield* parse(rest, {})
        const rotation = yield* KeyRotation.make
        yield* Console.log(describeStatus(yield* rotation.status))
      }).pipe(Effect.provide(KeysStore.layerConfig), Effect.provide(NodeServices.layer))
    case "rotate":
      return Effect.gen(function*() {
        const { values } = yield* parse(rest, { "batch-size": { type: "string" } })
        const batchSize = values["batch-size"] === undefined ? 200 : Number(values["batch-size"])
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
          return yield* Effect.fail(new UsageError("--batch-size is a whole number of rows, 1 to 10000"))
        }
        const rotation = yield* KeyRotation.make
        const totals = yield* rotation.rotate({
          batchSize,
          onProgress: (progress) =>
            Console.error(`keys rotate: ${progress.phase}: ${progress.done} done, ${progress.remaining} left`)
        })
        yield* Console.error(`keys rotate: done (${Object.entries(totals).map(([phase, n]) => `${phase} ${n}`).join(", ")})`)
        yield* Console.log(describeStatus(yield* rotation.status))
      }).pipe(Effect.provide(KeysStore.layerConfig), Effect.provide(NodeServices.layer))
    default:
      return Effect.fail(new UsageError(subcommand === undefined ? "keys: no subcommand" : `keys: unknown subcommand: ${subcommand}`))
  }
}

const main = (argv: ReadonlyArray<string>): Effect.Effect<void, unknown> => {
  const [command, ...rest] = argv
  switch (command) {
    case "token":
      return token(rest)
    case "serve":
      return Layer.launch(Server.layerConfig)
    case "keys":
      return keys(rest)
    default:
      return Effect.fail(new UsageError(command === undefined ? "no command" : `unknown command: ${command}`))
  }
}

main(process.argv.slice(2)).pipe(
  Effect.catchIf(
    (error: unknown): error is UsageError => error instanceof UsageError,
    (error) =>
      Console.error(`live-events: ${error.message}\n${usage}`).pipe(
        Effect.andThen(Effect.sync(() => {
          process.exitCode = 2
        }))
      )
  ),
  NodeRuntime.runMain
)
