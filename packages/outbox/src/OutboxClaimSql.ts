/**
 * The SQL store's claim: one statement that leases a batch of whole runs of aggregates.
 *
 * A batch is built from aggregates, not from the oldest messages: the free heads (earliest unfinished
 * message of an aggregate, due and not leased) are taken in position order, each with the unbroken run
 * of due, unleased messages behind it, until `limit` messages. Two relays therefore take disjoint sets
 * of aggregates, each a full batch: with batches of the oldest messages, a backlog spread over as many
 * aggregates as a batch holds was one batch deep per aggregate, every batch held every aggregate's head,
 * and a second relay found nothing to claim until the first had marked its batch (it could only take
 * turns, never work beside it). Per-aggregate order is unchanged: a batch holds a prefix of each of its
 * aggregates' backlogs, and holding the head (locked here, leased after) keeps every other relay off the
 * aggregate.
 *
 * @since 0.3.0
 */
import type { SqlClient } from "effect/sql"
import type { ClaimedMessage } from "./OutboxMessage.ts"

/** @internal */
export interface MessageRow {
  readonly position: bigint | number | string
  readonly id: string
  readonly aggregate_id: string
  readonly type: string
  readonly schema_version: number
  readonly occurred_at: Date
  readonly payload: unknown
  readonly traceparent: string | null
  readonly attempts: number
}

/** A claimed row, with the position of its aggregate's head and its rank in the run (1 = the head). */
interface ClaimedRow extends MessageRow {
  readonly head: bigint | number | string
  readonly rn: bigint | number | string
}

/** What the claim statement answers: its rows (one without a message when it claimed nothing). */
export type ClaimAnswer = ReadonlyArray<
  (ClaimedRow | { readonly [K in keyof ClaimedRow]: null }) & { readonly front_full: boolean }
>

const parsePayload = (payload: unknown): unknown => typeof payload === "string" ? JSON.parse(payload) : payload

/** @internal */
export const fromRow = (row: MessageRow): ClaimedMessage => ({
  position: Number(row.position),
  id: row.id,
  aggregateId: row.aggregate_id,
  type: row.type,
  schemaVersion: row.schema_version,
  occurredAt: row.occurred_at,
  payload: parsePayload(row.payload),
  traceparent: row.traceparent ?? undefined,
  attempts: row.attempts
})

/**
 * One claim statement. front: the first `limit` unfinished messages; every aggregate with a message
 * there has its head there (the front is a prefix of the backlog), so its distinct aggregates' first
 * positions are the candidate heads. With `candidates: "all"` the heads of the other aggregates are
 * searched too (beyond the front, with an anti-join and no sort of the backlog), for a front held by
 * other relays or waiting for retries. The candidates are an array computed once, so that a head
 * leased by a concurrent claim after this statement's snapshot is re-checked alone.
 *
 * heads are locked in position order as the batch needs them (SKIP LOCKED: a concurrent claim takes
 * the next aggregate instead of waiting); for each, the run behind it is read by the aggregate's index
 * (at most `limit` rows) and cut at the first message that is leased or not yet due (bool_and over the
 * run's order). `chosen` streams heads and their runs and stops at `limit` rows, so only the heads a
 * batch uses are locked and read; the rank in the run lets the caller check that each aggregate's
 * rows are a prefix of its run ({@link keepRunPrefixes}) without relying on the order rows stream in.
 *
 * Only the heads are leased (written): a run's other messages cannot be claimed while its head is
 * held, so their lease would only repeat it. Every lease written is a new row version with an entry in
 * each of the table's indexes (the table's pages are full, so it cannot be a heap-only update): on a
 * backlog of deep runs that was about half of the database's work per message.
 *
 * @internal
 */
