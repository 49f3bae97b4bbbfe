/**
 * The replay window of a live feed: a client resuming with `Last-Event-ID` gets exactly the messages
 * after it while they are in the window, a `Reset` once they have left it; duplicates are dropped only
 * while their first copy is in the window. Thousands of messages through a small window exercise the
 * window's bookkeeping past its compaction.
 */
import { it } from "@effect/vitest"
import { Effect, Queue, Stream } from "effect"
import { expect } from "vitest"
import * as LiveFeed from "../src/LiveFeed.ts"

const message = (n: number): LiveFeed.LiveMessage => ({
  id: `m-${n}`,
  type: "RegistrationConfirmed",
  aggregateId: "0b7c2a58-5d43-4b5e-9d0e-2f1f4c1d9a10",
  data: { n }
})

const names = (items: ReadonlyArray<LiveFeed.LiveItem>) =>
  items.map((item) => item._tag === "Reset" ? "reset" : item.message.id)

it.live("resuming replays what followed the last event id while it is in the window, else resets", () =>
  Effect.gen(function*() {
    const source = yield* Queue.unbounded<LiveFeed.LiveMessage>()
    const feed = yield* LiveFeed.make(Stream.fromQueue(source), { replaySize: 5, replayWindow: "1 hour" })
    const total = 5_000
    // A subscriber from the start tells when everything has been ingested (in the feed's own fiber).
    const watcher = yield* feed.subscribe()
    for (let n = 1; n <= total; n++) yield* Queue.offer(source, message(n))
    // A duplicate of a message still in the window is dropped; the one after it is not.
    yield* Queue.offer(source, message(total))
    yield* Queue.offer(source, message(total + 1))
    yield* Stream.runCollect(
      Stream.takeUntil(watcher, (item) => item._tag === "Message" && item.message.id === `m-${total + 1}`)
    )
    const resumed = yield* Stream.runCollect(Stream.take(yield* feed.subscribe(`m-${total - 3}`), 4))
    expect(names(resumed)).toEqual([`m-${total - 2}`, `m-${total - 1}`, `m-${total}`, `m-${total + 1}`])

    // The window keeps five: m-{total-3} is the oldest. One older than that has left it: the client
    // must refetch.
    const fromGone = yield* Stream.runCollect(Stream.take(yield* feed.subscribe(`m-${total - 4}`), 1))
    expect(names(fromGone)).toEqual(["reset"])
    // A message that has left the window is no longer a duplicate: it is delivered again.
    const live = yield* feed.subscribe()
    yield* Queue.offer(source, message(1))
    const again = yield* Stream.runCollect(Stream.take(live, 1))
    expect(names(again)).toEqual(["m-1"])
  }).pipe(Effect.scoped))
