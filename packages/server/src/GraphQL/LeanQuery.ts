/**
 * The read clients poll most — a query whose one root field is `event(id:)`, asking for the event's
 * own fields — answered without graphql-js's executor, its answer rendered once per event and
 * document.
 *
 * graphql-js executes any document the same general way: the operation's fields collected and their
 * arguments coerced per request, each field's resolver called through a promise, each value completed
 * against its type, an abort controller per execution. For a cached event that machinery was most of
 * the request's CPU. A prepared document gets a {@link Plan} when the document alone determines exactly
 * what graphql-js would answer: a query without directives whose only root field (any alias, any
 * fragments) is `event`, its `id` a string literal or an `ID!` variable, and beneath it only fields
 * without arguments whose value is read from the event or computed from it alone (the resolvers in
 * `Queries.pureResolvers`), no lists. A request whose value the plan would not render exactly as
 * graphql-js does — an id variable that is not a string, a null in a non-null field, a value a scalar
 * refuses — goes to graphql-js, which answers it as it always did. So do all other documents.
 *
 * The event is read by the resolver's own function (`Queries.readEvent`: the REST id decoding, then
 * `Events.get` with the caller), so visibility is decided on every request and a refusal is the same
 * located error graphql-js would produce. What the plan renders from the event depends only on the
 * event and on the document (its fields, aliases and fragments), not on the caller or the variables —
 * those only choose the event, and a field that depends on the caller (`registrations`,
 * `waitingList`) disqualifies the document. The read cache hands out one immutable object per event
 * version and a change is a new object, so the rendered body is kept per (event object, plan), as the
 * REST read keeps its body: a changed event is rendered afresh, a different document has its own plan.
 *
 * `GraphQLLeanQuery.test.ts` holds the plan to graphql-js: many documents, callers and events, the
 * same bytes.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { Event, Events, User } from "@live-events/domain"
import {
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  getOperationAST,
  type GraphQLField,
  type GraphQLLeafType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  isLeafType,
  isNonNullType,
  isObjectType,
  Kind,
  locatedError,
  type SelectionSetNode
} from "graphql"
import * as Errors from "./Errors.ts"
import { pureResolvers, readEvent } from "./Queries.ts"

/** A value the plan cannot render as graphql-js would: the request goes to graphql-js. */
const unrenderable: unique symbol = Symbol("unrenderable")

type Render = (value: unknown) => unknown

/**
 * What the lean path does for one prepared document.
 *
 * @since 0.2.0
 */
export interface Plan {
  /** The root field's response key (its alias, or `event`). */
  readonly responseKey: string
  /** Every node of the root field: where graphql-js locates an error of the field. */
  readonly fieldNodes: ReadonlyArray<FieldNode>
  /** The id: a literal of the document, or the name of the `ID!` variable that carries it. */
  readonly id: { readonly literal: string } | { readonly variable: string }
  /** The event as graphql-js completes it for this selection, or `unrenderable`. */
  readonly render: Render
}

const hasDirectives = (node: { readonly directives?: ReadonlyArray<unknown> | undefined }) =>
  node.directives !== undefined && node.directives.length > 0

/**
 * The fields `sets` select on `typeName`, by response key in graphql-js's order (first appearance,
 * fragments expanded where they are spread, each named fragment once); `undefined` for a selection the
 * plan does not cover (directives, a fragment on another type, fragment arguments).
 */
const collect = (
  sets: ReadonlyArray<SelectionSetNode>,
  typeName: string,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>
): Map<string, Array<FieldNode>> | undefined => {
  const fields = new Map<string, Array<FieldNode>>()
  const visited = new Set<string>()
  const visit = (set: SelectionSetNode): boolean => {
    for (const selection of set.selections) {
      if (hasDirectives(selection)) return false
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value
        const nodes = fields.get(key)
        if (nodes === undefined) fields.set(key, [selection])
        else nodes.push(selection)
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (selection.typeCondition !== undefined && selection.typeCondition.name.value !== typeName) return false
        if (!visit(selection.selectionSet)) return false
      } else {
        const name = selection.name.value
        if (visited.has(name)) continue
        visited.add(name)
        const fragment = fragments.get(name)
        if (
          fragment === undefined || fragment.typeCondition.name.value !== typeName || hasDirectives(fragment) ||
          (fragment.variableDefinitions !== undefined && fragment.variableDefinitions.length > 0)
        ) return false
        if (!visit(fragment.selectionSet)) return false
      }
    }
    return true
  }
  for (const set of sets) if (!visit(set)) return undefined
  return fields
}

