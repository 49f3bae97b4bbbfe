/**
 * GraphQL over WebSocket with the `graphql-transport-ws` protocol of the `graphql-ws` package, on the
 * `/graphql` path: the package's protocol core (`makeServer`) over the socket of Effect's HTTP upgrade,
 * so the connection goes through the same router, middleware and rate limits as every request.
 *
 * - The caller authenticates in `connection_init` (`{ authorization: "Bearer …" }`, or `{ token }`);
 *   a refused token closes the socket with 4403 before anything runs, no token is anonymous.
 * - The socket closes with 4401 when the token expires and 4403 when the person is erased (seen on the
 *   live feed, from any process): a subscription never outlives the right to it.
 * - A connection takes a live-stream slot of its client (as `/v1/…/live` streams do) and holds at most
 *   `GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION` operations at once; documents pass the same limits as
 *   over HTTP.
 *
 * @since 0.2.0
 */
import { Clock, Deferred, Duration, Effect, Stream } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { Socket } from "effect/socket"
import type { ExecutionResult, FormattedExecutionResult } from "graphql"
import { CloseCode, makeServer } from "graphql-ws"
import type { ProvisionedUsers } from "../Auth/Provisioning.ts"
import type { TokenVerifier } from "../Auth/TokenVerifier.ts"
import type { User } from "@live-events/domain"
import { LiveFeed } from "@live-events/engine"
import type * as StreamLimits from "../Live/StreamLimits.ts"
import * as Authentication from "./Authentication.ts"
import * as Engine from "./Engine.ts"
import * as Errors from "./Errors.ts"
import * as Execution from "./Execution.ts"

/** Why the server closes a connection it had accepted. @since 0.2.0 */
export const closeCodes = {
  tokenExpired: CloseCode.Unauthorized,
  userErased: CloseCode.Forbidden
} as const

interface Extra {
  /** Set once `connection_init` is accepted: the caller (undefined: anonymous). */
  connected: { readonly actor: User.Actor | undefined } | undefined
}

const decoder = new TextDecoder()

const bearerOf = (params: Readonly<Record<string, unknown>> | undefined): unknown => {
  if (params === undefined) return undefined
  if (params.authorization !== undefined) return params.authorization
  return typeof params.token === "string" && params.token !== "" ? `Bearer ${params.token}` : params.token
}

/** Waits until the caller's token expires or the person is erased; answers the close to send. */
const revocation = (caller: Authentication.Caller) =>
  Effect.gen(function*() {
    const feed = yield* LiveFeed.LiveFeed
    const now = yield* Clock.currentTimeMillis
    const expiry = Effect.as(
      Effect.sleep(Duration.millis(Math.max(0, caller.expiresAt * 1000 - now))),
      new Socket.CloseEvent(closeCodes.tokenExpired, "Token expired")
    )
    const erasure = Effect.scoped(Effect.gen(function*() {
      const items = yield* feed.subscribe()
      yield* Stream.runHead(Stream.filter(items, (item) =>
        item._tag === "Message" && item.message.type === "UserErased" && item.message.aggregateId === caller.actor.userId
      ))
      return new Socket.CloseEvent(closeCodes.userErased, "User erased")
    }))
    return yield* Effect.raceFirst(expiry, erasure)
  })

/**
 * Serves one upgraded connection until it closes.
 *
 * @since 0.2.0
 */
