import { expect } from "@effect/vitest"
import { eventInput, type TestServer } from "./TestServer.ts"

/**
 * The README walk-through as a test: capacity 2, three people register, the third waits, a cancel
 * promotes them.
 */
export const walk = (server: () => TestServer) => async () => {
  const { request, token } = server()
  const organizer = await token("walk-org", "organizer")
  const [alice, bob, carol] = await Promise.all(["walk-alice", "walk-bob", "walk-carol"].map((s) => token(s)))

  const created = await request("POST", "/v1/events", { token: organizer, json: eventInput({ capacity: 2 }) })
  expect(created.status).toBe(201)
  expect(created.headers.get("location")).toBe(`/v1/events/${created.body.id}`)
  expect(created.body).toMatchObject({ status: "draft", capacity: 2, confirmedCount: 0, waitlistCount: 0, availableSeats: 2 })
  const eventId: string = created.body.id

  const published = await request("POST", `/v1/events/${eventId}/publish`, { token: organizer })
  expect(published.status).toBe(200)
  expect(published.body.status).toBe("published")

  const registrations = []
  for (const attendee of [alice!, bob!, carol!]) {
    const response = await request("POST", `/v1/events/${eventId}/registrations`, { token: attendee, json: { notes: "hi" } })
    expect(response.status).toBe(201)
    expect(response.headers.get("location")).toBe(`/v1/registrations/${response.body.id}`)
    registrations.push(response.body)
  }
  expect(registrations.map((r) => [r.status, r.waitlistPosition])).toEqual([
    ["confirmed", null],
    ["confirmed", null],
    ["waitlisted", 1]
  ])

  const full = await request("GET", `/v1/events/${eventId}`)
  expect(full.body).toMatchObject({ confirmedCount: 2, waitlistCount: 1, availableSeats: 0 })

  const waitlist = await request("GET", `/v1/events/${eventId}/waitlist`, { token: organizer })
  expect(waitlist.status).toBe(200)
  expect(waitlist.body.items.map((r: any) => [r.id, r.waitlistPosition])).toEqual([[registrations[2].id, 1]])

  const mine = await request("GET", "/v1/me/registrations", { token: carol })
  expect(mine.body.items).toEqual([expect.objectContaining({ id: registrations[2].id, status: "waitlisted", waitlistPosition: 1 })])

  const cancelled = await request("POST", `/v1/registrations/${registrations[0].id}/cancel`, { token: alice })
  expect(cancelled.status).toBe(200)
  expect(cancelled.body.status).toBe("cancelled")

  const promoted = await request("GET", `/v1/registrations/${registrations[2].id}`, { token: carol })
  expect(promoted.body).toMatchObject({ status: "confirmed", waitlistPosition: null })
  const after = await request("GET", `/v1/events/${eventId}`)
  expect(after.body).toMatchObject({ confirmedCount: 2, waitlistCount: 0, availableSeats: 0 })
  const emptyWaitlist = await request("GET", `/v1/events/${eventId}/waitlist`, { token: organizer })
  expect(emptyWaitlist.body).toEqual({ items: [], nextCursor: null })

  // Cancelling twice is a no-op returning the cancelled registration.
  const again = await request("POST", `/v1/registrations/${registrations[0].id}/cancel`, { token: alice })
  expect(again.status).toBe(200)
  expect(again.body.status).toBe("cancelled")
}
