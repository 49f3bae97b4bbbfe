/**
 * GraphQL errors with the REST contract's codes: every failure a resolver meets becomes one error
 * whose `extensions.code` is the stable code a REST problem would carry (`event-not-found`,
 * `forbidden`, `validation-failed`, …) and whose `extensions.status` is that problem's HTTP status,
 * so clients switch on the same codes whatever the transport. Storage failures are logged and
 * answered as REST answers them; defects never show their message.
 *
 * @since 0.2.0
 */
import { Cause, Effect, Schema, type SchemaIssue } from "effect"
import { DomainError } from "@live-events/domain"
import { GraphQLError } from "graphql"
import * as Problem from "../Problem.ts"

/** A GraphQL error carrying a problem's code, status and field errors. @since 0.2.0 */
export const fromProblem = (problem: Problem.Problem): GraphQLError =>
  new GraphQLError(problem.detail, {
    extensions: {
      code: problem.code,
      status: problem.status,
      ...(problem.errors === undefined ? {} : { errors: problem.errors }),
      ...problem.extensions
    }
  })

/**
 * An effect that fails with a problem (the transport-neutral answers of key administration) as one
 * whose refusal is the field's GraphQL error.
 *
 * @since 0.2.0
 */
export const problemAsError = <A, R>(effect: Effect.Effect<A, Problem.Problem, R>): Effect.Effect<A | GraphQLError, never, R> =>
  Effect.catch(effect, (problem) => Effect.succeed(fromProblem(problem)))

/** A request-level error (the document, the variables, the transport): code and status only. @since 0.2.0 */
export const request = (status: number, code: string, message: string): GraphQLError =>
  fromProblem(Problem.make(status, code, message))

/** The field needs a bearer token and the request had none. @since 0.2.0 */
export const unauthenticated = (): GraphQLError => request(401, "unauthenticated", "A bearer token is required")

const internal = () => request(500, "internal-error", "An unexpected error occurred")

const isDomainError = (u: unknown): u is DomainError.DomainError =>
  typeof u === "object" && u !== null && "_tag" in u && "code" in u && typeof (u as { code: unknown }).code === "string"

/**
 * The GraphQL error of a failed resolver effect: a domain error's problem (storage failures logged by
 * `Problem.reported`), or, for a defect, an opaque internal error after logging the cause.
 *
 * @since 0.2.0
 */
export const fromCause = (cause: Cause.Cause<unknown>): Effect.Effect<GraphQLError> => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some" && isDomainError(error.value)) {
    return Effect.map(Problem.reported(error.value as DomainError.DomainError), fromProblem)
  }
  if (error._tag === "None" && Cause.hasInterruptsOnly(cause)) {
    return Effect.succeed(request(503, "service-unavailable", "The request was interrupted"))
  }
  return Effect.as(Effect.logError("GraphQL resolver failed", cause), internal())
}

/**
 * Decodes a GraphQL argument with the domain's schema (the same field rules as the REST body), failing
 * with `validation-failed` naming the fields under `root`.
 *
 * @since 0.2.0
 */
export const decode = <S extends Schema.Decoder<unknown>>(schema: S, root: string) => {
  const decodeUnknown = Schema.decodeUnknownEffect(schema)
  return (value: unknown): Effect.Effect<S["Type"], DomainError.ValidationFailed, S["DecodingServices"]> =>
    Effect.mapError(decodeUnknown(value), (error: Schema.SchemaError) => {
      const errors = Problem.fieldErrors(error.issue as SchemaIssue.Issue, root)
      const fields = [...new Set(errors.map((e) => e.field))].join(", ")
      return new DomainError.ValidationFailed({ message: `Invalid ${fields}`, errors })
    })
}