export const claimStatement = (
  sql: SqlClient.SqlClient,
  { leaseMillis, limit, owner }: { readonly owner: string; readonly limit: number; readonly leaseMillis: number },
  candidates: "front" | "all"
) => {
  const frontHeads = sql`SELECT DISTINCT ON (f.aggregate_id) f.position FROM front f ORDER BY f.aggregate_id, f.position`
  const candidateHeads = candidates === "front"
    ? frontHeads
    : sql`(${frontHeads})
        UNION ALL
        (SELECT DISTINCT ON (p.aggregate_id) p.position FROM outbox p
          WHERE p.published_at IS NULL AND p.dead_lettered_at IS NULL
            AND p.position > (SELECT CASE WHEN count(*) >= ${limit} THEN max(position) ELSE 9223372036854775807 END
              FROM front)
            AND NOT EXISTS (SELECT 1 FROM front f WHERE f.aggregate_id = p.aggregate_id)
          ORDER BY p.aggregate_id, p.position)`
  return sql<ClaimAnswer[number]>`
    WITH front AS (
      SELECT position, aggregate_id FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL
      ORDER BY position LIMIT ${limit}
    ), chosen AS (
      SELECT h.position AS head, r.* FROM (
        SELECT o.position, o.aggregate_id FROM outbox o
        WHERE o.position = ANY(ARRAY(${candidateHeads}))
          AND o.published_at IS NULL AND o.dead_lettered_at IS NULL
          AND o.available_at <= now()
          AND (o.lease_expires_at IS NULL OR o.lease_expires_at <= now())
        ORDER BY o.position
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ) AS h
      CROSS JOIN LATERAL (
        SELECT w.position, w.id, w.aggregate_id, w.type, w.schema_version, w.occurred_at, w.payload,
          w.traceparent, w.attempts, w.rn
        FROM (
          SELECT f.*, row_number() OVER run AS rn,
            bool_and(f.position = h.position
              OR (f.available_at <= now() AND (f.lease_expires_at IS NULL OR f.lease_expires_at <= now())))
              OVER run AS in_run
          FROM (
            SELECT p.position, p.id, p.aggregate_id, p.type, p.schema_version, p.occurred_at, p.payload,
              p.traceparent, p.attempts, p.available_at, p.lease_expires_at
            FROM outbox p
            WHERE p.aggregate_id = h.aggregate_id AND p.position >= h.position
              AND p.published_at IS NULL AND p.dead_lettered_at IS NULL
            ORDER BY p.position
            LIMIT ${limit}
          ) AS f
          WINDOW run AS (ORDER BY f.position)
        ) AS w
        WHERE w.in_run
      ) AS r
      LIMIT ${limit}
    ), leased AS (
      -- The heads only: holding an aggregate's head keeps every other claim off the whole aggregate.
      UPDATE outbox o SET lease_owner = ${owner},
        lease_expires_at = now() + ${leaseMillis} * interval '1 millisecond'
      WHERE o.position = ANY(ARRAY(SELECT DISTINCT head FROM chosen))
        AND o.published_at IS NULL AND o.dead_lettered_at IS NULL
      RETURNING o.position
    )
    -- At least one row, so that front_full is known even when nothing was claimed.
    SELECT c.position, c.id, c.aggregate_id, c.type, c.schema_version, c.occurred_at, c.payload, c.traceparent,
      c.attempts, c.head, c.rn, (SELECT count(*) FROM front) >= ${limit} AS front_full
    FROM (SELECT 1) AS one
    LEFT JOIN (chosen c JOIN leased l ON l.position = c.head) ON true`
}

/**
 * Splits claimed rows into each aggregate's unbroken prefix of its run (ranks 1, 2, 3 … from its head)
 * and the rest, which the caller gives back: a run cut anywhere but at its end (the statement's
 * `LIMIT` over rows in another order, or a row of the run published meanwhile by a relay whose lease
 * had expired) must not be delivered past the gap.
 *
 * @internal
 */
export const keepRunPrefixes = (
  answer: ClaimAnswer
): { readonly messages: Array<ClaimedMessage>; readonly gaps: Array<number> } => {
  const runs = new Map<number, Array<ClaimedRow>>()
  for (const row of answer) {
    if (row.position === null) continue
    const head = Number(row.head)
    const run = runs.get(head)
    if (run === undefined) runs.set(head, [row])
    else run.push(row)
  }
  const messages: Array<ClaimedMessage> = []
  const gaps: Array<number> = []
  for (const run of runs.values()) {
    run.sort((a, b) => Number(a.rn) - Number(b.rn))
    for (let i = 0; i < run.length; i++) {
      if (Number(run[i]!.rn) === i + 1) messages.push(fromRow(run[i]!))
      else gaps.push(Number(run[i]!.position))
    }
  }
  messages.sort((a, b) => a.position - b.position)
  return { messages, gaps }
}
