/**
 * The OpenAPI document as a client sees it: every operation titled and described, the Bearer scheme
 * the docs page turns into `Authorization: Bearer …` snippets, formats and bounds a generator can
 * use, the stable problem codes per operation, and nothing of the framework's internals.
 */
import { Schema } from "effect"
import { HttpApi, OpenApi } from "effect/http-api"
import { describe, expect, it } from "vitest"
import { Api } from "../src/Api.ts"
import { requestExamples } from "../src/OpenApiDocument.ts"

const spec = OpenApi.fromApi(Api) as Record<string, any>

const methods = new Set(["get", "put", "post", "patch", "delete"])
const operations: Array<[string, Record<string, any>]> = Object.entries(spec.paths as Record<string, Record<string, any>>)
  .flatMap(([path, item]) =>
    Object.entries(item).filter(([method]) => methods.has(method)).map(([method, operation]): [string, Record<string, any>] => [
      `${method.toUpperCase()} ${path}`,
      operation
    ])
  )
const operation = (method: string, path: string) => spec.paths[path][method]

/** The payload schemas of each endpoint, by operation id, from the API definition itself. */
const payloadSchemas = new Map<string, ReadonlyArray<Schema.Top>>()
HttpApi.reflect(Api, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, group }) =>
    payloadSchemas.set(
      `${group.identifier}.${endpoint.identifier}`,
      [...endpoint.payload.values()].flatMap((entry) => entry.schemas)
    )
})

/** Every key of a JSON value, at any depth. */
const keysOf = (value: unknown): Array<string> =>
  typeof value !== "object" || value === null
    ? []
    : Object.entries(value).flatMap(([key, nested]) => [key, ...keysOf(nested)])

describe("OpenAPI document", () => {
  it("gives every operation a summary and a description, and every tag a description", () => {
    expect(operations.length).toBeGreaterThan(30)
    for (const [name, op] of operations) {
      expect(op.summary, name).toMatch(/\S/)
      expect(op.description, name).toMatch(/\S/)
    }
    const summaries = operations.map(([, op]) => op.summary)
    expect(new Set(summaries).size).toBe(summaries.length)
    for (const tag of spec.tags) expect(tag.description, tag.name).toMatch(/\S/)
    expect(spec.servers).toEqual([expect.objectContaining({ url: "/" })])
  })

  it("declares Bearer (JWT) authentication, required or optional per operation", () => {
    expect(spec.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: "http", scheme: "bearer", bearerFormat: "JWT" })
    })
    expect(operation("post", "/v1/events").security).toEqual([{ bearer: [] }])
    expect(operation("get", "/v1/events").security).toEqual([{ bearer: [] }, {}])
    expect(operation("get", "/health/live").security).toEqual([])
  })

  it("leaks no framework extension", () => {
    expect(keysOf(spec).filter((key) => key.startsWith("x-effect-"))).toEqual([])
  })

  it("documents formats and bounds: limit 1..100, date-time instants, uuid ids, optional register body", () => {
    const limit = operation("get", "/v1/events").parameters.find((parameter: any) => parameter.name === "limit")
    expect(limit.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 100 })
    const from = operation("get", "/v1/events").parameters.find((parameter: any) => parameter.name === "from")
    expect(from.schema.format).toBe("date-time")
    const event = spec.components.schemas.Event.properties
    expect(event.startsAt.format).toBe("date-time")
    expect(event.id.format).toBe("uuid")
    expect(event.capacity).toEqual({ type: "integer" })
    const exported = spec.components.schemas.PersonalData.properties
    expect(exported.user.properties.id.format).toBe("uuid")
    expect(exported.registrations.items.properties.id.format).toBe("uuid")
    const registration = spec.components.schemas.Registration.properties
    expect(registration.confirmedAt.anyOf).toContainEqual({ type: "string", format: "date-time" })
    expect(operation("post", "/v1/events/{id}/registrations").requestBody.required).toBe(false)
    expect(operation("post", "/v1/events").requestBody.required).toBe(true)
  })

  it("lists the stable problem codes an operation answers with, as problem+json", () => {
    /** The codes of a status: each declared problem's schema fixes its `code`. */
    const codesOf = (op: Record<string, any>, status: string): Array<string> => {
      const schema = op.responses[status].content["application/problem+json"].schema
      return (schema.anyOf ?? [schema]).flatMap((alternative: { $ref: string }) =>
        spec.components.schemas[alternative.$ref.replace("#/components/schemas/", "")].properties.code.enum
      )
    }
    const register = operation("post", "/v1/events/{id}/registrations")
    expect(codesOf(register, "409")).toEqual(expect.arrayContaining(["already-registered", "waitlist-full"]))
    expect(codesOf(register, "404")).toEqual(["event-not-found"])
    expect(codesOf(register, "401")).toEqual(["unauthenticated"])
    expect(codesOf(operation("patch", "/v1/events/{id}"), "412")).toEqual(["precondition-failed"])
    expect(codesOf(operation("get", "/v1/me/registrations"), "400")).toContain("invalid-cursor")
    expect(register.responses["409"].description).toContain("`already-registered`")
    expect(spec.components.schemas.AlreadyRegisteredProblem.required).toEqual(
      expect.arrayContaining(["code", "registrationId", "registrationStatus"])
    )
    // Every operation but the probes declares the rate limit and an outage.
    for (const [name, op] of operations.filter(([name]) => !name.includes("/health/"))) {
      expect(codesOf(op, "429"), name).toContain("rate-limited")
      expect(codesOf(op, "503"), name).toEqual(["service-unavailable"])
    }
    for (const [name, op] of operations) {
      for (const status of ["4XX", "5XX"]) {
        expect(op.responses[status].content["application/problem+json"].schema, `${name} ${status}`)
          .toEqual({ $ref: "#/components/schemas/Problem" })
      }
    }
    expect(spec.components.schemas.Problem.required).toContain("code")
  })

  it("gives every parameter a description and every request body an example the endpoint accepts", () => {
    for (const [name, op] of operations) {
      for (const parameter of op.parameters) expect(parameter.description, `${name} ${parameter.name}`).toMatch(/\S/)
      const media = op.requestBody?.content["application/json"]
      if (media === undefined) continue
      expect(media.example, name).toBeDefined()
      const [payload] = payloadSchemas.get(op.operationId)!
      expect(Schema.decodeUnknownExit(payload as Schema.Codec<unknown, unknown>)(media.example)._tag, name).toBe("Success")
    }
    expect(Object.keys(requestExamples).length).toBeGreaterThan(5)
  })
})
