/**
 * The SQL claim's answer is checked run by run: rows of an aggregate are delivered only as an unbroken
 * prefix of its run (ranks 1, 2, 3 … from its head); whatever follows a gap is handed back.
 */
import { expect, it } from "@effect/vitest"
import { keepRunPrefixes } from "../src/OutboxClaimSql.ts"

const row = (position: number, aggregate: string, head: number, rn: number) => ({
  position: String(position),
  id: `00000000-0000-4000-8000-${String(position).padStart(12, "0")}`,
  aggregate_id: aggregate,
  type: "T",
  schema_version: 1,
  occurred_at: new Date(0),
  payload: "{}",
  traceparent: null,
  attempts: 0,
  head: String(head),
  rn: String(rn),
  front_full: true
})

it("keeps each aggregate's unbroken prefix, in position order, and hands back what follows a gap", () => {
  const { gaps, messages } = keepRunPrefixes([
    row(9, "b", 2, 3), // b's rank 2 (position 5) is missing: 9 must not go out before it
    row(4, "a", 1, 2),
    row(2, "b", 2, 1),
    row(1, "a", 1, 1),
    row(12, "b", 2, 4),
    row(7, "a", 1, 3)
  ])
  expect(messages.map((m) => [m.position, m.aggregateId])).toEqual([[1, "a"], [2, "b"], [4, "a"], [7, "a"]])
  expect(gaps.sort((x, y) => x - y)).toEqual([9, 12])
})

it("an answer without a claimed row is an empty batch", () => {
  const empty = Object.fromEntries(Object.keys(row(1, "a", 1, 1)).map((key) => [key, null]))
  expect(keepRunPrefixes([{ ...empty, front_full: false } as never])).toEqual({ messages: [], gaps: [] })
})
