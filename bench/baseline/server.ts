/**
 * The naive baseline: what a team would write without this project. Plain `node:http`, the `pg`
 * package with a pool of 10, and the obvious transaction per use-case (lock the event row with
 * SELECT ... FOR UPDATE, count, insert, insert an outbox row, commit). Waitlist positions are stored
 * in a column and renumbered on every departure, as most first versions do.
 *
 * It is a yardstick, not a strawman: no artificial delays, indexed queries, one pool, correct under
 * concurrency. It serves only the routes the benchmarks and the chaos harness use, with the same
 * paths, bodies, status codes and development-mode bearer tokens as the reference server.
 *
 * Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/db PORT=3100 AUTH_DEV_SECRET=s node bench/baseline/server.ts`
 * Tables live in the schema `baseline` (created on startup, idempotent, safe for several processes).
 * Set `BASELINE_PREPARED=1` to use named prepared statements (off by default: `pool.query(text, values)`
 * is what the obvious code does).
 */
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import pg from "pg"
import { verifyToken } from "../lib/token.ts"

const databaseUrl = process.env.DATABASE_URL
const secret = process.env.AUTH_DEV_SECRET
if (databaseUrl === undefined || secret === undefined) {
  console.error("DATABASE_URL and AUTH_DEV_SECRET are required")
  process.exit(2)
}
const port = Number(process.env.PORT ?? 3100)
const host = process.env.HOST ?? "127.0.0.1"
const prepared = ["1", "true"].includes(process.env.BASELINE_PREPARED ?? "")
// Test-only switch: drop the event lock so concurrent writers race. The chaos harness must then
// report violations; it proves the checker end to end. Never set it for benchmarks.
const unsafeNoLock = ["1", "true"].includes(process.env.BASELINE_UNSAFE_NO_LOCK ?? "")
const lockEvent = unsafeNoLock ? "SELECT * FROM baseline.events WHERE id = $1" : "SELECT * FROM baseline.events WHERE id = $1 FOR UPDATE"

const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BASELINE_POOL ?? 10) })
// An idle client losing its connection (e.g. PostgreSQL restarts) must not crash the process.
pool.on("error", (error) => console.error("pool error", error.message))

type Queryable = pg.Pool | pg.PoolClient

/** One SQL statement; named when BASELINE_PREPARED is set. */
const query = <R extends pg.QueryResultRow>(db: Queryable, name: string, text: string, values: ReadonlyArray<unknown> = []) =>
  prepared ? db.query<R>({ name, text, values: [...values] }) : db.query<R>(text, [...values])

const schema = `
CREATE SCHEMA IF NOT EXISTS baseline;
CREATE TABLE IF NOT EXISTS baseline.users (
  id uuid PRIMARY KEY,
  subject text NOT NULL UNIQUE,
  email text,
  name text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS baseline.events (
  id uuid PRIMARY KEY,
  organizer_id uuid NOT NULL REFERENCES baseline.users (id),
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  time_zone text NOT NULL,
  location text NOT NULL,
  capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
  waitlist_enabled boolean NOT NULL DEFAULT true,
  waitlist_limit integer,
  registration_closes_at timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'draft',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS baseline.registrations (
  id uuid PRIMARY KEY,
  event_id uuid NOT NULL REFERENCES baseline.events (id),
  user_id uuid NOT NULL REFERENCES baseline.users (id),
  status text NOT NULL,
  waitlist_position integer,
  notes text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  cancelled_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS registrations_one_active ON baseline.registrations (event_id, user_id)
  WHERE status IN ('confirmed', 'waitlisted');
CREATE INDEX IF NOT EXISTS registrations_by_event_status ON baseline.registrations (event_id, status);
CREATE TABLE IF NOT EXISTS baseline.outbox (
  position bigserial PRIMARY KEY,
  id uuid NOT NULL UNIQUE,
  aggregate_id uuid NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
`

