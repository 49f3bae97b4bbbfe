/**
 * The invariant checker of the chaos harness: a pure function from the final database rows and
 * the log of every request the harness sent (with its answer, if any) to the list of violations.
 *
 * It checks the invariants I1–I4 on the final state, and everything that can be proven from the answers
 * without trusting server clocks:
 * - every 2xx registration answer exists in the database with the answered event and user, in a
 *   state reachable from the answer (confirmed never goes back to waitlisted; cancelled only if a
 *   cancel was sent); every 2xx cancel is cancelled;
 * - no registration exists that no request asked for, and no more rows than requests that could
 *   have created them (4xx answers are definitive refusals);
 * - queue jumping, proven from answer order: if W's "waitlisted" answer arrived before N's request
 *   was sent and W is still waiting, then N must not have been confirmed (directly or by
 *   promotion), and W must stand ahead of N if both wait;
 * - with outbox rows: each registration has its creation event, a cancelled one its cancel event,
 *   and no registration event refers to a registration that does not exist (a rolled-back change).
 *
 * Statuses at answer time may since have changed (later cancels and promotions), which is why the
 * answer checks are about reachability, not equality.
 */

/** Registration statuses. */
export type RegistrationStatus = "confirmed" | "waitlisted" | "cancelled" | "attended" | "no_show"

/** One event row, as the harness reads it. */
export interface EventRow {
  readonly id: string
  readonly capacity: number
  /** The stored read-model counters, when the schema keeps them (null: not kept). */
  readonly confirmedCount: number | null
  readonly waitlistCount: number | null
}

/** One registration row, as the harness reads it. */
export interface RegistrationRow {
  readonly id: string
  readonly eventId: string
  /** The user's stable key: the token subject. */
  readonly userKey: string
  readonly status: RegistrationStatus
  /** Join order of a waiter (smaller joined earlier); null when not kept. */
  readonly waitlistSeq: number | null
  /** A stored position, for schemas that store one; undefined means "derive from waitlistSeq". */
  readonly waitlistPosition?: number | null
  /** When it got a seat (directly or by promotion), if the schema records it. */
  readonly confirmedAt: number | null
}

/** One request the harness sent, and what came back. */
export interface RequestRecord {
  readonly route: "register" | "cancel"
  readonly eventId: string
  readonly userKey: string
  /** For cancel: the target; for a 2xx register: the id from the answer. */
  readonly registrationId: string | null
  /** When the request was sent (harness clock, ms). */
  readonly sentAt: number
  /** When the answer arrived; null if none (connection error, timeout, killed server). */
  readonly answeredAt: number | null
  /** HTTP status; null if no answer. */
  readonly httpStatus: number | null
  /** The registration status in a 2xx answer. */
  readonly answeredStatus: RegistrationStatus | null
  readonly answeredPosition: number | null
}

/** One outbox row. */
export interface OutboxRow {
  readonly type: string
  readonly aggregateId: string
  readonly payload: unknown
}

/**
 * What the API showed for an event once traffic stopped (the rows no longer change): its counts and
 * its whole waitlist, page by page. Servers may derive positions and counts from their own read
 * models; this compares them with the rows.
 */
export interface ApiView {
  readonly eventId: string
  readonly confirmedCount: number | null
  readonly waitlistCount: number | null
  /** The waitlist in the order served, with the positions served; null if it could not be read. */
  readonly waitlist: ReadonlyArray<{ readonly id: string; readonly position: number | null }> | null
}

/** Everything the checker looks at. */
export interface CheckInput {
  readonly events: ReadonlyArray<EventRow>
  readonly registrations: ReadonlyArray<RegistrationRow>
  readonly requests: ReadonlyArray<RequestRecord>
  /** Omit to skip the outbox checks. */
  readonly outbox?: ReadonlyArray<OutboxRow>
  /** Omit to skip comparing the API's final view with the rows. */
  readonly apiViews?: ReadonlyArray<ApiView>
}

/** Which rule a violation breaks. */
export type Rule =
  | "I1 no overbooking"
  | "I2 one active registration"
  | "I3 contiguous FIFO waitlist"
  | "I4 no queue jumping"
  | "counters"
  | "lost registration"
  | "answer mismatch"
  | "phantom registration"
  | "outbox"
  | "answer during fault"
  | "recovery"
  | "stale cache"
  | "leak"

/** One broken rule, with enough context to find the rows. */
export interface Violation {
  readonly rule: Rule
  readonly eventId?: string
  readonly registrationId?: string
  readonly message: string
}

