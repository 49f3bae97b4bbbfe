/**
 * What a live stream sends for each published domain event: pure functions from messages to SSE
 * frames, so that the privacy rules (public streams carry counts and positions, never user ids) sit
 * in one place.
 *
 * @since 0.1.0
 */
import { type Event } from "@live-events/domain"
import type { LiveFeed } from "@live-events/engine"

type LiveMessage = LiveFeed.LiveMessage

/** One SSE event, rendered. @since 0.1.0 */
export const frame = (event: string, data: unknown, id?: string | undefined): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** A comment line: ignored by clients, keeps proxies from closing an idle stream. @since 0.1.0 */
export const heartbeat = ": heartbeat\n\n"

/** Sent first: reconnect delay and a comment so that the response starts at once. @since 0.1.0 */
export const opening = "retry: 2000\n: connected\n\n"

/** The client's resume point was outside the window. @since 0.1.0 */
export const reset = frame("reset", { reason: "resume-window-exceeded" })

const number = (value: unknown): number | undefined => typeof value === "number" ? value : undefined

/** Public counts of an event. @since 0.1.0 */
export const counts = (
  eventId: string,
  c: { readonly capacity: number; readonly confirmedCount: number; readonly waitlistCount: number }
) => ({
  eventId,
  capacity: c.capacity,
  confirmedCount: c.confirmedCount,
  waitlistCount: c.waitlistCount,
  availableSeats: Math.max(0, c.capacity - c.confirmedCount)
})

/** The snapshot an event stream starts with. @since 0.1.0 */
export const eventSnapshot = (event: Event.Event): string => frame("counts", counts(event.id, event))

const statusOf: Record<string, string> = {
  EventPublished: "published",
  EventUnpublished: "draft",
  EventCancelled: "cancelled"
}

/** One change of an event's public state, before it is framed. @since 0.2.0 */
export type EventUpdate =
  | { readonly event: "event-status"; readonly data: { readonly eventId: string; readonly status: string } }
  | { readonly event: "waitlist-shifted"; readonly data: { readonly eventId: string; readonly fromPosition: number } }
  | { readonly event: "counts"; readonly data: ReturnType<typeof counts> }

/**
 * What one message changes of an event's public state: counts when it carries them, the shift of
 * `WaitlistPositionsShifted`, the status of publish/unpublish/cancel. Messages of other events: none.
 * Shared by the SSE stream and the GraphQL subscription, so both show the same (public) fields.
 *
 * @since 0.2.0
 */
export const eventUpdates = (eventId: string, message: LiveMessage): ReadonlyArray<EventUpdate> => {
  if (message.aggregateId !== eventId) return []
  const out: Array<EventUpdate> = []
  const data = message.data
  const capacity = number(data.capacity)
  const confirmedCount = number(data.confirmedCount)
  const waitlistCount = number(data.waitlistCount)
  const fromPosition = number(data.fromPosition)
  const status = statusOf[message.type]
  if (status !== undefined) out.push({ event: "event-status", data: { eventId, status } })
  if (message.type === "WaitlistPositionsShifted" && fromPosition !== undefined) {
    out.push({ event: "waitlist-shifted", data: { eventId, fromPosition } })
  }
  if (capacity !== undefined && confirmedCount !== undefined && waitlistCount !== undefined) {
    out.push({ event: "counts", data: counts(eventId, { capacity, confirmedCount, waitlistCount }) })
  }
  return out
}

/**
 * The frames of `/v1/events/{id}/live` for one message (see {@link eventUpdates}).
 *
 * @since 0.1.0
 */
export const forEvent = (eventId: string, message: LiveMessage): ReadonlyArray<string> =>
  eventUpdates(eventId, message).map((update) => frame(update.event, update.data, message.id))

/** A registration as `/v1/me/live` shows it. @since 0.1.0 */
export interface MyRegistration {
  readonly registrationId: string
  readonly eventId: string
  readonly status: string
  readonly waitlistPosition: number | null
}

/** The registration a message is about, when it belongs to `userId`. @since 0.1.0 */
export const myRegistration = (userId: string, message: LiveMessage): MyRegistration | undefined => {
  const data = message.data
  if (data.userId !== userId || typeof data.registrationId !== "string" || typeof data.status !== "string") {
    return undefined
  }
  return {
    registrationId: data.registrationId,
    eventId: typeof data.eventId === "string" ? data.eventId : message.aggregateId,
    status: data.status,
    waitlistPosition: number(data.waitlistPosition) ?? null
  }
}

/** @since 0.1.0 */
export const registrationFrame = (registration: MyRegistration, cause: string, id?: string | undefined) =>
  frame("registration", { ...registration, cause }, id)