export const serve = (engine: Engine.GraphQLEngine["Service"], limits: StreamLimits.StreamLimits) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const slot = yield* limits.acquire(undefined)
    if (!("release" in slot)) return slot
    yield* Effect.addFinalizer(() => slot.release)
    const services = yield* Effect.context<Execution.Services | TokenVerifier | ProvisionedUsers>()
    const runPromise = Effect.runPromiseWith(services)
    const socket = yield* request.upgrade
    const writer = yield* socket.writer
    const connected = yield* Deferred.make<Authentication.Caller | undefined>()
    // Completed when the connection ends, whoever ends it: every subscription of it stops then, rather
    // than waiting on the protocol's own clean-up of each iterator.
    const ended = yield* Deferred.make<void>()
    // Set when this side closes the socket: the read loop does not always see its own close.
    const closedHere = yield* Deferred.make<Socket.CloseEvent>()
    const write = (data: string | Socket.CloseEvent) =>
      Effect.andThen(
        writer.write(data),
        Socket.isCloseEvent(data) ? Deferred.succeed(closedHere, data) : Effect.void
      )
    // A write to a socket the client already closed has no one to tell: the read loop ends it.
    const send = (data: string | Socket.CloseEvent) =>
      runPromise(Effect.catch(write(data), (error) => Effect.logDebug("GraphQL socket write failed", error)))
    const maxSubscriptions = engine.limits.maxSubscriptionsPerConnection
    const operations = new Map<string, Deferred.Deferred<void>>()
    // A client's `complete` stops its operation's stream here, before the protocol core returns the
    // operation's iterator (which waits on the stream).
    const completing = (text: string) => {
      if (!text.includes("complete")) return
      try {
        const message = JSON.parse(text) as { readonly type?: unknown; readonly id?: unknown }
        if (message.type !== "complete" || typeof message.id !== "string") return
        const done = operations.get(message.id)
        operations.delete(message.id)
        if (done !== undefined) Deferred.doneUnsafe(done, Effect.void)
      } catch {
        // Not JSON: the protocol core closes the socket with 4400.
      }
    }

    const server = makeServer<Record<string, unknown>, Extra>({
      onConnect: async (ctx) => {
        const authenticated = await runPromise(Authentication.authenticate(bearerOf(ctx.connectionParams)))
        if (authenticated._tag === "Refused") return false
        const caller = authenticated._tag === "Caller" ? authenticated.caller : undefined
        ctx.extra.connected = { actor: caller?.actor }
        Deferred.doneUnsafe(connected, Effect.succeed(caller))
        return true
      },
      onSubscribe: (ctx, id, payload) => {
        // The operation being subscribed is already counted in `subscriptions`.
        if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
          return [Errors.request(429, "too-many-subscriptions", `At most ${maxSubscriptions} operations per connection`)]
        }
        const prepared = engine.prepare(payload)
        if (prepared._tag === "Rejected") return prepared.errors
        const variables = engine.variablesOf(payload.variables)
        if (variables._tag === "Rejected") return variables.errors
        // An operation ends with its connection, or when the client completes it (see the read loop).
        const done = Deferred.makeUnsafe<void>()
        operations.set(id, done)
        const ends = Effect.raceFirst(Deferred.await(ended), Deferred.await(done))
        return engine.argsOf(prepared, variables.values, Execution.make(services, ctx.extra.connected?.actor, ends))
      },
      onComplete: (_ctx, id) => {
        operations.delete(id)
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        Engine.format(result as ExecutionResult) as unknown as FormattedExecutionResult
    })

    let onMessage: ((data: string) => Promise<void>) | undefined
    const closed = server.opened({
      protocol: (request.headers["sec-websocket-protocol"] ?? "").split(",")[0]!.trim(),
      send: (data) => send(data),
      close: (code, reason) => send(new Socket.CloseEvent(code, reason)),
      // Each message is handled on its own: a subscription's handler runs for as long as it streams.
      onMessage: (callback) => {
        onMessage = callback
      }
    }, { connected: undefined })

    yield* Deferred.await(connected).pipe(
      Effect.flatMap((caller) => caller === undefined ? Effect.never : revocation(caller)),
      Effect.flatMap((close) => write(close)),
      Effect.ignore,
      Effect.forkScoped
    )

    const reader = yield* socket.reader
    const readLoop = Effect.forever(Effect.flatMap(reader.pull, (messages) =>
      Effect.sync(() => {
        for (const message of messages) {
          const text = typeof message === "string" ? message : decoder.decode(message)
          completing(text)
          onMessage?.(text).catch((error: unknown) => runPromise(Effect.logWarning("GraphQL socket message failed", error)))
        }
      }))).pipe(
        Effect.catch((error) =>
          Effect.succeed(
            error.reason._tag === "SocketCloseError"
              ? { code: error.reason.code, reason: error.reason.closeReason }
              : { code: 1006, reason: undefined }
          )
        )
      )
    const end = yield* Effect.raceFirst(
      readLoop,
      Effect.map(Deferred.await(closedHere), (close) => ({ code: close.code, reason: close.reason }))
    )
    yield* Deferred.succeed(ended, undefined)
    yield* Effect.promise(() => closed(end.code, end.reason)).pipe(
      Effect.timeoutOrElse({
        duration: Duration.seconds(5),
        orElse: () => Effect.logWarning("GraphQL socket clean-up still running after 5 s")
      })
    )
    return HttpServerResponse.empty()
  }).pipe(Effect.scoped)