/** graphql-js's completion of a leaf: the type's output coercion, which must give a value. */
const leaf = (type: GraphQLLeafType): Render => (value) => {
  if (value === null || value === undefined) return null
  if (value instanceof Error) return unrenderable
  const coerced = type.coerceOutputValue(value)
  return coerced === null || coerced === undefined ? unrenderable : coerced
}

/** How a field's value completes against `type`: `undefined` when the plan does not cover the type. */
const completion = (
  type: GraphQLOutputType,
  nodes: ReadonlyArray<FieldNode>,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>
): Render | undefined => {
  if (isNonNullType(type)) {
    const inner = completion(type.ofType, nodes, fragments)
    if (inner === undefined) return undefined
    // graphql-js answers a null here with an error (and a null parent): left to graphql-js.
    return (value) => {
      const completed = inner(value)
      return completed === null ? unrenderable : completed
    }
  }
  if (isLeafType(type)) return leaf(type)
  if (isObjectType(type)) {
    const sets = nodes.map((node) => node.selectionSet).filter((set) => set !== undefined)
    const object = objectOf(type, sets, fragments)
    if (object === undefined) return undefined
    return (value) => {
      if (value === null || value === undefined) return null
      if (value instanceof Error) return unrenderable
      return object(value)
    }
  }
  // Lists, interfaces and unions: not in the plan's reach.
  return undefined
}

/** The field's value as graphql-js reads it: its pure resolver, or the default resolver. */
const reader = (field: GraphQLField<unknown, unknown>): Render | undefined => {
  const resolve = field.resolve
  if (resolve !== undefined) {
    if (!pureResolvers.has(resolve)) return undefined
    return resolve as Render
  }
  const name = field.name
  return (source) => {
    if (typeof source !== "object" || source === null) return undefined
    const value = (source as Record<string, unknown>)[name]
    // graphql-js would call it with arguments, context and info.
    return typeof value === "function" ? unrenderable : value
  }
}

/** Renders a selection on an object type; `undefined` when a field is out of the plan's reach. */
const objectOf = (
  type: GraphQLObjectType,
  sets: ReadonlyArray<SelectionSetNode>,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>
): Render | undefined => {
  const collected = collect(sets, type.name, fragments)
  if (collected === undefined || collected.size === 0) return undefined
  const definitions = type.getFields()
  const fields: Array<readonly [string, Render, Render]> = []
  for (const [key, nodes] of collected) {
    const name = nodes[0]!.name.value
    if (name === "__typename") {
      const typeName = type.name
      fields.push([key, () => typeName, (value) => value])
      continue
    }
    const field = definitions[name]
    if (field === undefined || field.args.length > 0) return undefined
    const read = reader(field)
    const complete = completion(field.type, nodes, fragments)
    if (read === undefined || complete === undefined) return undefined
    fields.push([key, read, complete])
  }
  return (source) => {
    // As graphql-js builds results: no prototype, so any alias is an own key.
    const result: Record<string, unknown> = Object.create(null)
    for (const [key, read, complete] of fields) {
      const value = read(source)
      if (value === unrenderable) return unrenderable
      const completed = complete(value)
      if (completed === unrenderable) return unrenderable
      result[key] = completed
    }
    return result
  }
}

/**
 * The plan of the operation `operationName` of a valid document, or `undefined` when graphql-js runs
 * it.
 *
 * @since 0.2.0
 */
export const plan = (schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): Plan | undefined => {
  const operation = getOperationAST(document, operationName)
  if (operation === null || operation === undefined || operation.operation !== "query" || hasDirectives(operation)) return undefined
  const queryType = schema.getQueryType()
  if (queryType === null || queryType === undefined) return undefined
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition)
  }
  const root = collect([operation.selectionSet], queryType.name, fragments)
  if (root === undefined || root.size !== 1) return undefined
  const [responseKey, fieldNodes] = [...root][0]!
  if (fieldNodes.some((node) => node.name.value !== "event")) return undefined
  const field = queryType.getFields()["event"]
  // The validator made every node's arguments the same.
  const argument = fieldNodes[0]!.arguments?.find((candidate) => candidate.name.value === "id")
  if (field === undefined || argument === undefined || (fieldNodes[0]!.arguments?.length ?? 0) !== 1) return undefined
  const variables = operation.variableDefinitions ?? []
  let id: Plan["id"]
  if (argument.value.kind === Kind.STRING && variables.length === 0) {
    id = { literal: argument.value.value }
  } else if (argument.value.kind === Kind.VARIABLE && variables.length === 1) {
    const definition = variables[0]!
    const type = definition.type
    if (
      definition.variable.name.value !== argument.value.name.value || definition.defaultValue !== undefined ||
      hasDirectives(definition) || type.kind !== Kind.NON_NULL_TYPE || type.type.kind !== Kind.NAMED_TYPE ||
      type.type.name.value !== "ID"
    ) return undefined
    id = { variable: definition.variable.name.value }
  } else {
    return undefined
  }
  // `event` is nullable: the completion of the root field itself.
  const render = completion(field.type, fieldNodes, fragments)
  if (render === undefined || isNonNullType(field.type)) return undefined
  return { responseKey, fieldNodes, id, render }
}