const seatHolding: ReadonlySet<RegistrationStatus> = new Set(["confirmed", "attended", "no_show"])
const active: ReadonlySet<RegistrationStatus> = new Set(["confirmed", "waitlisted"])
const is2xx = (status: number | null) => status !== null && status >= 200 && status < 300
const is4xx = (status: number | null) => status !== null && status >= 400 && status < 500

/** Caps the report so one systemic bug does not print a million lines. */
const maxViolationsPerRule = 50

const groupBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string): Map<string, Array<A>> => {
  const groups = new Map<string, Array<A>>()
  for (const item of items) {
    const k = key(item)
    const group = groups.get(k)
    if (group === undefined) groups.set(k, [item])
    else group.push(item)
  }
  return groups
}

/**
 * Positions of an event's waiters: stored ones when the schema stores them, else the rank of
 * `waitlistSeq` (equal sequences share a rank, so duplicates show as duplicate positions).
 */
const waitlistPositions = (waiters: ReadonlyArray<RegistrationRow>): Map<string, number | null> => {
  const positions = new Map<string, number | null>()
  if (waiters.every((w) => w.waitlistPosition !== undefined)) {
    for (const w of waiters) positions.set(w.id, w.waitlistPosition ?? null)
    return positions
  }
  const sorted = waiters.filter((w) => w.waitlistSeq !== null).sort((a, b) => a.waitlistSeq! - b.waitlistSeq!)
  let rank = 0
  let previous: number | null = null
  sorted.forEach((w, index) => {
    if (w.waitlistSeq !== previous) rank = index + 1
    previous = w.waitlistSeq
    positions.set(w.id, rank)
  })
  for (const w of waiters) if (w.waitlistSeq === null) positions.set(w.id, null)
  return positions
}

/** Collects every string inside a JSON value. */
const stringsIn = (value: unknown, into: Set<string>, depth = 0): Set<string> => {
  if (depth > 8) return into
  if (typeof value === "string") into.add(value)
  else if (Array.isArray(value)) for (const item of value) stringsIn(item, into, depth + 1)
  else if (typeof value === "object" && value !== null) for (const item of Object.values(value)) stringsIn(item, into, depth + 1)
  return into
}

