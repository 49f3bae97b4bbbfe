/**
 * The `live-events` command line:
 *
 * - `live-events token --sub alice --role admin [--role organizer] [--email a@x] [--name Alice] [--ttl 24h]`
 *   prints a development token, alone, on stdout (signed with the same key the server uses in
 *   development mode: `AUTH_DEV_SECRET`, else `<DATA_DIR>/dev-secret`).
 * - `live-events serve` runs the server as `npm start` does.
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { parseArgs } from "node:util"
import * as DevKey from "./Auth/DevKey.ts"
import * as Server from "./Server.ts"

const usage = `Usage:
  live-events token --sub <subject> [--role admin|organizer|attendee]... [--email <email>] [--name <name>] [--ttl 24h]
  live-events serve`

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

const main = (argv: ReadonlyArray<string>): Effect.Effect<void, unknown> => {
  const [command, ...rest] = argv
  switch (command) {
    case "token":
      return token(rest)
    case "serve":
      return Layer.launch(Server.layerConfig)
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
