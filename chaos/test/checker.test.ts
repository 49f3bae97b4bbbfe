/**
 * The checker must catch each kind of inconsistency on a hand-made state, and stay silent on a
 * consistent one, or a green chaos run proves nothing.
 */
import { describe, expect, it } from "vitest"
import { check, type CheckInput, type EventRow, type RegistrationRow, type RequestRecord, type Rule } from "../checker.ts"

const event = (id: string, capacity: number, counts: Partial<Pick<EventRow, "confirmedCount" | "waitlistCount">> = {}): EventRow => ({
  id,
  capacity,
  confirmedCount: counts.confirmedCount ?? null,
  waitlistCount: counts.waitlistCount ?? null
})

const row = (id: string, status: RegistrationRow["status"], extra: Partial<RegistrationRow> = {}): RegistrationRow => ({
  id,
  eventId: "e1",
  userKey: `user-${id}`,
  status,
  waitlistSeq: null,
  confirmedAt: status === "confirmed" ? 1 : null,
  ...extra
})

/** A 2xx register answer for `r`, sent at `sentAt` and answered 5 ms later. */
const answered = (r: RegistrationRow, answeredStatus: "confirmed" | "waitlisted", sentAt: number): RequestRecord => ({
  route: "register",
  eventId: r.eventId,
  userKey: r.userKey,
  registrationId: r.id,
  sentAt,
  answeredAt: sentAt + 5,
  httpStatus: 201,
  answeredStatus,
  answeredPosition: null
})

const cancelled = (r: RegistrationRow, sentAt: number, httpStatus: number | null = 200): RequestRecord => ({
  route: "cancel",
  eventId: r.eventId,
  userKey: r.userKey,
  registrationId: r.id,
  sentAt,
  answeredAt: httpStatus === null ? null : sentAt + 5,
  httpStatus,
  answeredStatus: httpStatus === 200 ? "cancelled" : null,
  answeredPosition: null
})

/** The same state without outbox rows (skips the outbox checks). */
const withoutOutbox = ({ outbox: _outbox, ...rest }: CheckInput): CheckInput => rest

const rules = (input: CheckInput): Array<Rule> => [...new Set(check(input).map((v) => v.rule))].sort()

/** Capacity 2: a, b confirmed; c, d waiting (in that order); e cancelled while waiting. */
const consistent = (): CheckInput => {
  const a = row("a", "confirmed")
  const b = row("b", "confirmed")
  const c = row("c", "waitlisted", { waitlistSeq: 10 })
  const d = row("d", "waitlisted", { waitlistSeq: 11 })
  const e = row("e", "cancelled", { waitlistSeq: 12 })
  return {
    events: [event("e1", 2, { confirmedCount: 2, waitlistCount: 2 })],
    registrations: [a, b, c, d, e],
    requests: [answered(a, "confirmed", 0), answered(b, "confirmed", 10), answered(c, "waitlisted", 20), answered(d, "waitlisted", 30), answered(e, "waitlisted", 40), cancelled(e, 50)],
    outbox: [
      { type: "RegistrationConfirmed", aggregateId: "e1", payload: { data: { registrationId: "a" } } },
      { type: "RegistrationConfirmed", aggregateId: "e1", payload: { data: { registrationId: "b" } } },
      { type: "RegistrationWaitlisted", aggregateId: "e1", payload: { data: { registrationId: "c" } } },
      { type: "RegistrationWaitlisted", aggregateId: "e1", payload: { data: { registrationId: "d" } } },
      { type: "RegistrationWaitlisted", aggregateId: "e1", payload: { data: { registrationId: "e" } } },
      { type: "RegistrationCancelled", aggregateId: "e1", payload: { data: { registrationId: "e" } } }
    ]
  }
}

const replaceRow = (input: CheckInput, id: string, patch: Partial<RegistrationRow>): CheckInput => ({
  ...input,
  registrations: input.registrations.map((r) => (r.id === id ? { ...r, ...patch } : r))
})

