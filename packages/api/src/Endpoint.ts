/**
 * How endpoints get their middleware, in one place so the order is the same everywhere:
 * authentication runs first (outermost), then request decoding, whose failures become 400 problems.
 * An unauthenticated caller therefore learns nothing about the shape a route expects.
 *
 * @since 0.1.0
 */
import { type HttpApiEndpoint, OpenApi } from "effect/http-api"
import { Authentication, OptionalAuthentication, RequestValidation } from "./Security.ts"

/** A route that requires a bearer token. @since 0.1.0 */
export const authenticated = <E extends HttpApiEndpoint.Constraint>(endpoint: E) =>
  (endpoint as any).middleware(RequestValidation).middleware(Authentication) as HttpApiEndpoint.AddMiddleware<
    HttpApiEndpoint.AddMiddleware<E, RequestValidation>,
    Authentication
  >

/** A route open to anonymous callers that still honours a token when one is sent. @since 0.1.0 */
export const optionallyAuthenticated = <E extends HttpApiEndpoint.Constraint>(endpoint: E) =>
  (endpoint as any)
    // Documented as "a bearer token, or none": the security middleware alone would read as required.
    .annotate(OpenApi.Override, { security: [{ bearer: [] }, {}] })
    .middleware(RequestValidation).middleware(OptionalAuthentication) as HttpApiEndpoint.AddMiddleware<
    HttpApiEndpoint.AddMiddleware<E, RequestValidation>,
    OptionalAuthentication
  >

/** A route without authentication (health, docs). @since 0.1.0 */
export const anonymous = <E extends HttpApiEndpoint.Constraint>(endpoint: E) =>
  (endpoint as any).middleware(RequestValidation) as HttpApiEndpoint.AddMiddleware<E, RequestValidation>

/**
 * What an operation does, for `/openapi.json` and `/docs`: a short summary (the operation's title) and a
 * description. Pass it to the endpoint's `annotateMerge`.
 *
 * @since 0.1.0
 */
export const describe = (summary: string, description: string) => OpenApi.annotations({ summary, description })
