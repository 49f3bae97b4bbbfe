/**
 * How endpoints get their middleware, in one place so the order is the same everywhere:
 * authentication runs first (outermost), then request decoding, whose failures become 400 problems.
 * An unauthenticated caller therefore learns nothing about the shape a route expects.
 *
 * @since 0.1.0
 */
import type { HttpApiEndpoint } from "effect/http-api"
import { Authentication, OptionalAuthentication } from "./Auth/Middleware.ts"
import { RequestValidation } from "./Problem.ts"

/** A route that requires a bearer token. @since 0.1.0 */
export const authenticated = <E extends HttpApiEndpoint.Constraint>(endpoint: E) =>
  (endpoint as any).middleware(RequestValidation).middleware(Authentication) as HttpApiEndpoint.AddMiddleware<
    HttpApiEndpoint.AddMiddleware<E, RequestValidation>,
    Authentication
  >

/** A route open to anonymous callers that still honours a token when one is sent. @since 0.1.0 */
export const optionallyAuthenticated = <E extends HttpApiEndpoint.Constraint>(endpoint: E) =>
  (endpoint as any).middleware(RequestValidation).middleware(OptionalAuthentication) as HttpApiEndpoint.AddMiddleware<
    HttpApiEndpoint.AddMiddleware<E, RequestValidation>,
    OptionalAuthentication
  >

/** A route without authentication (health, docs). @since 0.1.0 */
export const anonymous = <E extends HttpApiEndpoint.Constraint>(endpoint: E) =>
  (endpoint as any).middleware(RequestValidation) as HttpApiEndpoint.AddMiddleware<E, RequestValidation>
