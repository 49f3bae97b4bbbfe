/**
 * The client for code that does not use Effect: the same methods as `LiveEventsClient`, returning
 * Promises. A declared problem rejects the Promise with the same typed error as the Effect client
 * (an `Error` with `_tag` and the stable `code`, e.g. `AlreadyRegistered` with its `registrationId`):
 * narrow it with `instanceof` or {@link isProblem}. Anything else (the network, an answer that does not
 * fit the contract) rejects with Effect's `HttpClientError` or `SchemaError`.
 *
 * Live updates (Server-Sent Events) are not part of it: use `EventSource`, or the Effect client's
 * streams.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Predicate } from "effect"
import { FetchHttpClient } from "effect/http"
import type { HttpApi, HttpApiClient, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import type { Api } from "@live-events/api/Api"
import type * as Problems from "@live-events/api/Problems"
import * as LiveEventsClient from "./LiveEventsClient.ts"

type Groups = typeof Api extends HttpApi.HttpApi<infer _Id, infer G> ? G : never

/** The groups a Promise can answer for: all but the live streams. */
type PromiseGroups = Exclude<Groups, { readonly identifier: "live" }>

/** Options of one call. @since 0.1.0 */
export interface CallOptions {
  /** Aborts the request (and its retries). */
  readonly signal?: AbortSignal | undefined
}

/** One endpoint as a function returning a Promise of its decoded answer. @since 0.1.0 */
export type Method<Endpoint extends HttpApiEndpoint.ConstraintRequest> = (
  request: HttpApiEndpoint.ClientRequest<
    Endpoint["~Params"],
    Endpoint["~Query"],
    Endpoint["~Payload"],
    Endpoint["~Headers"],
    "decoded-only"
  >,
  options?: CallOptions
) => Promise<HttpApiClient.SuccessType<Endpoint["~Success"]>>

/** The client's methods, by group and endpoint. @since 0.1.0 */
export type PromiseClient = {
  readonly [Group in PromiseGroups as HttpApiGroup.Identifier<Group>]: {
    readonly [Endpoint in Extract<HttpApiGroup.Endpoints<Group>, HttpApiEndpoint.ConstraintRequest> as HttpApiEndpoint.Identifier<Endpoint>]:
      Method<Endpoint>
  }
}

/**
 * Every problem the API declares, as the typed error a call rejects with.
 *
 * @since 0.1.0
 */
export type Problem = {
  readonly [K in keyof typeof Problems]: (typeof Problems)[K] extends { readonly Type: infer T }
    ? T extends Error & { readonly _tag: string; readonly code: string } ? T : never
    : never
}[keyof typeof Problems]

/**
 * Whether a rejection is the problem with this `code`, narrowing it to that problem's type (for
 * `already-registered`: its `registrationId` and `registrationStatus`).
 *
 * @since 0.1.0
 */
export const isProblem = <const Code extends Problem["code"]>(
  error: unknown,
  code: Code
): error is Extract<Problem, { readonly code: Code }> =>
  error instanceof Error && Predicate.hasProperty(error, "_tag") && Predicate.hasProperty(error, "code") &&
  error.code === code

const run = <A>(effect: Effect.Effect<A, unknown>, options?: CallOptions): Promise<A> =>
  Effect.runPromiseExit(effect, options?.signal === undefined ? undefined : { signal: options.signal }).then((exit) =>
    Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
  )

/**
 * A client over `fetch`, with the options of `LiveEventsClient.make` (base URL, token, retries).
 *
 * @since 0.1.0
 */
export const make = (options: LiveEventsClient.Options): PromiseClient => {
  // Building the client is synchronous (it only reads the API definition); requests run per call.
  const client = Effect.runSync(LiveEventsClient.make(options).pipe(Effect.provide(FetchHttpClient.layer)))
  const promised: Record<string, Record<string, Function>> = {}
  for (const [group, methods] of Object.entries(client as Record<string, Record<string, Function>>)) {
    if (group === "live") continue
    promised[group] = {}
    for (const [name, method] of Object.entries(methods)) {
      promised[group][name] = (request: unknown, callOptions?: CallOptions) =>
        run(method(request) as Effect.Effect<unknown, unknown>, callOptions)
    }
  }
  return promised as PromiseClient
}
