/**
 * The GraphQL engine of a process: the schema, and the way from a request's text to a result. A
 * document is parsed (bounded by tokens), validated (graphql-js's rules; introspection only in
 * development mode) and measured (`Limits.ts`) once per distinct text, then remembered in a bounded
 * least-recently-used store, so a repeated query — the common case — goes straight to execution, and a
 * stream of distinct documents (an id written into each query) neither grows the store nor pushes out
 * the documents in steady use. Every error leaves in GraphQL's format with a
 * code in `extensions.code`; a defect's message never leaves.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import { LruStore } from "@live-events/cache"
import {
  type DocumentNode,
  execute,
  type ExecutionResult,
  getOperationAST,
  GraphQLError,
  type GraphQLSchema,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  subscribe,
  validate
} from "graphql"
import { TokenVerifier } from "../Auth/TokenVerifier.ts"
import * as Errors from "./Errors.ts"
import type { RequestContext } from "./Execution.ts"
import * as LeanQuery from "./LeanQuery.ts"
import * as Limits from "./Limits.ts"
import * as Schema from "./Schema.ts"

/** A document ready to run. @since 0.2.0 */
export interface Prepared {
  readonly _tag: "Prepared"
  readonly document: DocumentNode
  readonly operationName: string | undefined
  readonly kind: "query" | "mutation" | "subscription"
  /** How the lean path answers it without graphql-js's executor (`LeanQuery.ts`), when it can. */
  readonly lean: LeanQuery.Plan | undefined
}

/** A document refused before running (always a 4xx). @since 0.2.0 */
export interface Rejected {
  readonly _tag: "Rejected"
  readonly status: number
  readonly errors: ReadonlyArray<GraphQLError>
}

/** A request's variables, checked to be an object. @since 0.2.0 */
export interface Variables {
  readonly _tag: "Variables"
  readonly values: Record<string, unknown>
}

/** A GraphQL request's parameters, as sent (not yet checked). @since 0.2.0 */
export interface Params {
  readonly query?: unknown
  readonly operationName?: unknown
  readonly variables?: unknown
}

/**
 * Prepared documents remembered, least recently used dropped first. A document is a few kB of syntax
 * tree: 1,000 of them are a few MB at most.
 *
 * @since 0.2.0
 */
export const documentCapacity = 1_000

const withCode = (error: GraphQLError, code: string, status: number) =>
  new GraphQLError(error.message, {
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code, status }
  })

/** A result as sent: errors without a code get one, and a defect's message is replaced. @since 0.2.0 */
export const format = (result: ExecutionResult): ExecutionResult => {
  if (result.errors === undefined) return result
  const requestError = !("data" in result) || result.data === undefined
  return {
    ...result,
    errors: result.errors.map((error) => {
      if (typeof error.extensions.code === "string") return error
      // graphql-js's own errors (variables that do not coerce, a non-null field that resolved null).
      if (requestError) return withCode(error, "invalid-variables", 400)
      if (error.originalError !== undefined && !(error.originalError instanceof GraphQLError)) {
        return new GraphQLError("An unexpected error occurred", {
          path: error.path,
          extensions: { code: "internal-error", status: 500 }
        })
      }
      return withCode(error, "internal-error", 500)
    })
  }
}

/** @since 0.2.0 */
export const make = (options: { readonly limits: Limits.Limits; readonly introspection: boolean }) => {
  const schema: GraphQLSchema = Schema.make()
  const sdl = Schema.print(schema)
  const rules = options.introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule]
  // Least recently used out first: a burst of one-off documents cannot evict the few sent all the
  // time (a `Map` cleared when full would re-parse them all after every burst), and a document's
  // `Prepared` — its lean plan, under which rendered answers are kept — stays the same object while it
  // is in use.
  const documents = LruStore.make<Prepared>(documentCapacity)
  const rejected = (status: number, code: string, message: string): Rejected => ({
    _tag: "Rejected",
    status,
    errors: [Errors.request(status, code, message)]
  })

  const prepareText = (query: string, operationName: string | undefined): Prepared | Rejected => {
    let document: DocumentNode
    try {
      document = parse(query, { maxTokens: options.limits.maxTokens, noLocation: false })
    } catch (error) {
      if (error instanceof GraphQLError) return { _tag: "Rejected", status: 400, errors: [withCode(error, "invalid-query", 400)] }
      throw error
    }
    const invalid = validate(schema, document, rules, { maxErrors: 20 })
    if (invalid.length > 0) {
      return { _tag: "Rejected", status: 400, errors: invalid.map((error) => withCode(error, "invalid-query", 400)) }
    }
    const operation = getOperationAST(document, operationName)
    if (operation === null || operation === undefined) {
      return rejected(400, "invalid-query", operationName === undefined ? "Name the operation to run" : `No operation ${operationName}`)
    }
    const measured = Limits.measure(document, operationName, options.limits)
    if (measured._tag === "Exceeded") return rejected(400, "query-too-complex", measured.message)
    return {
      _tag: "Prepared",
      document,
      operationName,
      kind: operation.operation,
      lean: LeanQuery.plan(schema, document, operationName)
    }
  }

  /** Checks a request's text and operation name (remembered per distinct pair). */
  const prepare = (params: Params): Prepared | Rejected => {
    const { query, operationName } = params
    if (typeof query !== "string" || query.length === 0) return rejected(400, "invalid-request", "query must be a non-empty string")
    if (operationName !== undefined && operationName !== null && typeof operationName !== "string") {
      return rejected(400, "invalid-request", "operationName must be a string")
    }
    const name = operationName ?? undefined
    const key = name === undefined ? query : `${name}\u0000${query}`
    const known = documents.get(key)
    if (known !== undefined) return known
    const prepared = prepareText(query, name)
    if (prepared._tag === "Prepared") documents.set(key, prepared)
    return prepared
  }

  /** The variables of a request: an object, or none. */
  const variablesOf = (variables: unknown): Variables | Rejected => {
    if (variables === undefined || variables === null) return { _tag: "Variables", values: {} }
    if (typeof variables !== "object" || Array.isArray(variables)) {
      return rejected(400, "invalid-request", "variables must be an object")
    }
    return { _tag: "Variables", values: variables as Record<string, unknown> }
  }

  const argsOf = (prepared: Prepared, variables: Record<string, unknown>, request: RequestContext) => ({
    schema,
    document: prepared.document,
    operationName: prepared.operationName,
    variableValues: variables,
    contextValue: request
  })

  return {
    schema,
    sdl,
    limits: options.limits,
    prepare,
    /** How many prepared documents are remembered (at most {@link documentCapacity}). */
    preparedCount: documents.size,
    variablesOf,
    /** Runs a query or mutation. */
    execute: (prepared: Prepared, variables: Record<string, unknown>, request: RequestContext) =>
      execute(argsOf(prepared, variables, request)),
    /** Starts a subscription: its results, or the result refusing it. */
    subscribe: (prepared: Prepared, variables: Record<string, unknown>, request: RequestContext) =>
      subscribe(argsOf(prepared, variables, request)),
    argsOf
  } as const
}

/**
 * @since 0.2.0
 */
export class GraphQLEngine extends Context.Service<GraphQLEngine, ReturnType<typeof make>>()(
  "@live-events/server/GraphQLEngine"
) {
  /** Limits from the environment; introspection in development auth mode only. @since 0.2.0 */
  static readonly layer = Layer.effect(
    GraphQLEngine,
    Effect.gen(function*() {
      const limits = yield* Limits.config
      const verifier = yield* TokenVerifier
      return make({ limits, introspection: verifier.mode === "development" })
    })
  )
}
