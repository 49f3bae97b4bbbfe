/**
 * The authorization matrix: every route (but DELETE /v1/me, see Privacy.test.ts) × {anonymous,
 * attendee, another attendee, owning organizer, other organizer, admin}, with the status each actor
 * gets, and the same operation over GraphQL, which must answer the same (its errors carry the REST
 * status in `extensions.status`).
 *
 * Each cell runs against a fresh fixture (a published event E owned by the organizer with the
 * attendee's registration R, and a draft event D of the same organizer), so mutating routes do not
 * influence each other. Invisible resources answer 404, visible-but-not-yours 403.
 */
import { expect } from "@effect/vitest"
import { eventInput, type TestServer } from "./TestServer.ts"

export type Actor = "anonymous" | "attendee" | "otherAttendee" | "owner" | "otherOrganizer" | "admin"
export const actors: ReadonlyArray<Actor> = ["anonymous", "attendee", "otherAttendee", "owner", "otherOrganizer", "admin"]

export interface Fixture {
  readonly event: string
  readonly draft: string
  readonly registration: string
  readonly attendeeUserId: string
  /** A person of this fixture only, for the routes that erase someone. */
  readonly subjectUserId: string
}

export interface GraphQLOperation {
  readonly query: (f: Fixture) => string
  readonly variables?: Record<string, unknown>
  /** Where the operation's answer is in `data`. */
  readonly path: ReadonlyArray<string>
}

export interface Row {
  readonly name: string
  readonly method: string
  readonly path: (f: Fixture) => string
  readonly json?: unknown
  readonly expected: Record<Actor, number>
  /** The same operation over GraphQL (none for routes GraphQL does not offer). */
  readonly graphql?: GraphQLOperation
}

const all = (status: number): Record<Actor, number> => ({
  anonymous: status,
  attendee: status,
  otherAttendee: status,
  owner: status,
  otherOrganizer: status,
  admin: status
})
const authenticated = (status: number) => ({ ...all(status), anonymous: 401 })
/** Owner/admin may; others see the (published) event, so they are forbidden. */
const manageVisible = (ok: number) => ({ anonymous: 401, attendee: 403, otherAttendee: 403, owner: ok, otherOrganizer: 403, admin: ok })
/** Owner/admin may; others cannot see the draft at all. */
const manageInvisible = (ok: number) => ({ anonymous: 401, attendee: 404, otherAttendee: 404, owner: ok, otherOrganizer: 404, admin: ok })
/** A registration: its attendee, the owner and admins see it; other people get 404. */
const registrationAccess = (mine: number, manager: number) => ({
  anonymous: 401,
  attendee: mine,
  otherAttendee: 404,
  owner: manager,
  otherOrganizer: 404,
  admin: manager
})
const adminOnly = (ok: number) => ({ ...authenticated(403), admin: ok })