const migrate = async (): Promise<void> => {
  const client = await pool.connect()
  try {
    // Several processes may start at once: serialise the DDL.
    await client.query("SELECT pg_advisory_lock(727274)")
    await client.query(schema)
    await client.query("SELECT pg_advisory_unlock(727274)")
  } finally {
    client.release()
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly extra: Record<string, unknown>
  constructor(status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
    super(detail)
    this.status = status
    this.code = code
    this.extra = extra
  }
}

const send = (res: ServerResponse, status: number, body: unknown, contentType = "application/json"): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const sendProblem = (res: ServerResponse, error: HttpError): void =>
  send(res, error.status, { type: "about:blank", title: error.code, status: error.status, detail: error.message, code: error.code, ...error.extra }, "application/problem+json")

const readJson = (req: IncomingMessage): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > 65_536) {
        reject(new HttpError(413, "payload-too-large", "request body too large"))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      if (size === 0) return resolve({})
      try {
        const value = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        resolve(typeof value === "object" && value !== null ? value : {})
      } catch {
        reject(new HttpError(400, "invalid-json", "body is not JSON"))
      }
    })
    req.on("error", reject)
  })

interface Caller {
  readonly userId: string
  readonly roles: ReadonlyArray<string>
}

const authenticate = async (req: IncomingMessage): Promise<Caller> => {
  const header = req.headers.authorization
  const claims = header?.startsWith("Bearer ") ? verifyToken(secret, header.slice(7)) : null
  if (claims === null) throw new HttpError(401, "unauthorized", "missing or invalid bearer token")
  // Provision the user on first sight.
  const found = await query<{ id: string }>(pool, "user_by_subject", "SELECT id FROM baseline.users WHERE subject = $1", [claims.sub])
  if (found.rows[0] !== undefined) return { userId: found.rows[0].id, roles: claims.roles }
  const inserted = await query<{ id: string }>(
    pool,
    "user_insert",
    "INSERT INTO baseline.users (id, subject, email, name) VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO NOTHING RETURNING id",
    [randomUUID(), claims.sub, claims.email ?? null, claims.name ?? null]
  )
  if (inserted.rows[0] !== undefined) return { userId: inserted.rows[0].id, roles: claims.roles }
  const again = await query<{ id: string }>(pool, "user_by_subject", "SELECT id FROM baseline.users WHERE subject = $1", [claims.sub])
  return { userId: again.rows[0]!.id, roles: claims.roles }
}

const inTransaction = async <A>(f: (client: pg.PoolClient) => Promise<A>): Promise<A> => {
  const client = await pool.connect()
  try {
    await client.query("BEGIN")
    const result = await f(client)
    await client.query("COMMIT")
    return result
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined)
    throw error
  } finally {
    client.release()
  }
}

const outbox = (client: pg.PoolClient, aggregateId: string, type: string, payload: Record<string, unknown>) =>
  query(client, "outbox_insert", "INSERT INTO baseline.outbox (id, aggregate_id, type, payload) VALUES ($1, $2, $3, $4)", [
    randomUUID(),
    aggregateId,
    type,
    JSON.stringify({ type, ...payload })
  ])

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// ---------------------------------------------------------------------------------------------
// Use-cases

interface EventRow {
  id: string
  organizer_id: string
  title: string
  description: string
  starts_at: Date
  ends_at: Date
  time_zone: string
  location: string
  capacity: number
  waitlist_enabled: boolean
  waitlist_limit: number | null
  registration_closes_at: Date
  status: string
  confirmed_count?: number
  waitlist_count?: number
}

const eventJson = (row: EventRow) => ({
  id: row.id,
  organizerId: row.organizer_id,
  title: row.title,
  description: row.description,
  startsAt: row.starts_at.toISOString(),
  endsAt: row.ends_at.toISOString(),
  timeZone: row.time_zone,
  location: row.location,
  capacity: row.capacity,
  waitlist: { enabled: row.waitlist_enabled, limit: row.waitlist_limit },
  registrationClosesAt: row.registration_closes_at.toISOString(),
  status: row.status,
  confirmedCount: row.confirmed_count ?? 0,
  waitlistCount: row.waitlist_count ?? 0,
  availableSeats: row.capacity - (row.confirmed_count ?? 0)
})

interface RegistrationRow {
  id: string
  event_id: string
  user_id: string
  status: string
  waitlist_position: number | null
  notes: string
  created_at: Date
  updated_at: Date
  confirmed_at: Date | null
  cancelled_at: Date | null
}

