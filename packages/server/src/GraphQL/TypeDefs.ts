/**
 * The GraphQL schema's type definitions: the API of the REST routes as one graph. The printed schema
 * (`GET /graphql/schema.graphql`, `packages/server/schema.graphql`) is generated from this text plus
 * the resolvers' scalars, so this is the one place the contract is written.
 *
 * Field names follow the REST JSON; enum values are the REST strings, so a client can move between the
 * two without a mapping table.
 *
 * @since 0.2.0
 */

/** @since 0.2.0 */
export const typeDefs = /* GraphQL */ `
"An instant, as an ISO-8601 string with offset (e.g. 2030-05-01T18:00:00Z)."
scalar DateTime

"Any JSON value (data exports, audit entry details)."
scalar JSON

enum EventStatus {
  draft
  published
  cancelled
}

enum RegistrationStatus {
  confirmed
  waitlisted
  cancelled
  attended
  no_show
}

"Where a page ends: pass endCursor as after to read the next one."
type PageInfo {
  hasNextPage: Boolean!
  endCursor: String
}

type WaitlistSettings {
  enabled: Boolean!
  "null: unlimited."
  limit: Int
}

type Event {
  id: ID!
  organizerId: ID!
  title: String!
  description: String!
  startsAt: DateTime!
  endsAt: DateTime!
  timeZone: String!
  location: String!
  capacity: Int!
  waitlist: WaitlistSettings!
  registrationClosesAt: DateTime!
  status: EventStatus!
  confirmedCount: Int!
  waitlistCount: Int!
  availableSeats: Int!
  version: Int!
  createdAt: DateTime!
  updatedAt: DateTime!
  "The event's registrations: its owner and admins only."
  registrations(status: RegistrationStatus, first: Int = 20, after: String): RegistrationConnection
  "Who waits, in queue order: its owner and admins only."
  waitingList(first: Int = 20, after: String): RegistrationConnection
}

type EventConnection {
  nodes: [Event!]!
  pageInfo: PageInfo!
}

input EventFilter {
  from: DateTime
  to: DateTime
  organizerId: ID
  "Words in the title, description or location."
  q: String
  "Default published; other statuses list the caller's own events (admins: all)."
  status: EventStatus
}

type Registration {
  id: ID!
  eventId: ID!
  userId: ID!
  status: RegistrationStatus!
  "Rank in the waitlist (1 = next), when waitlisted."
  waitlistPosition: Int
  notes: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  confirmedAt: DateTime
  cancelledAt: DateTime
  "The event, when the caller may see it."
  event: Event
  "The person's profile: the person themself and admins only."
  user: User
}

type RegistrationConnection {
  nodes: [Registration!]!
  pageInfo: PageInfo!
}

type User {
  id: ID!
  subject: String!
  email: String
  name: String
  phone: String
  createdAt: DateTime!
  updatedAt: DateTime!
}

type UserConnection {
  nodes: [User!]!
  pageInfo: PageInfo!
}

"The caller: their profile and their registrations."
type Me {
  profile: User!
  registrations(first: Int = 20, after: String): RegistrationConnection!
}

type AuditEntry {
  id: ID!
  at: DateTime!
  actorId: ID!
  actorRoles: [String!]!
  action: String!
  targetType: String!
  targetId: ID!
  subjectUserId: ID
  before: JSON
  after: JSON
  correlationId: String
}

type AuditEntryConnection {
  nodes: [AuditEntry!]!
  pageInfo: PageInfo!
}

input AuditFilter {
  actor: ID
  action: String
  target: ID
  from: DateTime
  to: DateTime
}

"Personal-data encryption keys: rows per key, and what a rotation would still re-encrypt."
type EncryptionKeyStatus {
  "Whether this server process is rotating."
  running: Boolean!
  "Data keys by the keyring key wrapping them: { keyId: rows }."
  dataKeys: JSON!
  "Blind-index values by index key: { keyId: rows }."
  emailIndex: JSON!
  "Stored responses by the key they are sealed under (plain: not sealed): { keyId: rows }."
  responses: JSON!
  plaintextUsers: Int!
  plaintextNotes: Int!
  "Rows a rotation would still change."
  pending: Int!
  "Keyring keys no row uses any more: they can be removed from the configuration."
  retirable: RetirableKeys!
}

type RetirableKeys {
  data: [String!]!
  index: [String!]!
}

type KeyRotation {
  "running: a rotation is under way in the server."
  status: String!
}

type Query {
  "A published event (drafts: their owner and admins)."
  event(id: ID!): Event
  events(filter: EventFilter, first: Int = 20, after: String): EventConnection!
  "A registration: its attendee, the event's owner and admins."
  registration(id: ID!): Registration
  me: Me
  "Admins only. email: the people with that address (one page, no cursor)."
  users(email: String, first: Int = 20, after: String): UserConnection
  "Admins only."
  user(id: ID!): User
  "Admins only."
  auditLog(filter: AuditFilter, first: Int = 20, after: String): AuditEntryConnection
  "Admins only."
  encryptionKeys: EncryptionKeyStatus
}

input WaitlistInput {
  enabled: Boolean
  limit: Int
}

input CreateEventInput {
  title: String!
  description: String
  startsAt: DateTime!
  endsAt: DateTime!
  timeZone: String!
  location: String!
  capacity: Int!
  waitlist: WaitlistInput
  registrationClosesAt: DateTime
}

input UpdateEventInput {
  title: String
  description: String
  startsAt: DateTime
  endsAt: DateTime
  timeZone: String
  location: String
  capacity: Int
  waitlist: WaitlistInput
  registrationClosesAt: DateTime
}

input UpdateProfileInput {
  name: String
  phone: String
}

input CreateUserInput {
  subject: String!
  email: String
  name: String
  phone: String
}

input UpdateUserInput {
  name: String
  phone: String
  email: String
}

type Mutation {
  createEvent(input: CreateEventInput!): Event
  "expectedVersion: refuse the change unless the event is at this version (REST: If-Match)."
  updateEvent(id: ID!, input: UpdateEventInput!, expectedVersion: Int): Event
  "Only events without active registrations; answers the deleted id."
  deleteEvent(id: ID!): ID
  publishEvent(id: ID!): Event
  unpublishEvent(id: ID!): Event
  cancelEvent(id: ID!): Event
  register(eventId: ID!, notes: String): Registration
  cancelRegistration(id: ID!): Registration
  confirmRegistration(id: ID!): Registration
  markAttendance(id: ID!, attended: Boolean!): Registration
  updateMe(input: UpdateProfileInput!): User
  "Admins only."
  createUser(input: CreateUserInput!): User
  "Admins only."
  updateUser(id: ID!, input: UpdateUserInput!): User
  "Everything held about the caller (GDPR access); recorded in the audit log."
  exportMe: JSON
  "Admins only."
  exportUser(id: ID!): JSON
  "Erases the caller's personal data and cancels their future registrations."
  eraseMe: Boolean
  "Admins only."
  eraseUser(id: ID!): Boolean
  "Admins only. Starts re-encrypting personal data under the current keys in the background."
  rotateEncryptionKeys: KeyRotation
}

"Public counts of an event."
type EventCounts {
  capacity: Int!
  confirmedCount: Int!
  waitlistCount: Int!
  availableSeats: Int!
}

"A change of an event: counts, a status, or a waitlist shift (everyone behind fromPosition moved up one)."
type EventChange {
  eventId: ID!
  "snapshot (the first item), or the domain event's type."
  cause: String!
  counts: EventCounts
  status: EventStatus
  waitlistShiftedFrom: Int
}

"One of the caller's registrations as it is now."
type RegistrationChange {
  registrationId: ID!
  eventId: ID!
  status: RegistrationStatus!
  waitlistPosition: Int
  "snapshot, or the domain event's type."
  cause: String!
}

type Subscription {
  "Public like the event itself (drafts: their owner and admins); starts with a snapshot."
  eventChanged(id: ID!): EventChange!
  "The caller's registrations: a snapshot of the active ones, then each change."
  myRegistrationsChanged: RegistrationChange!
}
`