const restRows: ReadonlyArray<Row> = [
  { name: "list events", method: "GET", path: () => "/v1/events", expected: all(200) },
  { name: "create event", method: "POST", path: () => "/v1/events", json: eventInput(), expected: { ...authenticated(201), attendee: 403, otherAttendee: 403 } },
  { name: "get published event", method: "GET", path: (f) => `/v1/events/${f.event}`, expected: all(200) },
  { name: "get draft event", method: "GET", path: (f) => `/v1/events/${f.draft}`, expected: { ...manageInvisible(200), anonymous: 404 } },
  { name: "update published event", method: "PATCH", path: (f) => `/v1/events/${f.event}`, json: { title: "New" }, expected: manageVisible(200) },
  { name: "update draft event", method: "PATCH", path: (f) => `/v1/events/${f.draft}`, json: { title: "New" }, expected: manageInvisible(200) },
  { name: "delete event with registrations", method: "DELETE", path: (f) => `/v1/events/${f.event}`, expected: manageVisible(409) },
  { name: "delete draft event", method: "DELETE", path: (f) => `/v1/events/${f.draft}`, expected: manageInvisible(204) },
  { name: "publish draft", method: "POST", path: (f) => `/v1/events/${f.draft}/publish`, expected: manageInvisible(200) },
  { name: "unpublish event", method: "POST", path: (f) => `/v1/events/${f.event}/unpublish`, expected: manageVisible(200) },
  { name: "cancel event", method: "POST", path: (f) => `/v1/events/${f.event}/cancel`, expected: manageVisible(200) },
  {
    name: "register",
    method: "POST",
    path: (f) => `/v1/events/${f.event}/registrations`,
    json: {},
    // The attendee already holds R: 409 already-registered.
    expected: { ...authenticated(201), attendee: 409 }
  },
  { name: "register for a draft", method: "POST", path: (f) => `/v1/events/${f.draft}/registrations`, json: {}, expected: { ...manageInvisible(409) } },
  { name: "list registrations", method: "GET", path: (f) => `/v1/events/${f.event}/registrations`, expected: manageVisible(200) },
  { name: "waitlist", method: "GET", path: (f) => `/v1/events/${f.event}/waitlist`, expected: manageVisible(200) },
  { name: "get registration", method: "GET", path: (f) => `/v1/registrations/${f.registration}`, expected: registrationAccess(200, 200) },
  { name: "cancel registration", method: "POST", path: (f) => `/v1/registrations/${f.registration}/cancel`, expected: registrationAccess(200, 200) },
  // R is already confirmed: for the owner/admin confirming it again is a no-op answering R.
  { name: "confirm registration", method: "POST", path: (f) => `/v1/registrations/${f.registration}/confirm`, expected: registrationAccess(403, 200) },
  // The event has not started yet: allowed, refused with event-not-started.
  { name: "mark attendance", method: "POST", path: (f) => `/v1/registrations/${f.registration}/attendance`, json: { attended: true }, expected: registrationAccess(403, 409) },
  { name: "get me", method: "GET", path: () => "/v1/me", expected: authenticated(200) },
  { name: "update me", method: "PATCH", path: () => "/v1/me", json: { name: "Someone" }, expected: authenticated(200) },
  { name: "my registrations", method: "GET", path: () => "/v1/me/registrations", expected: authenticated(200) },
  { name: "list users", method: "GET", path: () => "/v1/users", expected: adminOnly(200) },
  { name: "find users by email", method: "GET", path: () => "/v1/users?email=m-attendee%40example.com", expected: adminOnly(200) },
  { name: "create user", method: "POST", path: () => "/v1/users", json: { subject: "created-by-admin", email: "new@example.com" }, expected: adminOnly(201) },
  { name: "get user", method: "GET", path: (f) => `/v1/users/${f.attendeeUserId}`, expected: adminOnly(200) },
  { name: "update user", method: "PATCH", path: (f) => `/v1/users/${f.attendeeUserId}`, json: { email: "changed@example.com" }, expected: adminOnly(200) },
  { name: "export me", method: "GET", path: () => "/v1/me/export", expected: authenticated(200) },
  // DELETE /v1/me would erase the matrix's own actors: Privacy.test.ts covers it.
  { name: "export user", method: "GET", path: (f) => `/v1/users/${f.subjectUserId}/export`, expected: adminOnly(200) },
  { name: "erase user", method: "DELETE", path: (f) => `/v1/users/${f.subjectUserId}`, expected: adminOnly(204) },
  { name: "audit log", method: "GET", path: () => "/v1/admin/audit", expected: adminOnly(200) },
  // The matrix's memory store keeps no personal data at rest: an admin learns that (404
  // no-data-at-rest), everyone else is refused first. KeysAdmin.test.ts and GraphQLAdmin.test.ts run
  // both on a store that seals.
  { name: "key status", method: "GET", path: () => "/v1/admin/keys", expected: adminOnly(404) },
  { name: "rotate keys", method: "POST", path: () => "/v1/admin/keys/rotate", expected: adminOnly(404) },
  { name: "health live", method: "GET", path: () => "/health/live", expected: all(200) },
  { name: "health ready", method: "GET", path: () => "/health/ready", expected: all(200) }
]


const id = (value: string) => JSON.stringify(value)

