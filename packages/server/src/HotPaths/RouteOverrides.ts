/**
 * The API's hottest endpoints served by lean handlers of their own, while the `HttpApi` definition
 * stays the one description of every endpoint (OpenAPI, `/docs`, typed clients).
 *
 * HttpApi serves an endpoint through generic per-request machinery: a generator, each slot decoded as
 * an effect, every middleware layered as an effect, the success encoded through its schema, the
 * handler's context merged in. That costs more CPU than the rest of the request pipeline together on
 * a cached read (see docs/benchmarks.md). An override keeps the endpoint's method, path, schemas and
 * middleware order (authentication, then decoding) and its answers byte for byte, but runs them as
 * straight-line code: the same use-case, the same problems.
 *
 * The mechanism: `HttpApiBuilder.layer` registers its routes through the `HttpRouter` service; the
 * router given to it here swaps the handler of each overridden route before registering it. Route
 * middleware (rate limits) and global middleware (telemetry, security headers, problems) still wrap
 * the swapped handler, exactly as they wrap every other route.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { HttpRouter, type HttpServerResponse } from "effect/http"

/**
 * A lean handler: it reads the request and the route's parameters from the context, never fails, and
 * answers problems itself (defects still reach the global problem middleware).
 *
 * @since 0.1.0
 */
export type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, never, never>

/**
 * Lean handlers by `"<METHOD> <router path>"`, e.g. `"GET /v1/events/:id"`. Each is made from the
 * route's HttpApi handler, which it may hand a request to that it does not serve itself (an unusual
 * body, an idempotency key): HttpApi then answers it as it would have anyway.
 *
 * @since 0.1.0
 */
export type Overrides = ReadonlyMap<string, (generic: Handler) => Handler>

/** @since 0.1.0 */
export const key = (method: string, path: string): string => `${method} ${path}`

/**
 * Provides the `HttpRouter` that `layer` registers through: the outer router, with the handlers of
 * the overridden routes swapped (a test checks that every override names a route of the API).
 *
 * @since 0.1.0
 */
export const router = <E, R>(
  overrides: Effect.Effect<Overrides, E, R>
): Layer.Layer<HttpRouter.HttpRouter, E, R | HttpRouter.HttpRouter> =>
  Layer.effect(
    HttpRouter.HttpRouter,
    Effect.gen(function*() {
      const outer = yield* HttpRouter.HttpRouter
      const lean = yield* overrides
      return HttpRouter.HttpRouter.of({
        ...outer,
        addAll: (routes) =>
          outer.addAll(routes.map((route) => {
            const found = lean.get(key(route.method, route.path))
            return found === undefined ? route : HttpRouter.route(
              route.method,
              route.path,
              found(route.handler as Handler),
              { uninterruptible: route.uninterruptible }
            )
          }) as unknown as typeof routes)
      })
    })
  )

/**
 * The overrides of several modules together.
 *
 * @since 0.1.0
 */
export const combine = <E, R>(...parts: ReadonlyArray<Effect.Effect<Overrides, E, R>>): Effect.Effect<Overrides, E, R> =>
  Effect.map(Effect.all(parts), (maps) => new Map(maps.flatMap((map) => [...map])))