/**
 * Documents rendered per event object at most; past this its renderings start over. Together with
 * the event objects the read cache holds (bounded by its capacity), this bounds what is kept.
 *
 * @since 0.2.0
 */
export const plansPerEvent = 8

/**
 * An answer rendered for one (event object, plan). An object, so that a transport can keep what it
 * derives from the text (the HTTP response) beside it, for as long as the rendering lives.
 *
 * @since 0.2.0
 */
export interface Rendered {
  readonly body: string
}

/** Rendered answers, per event object (dropped with it) and plan. */
const renderings = new WeakMap<Event.Event, Map<Plan, Rendered>>()

/**
 * How many documents' answers are kept for an event object (at most {@link plansPerEvent}).
 *
 * @since 0.2.0
 */
export const renderedCount = (event: Event.Event): number => renderings.get(event)?.size ?? 0

const renderedBody = (plan: Plan, event: Event.Event): Rendered | undefined => {
  let byPlan = renderings.get(event)
  const found = byPlan?.get(plan)
  if (found !== undefined) return found
  const data = plan.render(event)
  if (data === unrenderable) return undefined
  const rendered: Rendered = { body: JSON.stringify({ data: { [plan.responseKey]: data } }) }
  if (byPlan === undefined) {
    byPlan = new Map()
    renderings.set(event, byPlan)
  } else if (byPlan.size >= plansPerEvent) {
    byPlan.clear()
  }
  byPlan.set(plan, rendered)
  return rendered
}

/**
 * What the lean path answers: the response body of a result, a result with the field's error (still
 * to be formatted as every result is), or `undefined` when graphql-js must answer.
 *
 * @since 0.2.0
 */
export type Answer = { readonly _tag: "Body"; readonly rendered: Rendered } | {
  readonly _tag: "Result"
  readonly result: ExecutionResult
}

/**
 * A fresh cached event the caller may see, or `undefined` (see `Events/CachedEvents.ts`).
 *
 * @since 0.2.0
 */
export type CachedEvent = (actor: User.Actor | undefined, id: string) => Event.Event | undefined

/**
 * Runs a plan for a caller with the request's variables.
 *
 * @since 0.2.0
 */
export const run = (
  plan: Plan,
  variables: Record<string, unknown>,
  actor: User.Actor | undefined,
  events: Events.Events["Service"],
  cachedEvent?: CachedEvent | undefined
): Effect.Effect<Answer | undefined> => {
  const id = "literal" in plan.id ? plan.id.literal : variables[plan.id.variable]
  // graphql-js coerces other values (integers) or refuses them: its answer.
  if (typeof id !== "string") return Effect.succeed(undefined)
  // A fresh cached event the caller may see is answered without the use-case (as the REST read is);
  // anything else — not cached, stale, not visible, an invalid id — takes the resolver's read.
  const cached = cachedEvent?.(actor, id)
  if (cached !== undefined) {
    const rendered = renderedBody(plan, cached)
    if (rendered !== undefined) return Effect.succeed({ _tag: "Body", rendered } as const)
  }
  return Effect.matchCauseEffect(readEvent(events, actor, id), {
    onSuccess: (event) => {
      const rendered = renderedBody(plan, event)
      return Effect.succeed(rendered === undefined ? undefined : { _tag: "Body", rendered } as const)
    },
    // The resolver's error, located as graphql-js locates it; `event` is nullable, so `data` holds null.
    onFailure: (cause) =>
      Effect.map(Errors.fromCause(cause), (error) => ({
        _tag: "Result",
        result: {
          errors: [locatedError(error, plan.fieldNodes, [plan.responseKey])],
          data: { [plan.responseKey]: null }
        }
      } as const))
  })
}