/** Runs every check; an empty list means the state is consistent. */
export const check = (input: CheckInput): Array<Violation> => {
  const violations: Array<Violation> = []
  const counts = new Map<Rule, number>()
  const report = (violation: Violation) => {
    const n = (counts.get(violation.rule) ?? 0) + 1
    counts.set(violation.rule, n)
    if (n <= maxViolationsPerRule) violations.push(violation)
    else if (n === maxViolationsPerRule + 1) violations.push({ rule: violation.rule, message: `more ${violation.rule} violations omitted` })
  }

  const registrationsById = new Map(input.registrations.map((r) => [r.id, r]))
  const registrationsByEvent = groupBy(input.registrations, (r) => r.eventId)
  const registerRequests = input.requests.filter((r) => r.route === "register")
  const cancelRequests = input.requests.filter((r) => r.route === "cancel")
  const cancelsSent = new Set(cancelRequests.map((r) => r.registrationId))

  // ---- I1, I3, I4 (final state) and the stored counters, per event
  for (const event of input.events) {
    const rows = registrationsByEvent.get(event.id) ?? []
    const seats = rows.filter((r) => seatHolding.has(r.status)).length
    const waiters = rows.filter((r) => r.status === "waitlisted")
    if (seats > event.capacity) {
      report({ rule: "I1 no overbooking", eventId: event.id, message: `${seats} seats held, capacity ${event.capacity}` })
    }
    if (event.confirmedCount !== null && event.confirmedCount !== seats) {
      report({ rule: "counters", eventId: event.id, message: `confirmedCount ${event.confirmedCount}, but ${seats} seat-holding rows` })
    }
    if (event.waitlistCount !== null && event.waitlistCount !== waiters.length) {
      report({ rule: "counters", eventId: event.id, message: `waitlistCount ${event.waitlistCount}, but ${waiters.length} waitlisted rows` })
    }
    if (waiters.length > 0 && seats < event.capacity) {
      report({ rule: "I4 no queue jumping", eventId: event.id, message: `${event.capacity - seats} free seat(s) while ${waiters.length} wait` })
    }

    const positions = waitlistPositions(waiters)
    const seen = new Map<number, string>()
    for (const w of waiters) {
      const position = positions.get(w.id) ?? null
      if (position === null) {
        report({ rule: "I3 contiguous FIFO waitlist", eventId: event.id, registrationId: w.id, message: "waitlisted without a position" })
        continue
      }
      const other = seen.get(position)
      if (other !== undefined) {
        report({ rule: "I3 contiguous FIFO waitlist", eventId: event.id, registrationId: w.id, message: `duplicate position ${position} (also ${other})` })
      }
      seen.set(position, w.id)
    }
    const missing: Array<number> = []
    for (let p = 1; p <= waiters.length && missing.length < 10; p++) if (!seen.has(p)) missing.push(p)
    const outOfRange = [...seen.keys()].filter((p) => p < 1 || p > waiters.length)
    if (missing.length > 0 || outOfRange.length > 0) {
      report({
        rule: "I3 contiguous FIFO waitlist",
        eventId: event.id,
        message: `positions are not 1..${waiters.length}: missing ${missing.join(",") || "none"}, out of range ${outOfRange.slice(0, 10).join(",") || "none"}`
      })
    }
    // Stored positions must follow join order when both are known.
    const bySeq = waiters.filter((w) => w.waitlistSeq !== null && positions.get(w.id) != null).sort((a, b) => a.waitlistSeq! - b.waitlistSeq!)
    for (let i = 1; i < bySeq.length; i++) {
      if (positions.get(bySeq[i]!.id)! <= positions.get(bySeq[i - 1]!.id)! && bySeq[i]!.waitlistSeq !== bySeq[i - 1]!.waitlistSeq) {
        report({ rule: "I3 contiguous FIFO waitlist", eventId: event.id, registrationId: bySeq[i]!.id, message: "position order differs from join order" })
      }
    }

    // A waiter must not be passed by someone who joined the queue after them (join order from the schema).
    const earliestWaiter = waiters.filter((w) => w.waitlistSeq !== null).reduce<RegistrationRow | null>(
      (min, w) => (min === null || w.waitlistSeq! < min.waitlistSeq! ? w : min),
      null
    )
    if (earliestWaiter !== null) {
      for (const r of rows) {
        const gotSeat = seatHolding.has(r.status) || (r.status === "cancelled" && r.confirmedAt !== null)
        if (gotSeat && r.waitlistSeq !== null && r.waitlistSeq > earliestWaiter.waitlistSeq!) {
          report({ rule: "I4 no queue jumping", eventId: event.id, registrationId: r.id, message: `promoted ahead of ${earliestWaiter.id}, who joined the waitlist earlier and still waits` })
        }
      }
    }
  }

  // ---- I2
  for (const [key, rows] of groupBy(input.registrations.filter((r) => active.has(r.status)), (r) => `${r.eventId}|${r.userKey}`)) {
    if (rows.length > 1) {
      report({ rule: "I2 one active registration", eventId: rows[0]!.eventId, message: `${rows.length} active registrations for ${key.split("|")[1]}: ${rows.map((r) => r.id).join(", ")}` })
    }
  }

  // ---- answers: every 2xx register exists as answered; every 2xx cancel is cancelled
  for (const answer of registerRequests) {
    if (!is2xx(answer.httpStatus)) continue
    const row = answer.registrationId === null ? undefined : registrationsById.get(answer.registrationId)
    if (row === undefined) {
      report({ rule: "lost registration", eventId: answer.eventId, message: `${answer.httpStatus} answer with id ${answer.registrationId} has no row` })
      continue
    }
    if (row.eventId !== answer.eventId || row.userKey !== answer.userKey) {
      report({ rule: "answer mismatch", registrationId: row.id, message: `answered for ${answer.eventId}/${answer.userKey}, stored for ${row.eventId}/${row.userKey}` })
    }
    if (answer.answeredStatus === "confirmed" && row.status === "waitlisted") {
      report({ rule: "answer mismatch", registrationId: row.id, message: "answered confirmed, now waitlisted" })
    }
    if (answer.answeredStatus !== "confirmed" && answer.answeredStatus !== "waitlisted") {
      report({ rule: "answer mismatch", registrationId: row.id, message: `register answered status ${answer.answeredStatus}` })
    }
    if (row.status === "cancelled" && !cancelsSent.has(row.id)) {
      report({ rule: "answer mismatch", registrationId: row.id, message: "cancelled, but nobody asked to cancel it" })
    }
  }
  for (const answer of cancelRequests) {
    if (!is2xx(answer.httpStatus)) continue
    const row = answer.registrationId === null ? undefined : registrationsById.get(answer.registrationId)
    if (row === undefined) report({ rule: "lost registration", message: `cancel of ${answer.registrationId} answered ${answer.httpStatus}, no row` })
    else if (row.status !== "cancelled") report({ rule: "answer mismatch", registrationId: row.id, message: `cancel answered ${answer.httpStatus}, row is ${row.status}` })
    if (answer.answeredStatus !== null && answer.answeredStatus !== "cancelled") {
      report({ rule: "answer mismatch", ...(answer.registrationId !== null ? { registrationId: answer.registrationId } : {}), message: `cancel answered status ${answer.answeredStatus}` })
    }
  }

  // ---- phantoms: rows nobody asked for, or more rows than requests that could have made them
  const attempts = groupBy(registerRequests, (r) => `${r.eventId}|${r.userKey}`)
  for (const [key, rows] of groupBy(input.registrations, (r) => `${r.eventId}|${r.userKey}`)) {
    const sent = attempts.get(key) ?? []
    const couldCreate = sent.filter((r) => !is4xx(r.httpStatus)).length
    if (rows.length > couldCreate) {
      report({
        rule: "phantom registration",
        eventId: rows[0]!.eventId,
        message: `${rows.length} rows for ${key.split("|")[1]}, but only ${couldCreate} of ${sent.length} register requests could have created one`
      })
    }
  }

  // ---- queue jumping proven by answer order
  const waitingAnswers = registerRequests.filter((r) => is2xx(r.httpStatus) && r.answeredStatus === "waitlisted" && r.answeredAt !== null)
  for (const [eventId, answers] of groupBy(registerRequests.filter((r) => is2xx(r.httpStatus)), (r) => r.eventId)) {
    // Waiters who still wait: they waited continuously from before their answer until now.
    const stillWaiting = waitingAnswers
      .filter((w) => w.eventId === eventId && registrationsById.get(w.registrationId!)?.status === "waitlisted")
      .sort((a, b) => a.answeredAt! - b.answeredAt!)
    if (stillWaiting.length === 0) continue
    const firstAnswered = stillWaiting[0]!
    const positions = waitlistPositions((registrationsByEvent.get(eventId) ?? []).filter((r) => r.status === "waitlisted"))
    for (const newcomer of answers) {
      if (newcomer.sentAt <= firstAnswered.answeredAt!) continue
      const row = registrationsById.get(newcomer.registrationId!)
      if (row === undefined) continue
      const gotSeat = newcomer.answeredStatus === "confirmed" || seatHolding.has(row.status) || (row.status === "cancelled" && row.confirmedAt !== null)
      if (gotSeat) {
        report({
          rule: "I4 no queue jumping",
          eventId,
          registrationId: row.id,
          message: `got a seat although ${firstAnswered.registrationId} was already waiting (and still waits)`
        })
        continue
      }
      // Both wait: everyone answered before the newcomer was sent must stand ahead of it.
      if (row.status === "waitlisted") {
        const mine = positions.get(row.id)
        for (const earlier of stillWaiting) {
          if (earlier.answeredAt! >= newcomer.sentAt) break
          const theirs = positions.get(earlier.registrationId!)
          if (mine != null && theirs != null && theirs >= mine) {
            report({ rule: "I4 no queue jumping", eventId, registrationId: row.id, message: `position ${mine} ahead of ${earlier.registrationId} (position ${theirs}), who joined first` })
            break
          }
        }
      }
    }
  }

  // ---- the API's final view against the rows
  for (const view of input.apiViews ?? []) {
    const rows = registrationsByEvent.get(view.eventId) ?? []
    const seats = rows.filter((r) => seatHolding.has(r.status)).length
    const waiters = rows.filter((r) => r.status === "waitlisted")
    if (view.confirmedCount !== null && view.confirmedCount !== seats) {
      report({ rule: "counters", eventId: view.eventId, message: `API shows confirmedCount ${view.confirmedCount}, rows hold ${seats} seats` })
    }
    if (view.waitlistCount !== null && view.waitlistCount !== waiters.length) {
      report({ rule: "counters", eventId: view.eventId, message: `API shows waitlistCount ${view.waitlistCount}, rows have ${waiters.length} waiting` })
    }
    if (view.waitlist === null) continue
    const positions = waitlistPositions(waiters)
    const expected = [...waiters].sort((a, b) => (positions.get(a.id) ?? Infinity) - (positions.get(b.id) ?? Infinity)).map((w) => w.id)
    view.waitlist.forEach((entry, index) => {
      if (entry.position !== index + 1) {
        report({ rule: "I3 contiguous FIFO waitlist", eventId: view.eventId, registrationId: entry.id, message: `API serves position ${entry.position} at index ${index}` })
      }
    })
    const served = view.waitlist.map((entry) => entry.id)
    if (served.length !== expected.length || served.some((id, index) => id !== expected[index])) {
      const firstDifference = served.findIndex((id, index) => id !== expected[index])
      report({
        rule: "I3 contiguous FIFO waitlist",
        eventId: view.eventId,
        message: `API waitlist (${served.length}) differs from the rows in join order (${expected.length}) at index ${firstDifference === -1 ? Math.min(served.length, expected.length) : firstDifference}`
      })
    }
  }

  // ---- outbox
  if (input.outbox !== undefined) {
    const typesByRegistration = new Map<string, Set<string>>()
    for (const message of input.outbox) {
      if (!message.type.startsWith("Registration")) continue
      const mentioned = [...stringsIn(message.payload, new Set([message.aggregateId]))].filter((s) => registrationsById.has(s))
      if (mentioned.length === 0) {
        report({ rule: "outbox", message: `${message.type} for aggregate ${message.aggregateId} names no existing registration (rolled-back change?)` })
      }
      for (const id of mentioned) {
        const types = typesByRegistration.get(id) ?? new Set<string>()
        types.add(message.type)
        typesByRegistration.set(id, types)
      }
    }
    for (const row of input.registrations) {
      const types = typesByRegistration.get(row.id) ?? new Set<string>()
      if (!types.has("RegistrationConfirmed") && !types.has("RegistrationWaitlisted")) {
        report({ rule: "outbox", registrationId: row.id, message: "no RegistrationConfirmed/RegistrationWaitlisted event" })
      }
      if (row.status === "cancelled" && !types.has("RegistrationCancelled")) {
        report({ rule: "outbox", registrationId: row.id, message: "cancelled without a RegistrationCancelled event" })
      }
      if (seatHolding.has(row.status) && types.has("RegistrationWaitlisted") && !types.has("RegistrationPromoted")) {
        report({ rule: "outbox", registrationId: row.id, message: "holds a seat after waiting, without a RegistrationPromoted event" })
      }
    }
  }
  return violations
}

