/**
 * Business metrics of registrations and waitlists, recorded by the use-cases once a unit of work has
 * committed (a retried or rolled-back attempt counts nothing).
 *
 * They are derived from the committed {@link Plan}'s domain events — the same facts the outbox
 * publishes — so metrics and events cannot disagree. Every label has a closed set of values (outcomes,
 * error codes, statuses, reasons, triggers); nothing is labelled by event, user or registration id.
 * Effect's default metric registry holds them; the server exposes it at `/metrics`. Promotions and
 * event cancellations are also logged (ids and counts only — never personal data).
 *
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"
import type { Plan } from "./Waitlist.ts"

/**
 * Registration attempts by `outcome` (`confirmed`, `waitlisted`, `rejected`, `failed`) and `code` (the
 * stable error code of a rejection or failure, `none` otherwise).
 *
 * @since 0.1.0
 */
export const registrations = Metric.counter("registrations_total", {
  description: "Registration attempts by outcome (confirmed, waitlisted, rejected, failed) and error code",
  incremental: true
})

/** Cancelled registrations by `previous_status` and `reason`. @since 0.1.0 */
export const cancellations = Metric.counter("registration_cancellations_total", {
  description: "Registrations cancelled, by previous status (confirmed, waitlisted) and reason",
  incremental: true
})

/** Waitlisted registrations given a seat, by `trigger` (`cancellation`, `capacity`, `manual`). @since 0.1.0 */
export const promotions = Metric.counter("waitlist_promotions_total", {
  description: "Waitlisted registrations promoted to a seat, by trigger (cancellation, capacity, manual)",
  incremental: true
})

/**
 * People leaving a waitlist, by `to`: `confirmed` (promoted) or `cancelled`. The waitlist → confirmed
 * conversion is `confirmed / (confirmed + cancelled)`.
 *
 * @since 0.1.0
 */
export const waitlistExits = Metric.counter("waitlist_exits_total", {
  description: "Registrations leaving a waitlist, by destination (confirmed, cancelled)",
  incremental: true
})

/**
 * The length of an event's waitlist after each committed change to it (a join, a departure, a
 * promotion): one observation per change, whatever the event, so the cardinality stays one series.
 *
 * @since 0.1.0
 */
export const waitlistLength = Metric.histogram("waitlist_length", {
  description: "Waitlist length of an event after each change to that waitlist",
  boundaries: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
})

/** Seconds from joining a waitlist to being promoted. @since 0.1.0 */
export const waitlistWait = Metric.histogram("waitlist_wait_seconds", {
  description: "Seconds a promoted registration spent on the waitlist",
  boundaries: [60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400]
})

/**
 * The batches of one kind of command (`register`, `cancel`, `provision`): how many commands each
 * committed, and how long each took from its start to its commit (retries included). Under load a
 * command waits for about two batches (the one in flight, then its own), so these two say where a
 * command's latency goes, and whether throughput is bound by the batch's round trips or by the
 * commands' own work.
 *
 * @since 0.4.0
 */
export const batchMetrics = (command: string) => ({
  size: Metric.histogram("command_batch_size", {
    description: "Commands committed per batch, by command (register, cancel, provision)",
    attributes: { command },
    boundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256]
  }),
  seconds: Metric.histogram("command_batch_duration_seconds", {
    description: "Seconds from a batch's start to its commit, by command (register, cancel, provision)",
    attributes: { command },
    boundaries: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56]
  })
})

const bound = new Map<string, Metric.Metric<number, unknown>>()

/**
 * The series of an incremental counter with these attributes, cached: every label set here is from a
 * closed list. A counter of its own per series (same name, description and attributes, hence the same
 * series in the registry) rather than `Metric.withAttributes` over the shared one, which re-derives the
 * series key whenever consecutive updates name different series.
 */
const tagged = (metric: Metric.Metric<number, unknown>, attributes: Record<string, string>) => {
  const key = `${metric.id}${JSON.stringify(attributes)}`
  let found = bound.get(key)
  if (found === undefined) {
    found = Metric.counter(metric.id, { description: metric.description, incremental: true, attributes })
    bound.set(key, found)
  }
  return found
}

const increment = (metric: Metric.Metric<number, unknown>, attributes: Record<string, string>) =>
  Metric.update(tagged(metric, attributes), 1)

/**
 * Records what a committed plan did.
 *
 * @since 0.1.0
 */
export const recordPlan = (plan: Plan): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (plan.events.length === 0) return
    const trigger = plan.events.some((event) => event.type === "EventCapacityChanged")
      ? "capacity"
      : plan.events.some((event) => event.type === "RegistrationCancelled")
      ? "cancellation"
      : "manual"
    let waitlistAfter: number | undefined = undefined
    for (const event of plan.events) {
      switch (event.type) {
        case "RegistrationConfirmed":
          yield* increment(registrations, { outcome: "confirmed", code: "none" })
          break
        case "RegistrationWaitlisted":
          yield* increment(registrations, { outcome: "waitlisted", code: "none" })
          waitlistAfter = event.data.waitlistCount
          break
        case "RegistrationPromoted":
          yield* increment(promotions, { trigger })
          yield* Effect.logInfo("waitlist promotion").pipe(Effect.annotateLogs({
            eventId: event.data.eventId,
            registrationId: event.data.registrationId,
            trigger,
            waitlistCount: event.data.waitlistCount
          }))
          yield* increment(waitlistExits, { to: "confirmed" })
          waitlistAfter = event.data.waitlistCount
          break
        case "RegistrationCancelled":
          yield* increment(cancellations, { previous_status: event.data.previousStatus, reason: event.data.reason })
          if (event.data.previousStatus === "waitlisted") {
            yield* increment(waitlistExits, { to: "cancelled" })
            waitlistAfter = event.data.waitlistCount
          }
          break
        case "WaitlistPositionsShifted":
          waitlistAfter = event.data.waitlistCount
          break
        case "EventCancelled":
          yield* Effect.logInfo("event cancelled").pipe(Effect.annotateLogs({
            eventId: event.data.eventId,
            cancelledRegistrations: event.data.cancelledRegistrations
          }))
          break
      }
    }
    if (waitlistAfter !== undefined) yield* Metric.update(waitlistLength, waitlistAfter)
    for (const change of plan.changes) {
      if (change._tag === "Transition" && change.to === "confirmed" && change.registration.status === "waitlisted") {
        const seconds = (change.at.getTime() - change.registration.createdAt.getTime()) / 1000
        yield* Metric.update(waitlistWait, Math.max(0, seconds))
      }
    }
  })

/**
 * Records a registration attempt that did not commit: `rejected` for a business refusal (its code),
 * `failed` when storage failed.
 *
 * @since 0.1.0
 */
export const recordRejection = (error: { readonly _tag: string; readonly code: string }): Effect.Effect<void> =>
  increment(registrations, { outcome: error._tag === "RepositoryError" ? "failed" : "rejected", code: error.code })
