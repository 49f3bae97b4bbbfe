/**
 * The initial schema. Plain SQL that runs unchanged on PostgreSQL 15+ and on PGlite.
 *
 * Design notes (why, not what):
 * - `events.confirmed_count` / `waitlist_count` are maintained in the same statement that changes
 *   registrations, under the per-event lock; the CHECK on `confirmed_count <= capacity` makes
 *   overbooking (I1) impossible even for a buggy writer.
 * - The waitlist stores join order (`waitlist_seq`, from one global sequence), not positions: a
 *   position is the rank among the event's waitlisted rows, so leaving the queue touches one row and
 *   readers always see 1..w without gaps (I3). The partial index makes rank and head lookups cheap.
 * - `waitlist_buckets` counts waitlisted rows per block of 256 join-order numbers, so a position is the
 *   sum of a few bucket counts plus a count inside one block: reading any position costs about the
 *   same at 100 or 50,000 waiting (an order-statistic index in two levels).
 * - The `outbox` table's shape is also published by `@live-events/outbox` (`OutboxStore.ddl`) for
 *   embedders who use that package alone; the two packages may not import each other, so keep both
 *   definitions in step (the server and chaos tests run the relay against this migration's table).
 * - The partial unique index enforces one active registration per (event, user) (I2) in the database.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // One statement per call: the extended protocol (prepared statements) takes a single command.
  const statements = `
CREATE TABLE users (
  id uuid PRIMARY KEY,
  subject text NOT NULL UNIQUE,
  email text,
  name text,
  phone text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  erased_at timestamptz
);

CREATE TABLE events (
  id uuid PRIMARY KEY,
  organizer_id uuid NOT NULL REFERENCES users (id),
  title text NOT NULL,
  description text NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  time_zone text NOT NULL,
  location text NOT NULL,
  capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
  waitlist_enabled boolean NOT NULL,
  waitlist_limit integer CHECK (waitlist_limit >= 0),
  registration_closes_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
  confirmed_count integer NOT NULL DEFAULT 0 CHECK (confirmed_count >= 0),
  waitlist_count integer NOT NULL DEFAULT 0 CHECK (waitlist_count >= 0),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT events_no_overbooking CHECK (confirmed_count <= capacity),
  CONSTRAINT events_ends_after_start CHECK (ends_at > starts_at)
);
CREATE INDEX events_listing ON events (starts_at, id);
CREATE INDEX events_by_organizer ON events (organizer_id, starts_at, id);

CREATE SEQUENCE registration_join_seq;

CREATE TABLE registrations (
  id uuid PRIMARY KEY,
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id),
  status text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled', 'attended', 'no_show')),
  waitlist_seq bigint,
  notes text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  confirmed_at timestamptz,
  cancelled_at timestamptz,
  CONSTRAINT registrations_waitlist_seq CHECK (status <> 'waitlisted' OR waitlist_seq IS NOT NULL)
);
CREATE UNIQUE INDEX registrations_one_active ON registrations (event_id, user_id)
  WHERE status IN ('confirmed', 'waitlisted');
CREATE INDEX registrations_waitlist ON registrations (event_id, waitlist_seq) WHERE status = 'waitlisted';
CREATE INDEX registrations_by_event ON registrations (event_id, created_at, id);
CREATE INDEX registrations_by_user ON registrations (user_id, created_at, id);

CREATE TABLE waitlist_buckets (
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  bucket bigint NOT NULL,
  waiting integer NOT NULL CHECK (waiting >= 0),
  PRIMARY KEY (event_id, bucket)
);

CREATE TABLE outbox (
  position bigserial PRIMARY KEY,
  id uuid NOT NULL UNIQUE,
  aggregate_id uuid NOT NULL,
  type text NOT NULL,
  schema_version integer NOT NULL,
  occurred_at timestamptz NOT NULL,
  payload jsonb NOT NULL,
  traceparent text,
  attempts integer NOT NULL DEFAULT 0,
  available_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  dead_lettered_at timestamptz,
  last_error text,
  lease_owner text,
  lease_expires_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (position) WHERE published_at IS NULL AND dead_lettered_at IS NULL;
CREATE INDEX outbox_by_aggregate ON outbox (aggregate_id, position);

CREATE TABLE idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status integer,
  headers jsonb,
  body text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (created_at);
`.split(/;\s*\n/).map((statement) => statement.trim()).filter((statement) => statement.length > 0)
  for (const statement of statements) yield* sql.unsafe(statement)
})