/** Counts violations per rule, for the summary. */
export const summarize = (violations: ReadonlyArray<Violation>): Record<string, number> => {
  const summary: Record<string, number> = {}
  for (const v of violations) summary[v.rule] = (summary[v.rule] ?? 0) + 1
  return summary
}

/**
 * Checks what one reader saw at one instant through the API: the counts of `GET /v1/events/{id}`
 * and the first page of `GET /v1/events/{id}/waitlist`. Gaps or duplicates must never be visible
 * (I3), counts never above capacity (I1), and nobody waits while a seat is free (I4).
 */
export const checkSnapshot = (eventId: string, details: any, waitlist: any): Array<Violation> => {
  const violations: Array<Violation> = []
  if (details !== null && typeof details === "object") {
    const { capacity, confirmedCount, waitlistCount, availableSeats } = details as Record<string, unknown>
    if (typeof capacity === "number" && typeof confirmedCount === "number") {
      if (confirmedCount > capacity) violations.push({ rule: "I1 no overbooking", eventId, message: `reader saw confirmedCount ${confirmedCount} > capacity ${capacity}` })
      if (typeof availableSeats === "number" && availableSeats !== capacity - confirmedCount) {
        violations.push({ rule: "counters", eventId, message: `reader saw availableSeats ${availableSeats} with capacity ${capacity}, confirmedCount ${confirmedCount}` })
      }
      if (typeof waitlistCount === "number" && waitlistCount > 0 && confirmedCount < capacity) {
        violations.push({ rule: "I4 no queue jumping", eventId, message: `reader saw ${waitlistCount} waiting with ${capacity - confirmedCount} free seat(s)` })
      }
    }
  }
  const items = waitlist !== null && typeof waitlist === "object" && Array.isArray(waitlist.items) ? (waitlist.items as Array<Record<string, unknown>>) : []
  items.forEach((item, index) => {
    const position = item.waitlistPosition ?? item.position
    if (position !== index + 1) {
      violations.push({ rule: "I3 contiguous FIFO waitlist", eventId, message: `reader saw position ${String(position)} at index ${index} of the waitlist` })
    }
  })
  return violations
}
