import { describe, expect, it } from "@effect/vitest"
import { LruStore } from "../src/index.ts"

describe("LruStore", () => {
  it("evicts the least recently used entry; get refreshes recency, peek does not", () => {
    const store = LruStore.make<number>(3)
    store.set("a", 1)
    store.set("b", 2)
    store.set("c", 3)
    expect(store.get("a")).toBe(1)
    expect(store.peek("b")).toBe(2)
    expect(store.set("d", 4)).toBe(1) // evicts b
    expect([...store.entries()].map(([key]) => key)).toEqual(["c", "a", "d"])
    expect(store.get("b")).toBeUndefined()
  })

  it("replacing a key neither grows nor evicts; delete and clear keep the list consistent", () => {
    const store = LruStore.make<number>(2)
    store.set("a", 1)
    store.set("b", 2)
    expect(store.set("a", 10)).toBe(0)
    expect(store.size()).toBe(2)
    expect(store.delete("b")).toBe(true)
    store.set("c", 3)
    store.set("d", 4) // evicts a
    expect([...store.entries()]).toEqual([["c", 3], ["d", 4]])
    expect(store.clear()).toBe(2)
    store.set("e", 5)
    expect([...store.entries()]).toEqual([["e", 5]])
  })

  it("stays O(1) under churn at capacity", () => {
    const store = LruStore.make<number>(10_000)
    const start = performance.now()
    for (let i = 0; i < 200_000; i++) store.set(`k${i}`, i)
    expect(store.size()).toBe(10_000)
    expect(performance.now() - start).toBeLessThan(2_000)
  })
})