const registrationJson = (row: RegistrationRow) => ({
  id: row.id,
  eventId: row.event_id,
  userId: row.user_id,
  status: row.status,
  waitlistPosition: row.status === "waitlisted" ? row.waitlist_position : null,
  notes: row.notes,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  confirmedAt: row.confirmed_at?.toISOString() ?? null,
  cancelledAt: row.cancelled_at?.toISOString() ?? null
})

const requireRole = (caller: Caller, roles: ReadonlyArray<string>): void => {
  if (!caller.roles.some((role) => roles.includes(role))) throw new HttpError(403, "forbidden", "not allowed")
}

const createEvent = async (caller: Caller, body: Record<string, unknown>) => {
  requireRole(caller, ["organizer", "admin"])
  const title = typeof body.title === "string" ? body.title.trim() : ""
  const location = typeof body.location === "string" ? body.location.trim() : ""
  const startsAt = new Date(String(body.startsAt))
  const endsAt = new Date(String(body.endsAt))
  const capacity = body.capacity
  const waitlist = (typeof body.waitlist === "object" && body.waitlist !== null ? body.waitlist : {}) as { enabled?: unknown; limit?: unknown }
  if (
    title.length === 0 || title.length > 200 || location.length === 0 || location.length > 500 ||
    Number.isNaN(startsAt.getTime()) || Number.isNaN(endsAt.getTime()) || endsAt <= startsAt || startsAt.getTime() <= Date.now() ||
    typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 1 || capacity > 100_000 || typeof body.timeZone !== "string"
  ) {
    throw new HttpError(400, "invalid-event", "invalid event")
  }
  const id = randomUUID()
  return inTransaction(async (client) => {
    const result = await query<EventRow>(
      client,
      "event_insert",
      `INSERT INTO baseline.events (id, organizer_id, title, description, starts_at, ends_at, time_zone, location, capacity,
         waitlist_enabled, waitlist_limit, registration_closes_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $5) RETURNING *`,
      [id, caller.userId, title, typeof body.description === "string" ? body.description.trim() : "", startsAt, endsAt, body.timeZone,
        location, capacity, waitlist.enabled !== false, typeof waitlist.limit === "number" ? waitlist.limit : null]
    )
    await outbox(client, id, "EventCreated", { eventId: id })
    return eventJson(result.rows[0]!)
  })
}

const publishEvent = (caller: Caller, eventId: string) =>
  inTransaction(async (client) => {
    const result = await query<EventRow>(client, "event_lock", lockEvent, [eventId])
    const event = result.rows[0]
    if (event === undefined) throw new HttpError(404, "event-not-found", "no such event")
    if (event.organizer_id !== caller.userId && !caller.roles.includes("admin")) throw new HttpError(403, "forbidden", "not the owner")
    if (event.status === "cancelled") throw new HttpError(409, "event-cancelled", "event is cancelled")
    const updated = await query<EventRow>(
      client,
      "event_publish",
      "UPDATE baseline.events SET status = 'published', updated_at = now() WHERE id = $1 RETURNING *",
      [eventId]
    )
    await outbox(client, eventId, "EventPublished", { eventId })
    return eventJson(updated.rows[0]!)
  })

const getEvent = async (eventId: string) => {
  const result = await query<EventRow>(
    pool,
    "event_read",
    `SELECT e.*,
       (SELECT count(*)::int FROM baseline.registrations r WHERE r.event_id = e.id AND r.status IN ('confirmed', 'attended', 'no_show')) AS confirmed_count,
       (SELECT count(*)::int FROM baseline.registrations r WHERE r.event_id = e.id AND r.status = 'waitlisted') AS waitlist_count
     FROM baseline.events e WHERE e.id = $1`,
    [eventId]
  )
  const event = result.rows[0]
  if (event === undefined || event.status === "draft") throw new HttpError(404, "event-not-found", "no such event")
  return eventJson(event)
}