describe("chaos checker", () => {
  it("accepts a consistent state", () => {
    expect(check(consistent())).toEqual([])
  })

  it("accepts a promotion after a cancel", () => {
    const base = consistent()
    // a cancelled, c promoted (FIFO), d now first in line.
    const input = replaceRow(replaceRow(base, "a", { status: "cancelled" }), "c", { status: "confirmed", confirmedAt: 100 })
    expect(check({
      ...input,
      events: [event("e1", 2, { confirmedCount: 2, waitlistCount: 1 })],
      requests: [...input.requests, cancelled(base.registrations[0]!, 60)],
      outbox: [
        ...base.outbox!,
        { type: "RegistrationCancelled", aggregateId: "e1", payload: { data: { registrationId: "a" } } },
        { type: "RegistrationPromoted", aggregateId: "e1", payload: { data: { registrationId: "c" } } }
      ]
    })).toEqual([])
  })

  it("catches overbooking", () => {
    const input = consistent()
    const extra = row("x", "confirmed")
    expect(rules({ ...input, registrations: [...input.registrations, extra], requests: [...input.requests, answered(extra, "confirmed", 60)] }))
      .toContain("I1 no overbooking")
  })

  it("catches duplicate positions (equal join order)", () => {
    expect(rules(replaceRow(consistent(), "d", { waitlistSeq: 10 }))).toContain("I3 contiguous FIFO waitlist")
  })

  it("catches duplicate stored positions", () => {
    const input = consistent()
    const stored = { ...input, registrations: input.registrations.map((r) => ({ ...r, waitlistPosition: r.status === "waitlisted" ? 1 : null })) }
    expect(check(stored).map((v) => v.message).join("\n")).toMatch(/duplicate position 1/)
  })

  it("catches a gap in stored positions", () => {
    const input = consistent()
    const positions: Record<string, number> = { c: 1, d: 3 }
    const stored = { ...input, registrations: input.registrations.map((r) => ({ ...r, waitlistPosition: positions[r.id] ?? null })) }
    expect(check(stored).map((v) => v.message).join("\n")).toMatch(/missing 2/)
  })

  it("catches a waiter without a position", () => {
    expect(rules(replaceRow(consistent(), "c", { waitlistSeq: null }))).toContain("I3 contiguous FIFO waitlist")
  })

  it("catches stored positions that contradict join order", () => {
    const input = consistent()
    const positions: Record<string, number> = { c: 2, d: 1 }
    const stored = { ...input, registrations: input.registrations.map((r) => ({ ...r, waitlistPosition: positions[r.id] ?? null })) }
    expect(check(stored).map((v) => v.message).join("\n")).toMatch(/position order differs from join order/)
  })

  it("catches a lost registration", () => {
    const input = consistent()
    expect(rules(withoutOutbox({ ...input, registrations: input.registrations.filter((r) => r.id !== "d"), events: [event("e1", 2)] })))
      .toContain("lost registration")
  })

  it("catches a registration stored for another user", () => {
    expect(rules(replaceRow(consistent(), "b", { userKey: "someone-else" }))).toContain("answer mismatch")
  })

  it("catches a confirmed answer that is now waitlisted", () => {
    const input = consistent()
    const answers = input.requests.map((r) => (r.registrationId === "c" && r.route === "register" ? { ...r, answeredStatus: "confirmed" as const } : r))
    expect(rules({ ...input, requests: answers })).toContain("answer mismatch")
  })

  it("catches a 2xx cancel that did not stick", () => {
    const input = consistent()
    expect(rules({ ...input, requests: [...input.requests, cancelled(input.registrations[3]!, 60)] })).toContain("answer mismatch")
  })

  it("catches a cancellation nobody asked for", () => {
    const input = consistent()
    expect(rules({ ...input, requests: input.requests.filter((r) => r.route !== "cancel") })).toContain("answer mismatch")
  })

  it("accepts a cancel whose answer was lost, and catches a phantom row", () => {
    const input = consistent()
    const lostAnswer = { ...input, requests: input.requests.map((r) => (r.route === "cancel" ? { ...r, httpStatus: null, answeredAt: null, answeredStatus: null } : r)) }
    expect(check(lostAnswer)).toEqual([])
    const phantom = row("p", "cancelled", { userKey: "user-never-asked" })
    expect(rules({ ...input, registrations: [...input.registrations, phantom] })).toContain("phantom registration")
  })

  it("catches a row created by a request answered 409", () => {
    const input = consistent()
    const refused = { ...answered(input.registrations[1]!, "confirmed", 70), httpStatus: 409, answeredStatus: null, registrationId: null }
    const twice = row("b2", "cancelled", { userKey: "user-b" })
    expect(rules({
      ...input,
      registrations: [...input.registrations, twice],
      requests: [...input.requests, refused, cancelled(twice, 80, null)]
    })).toContain("phantom registration")
  })

  it("catches two active registrations of one user", () => {
    expect(rules(replaceRow(consistent(), "d", { userKey: "user-c" }))).toContain("I2 one active registration")
  })

  it("catches a free seat while people wait", () => {
    const input = replaceRow(consistent(), "a", { status: "cancelled" })
    expect(rules({ ...input, requests: [...input.requests, cancelled(input.registrations[0]!, 60)] })).toContain("I4 no queue jumping")
  })

  it("catches a newcomer confirmed while someone was already waiting (queue jumping)", () => {
    const input = replaceRow(consistent(), "a", { status: "cancelled" })
    const newcomer = row("n", "confirmed")
    expect(rules({
      ...input,
      registrations: [...input.registrations, newcomer],
      // c was answered "waitlisted" at 25; n was sent at 100 and confirmed while c still waits.
      requests: [...input.requests, cancelled(input.registrations[0]!, 60), answered(newcomer, "confirmed", 100)]
    })).toContain("I4 no queue jumping")
  })

  it("catches a later waiter promoted ahead of an earlier one", () => {
    const base = consistent()
    // a cancelled, but d (joined after c) was promoted instead of c.
    const input = replaceRow(replaceRow(base, "a", { status: "cancelled" }), "d", { status: "confirmed", confirmedAt: 100 })
    const found = rules(withoutOutbox({ ...input, events: [event("e1", 2)], requests: [...input.requests, cancelled(base.registrations[0]!, 60)] }))
    expect(found).toContain("I4 no queue jumping")
  })

  it("catches a later waiter standing ahead of an earlier one (answer order)", () => {
    const input = consistent()
    // join order says c before d, but the answers say d joined first: d is behind c although it was answered before c was sent.
    const swapped = input.requests.map((r) => (r.registrationId === "d" && r.route === "register" ? { ...r, sentAt: 5, answeredAt: 8 } : r))
    expect(rules({ ...input, requests: swapped })).toContain("I4 no queue jumping")
  })

  it("catches wrong stored counters", () => {
    expect(rules({ ...consistent(), events: [event("e1", 2, { confirmedCount: 1, waitlistCount: 3 })] })).toContain("counters")
  })

  it("catches a missing outbox event and an event for a registration that does not exist", () => {
    const input = consistent()
    const outbox = input.outbox!.filter((m) => !(m.type === "RegistrationCancelled"))
    expect(rules({ ...input, outbox })).toContain("outbox")
    const orphan = { type: "RegistrationConfirmed", aggregateId: "e1", payload: { data: { registrationId: "rolled-back" } } }
    expect(check({ ...input, outbox: [...input.outbox!, orphan] }).map((v) => v.message).join("\n")).toMatch(/names no existing registration/)
  })
})

describe("chaos checker: the API's final view", () => {
  const view = (waitlist: Array<{ id: string; position: number | null }>, counts = { confirmedCount: 2, waitlistCount: 2 }) => ({ eventId: "e1", ...counts, waitlist })

  it("accepts a view that matches the rows", () => {
    expect(check({ ...consistent(), apiViews: [view([{ id: "c", position: 1 }, { id: "d", position: 2 }])] })).toEqual([])
  })

  it("catches a served gap, a wrong order and wrong counts", () => {
    expect(rules({ ...consistent(), apiViews: [view([{ id: "c", position: 1 }, { id: "d", position: 3 }])] })).toContain("I3 contiguous FIFO waitlist")
    expect(rules({ ...consistent(), apiViews: [view([{ id: "d", position: 1 }, { id: "c", position: 2 }])] })).toContain("I3 contiguous FIFO waitlist")
    expect(rules({ ...consistent(), apiViews: [view([{ id: "c", position: 1 }])] })).toContain("I3 contiguous FIFO waitlist")
    expect(rules({ ...consistent(), apiViews: [view([{ id: "c", position: 1 }, { id: "d", position: 2 }], { confirmedCount: 3, waitlistCount: 2 })] })).toContain("counters")
  })
})
