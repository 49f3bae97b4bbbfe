/**
 * The executable schema: the type definitions of `TypeDefs.ts` with the resolvers of queries,
 * mutations and subscriptions attached, and the scalars' output coercion. Built once per process.
 *
 * @since 0.2.0
 */
import { buildSchema, type GraphQLFieldResolver, GraphQLScalarType, type GraphQLSchema, isObjectType, printSchema } from "graphql"
import * as Mutations from "./Mutations.ts"
import * as Queries from "./Queries.ts"
import * as Subscriptions from "./Subscriptions.ts"
import { typeDefs } from "./TypeDefs.ts"

type FieldResolvers = Record<
  string,
  GraphQLFieldResolver<any, any, any> | { readonly subscribe: GraphQLFieldResolver<any, any, any>; readonly resolve: GraphQLFieldResolver<any, any, any> }
>

const resolvers: Record<string, FieldResolvers> = {
  Query: Queries.Query,
  Event: Queries.Event,
  Registration: Queries.Registration,
  Me: Queries.Me,
  Mutation: Mutations.Mutation,
  Subscription: Subscriptions.Subscription
}

const toIso = (value: unknown) => value instanceof Date ? value.toISOString() : value

/**
 * @since 0.2.0
 */
export const make = (): GraphQLSchema => {
  const schema = buildSchema(typeDefs)
  for (const [typeName, fields] of Object.entries(resolvers)) {
    const type = schema.getType(typeName)
    if (!isObjectType(type)) throw new Error(`No object type ${typeName} in the schema`)
    const definitions = type.getFields()
    for (const [fieldName, resolver] of Object.entries(fields)) {
      const field = definitions[fieldName]
      if (field === undefined) throw new Error(`No field ${typeName}.${fieldName} in the schema`)
      if (typeof resolver === "function") {
        field.resolve = resolver
      } else {
        field.subscribe = resolver.subscribe
        field.resolve = resolver.resolve
      }
    }
  }
  // buildSchema gives custom scalars identity coercion; instants leave as ISO strings (inputs stay
  // strings: the domain's schemas decode them, as they do REST bodies).
  const dateTime = schema.getType("DateTime")
  if (dateTime instanceof GraphQLScalarType) {
    Object.assign(dateTime, { coerceOutputValue: toIso, serialize: toIso })
  }
  return schema
}

/** The schema as SDL, as published at `GET /graphql/schema.graphql`. @since 0.2.0 */
export const print = (schema: GraphQLSchema): string => printSchema(schema) + "\n"
