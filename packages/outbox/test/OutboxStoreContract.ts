/**
 * The OutboxStore contract, run against every implementation. Each test gets an empty store from the
 * harness. Live clock: leases and delays are real (short) durations, since the SQL store uses the
 * database's clock.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as OutboxStore from "../src/OutboxStore.ts"
import { message, uuid } from "./Fixtures.ts"

export class StoreHarness extends Context.Service<StoreHarness, {
  readonly fresh: Effect.Effect<OutboxStore.OutboxStore["Service"]>
}>()("test/StoreHarness") {}

export const memoryHarness = Layer.succeed(StoreHarness, StoreHarness.of({ fresh: OutboxStore.makeMemory }))

export const sqlHarness = Layer.effect(
  StoreHarness,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return StoreHarness.of({
      fresh: Effect.andThen(
        sql`TRUNCATE outbox`.pipe(Effect.orDie),
        OutboxStore.makeSql().pipe(Effect.provideService(SqlClient.SqlClient, sql))
      )
    })
  })
)

const lease = Duration.seconds(30)

export const storeContract = (name: string, harness: Layer.Layer<StoreHarness>) =>
  layer(harness, { excludeTestServices: true })(`OutboxStore contract (${name})`, (it) => {
    it.effect("claims in write order with every field intact, and never twice while leased", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const a = uuid()
        const b = uuid()
        const written = [message(a), message(b), message(a)]
        yield* store.enqueue(written)
        const claimed = yield* store.claim({ owner: "x", limit: 10, lease })
        expect(claimed.map((m) => m.id)).toEqual(written.map((m) => m.id))
        const first = claimed[0]!
        expect(first.aggregateId).toBe(a)
        expect(first.type).toBe("RegistrationConfirmed")
        expect(first.schemaVersion).toBe(1)
        expect(first.attempts).toBe(0)
        expect(first.payload).toEqual(written[0]!.payload)
        expect(first.traceparent).toBe(written[0]!.traceparent)
        expect(first.occurredAt.getTime()).toBe(written[0]!.occurredAt.getTime())
        expect(claimed[0]!.position).toBeLessThan(claimed[1]!.position)
        expect(yield* store.claim({ owner: "y", limit: 10, lease })).toEqual([])
      }))

    it.effect("keeps per-aggregate order across claimants", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const a = uuid()
        const b = uuid()
        const [a1, a2, b1, a3] = [message(a), message(a), message(b), message(a)]
        yield* store.enqueue([a1!, a2!, b1!])
        // x takes only the head of a (limit 1)
        const x = yield* store.claim({ owner: "x", limit: 1, lease })
        expect(x.map((m) => m.id)).toEqual([a1!.id])
        // y may not take a2 while a1 is unfinished, but b is free
        const y = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(y.map((m) => m.id)).toEqual([b1!.id])
        yield* store.enqueue([a3!])
        expect(yield* store.claim({ owner: "y", limit: 10, lease })).toEqual([])
        expect(yield* store.markPublished(x.map((m) => m.position))).toBe(1)
        const next = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(next.map((m) => m.id)).toEqual([a2!.id, a3!.id])
      }))

    it.effect("a failed message blocks its aggregate until its retry time, and only its aggregate", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const a = uuid()
        const b = uuid()
        const [a1, a2, b1] = [message(a), message(a), message(b)]
        yield* store.enqueue([a1!, a2!])
        const claimed = yield* store.claim({ owner: "x", limit: 10, lease })
        expect(claimed.length).toBe(2)
        yield* store.retryLater("x", claimed[0]!.position, "boom", Duration.millis(400))
        yield* store.release("x", [claimed[1]!.position])
        yield* store.enqueue([b1!])
        expect((yield* store.claim({ owner: "y", limit: 10, lease })).map((m) => m.id)).toEqual([b1!.id])
        yield* Effect.sleep(600)
        const retried = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(retried.map((m) => m.id)).toEqual([a1!.id, a2!.id])
        expect(retried[0]!.attempts).toBe(1)
        expect(retried[1]!.attempts).toBe(0)
      }))

    it.effect("dead letters free their aggregate, are listed with their error, and redrive", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const a = uuid()
        const [a1, a2] = [message(a), message(a)]
        yield* store.enqueue([a1!, a2!])
        const claimed = yield* store.claim({ owner: "x", limit: 1, lease })
        yield* store.deadLetter("x", claimed[0]!.position, "rejected for good")
        const after = yield* store.claim({ owner: "x", limit: 10, lease })
        expect(after.map((m) => m.id)).toEqual([a2!.id])
        yield* store.markPublished(after.map((m) => m.position))
        const page = yield* store.listDeadLetters({ limit: 10 })
        expect(page.items.map((m) => m.id)).toEqual([a1!.id])
        expect(page.items[0]!.lastError).toBe("rejected for good")
        expect(page.items[0]!.attempts).toBe(1)
        expect(page.items[0]!.deadLetteredAt).toBeInstanceOf(Date)
        expect(page.nextCursor).toBeNull()
        expect((yield* store.stats).deadLettered).toBe(1)
        yield* store.redrive(a1!.id)
        expect((yield* store.listDeadLetters({ limit: 10 })).items).toEqual([])
        const again = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(again.map((m) => [m.id, m.attempts])).toEqual([[a1!.id, 0]])
        const missing = yield* Effect.exit(store.redrive(a1!.id))
        expect(Exit.isFailure(missing)).toBe(true)
        const unknown = yield* Effect.flip(store.redrive("not-a-uuid"))
        expect(unknown._tag).toBe("DeadLetterNotFound")
      }))

    it.effect("pages dead letters with a cursor", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const messages = [message(uuid()), message(uuid()), message(uuid())]
        yield* store.enqueue(messages)
        for (const claimed of yield* store.claim({ owner: "x", limit: 10, lease })) {
          yield* store.deadLetter("x", claimed.position, "no")
        }
        const first = yield* store.listDeadLetters({ limit: 2 })
        expect(first.items.map((m) => m.id)).toEqual([messages[0]!.id, messages[1]!.id])
        expect(first.nextCursor).not.toBeNull()
        const second = yield* store.listDeadLetters({ limit: 2, cursor: first.nextCursor })
        expect(second.items.map((m) => m.id)).toEqual([messages[2]!.id])
        expect(second.nextCursor).toBeNull()
      }))

    it.effect("an expired lease is reclaimed; a heartbeat keeps it; the old owner learns it lost it", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const short = Duration.millis(300)
        const kept = message(uuid())
        const dropped = message(uuid())
        yield* store.enqueue([kept, dropped])
        const claimed = yield* store.claim({ owner: "x", limit: 10, lease: short })
        expect(claimed.length).toBe(2)
        yield* Effect.sleep(150)
        expect(yield* store.extendLease("x", [claimed[0]!.position], short)).toEqual([claimed[0]!.position])
        yield* Effect.sleep(250)
        // dropped's lease expired; kept's was extended
        const taken = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(taken.map((m) => m.id)).toEqual([dropped.id])
        expect(yield* store.extendLease("x", claimed.map((m) => m.position), short)).toEqual([claimed[0]!.position])
      }))

    it.effect("release gives messages back without counting an attempt", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const m = message(uuid())
        yield* store.enqueue([m])
        const claimed = yield* store.claim({ owner: "x", limit: 10, lease })
        yield* store.release("x", claimed.map((c) => c.position))
        const again = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(again.map((c) => [c.id, c.attempts])).toEqual([[m.id, 0]])
      }))

    it.effect("releaseAll gives back every unfinished message of its owner only, attempts untouched", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const [a, b, c, d] = [message(uuid()), message(uuid()), message(uuid()), message(uuid())]
        yield* store.enqueue([a!, b!])
        const mine = yield* store.claim({ owner: "x", limit: 10, lease })
        yield* store.enqueue([c!, d!])
        const theirs = yield* store.claim({ owner: "y", limit: 1, lease })
        expect(theirs.map((m) => m.id)).toEqual([c!.id])
        yield* store.markPublished([mine[1]!.position])
        // a is still x's, b is published, c is y's, d is free.
        expect(yield* store.releaseAll("x")).toBe(1)
        const again = yield* store.claim({ owner: "z", limit: 10, lease })
        expect(again.map((m) => [m.id, m.attempts])).toEqual([[a!.id, 0], [d!.id, 0]])
        expect(yield* store.releaseAll("nobody")).toBe(0)
      }))

    it.effect("reports pending count and the oldest pending message; purges delivered ones only", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        expect(yield* store.stats).toEqual({ pending: 0, oldestPendingAt: null, deadLettered: 0 })
        const messages = [message(uuid()), message(uuid()), message(uuid())]
        yield* store.enqueue(messages)
        const stats = yield* store.stats
        expect(stats.pending).toBe(3)
        expect(stats.oldestPendingAt?.getTime()).toBe(messages[0]!.occurredAt.getTime())
        const claimed = yield* store.claim({ owner: "x", limit: 10, lease })
        yield* store.markPublished([claimed[0]!.position])
        yield* store.deadLetter("x", claimed[1]!.position, "no")
        expect((yield* store.stats).pending).toBe(1)
        expect(yield* store.purge(Duration.days(1))).toBe(0)
        yield* Effect.sleep(20)
        expect(yield* store.purge(Duration.millis(1))).toBe(1)
        expect(yield* store.stats).toMatchObject({ pending: 1, deadLettered: 1 })
        // a published message is never claimed again
        yield* store.release("x", [claimed[2]!.position])
        const rest = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(rest.map((m) => m.id)).toEqual([messages[2]!.id])
      }))

    it.effect("refuses a duplicate message id", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const m = message(uuid())
        yield* store.enqueue([m])
        const duplicate = yield* Effect.exit(store.enqueue([m]))
        expect(Exit.isFailure(duplicate)).toBe(true)
        expect((yield* store.stats).pending).toBe(1)
      }))

    it.effect("claims whole runs of the oldest heads' aggregates up to the limit, as prefixes", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const aggregates = Array.from({ length: 5 }, uuid)
        const written = Array.from({ length: 50 }, (_, i) => message(aggregates[i % 5]!))
        yield* store.enqueue(written)
        const of = (k: number) => written.filter((m) => m.aggregateId === aggregates[k])
        const ids = (messages: ReadonlyArray<{ readonly id: string }>) => messages.map((m) => m.id)
        const byPosition = (messages: ReadonlyArray<{ readonly id: string }>) =>
          written.filter((m) => messages.some((n) => n.id === m.id)).map((m) => m.id)
        // 23 = the runs of the first two aggregates and the first 3 of the third one.
        const first = yield* store.claim({ owner: "x", limit: 23, lease })
        expect(ids(first)).toEqual(byPosition([...of(0), ...of(1), ...of(2).slice(0, 3)]))
        // A second claimant takes the aggregates x does not hold, a full batch beside x's.
        const second = yield* store.claim({ owner: "y", limit: 100, lease })
        expect(ids(second)).toEqual(byPosition([...of(3), ...of(4)]))
        yield* store.markPublished(first.map((m) => m.position))
        const third = yield* store.claim({ owner: "z", limit: 100, lease })
        expect(ids(third)).toEqual(ids(of(2).slice(3)))
      }))

    it.effect("a held head keeps its run off other claims; a failure behind a delivered message is recorded", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const a = uuid()
        const [a1, a2, a3, b1] = [message(a), message(a), message(a), message(uuid())]
        yield* store.enqueue([a1!, a2!, a3!, b1!])
        const [p1, p2, p3, q1] = (yield* store.claim({ owner: "x", limit: 10, lease })).map((m) => m.position)
        expect(yield* store.claim({ owner: "y", limit: 10, lease })).toEqual([])
        // y holds none of them: its failures change nothing.
        yield* store.deadLetter("y", q1!, "not yours")
        yield* store.retryLater("y", p1!, "not yours", Duration.seconds(30))
        expect((yield* store.listDeadLetters({ limit: 10 })).items).toEqual([])
        // a2 failed after a1 was delivered: its attempt counts and a's rest waits for its retry time.
        yield* store.retryLater("x", p2!, "boom", Duration.millis(300))
        yield* store.markPublished([p1!, q1!])
        yield* store.release("x", [p3!])
        expect(yield* store.claim({ owner: "y", limit: 10, lease })).toEqual([])
        yield* Effect.sleep(400)
        const retried = yield* store.claim({ owner: "y", limit: 10, lease })
        expect(retried.map((m) => [m.id, m.attempts, m.position])).toEqual([[a2!.id, 1, p2], [a3!.id, 0, p3]])
      }))

    it.effect("claimBatch says whether the backlog is longer than the limit", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const a = uuid()
        yield* store.enqueue(Array.from({ length: 5 }, () => message(a)))
        yield* store.enqueue([message(uuid())])
        const first = yield* store.claimBatch({ owner: "x", limit: 3, lease })
        expect([first.messages.length, first.more]).toEqual([3, true])
        // Short (a's rest waits behind x's lease) but from a longer backlog: more may come soon.
        const second = yield* store.claimBatch({ owner: "y", limit: 2, lease })
        expect([second.messages.length, second.more]).toEqual([1, true])
        // Everything there is fits in the limit: a short (even empty) batch means there is nothing else.
        expect(yield* store.claimBatch({ owner: "z", limit: 10, lease })).toEqual({ messages: [], more: false })
        yield* store.enqueue([message(uuid())])
        const third = yield* store.claimBatch({ owner: "z", limit: 10, lease })
        expect([third.messages.length, third.more]).toEqual([1, false])
      }))

    it.effect("a front of the backlog held or waiting does not hide the aggregates behind it", () =>
      Effect.gen(function*() {
        const store = yield* StoreHarness.use((h) => h.fresh)
        const a = uuid()
        const b = uuid()
        const c = uuid()
        // a's 6 messages first (its head waiting for a retry), then b's, and c's behind another relay.
        const as = Array.from({ length: 6 }, () => message(a))
        const [c1, b1, b2, c2] = [message(c), message(b), message(b), message(c)]
        yield* store.enqueue([...as, c1!, b1!, b2!, c2!])
        const head = yield* store.claim({ owner: "x", limit: 1, lease })
        yield* store.retryLater("x", head[0]!.position, "boom", Duration.seconds(30))
        expect((yield* store.claim({ owner: "z", limit: 1, lease: Duration.seconds(30) })).map((m) => m.id))
          .toEqual([c1!.id])
        // The first 4 unfinished messages are all a's: the claim reaches past them, to b's head (and
        // possibly its run: the SQL store looks at followers only up to the limit-th unfinished one).
        const claimed = yield* store.claim({ owner: "y", limit: 4, lease })
        expect(claimed.length).toBeGreaterThan(0)
        expect(claimed.map((m) => m.id)).toEqual([b1!.id, b2!.id].slice(0, claimed.length))
        yield* store.markPublished(claimed.map((m) => m.position))
        const rest = yield* store.claim({ owner: "y", limit: 4, lease })
        expect([...claimed, ...rest].map((m) => m.id)).toEqual([b1!.id, b2!.id])
      }))
  })
