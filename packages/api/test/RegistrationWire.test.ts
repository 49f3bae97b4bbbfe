/**
 * The registration's wire form built field by field (`wire`) is what the schema's encoder makes of it:
 * any registration, any statuses, null or set timestamps, shared or distinct Date objects.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encode, render, toJson, wire } from "../src/RegistrationsApi.ts"

const statuses = ["confirmed", "waitlisted", "cancelled", "attended", "no_show"] as const
const date = fc.date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true })

const registration = fc.record({
  id: fc.uuid(),
  eventId: fc.uuid(),
  userId: fc.uuid(),
  status: fc.constantFrom(...statuses),
  waitlistPosition: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: null }),
  notes: fc.string({ unit: "grapheme", maxLength: 40 }),
  createdAt: date,
  updatedAt: date,
  confirmedAt: fc.option(date, { nil: null }),
  cancelledAt: fc.option(date, { nil: null })
}).map((fields) => fields as unknown as Parameters<typeof wire>[0])

describe("the registration's wire form", () => {
  it("is what the schema encodes, and its text what JSON.stringify makes of that", () => {
    fc.assert(fc.property(registration, (r) => {
      const expected = encode(toJson(r))
      expect(wire(r)).toStrictEqual(expected)
      expect(JSON.stringify(wire(r))).toBe(JSON.stringify(expected))
      expect(render({ ...r })).toBe(JSON.stringify(expected))
    }), { numRuns: 500 })
  })

  it("gives each Date its own text when a batch's registrations share one and the next has another", () => {
    fc.assert(fc.property(fc.array(registration, { minLength: 2, maxLength: 6 }), date, (batch, at) => {
      // A batch: every registration stamped with the same Date object; then one stamped otherwise.
      const shared = batch.map((r) => ({ ...r, createdAt: at, updatedAt: at, confirmedAt: at }))
      for (const r of [...shared, ...batch]) expect(wire(r)).toStrictEqual(encode(toJson(r)))
    }), { numRuns: 200 })
  })
})