const register = (caller: Caller, eventId: string, body: Record<string, unknown>) =>
  inTransaction(async (client) => {
    const locked = await query<EventRow>(client, "event_lock", lockEvent, [eventId])
    const event = locked.rows[0]
    if (event === undefined) throw new HttpError(404, "event-not-found", "no such event")
    if (event.status !== "published" || Date.now() >= event.registration_closes_at.getTime()) {
      throw new HttpError(409, "registration-closed", "registration is closed")
    }
    const existing = await query<{ id: string }>(
      client,
      "registration_active",
      "SELECT id FROM baseline.registrations WHERE event_id = $1 AND user_id = $2 AND status IN ('confirmed', 'waitlisted')",
      [eventId, caller.userId]
    )
    if (existing.rows[0] !== undefined) {
      throw new HttpError(409, "already-registered", "already registered", { registrationId: existing.rows[0].id })
    }
    const counts = await query<{ confirmed: number; waitlisted: number }>(
      client,
      "registration_counts",
      `SELECT count(*) FILTER (WHERE status IN ('confirmed', 'attended', 'no_show'))::int AS confirmed,
              count(*) FILTER (WHERE status = 'waitlisted')::int AS waitlisted
       FROM baseline.registrations WHERE event_id = $1`,
      [eventId]
    )
    const { confirmed, waitlisted } = counts.rows[0]!
    let status: "confirmed" | "waitlisted"
    if (confirmed < event.capacity) status = "confirmed"
    else if (!event.waitlist_enabled) throw new HttpError(409, "waitlist-closed", "event is full")
    else if (event.waitlist_limit !== null && waitlisted >= event.waitlist_limit) throw new HttpError(409, "waitlist-full", "waitlist is full")
    else status = "waitlisted"
    const notes = typeof body.notes === "string" ? body.notes.trim().slice(0, 1000) : ""
    const inserted = await query<RegistrationRow>(
      client,
      "registration_insert",
      `INSERT INTO baseline.registrations (id, event_id, user_id, status, waitlist_position, notes, confirmed_at)
       VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $4 = 'confirmed' THEN now() END) RETURNING *`,
      [randomUUID(), eventId, caller.userId, status, status === "waitlisted" ? waitlisted + 1 : null, notes]
    )
    const registration = inserted.rows[0]!
    await outbox(client, eventId, status === "confirmed" ? "RegistrationConfirmed" : "RegistrationWaitlisted", {
      eventId,
      registrationId: registration.id,
      userId: caller.userId,
      waitlistPosition: registration.waitlist_position
    })
    return registrationJson(registration)
  })

const cancel = (caller: Caller, registrationId: string) =>
  inTransaction(async (client) => {
    const located = await query<{ event_id: string }>(client, "registration_event", "SELECT event_id FROM baseline.registrations WHERE id = $1", [registrationId])
    if (located.rows[0] === undefined) throw new HttpError(404, "registration-not-found", "no such registration")
    const eventId = located.rows[0].event_id
    // Same lock order as register: event first, then the registration.
    const lockedEvent = await query<EventRow>(client, "event_lock", lockEvent, [eventId])
    const event = lockedEvent.rows[0]!
    const lockedRegistration = await query<RegistrationRow>(
      client,
      "registration_lock",
      "SELECT * FROM baseline.registrations WHERE id = $1 FOR UPDATE",
      [registrationId]
    )
    const registration = lockedRegistration.rows[0]!
    if (registration.user_id !== caller.userId && event.organizer_id !== caller.userId && !caller.roles.includes("admin")) {
      throw new HttpError(403, "forbidden", "not your registration")
    }
    if (registration.status === "cancelled") return registrationJson(registration)
    if (registration.status !== "confirmed" && registration.status !== "waitlisted") {
      throw new HttpError(409, "registration-not-cancellable", `registration is ${registration.status}`)
    }
    const updated = await query<RegistrationRow>(
      client,
      "registration_cancel",
      `UPDATE baseline.registrations SET status = 'cancelled', waitlist_position = NULL, cancelled_at = now(), updated_at = now()
       WHERE id = $1 RETURNING *`,
      [registrationId]
    )
    await outbox(client, eventId, "RegistrationCancelled", { eventId, registrationId, userId: registration.user_id })
    let gapAt: number | null = null
    if (registration.status === "waitlisted") {
      gapAt = registration.waitlist_position
    } else {
      const head = await query<{ id: string; user_id: string }>(
        client,
        "waitlist_head",
        "SELECT id, user_id FROM baseline.registrations WHERE event_id = $1 AND status = 'waitlisted' ORDER BY waitlist_position LIMIT 1",
        [eventId]
      )
      if (head.rows[0] !== undefined) {
        await query(
          client,
          "registration_promote",
          `UPDATE baseline.registrations SET status = 'confirmed', waitlist_position = NULL, confirmed_at = now(), updated_at = now()
           WHERE id = $1`,
          [head.rows[0].id]
        )
        await outbox(client, eventId, "RegistrationPromoted", { eventId, registrationId: head.rows[0].id, userId: head.rows[0].user_id })
        gapAt = 1
      }
    }
    if (gapAt !== null) {
      // Renumber everyone behind the gap: the cost grows with the waitlist.
      await query(
        client,
        "waitlist_shift",
        `UPDATE baseline.registrations SET waitlist_position = waitlist_position - 1, updated_at = now()
         WHERE event_id = $1 AND status = 'waitlisted' AND waitlist_position > $2`,
        [eventId, gapAt]
      )
      await outbox(client, eventId, "WaitlistPositionsShifted", { eventId, fromPosition: gapAt })
    }
    return registrationJson(updated.rows[0]!)
  })

