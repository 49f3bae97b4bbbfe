import { describe, expect, it } from "@effect/vitest"
import { TagStamps } from "../src/index.ts"

describe("TagStamps", () => {
  it("keeps the newest stamp of a tag", () => {
    const stamps = TagStamps.make()
    stamps.raise("event:1", 20)
    stamps.raise("event:1", 10)
    expect(stamps.get("event:1")).toBe(20)
    stamps.raise("event:1", 30)
    expect(stamps.get("event:1")).toBe(30)
    expect(stamps.get("event:2")).toBeUndefined()
  })

  it("forgets the stamps older than the horizon and keeps the others", () => {
    const stamps = TagStamps.make()
    for (let i = 1; i <= 10; i++) stamps.raise(`user:${i}`, i * 10)
    stamps.prune(55)
    expect([1, 2, 3, 4, 5].map((i) => stamps.get(`user:${i}`))).toEqual([undefined, undefined, undefined, undefined, undefined])
    expect([6, 7, 8, 9, 10].map((i) => stamps.get(`user:${i}`))).toEqual([60, 70, 80, 90, 100])
    expect(stamps.size()).toBe(5)
  })

  it("a tag raised again outlives the horizon of its older stamp", () => {
    const stamps = TagStamps.make()
    stamps.raise("user:1", 10)
    stamps.raise("user:2", 20)
    stamps.raise("user:1", 40)
    stamps.prune(30)
    expect(stamps.get("user:1")).toBe(40)
    expect(stamps.get("user:2")).toBeUndefined()
    stamps.prune(50)
    expect(stamps.size()).toBe(0)
  })

  it("a late stamp (recorded after younger ones) is forgotten once those are", () => {
    const stamps = TagStamps.make()
    stamps.raise("a", 100)
    stamps.raise("late", 5)
    stamps.prune(50)
    // Behind a younger stamp, the late one waits; it never makes anything stale that it should not.
    expect(stamps.get("late")).toBe(5)
    stamps.prune(150)
    expect(stamps.size()).toBe(0)
  })

  it("stays exact through compaction of its queue, over many horizons", () => {
    const stamps = TagStamps.make()
    for (let i = 1; i <= 50_000; i++) {
      stamps.raise(`user:${i % 7_000}`, i)
      stamps.prune(i - 2_000)
    }
    // The tags of stamps 48,000 to 50,000 (all distinct modulo 7,000), each with its newest stamp.
    expect(stamps.size()).toBe(2_001)
    expect(stamps.get(`user:${50_000 % 7_000}`)).toBe(50_000)
    expect(stamps.get(`user:${48_000 % 7_000}`)).toBe(48_000)
    expect(stamps.get(`user:${47_999 % 7_000}`)).toBeUndefined()
  })
})
