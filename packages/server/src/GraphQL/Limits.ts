/**
 * Bounds on what one GraphQL document may ask for, checked before anything runs: the parser's token
 * count (a document's size in the parser's own unit), the selection depth, and a cost — every field
 * costs 1, and a field with a `first` argument multiplies what it selects by that page size (the
 * default 20, the largest allowed 100 when it comes from a variable). Aliasing one field ten thousand
 * times, or nesting fifty levels, is refused with a 400 before a resolver or a query runs.
 *
 * The walk stops as soon as it has visited more fields than the cost allows, so a document built to
 * make the measurement itself expensive (fragments spread into fragments) costs no more than the limit.
 *
 * @since 0.2.0
 */
import { Config } from "effect"
import { type DocumentNode, type FragmentDefinitionNode, Kind, type OperationDefinitionNode, type SelectionSetNode } from "graphql"
import * as Pagination from "@live-events/api/Pagination"

/** @since 0.2.0 */
export interface Limits {
  /** Tokens the parser reads at most. */
  readonly maxTokens: number
  /** Nesting of selections (a root field is depth 1). */
  readonly maxDepth: number
  readonly maxCost: number
  /** Subscriptions one WebSocket connection holds at once. */
  readonly maxSubscriptionsPerConnection: number
}

/** @since 0.2.0 */
export const defaults: Limits = { maxTokens: 5_000, maxDepth: 15, maxCost: 5_000, maxSubscriptionsPerConnection: 100 }

/** @since 0.2.0 */
export const config = Config.all({
  maxTokens: Config.Int("GRAPHQL_MAX_TOKENS").pipe(Config.withDefault(defaults.maxTokens)),
  maxDepth: Config.Int("GRAPHQL_MAX_DEPTH").pipe(Config.withDefault(defaults.maxDepth)),
  maxCost: Config.Int("GRAPHQL_MAX_COST").pipe(Config.withDefault(defaults.maxCost)),
  maxSubscriptionsPerConnection: Config.Int("GRAPHQL_MAX_SUBSCRIPTIONS_PER_CONNECTION").pipe(
    Config.withDefault(defaults.maxSubscriptionsPerConnection)
  )
})

/** What a document asks for, or the limit it breaks. @since 0.2.0 */
export type Measure =
  | { readonly _tag: "Within"; readonly depth: number; readonly cost: number }
  | { readonly _tag: "Exceeded"; readonly message: string }

class Exceeded {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

const pageSizeOf = (node: { readonly arguments?: ReadonlyArray<{ readonly name: { readonly value: string }; readonly value: any }> | undefined }) => {
  const first = node.arguments?.find((argument) => argument.name.value === "first")
  if (first === undefined) return undefined
  if (first.value.kind === Kind.INT) return Math.max(0, Number.parseInt(first.value.value, 10))
  return first.value.kind === Kind.VARIABLE ? 100 : Pagination.defaultLimit
}

/**
 * Measures the operation `operationName` of `document` (or its only one).
 *
 * @since 0.2.0
 */
export const measure = (document: DocumentNode, operationName: string | undefined, limits: Limits): Measure => {
  const fragments = new Map<string, FragmentDefinitionNode>()
  const operations: Array<OperationDefinitionNode> = []
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition)
    else if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition)
  }
  let visited = 0
  let deepest = 0
  // The cost of a selection set at `depth`, fragments followed once per path (cycles are the
  // validator's to report).
  const costOf = (selectionSet: SelectionSetNode, depth: number, path: ReadonlySet<string>): number => {
    let cost = 0
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (++visited > limits.maxCost) throw new Exceeded(`The query costs more than ${limits.maxCost}`)
        if (depth > deepest) deepest = depth
        if (depth > limits.maxDepth) throw new Exceeded(`The query is nested deeper than ${limits.maxDepth} levels`)
        const children = selection.selectionSet === undefined ? 0 : costOf(selection.selectionSet, depth + 1, path)
        cost += 1 + (pageSizeOf(selection) ?? 1) * children
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        cost += costOf(selection.selectionSet, depth, path)
      } else {
        const name = selection.name.value
        const fragment = fragments.get(name)
        if (fragment === undefined || path.has(name)) continue
        cost += costOf(fragment.selectionSet, depth, new Set([...path, name]))
      }
      if (cost > limits.maxCost) throw new Exceeded(`The query costs more than ${limits.maxCost}`)
    }
    return cost
  }
  const operation = operationName === undefined
    ? operations[0]
    : operations.find((candidate) => candidate.name?.value === operationName)
  if (operation === undefined) return { _tag: "Within", depth: 0, cost: 0 }
  try {
    const cost = costOf(operation.selectionSet, 1, new Set())
    return { _tag: "Within", depth: deepest, cost }
  } catch (error) {
    if (error instanceof Exceeded) return { _tag: "Exceeded", message: error.message }
    throw error
  }
}
