/**
 * Refusals of `/graphql` in GraphQL's format. The shared pipeline refuses some requests before they
 * reach a route — a body over the limit (413), a rate limit (429), a CORS preflight from a stranger —
 * with an RFC 9457 problem; a GraphQL client expects `{ errors }`. This global middleware, outside
 * the others, re-renders those problems for the `/graphql` path as a GraphQL response with the same
 * status, headers, and the problem's `code` and `status` in `extensions`.
 *
 * @since 0.2.0
 */
import { Context, Effect } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Problem from "../Problem.ts"

const utf8 = new TextDecoder()

const isGraphQLPath = (url: string) =>
  url.startsWith("/graphql") && (url.length === 8 || url[8] === "?" || url[8] === "/")

const bodyText = (response: HttpServerResponse.HttpServerResponse): string | undefined => {
  const body = response.body
  if (body._tag === "Uint8Array") return utf8.decode(body.body)
  if (body._tag === "Raw" && typeof body.body === "string") return body.body
  return undefined
}

/** The problem response as a GraphQL response; anything else as it is. @since 0.2.0 */
export const toGraphQL = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (!(response.headers["content-type"] ?? "").startsWith(Problem.contentType)) return response
  const text = bodyText(response)
  if (text === undefined) return response
  let problem: { readonly detail?: unknown; readonly code?: unknown; readonly status?: unknown }
  try {
    problem = JSON.parse(text)
  } catch {
    return response
  }
  const body = JSON.stringify({
    errors: [{
      message: typeof problem.detail === "string" ? problem.detail : "The request was refused",
      extensions: { code: problem.code, status: response.status }
    }]
  })
  const { "content-type": _, "content-length": __, ...headers } = response.headers
  return HttpServerResponse.text(body, {
    status: response.status,
    contentType: "application/graphql-response+json; charset=utf-8",
    headers
  })
}

/** @since 0.2.0 */
export const middleware = HttpRouter.middleware(
  (httpEffect) =>
    Effect.withFiber((fiber) => {
      const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
      return isGraphQLPath(request.url) ? Effect.map(httpEffect, toGraphQL) : httpEffect
    }),
  { global: true }
)
