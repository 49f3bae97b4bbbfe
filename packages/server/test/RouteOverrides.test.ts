/**
 * The mechanism under the lean handlers: `HttpApiBuilder.layer` registers its routes through the
 * router `RouteOverrides.router` provides, which swaps the handler of an overridden route and gives
 * it the generic one to fall back on. If Effect ever registered the API's routes another way, the
 * lean handlers would silently stop being used; this test would fail first.
 */
import { Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { afterAll, describe, expect, it } from "vitest"
import * as Endpoint from "../src/HotPaths/Endpoint.ts"
import * as RouteOverrides from "../src/HotPaths/RouteOverrides.ts"

class Things extends HttpApiGroup.make("things").add(
  HttpApiEndpoint.get("one", "/things/:id", { params: { id: Schema.String }, success: Schema.String }),
  HttpApiEndpoint.get("all", "/things", { success: Schema.Array(Schema.String) })
) {}
class TestApi extends HttpApi.make("test").add(Things) {}

const ThingsLive = HttpApiBuilder.group(TestApi, "things", (handlers) =>
  Effect.succeed(
    handlers
      .handle("one", ({ params }) => Effect.succeed(`generic ${params.id}`))
      .handle("all", () => Effect.succeed(["generic"]))
  ))

// The override answers ids starting with "lean" itself and hands the others to the generic handler.
const overrides = Effect.succeed<RouteOverrides.Overrides>(
  new Map([[
    RouteOverrides.key("GET", "/things/:id"),
    (generic) =>
      Endpoint.incoming(({ request }) =>
        request.url.startsWith("/things/lean") ? Effect.succeed(HttpServerResponse.text("lean")) : generic)
  ]])
)

const app = HttpRouter.toWebHandler(
  HttpApiBuilder.layer(TestApi).pipe(
    Layer.provide(RouteOverrides.router(overrides)),
    Layer.provide(ThingsLive),
    Layer.provide(HttpServer.layerServices)
  ),
  { disableLogger: true }
)

describe("route overrides", () => {
  afterAll(() => app.dispose())
  const get = async (path: string) => {
    const response = await app.handler(new Request(`http://localhost${path}`))
    return { status: response.status, text: await response.text() }
  }

  it("serve an overridden route with the lean handler, which can hand a request to HttpApi's", async () => {
    expect(await get("/things/lean-1")).toEqual({ status: 200, text: "lean" })
    expect(await get("/things/other")).toEqual({ status: 200, text: JSON.stringify("generic other") })
  })

  it("leave the other routes to HttpApi", async () => {
    expect(await get("/things")).toEqual({ status: 200, text: JSON.stringify(["generic"]) })
  })
})