const waitlist = async (caller: Caller, eventId: string) => {
  const event = await query<EventRow>(pool, "event_by_id", "SELECT * FROM baseline.events WHERE id = $1", [eventId])
  if (event.rows[0] === undefined) throw new HttpError(404, "event-not-found", "no such event")
  if (event.rows[0].organizer_id !== caller.userId && !caller.roles.includes("admin")) throw new HttpError(403, "forbidden", "not the owner")
  const rows = await query<RegistrationRow>(
    pool,
    "waitlist_list",
    "SELECT * FROM baseline.registrations WHERE event_id = $1 AND status = 'waitlisted' ORDER BY waitlist_position",
    [eventId]
  )
  return { items: rows.rows.map(registrationJson), nextCursor: null }
}

// ---------------------------------------------------------------------------------------------
// Routing

const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = (req.url ?? "/").split("?")[0]!
  const parts = path.split("/").filter((part) => part.length > 0)
  const method = req.method ?? "GET"
  if (path === "/health/live") return send(res, 200, { status: "ok" })
  if (path === "/health/ready") {
    await pool.query("SELECT 1")
    return send(res, 200, { status: "ok" })
  }
  if (parts[0] !== "v1") throw new HttpError(404, "not-found", "no such route")
  const id = parts[2]
  if (id !== undefined && !uuidPattern.test(id)) throw new HttpError(404, "not-found", "no such resource")
  if (parts[1] === "events") {
    if (parts.length === 2 && method === "POST") return send(res, 201, await createEvent(await authenticate(req), await readJson(req)))
    if (parts.length === 3 && method === "GET") return send(res, 200, await getEvent(id!))
    if (parts.length === 4 && parts[3] === "publish" && method === "POST") return send(res, 200, await publishEvent(await authenticate(req), id!))
    if (parts.length === 4 && parts[3] === "registrations" && method === "POST") {
      const caller = await authenticate(req)
      return send(res, 201, await register(caller, id!, await readJson(req)))
    }
    if (parts.length === 4 && parts[3] === "waitlist" && method === "GET") return send(res, 200, await waitlist(await authenticate(req), id!))
  }
  if (parts[1] === "registrations" && parts.length === 4 && parts[3] === "cancel" && method === "POST") {
    return send(res, 200, await cancel(await authenticate(req), id!))
  }
  throw new HttpError(404, "not-found", "no such route")
}

const server = createServer((req, res) => {
  route(req, res).catch((error: unknown) => {
    if (error instanceof HttpError) return sendProblem(res, error)
    const pgError = error as { code?: string }
    if (pgError.code === "23505") return sendProblem(res, new HttpError(409, "already-registered", "already registered"))
    console.error(error)
    sendProblem(res, new HttpError(503, "unavailable", "temporarily unavailable"))
  })
})
server.keepAliveTimeout = 65_000

await migrate()
server.listen(port, host, () => console.log(`baseline listening on http://${host}:${port}`))

const shutdown = () => {
  server.close()
  server.closeAllConnections()
  pool.end().finally(() => process.exit(0))
}
process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)
