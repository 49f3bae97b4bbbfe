/**
 * UUID v7 as RFC 9562 lays it out: 48 bits of Unix milliseconds (big-endian), version 7, the variant
 * bits `10`, the rest random; and the live layer's ids unique and ordered by time.
 */
import { Effect } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Ids } from "../src/index.ts"

/** The layout read back from the text: what a consumer of the id relies on. */
const fields = (id: string) => {
  const hex = id.replaceAll("-", "")
  return {
    millis: Number.parseInt(hex.slice(0, 12), 16),
    version: Number.parseInt(hex[12]!, 16),
    variant: Number.parseInt(hex[16]!, 16) >> 2,
    // Everything but the version and variant bits comes from the random bytes.
    random: hex.slice(13, 16) + (Number.parseInt(hex[16]!, 16) & 0x3).toString(16) + hex.slice(17)
  }
}

describe("UUID v7", () => {
  it("lays out the time, version, variant and random bits", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (millis, random) => {
        const id = Ids.uuidV7(millis, random)
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        const read = fields(id)
        expect(read.millis).toBe(millis)
        expect(read.version).toBe(7)
        expect(read.variant).toBe(2)
        const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")
        expect(read.random).toBe(hex.slice(13, 16) + (Number.parseInt(hex[16]!, 16) & 0x3).toString(16) + hex.slice(17))
      }
    ))
  })

  it("mints unique ids in time order from the live layer, across refills of its random pool", async () => {
    const ids = await Effect.runPromise(
      Effect.gen(function*() {
        const { next } = yield* Ids.Ids
        return yield* Effect.forEach(Array.from({ length: 2000 }), () => next)
      }).pipe(Effect.provide(Ids.Ids.layer))
    )
    expect(new Set(ids).size).toBe(ids.length)
    const times = ids.map((id) => fields(id).millis)
    expect([...times].sort((a, b) => a - b)).toEqual(times)
    // The random parts differ: no byte of the pool is handed out twice.
    expect(new Set(ids.map((id) => fields(id).random)).size).toBe(ids.length)
  })
})