/** The GraphQL counterpart of each route, by row name. */
const graphqlOf: Record<string, GraphQLOperation> = {
  "list events": { query: () => "{ events { nodes { id } } }", path: ["events"] },
  "create event": {
    query: () => "mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }",
    variables: { input: eventInput() },
    path: ["createEvent"]
  },
  "get published event": { query: (f) => `{ event(id: ${id(f.event)}) { id } }`, path: ["event"] },
  "get draft event": { query: (f) => `{ event(id: ${id(f.draft)}) { id } }`, path: ["event"] },
  "update published event": {
    query: (f) => `mutation { updateEvent(id: ${id(f.event)}, input: { title: "New" }) { id } }`,
    path: ["updateEvent"]
  },
  "update draft event": {
    query: (f) => `mutation { updateEvent(id: ${id(f.draft)}, input: { title: "New" }) { id } }`,
    path: ["updateEvent"]
  },
  "delete event with registrations": { query: (f) => `mutation { deleteEvent(id: ${id(f.event)}) }`, path: ["deleteEvent"] },
  "delete draft event": { query: (f) => `mutation { deleteEvent(id: ${id(f.draft)}) }`, path: ["deleteEvent"] },
  "publish draft": { query: (f) => `mutation { publishEvent(id: ${id(f.draft)}) { id } }`, path: ["publishEvent"] },
  "unpublish event": { query: (f) => `mutation { unpublishEvent(id: ${id(f.event)}) { id } }`, path: ["unpublishEvent"] },
  "cancel event": { query: (f) => `mutation { cancelEvent(id: ${id(f.event)}) { id } }`, path: ["cancelEvent"] },
  "register": { query: (f) => `mutation { register(eventId: ${id(f.event)}) { id } }`, path: ["register"] },
  "register for a draft": { query: (f) => `mutation { register(eventId: ${id(f.draft)}) { id } }`, path: ["register"] },
  "list registrations": {
    query: (f) => `{ event(id: ${id(f.event)}) { registrations { nodes { id } } } }`,
    path: ["event", "registrations"]
  },
  "waitlist": { query: (f) => `{ event(id: ${id(f.event)}) { waitingList { nodes { id } } } }`, path: ["event", "waitingList"] },
  "get registration": { query: (f) => `{ registration(id: ${id(f.registration)}) { id } }`, path: ["registration"] },
  "cancel registration": {
    query: (f) => `mutation { cancelRegistration(id: ${id(f.registration)}) { id } }`,
    path: ["cancelRegistration"]
  },
  "confirm registration": {
    query: (f) => `mutation { confirmRegistration(id: ${id(f.registration)}) { id } }`,
    path: ["confirmRegistration"]
  },
  "mark attendance": {
    query: (f) => `mutation { markAttendance(id: ${id(f.registration)}, attended: true) { id } }`,
    path: ["markAttendance"]
  },
  "get me": { query: () => "{ me { profile { id } } }", path: ["me", "profile"] },
  "update me": { query: () => `mutation { updateMe(input: { name: "Someone" }) { id } }`, path: ["updateMe"] },
  "my registrations": { query: () => "{ me { registrations { nodes { id } } } }", path: ["me", "registrations"] },
  "list users": { query: () => "{ users { nodes { id } } }", path: ["users"] },
  "find users by email": { query: () => `{ users(email: "m-attendee@example.com") { nodes { id } } }`, path: ["users"] },
  "create user": {
    query: () => `mutation { createUser(input: { subject: "created-by-admin", email: "new@example.com" }) { id } }`,
    path: ["createUser"]
  },
  "get user": { query: (f) => `{ user(id: ${id(f.attendeeUserId)}) { id } }`, path: ["user"] },
  "update user": {
    query: (f) => `mutation { updateUser(id: ${id(f.attendeeUserId)}, input: { email: "changed@example.com" }) { id } }`,
    path: ["updateUser"]
  },
  "export me": { query: () => "mutation { exportMe }", path: ["exportMe"] },
  "export user": { query: (f) => `mutation { exportUser(id: ${id(f.subjectUserId)}) }`, path: ["exportUser"] },
  "erase user": { query: (f) => `mutation { eraseUser(id: ${id(f.subjectUserId)}) }`, path: ["eraseUser"] },
  "audit log": { query: () => "{ auditLog { nodes { id } } }", path: ["auditLog"] },
  "key status": { query: () => "{ encryptionKeys { pending } }", path: ["encryptionKeys"] },
  "rotate keys": { query: () => "mutation { rotateEncryptionKeys { status } }", path: ["rotateEncryptionKeys"] }
}

export const rows: ReadonlyArray<Row> = restRows.map((row) => {
  const graphql = graphqlOf[row.name]
  return graphql === undefined ? row : { ...row, graphql }
})

export const tokensOf = async (server: TestServer): Promise<Record<Actor, string | undefined>> => ({
  anonymous: undefined,
  attendee: await server.token("m-attendee"),
  otherAttendee: await server.token("m-other-attendee", "attendee"),
  owner: await server.token("m-owner", "organizer"),
  otherOrganizer: await server.token("m-other-organizer", "organizer"),
  admin: await server.token("m-admin", "admin")
})

/** A fresh fixture, made over REST. */
export const makeFixture = async (server: TestServer, tokens: Record<Actor, string | undefined>, n: number): Promise<Fixture> => {
  const owner = tokens.owner!
  const event = await server.request("POST", "/v1/events", { token: owner, json: eventInput({ title: `E${n}`, capacity: 5 }) })
  expect(event.status).toBe(201)
  expect((await server.request("POST", `/v1/events/${event.body.id}/publish`, { token: owner })).status).toBe(200)
  const draft = await server.request("POST", "/v1/events", { token: owner, json: eventInput({ title: `D${n}` }) })
  const registration = await server.request("POST", `/v1/events/${event.body.id}/registrations`, { token: tokens.attendee! })
  expect(registration.status).toBe(201)
  const subject = await server.request("GET", "/v1/me", { token: await server.token(`m-subject-${n}`) })
  expect(subject.status).toBe(200)
  return {
    subjectUserId: subject.body.id,
    event: event.body.id,
    draft: draft.body.id,
    registration: registration.body.id,
    attendeeUserId: registration.body.userId
  }
}
