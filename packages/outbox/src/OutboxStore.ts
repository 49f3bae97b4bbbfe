/**
 * Port: the outbox table as a work queue. Relays claim batches under a lease, report what happened to
 * each message, and the store keeps the delivery rules:
 *
 * - **Per-aggregate order.** A message is claimable only when every earlier message of its aggregate is
 *   published (or dead-lettered), or is claimed in the same batch ahead of it. A claim always includes
 *   and locks the aggregate's *head* (its earliest unfinished message), so two relays can never hold
 *   messages of the same aggregate at once while leases hold.
 * - **Leases.** A claim stamps `lease_owner` and `lease_expires_at` on the head of each aggregate it
 *   takes: the rest of the aggregate's run in the batch cannot be claimed while its head is held, so
 *   it is not written at all. The owner extends the heads' leases (heartbeat); an expired lease makes
 *   the aggregate claimable again (the owner crashed). Delivery is therefore at-least-once: consumers
 *   deduplicate by message id.
 * - **Retries.** A failure records `attempts`, `last_error` and the next `available_at`; the relay
 *   decides the delay and when to dead-letter. A dead letter no longer blocks its aggregate (a poison
 *   message must not freeze an event's stream); a redrive makes it pending again with fresh attempts.
 *
 * Assumption, true for the domain's writer: messages of one aggregate are written by transactions
 * that are serialised on that aggregate (they hold its lock), so `position` order is commit order per
 * aggregate and no earlier row of an aggregate can become visible after a later one.
 *
 * `layerSql` works against the table created by `@live-events/sql`'s first migration (same columns on
 * PostgreSQL and PGlite; see {@link ddl}). `layerMemory` keeps the same rules in process.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { claimStatement, fromRow, keepRunPrefixes, type MessageRow } from "./OutboxClaimSql.ts"
import type { ClaimedMessage, DeadLetter, DeadLetterPage, OutboxMessage, OutboxStats } from "./OutboxMessage.ts"

/**
 * The store could not complete an operation. `isRetryable` for connection loss, timeouts and
 * lock conflicts.
 *
 * @since 0.1.0
 */
export class OutboxStoreError extends Schema.TaggedError<OutboxStoreError>()("OutboxStoreError", {
  reason: Schema.Literals(["unavailable", "timeout", "conflict", "unknown"]),
  operation: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}, { httpApiStatus: 503 }) {
  readonly code = "service-unavailable"
  get isRetryable(): boolean {
    return this.reason !== "unknown"
  }
  override get message() {
    return `Outbox store ${this.reason} during ${this.operation}`
  }
}

/**
 * No dead letter with this id (never existed, already redriven, or published).
 *
 * @since 0.1.0
 */
export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", {
  id: Schema.String
}, { httpApiStatus: 404 }) {
  readonly code = "dead-letter-not-found"
  override get message() {
    return `No dead-lettered outbox message ${this.id}`
  }
}

/** @since 0.1.0 */
export interface ClaimOptions {
  /** Identifies the relay instance; unique per process and relay. */
  readonly owner: string
  /** At most this many messages. */
  readonly limit: number
  readonly lease: Duration.Duration
}

/**
 * A claim's messages, and `more`: the backlog held more than `limit` unfinished messages. A short
 * batch then means that the rest was held by other relays or waiting for a retry, and more is likely
 * to become claimable soon (another relay finishing frees its aggregates), so a relay keeps claiming
 * while its claims bring something; without `more` it took everything there was and waits.
 *
 * @since 0.2.0
 */
export interface ClaimBatch {
  readonly messages: ReadonlyArray<ClaimedMessage>
  readonly more: boolean
}

/**
 * @since 0.1.0
 */
export class OutboxStore extends Context.Service<OutboxStore, {
  /** Writes messages (in order). Inside `SqlClient.withTransaction` it joins the caller's transaction. */
  readonly enqueue: (messages: ReadonlyArray<OutboxMessage>) => Effect.Effect<void, OutboxStoreError>
  /**
   * Claims up to `limit` deliverable messages (answered in `position` order): the free aggregates with
   * the oldest heads, each with the unbroken run of deliverable messages behind its head, so that
   * concurrent claimants take disjoint aggregates, each a full batch.
   */
  readonly claim: (options: ClaimOptions) => Effect.Effect<ReadonlyArray<ClaimedMessage>, OutboxStoreError>
  /** `claim`, saying also whether the backlog is longer than `limit` (see {@link ClaimBatch}). */
  readonly claimBatch: (options: ClaimOptions) => Effect.Effect<ClaimBatch, OutboxStoreError>
  /**
   * Extends the lease of the owner's messages; returns the positions it still holds. A claimant passes
   * the heads of its aggregates (the first message of each in its batch): only they carry the lease.
   */
  readonly extendLease: (
    owner: string,
    positions: ReadonlyArray<number>,
    lease: Duration.Duration
  ) => Effect.Effect<ReadonlyArray<number>, OutboxStoreError>
  /** Marks messages delivered (and frees their lease); returns how many changed. */
  readonly markPublished: (positions: ReadonlyArray<number>) => Effect.Effect<number, OutboxStoreError>
  /** Gives claimed messages back untouched (no attempt counted), e.g. on shutdown. */
  readonly release: (owner: string, positions: ReadonlyArray<number>) => Effect.Effect<void, OutboxStoreError>
  /**
   * Gives back every unfinished message leased by `owner`, untouched: for a relay whose cycle failed
   * midway (its claim's answer may have been lost with the connection), so that what it held is
   * claimable again at once instead of when the lease expires. Returns how many.
   */
  readonly releaseAll: (owner: string) => Effect.Effect<number, OutboxStoreError>
  /**
   * Counts a failed attempt and makes the message available again after `delay`. Acts on a message
   * leased to `owner` or carrying no lease (one of the run behind a head the owner holds), never on
   * one another claimant holds.
   */
  readonly retryLater: (
    owner: string,
    position: number,
    error: string,
    delay: Duration.Duration
  ) => Effect.Effect<void, OutboxStoreError>
  /** Counts a failed attempt and parks the message as a dead letter (same messages as `retryLater`). */
  readonly deadLetter: (owner: string, position: number, error: string) => Effect.Effect<void, OutboxStoreError>
  /** Dead letters in write order, `limit` per page. */
  readonly listDeadLetters: (options: {
    readonly limit: number
    readonly cursor?: string | null | undefined
  }) => Effect.Effect<DeadLetterPage, OutboxStoreError>
  /** Makes a dead letter pending again, with a fresh attempt budget. */
  readonly redrive: (id: string) => Effect.Effect<void, OutboxStoreError | DeadLetterNotFound>
  /** Deletes messages published longer than `retention` ago; returns how many. Dead letters stay. */
  readonly purge: (retention: Duration.Duration) => Effect.Effect<number, OutboxStoreError>
  readonly stats: Effect.Effect<OutboxStats, OutboxStoreError>
}>()("@live-events/outbox/OutboxStore") {}

/**
 * The outbox table's DDL as created by `@live-events/sql` (migration 0001), for tests and for embedders
 * without that package. Run each statement separately.
 *
 * @since 0.1.0
 */
export const ddl: ReadonlyArray<string> = [
  `CREATE TABLE IF NOT EXISTS outbox (
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
)`,
  `CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (position) WHERE published_at IS NULL AND dead_lettered_at IS NULL`,
  `CREATE INDEX IF NOT EXISTS outbox_by_aggregate ON outbox (aggregate_id, position)`
]

/**
 * An index the claim can use (not required for correctness): the search for each aggregate's head
 * then reads only pending index entries instead of the pending rows' heap tuples. Its effect on a
 * 20,000-message backlog was within the noise of our shared 2-core machine (bench/outbox.ts measures
 * both); consider it when backlogs grow large. Belongs in a migration of the schema's owner.
 *
 * @since 0.1.0
 */
export const recommendedIndexes: ReadonlyArray<string> = [
  `CREATE INDEX IF NOT EXISTS outbox_pending_by_aggregate ON outbox (aggregate_id, position)
  WHERE published_at IS NULL AND dead_lettered_at IS NULL`
]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const storeError = (operation: string) => (error: SqlError.SqlError): OutboxStoreError => {
  switch (error.reason._tag) {
    case "ConnectionError":
    case "AuthenticationError":
      return new OutboxStoreError({ reason: "unavailable", operation, cause: error })
    case "StatementTimeoutError":
    case "LockTimeoutError":
      return new OutboxStoreError({ reason: "timeout", operation, cause: error })
    case "DeadlockError":
    case "SerializationError":
      return new OutboxStoreError({ reason: "conflict", operation, cause: error })
    default:
      return new OutboxStoreError({ reason: "unknown", operation, cause: error })
  }
}

const positionList = (positions: ReadonlyArray<number>) => positions.join(",")

const millis = (duration: Duration.Duration) => Math.max(0, Math.round(Duration.toMillis(duration)))

interface DeadLetterRow extends MessageRow {
  readonly last_error: string | null
  readonly dead_lettered_at: Date
}

/** @since 0.1.0 */
export interface SqlOptions {
  /**
   * PostgreSQL channel to `pg_notify` after {@link OutboxStore} `enqueue` (delivered on commit), so
   * relays listening on it wake at once. Leave unset on PGlite.
   */
  readonly notifyChannel?: string | undefined
}

/**
 * `OutboxStore` over the `outbox` table of an existing `SqlClient` (PostgreSQL 15+ or PGlite).
 *
 * @since 0.1.0
 */
export const makeSql = (options: SqlOptions = {}): Effect.Effect<OutboxStore["Service"], never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const enqueue = Effect.fn("OutboxStore.enqueue")(function*(messages: ReadonlyArray<OutboxMessage>) {
      if (messages.length === 0) return
      const rows = JSON.stringify(messages.map((message, n) => ({
        n,
        id: message.id,
        aggregate_id: message.aggregateId,
        type: message.type,
        schema_version: message.schemaVersion,
        occurred_at: message.occurredAt.toISOString(),
        payload: message.payload,
        traceparent: message.traceparent ?? null
      })))
      const insert = sql`INSERT INTO outbox (id, aggregate_id, type, schema_version, occurred_at, payload, traceparent)
        SELECT m.id, m.aggregate_id, m.type, m.schema_version, m.occurred_at, m.payload, m.traceparent
        FROM jsonb_to_recordset(${rows}::jsonb) AS m(id uuid, aggregate_id uuid, type text, schema_version int,
          occurred_at timestamptz, payload jsonb, traceparent text, n int)
        ORDER BY m.n`
      // One statement: the notification is queued in the same transaction and delivered on commit.
      yield* (options.notifyChannel === undefined
        ? insert
        : sql`WITH inserted AS (${insert} RETURNING 1) SELECT pg_notify(${options.notifyChannel}, '')
            FROM (SELECT count(*) FROM inserted) AS c`).pipe(Effect.mapError(storeError("OutboxStore.enqueue")))
    })

    const claimAmong = ({ lease, limit, owner }: ClaimOptions, candidates: "front" | "all") =>
      claimStatement(sql, { owner, limit, leaseMillis: millis(lease) }, candidates).pipe(
        Effect.mapError(storeError("OutboxStore.claim"))
      )

    const claimBatch = Effect.fn("OutboxStore.claim")(function*(options: ClaimOptions) {
      // A claim among the front's aggregates reads O(limit) rows. Only when it falls short while the
      // backlog is longer (some of the front is leased or waiting for a retry) are the other
      // aggregates' heads searched too (a scan of the backlog beyond the front, without sorting it);
      // that claim skips the aggregates just claimed, whose heads are now leased.
      const answer = yield* claimAmong(options, "front")
      const frontFull = answer[0]?.front_full ?? false
      const { gaps, messages } = keepRunPrefixes(answer)
      const taken = messages.length + gaps.length
      if (taken < options.limit && frontFull) {
        const beyond = keepRunPrefixes(yield* claimAmong({ ...options, limit: options.limit - taken }, "all"))
        messages.push(...beyond.messages)
        gaps.push(...beyond.gaps)
        messages.sort((a, b) => a.position - b.position)
      }
      // Rows past a gap in their run were leased but must not be delivered before it: given back.
      yield* release(options.owner, gaps)
      return { messages, more: frontFull }
    })
    const claim = (options: ClaimOptions) => Effect.map(claimBatch(options), (batch) => batch.messages)

    const extendLease = Effect.fn("OutboxStore.extendLease")(
      function*(owner: string, positions: ReadonlyArray<number>, lease: Duration.Duration) {
        if (positions.length === 0) return []
        const rows = yield* sql<{ readonly position: bigint }>`UPDATE outbox
          SET lease_expires_at = now() + ${millis(lease)} * interval '1 millisecond'
          WHERE position = ANY(string_to_array(${positionList(positions)}, ',')::int8[])
            AND lease_owner = ${owner} AND published_at IS NULL AND dead_lettered_at IS NULL
          RETURNING position`.pipe(Effect.mapError(storeError("OutboxStore.extendLease")))
        return rows.map((row) => Number(row.position))
      }
    )

    const markPublished = Effect.fn("OutboxStore.markPublished")(function*(positions: ReadonlyArray<number>) {
      if (positions.length === 0) return 0
      // Not filtered by owner: whoever published it, it was published.
      const rows = yield* sql<{ readonly n: number }>`WITH updated AS (
          UPDATE outbox SET published_at = now(), lease_owner = NULL, lease_expires_at = NULL
          WHERE position = ANY(string_to_array(${positionList(positions)}, ',')::int8[]) AND published_at IS NULL
          RETURNING 1)
        SELECT count(*)::int AS n FROM updated`.pipe(Effect.mapError(storeError("OutboxStore.markPublished")))
      return rows[0]?.n ?? 0
    })

    const release = Effect.fn("OutboxStore.release")(function*(owner: string, positions: ReadonlyArray<number>) {
      if (positions.length === 0) return
      yield* sql`UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL
        WHERE position = ANY(string_to_array(${positionList(positions)}, ',')::int8[]) AND lease_owner = ${owner}`
        .pipe(Effect.mapError(storeError("OutboxStore.release")))
    })

    const releaseAll = Effect.fn("OutboxStore.releaseAll")(function*(owner: string) {
      const rows = yield* sql<{ readonly n: number }>`WITH released AS (
          UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL
          WHERE lease_owner = ${owner} AND published_at IS NULL AND dead_lettered_at IS NULL
          RETURNING 1)
        SELECT count(*)::int AS n FROM released`.pipe(Effect.mapError(storeError("OutboxStore.releaseAll")))
      return rows[0]?.n ?? 0
    })

    const retryLater = Effect.fn("OutboxStore.retryLater")(
      function*(owner: string, position: number, error: string, delay: Duration.Duration) {
        yield* sql`UPDATE outbox SET attempts = attempts + 1, last_error = ${error},
            available_at = now() + ${millis(delay)} * interval '1 millisecond',
            lease_owner = NULL, lease_expires_at = NULL
          WHERE position = ${position} AND (lease_owner = ${owner} OR lease_owner IS NULL)
            AND published_at IS NULL AND dead_lettered_at IS NULL`
          .pipe(Effect.mapError(storeError("OutboxStore.retryLater")))
      }
    )

    const deadLetter = Effect.fn("OutboxStore.deadLetter")(function*(owner: string, position: number, error: string) {
      yield* sql`UPDATE outbox SET attempts = attempts + 1, last_error = ${error}, dead_lettered_at = now(),
          lease_owner = NULL, lease_expires_at = NULL
        WHERE position = ${position} AND (lease_owner = ${owner} OR lease_owner IS NULL)
          AND published_at IS NULL AND dead_lettered_at IS NULL`
        .pipe(Effect.mapError(storeError("OutboxStore.deadLetter")))
    })

    const listDeadLetters = Effect.fn("OutboxStore.listDeadLetters")(function*(options: {
      readonly limit: number
      readonly cursor?: string | null | undefined
    }) {
      const after = options.cursor !== undefined && options.cursor !== null && /^\d+$/.test(options.cursor)
        ? options.cursor
        : "0"
      const rows = yield* sql<DeadLetterRow>`SELECT position, id, aggregate_id, type, schema_version, occurred_at,
          payload, traceparent, attempts, last_error, dead_lettered_at
        FROM outbox WHERE dead_lettered_at IS NOT NULL AND position > ${after}::int8
        ORDER BY position LIMIT ${options.limit + 1}`.pipe(Effect.mapError(storeError("OutboxStore.listDeadLetters")))
      const page = rows.slice(0, options.limit)
      const items: Array<DeadLetter> = page.map((row) => ({
        ...fromRow(row),
        lastError: row.last_error,
        deadLetteredAt: row.dead_lettered_at
      }))
      return {
        items,
        nextCursor: rows.length > options.limit ? String(items[items.length - 1]!.position) : null
      }
    })

    const redrive = Effect.fn("OutboxStore.redrive")(function*(id: string) {
      if (!UUID.test(id)) return yield* new DeadLetterNotFound({ id })
      const rows = yield* sql`UPDATE outbox SET dead_lettered_at = NULL, attempts = 0, available_at = now(),
          lease_owner = NULL, lease_expires_at = NULL
        WHERE id = ${id}::uuid AND dead_lettered_at IS NOT NULL AND published_at IS NULL
        RETURNING position`.pipe(Effect.mapError(storeError("OutboxStore.redrive")))
      if (rows.length === 0) return yield* new DeadLetterNotFound({ id })
    })

    const purge = Effect.fn("OutboxStore.purge")(function*(retention: Duration.Duration) {
      let total = 0
      // Bounded batches keep each statement (and its locks) short.
      while (true) {
        const rows = yield* sql<{ readonly n: number }>`WITH doomed AS (
            SELECT position FROM outbox
            WHERE published_at < now() - ${millis(retention)} * interval '1 millisecond'
            LIMIT 5000
          ), deleted AS (
            DELETE FROM outbox o USING doomed WHERE o.position = doomed.position RETURNING 1
          )
          SELECT count(*)::int AS n FROM deleted`.pipe(Effect.mapError(storeError("OutboxStore.purge")))
        const n = rows[0]?.n ?? 0
        total += n
        if (n < 5000) return total
      }
    })

    const stats = sql<{ readonly pending: number; readonly oldest: Date | null; readonly dead: number }>`SELECT
        (SELECT count(*)::int FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL) AS pending,
        (SELECT min(occurred_at) FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL) AS oldest,
        (SELECT count(*)::int FROM outbox WHERE dead_lettered_at IS NOT NULL AND published_at IS NULL) AS dead`.pipe(
      Effect.map(([row]): OutboxStats => ({
        pending: row?.pending ?? 0,
        oldestPendingAt: row?.oldest ?? null,
        deadLettered: row?.dead ?? 0
      })),
      Effect.mapError(storeError("OutboxStore.stats")),
      Effect.withSpan("OutboxStore.stats")
    )

    return OutboxStore.of({
      enqueue,
      claim,
      claimBatch,
      extendLease,
      markPublished,
      release,
      releaseAll,
      retryLater,
      deadLetter,
      listDeadLetters,
      redrive,
      purge,
      stats
    })
  })

/**
 * `OutboxStore` on SQL (PostgreSQL or PGlite). Does not create the table: `@live-events/sql` owns it.
 *
 * @since 0.1.0
 */
export const layerSql = (options: SqlOptions = {}): Layer.Layer<OutboxStore, never, SqlClient.SqlClient> =>
  Layer.effect(OutboxStore, makeSql(options))

interface MemoryRow {
  readonly message: OutboxMessage
  readonly position: number
  attempts: number
  availableAt: number
  publishedAt: number | null
  deadLetteredAt: number | null
  lastError: string | null
  leaseOwner: string | null
  leaseExpiresAt: number | null
}

/**
 * `OutboxStore` in process memory with the same rules as the SQL store (and the `Clock` as its time).
 * For tests and the memory-backed domain.
 *
 * @since 0.1.0
 */
export const makeMemory: Effect.Effect<OutboxStore["Service"]> = Effect.sync(() => {
  const rows: Array<MemoryRow> = []
  const byId = new Map<string, MemoryRow>()
  const byPosition = new Map<number, MemoryRow>()
  let nextPosition = 1
  const unfinished = (row: MemoryRow) => row.publishedAt === null && row.deadLetteredAt === null
  const free = (row: MemoryRow, now: number) => row.leaseExpiresAt === null || row.leaseExpiresAt <= now
  const due = (row: MemoryRow, now: number) => row.availableAt <= now && free(row, now)
  const toClaimed = (row: MemoryRow): ClaimedMessage => ({ ...row.message, position: row.position, attempts: row.attempts })

  const enqueue = (messages: ReadonlyArray<OutboxMessage>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (messages.some((message) => byId.has(message.id))) {
        // Same rule as the table's unique id: the whole batch is refused.
        return Effect.fail(
          new OutboxStoreError({ reason: "unknown", operation: "OutboxStore.enqueue", cause: "duplicate message id" })
        )
      }
      for (const message of messages) {
        const row: MemoryRow = {
          message,
          position: nextPosition++,
          attempts: 0,
          availableAt: now,
          publishedAt: null,
          deadLetteredAt: null,
          lastError: null,
          leaseOwner: null,
          leaseExpiresAt: null
        }
        rows.push(row)
        byId.set(message.id, row)
        byPosition.set(row.position, row)
      }
      return Effect.void
    })

  const claimBatch = ({ lease, limit, owner }: ClaimOptions) =>
    Effect.map(Clock.currentTimeMillis, (now): ClaimBatch => {
      const runs = new Map<string, Array<MemoryRow>>()
      const closed = new Set<string>()
      let heads = 0
      let backlog = 0
      for (const row of rows) {
        if (!unfinished(row)) continue
        backlog++
        const aggregate = row.message.aggregateId
        if (closed.has(aggregate)) continue
        const run = runs.get(aggregate)
        if (run === undefined) {
          // This row is the aggregate's head.
          if (heads < limit && due(row, now)) {
            runs.set(aggregate, [row])
            heads++
          } else closed.add(aggregate)
        } else if (due(row, now)) run.push(row)
        else closed.add(aggregate)
      }
      // Whole runs, in the order of their heads (as the SQL claim): two claimants take disjoint aggregates.
      const chosen = Array.from(runs.values()).flat().slice(0, limit).sort((a, b) => a.position - b.position)
      // The heads only (as the SQL claim): a held head keeps every other claim off its aggregate.
      for (const run of runs.values()) {
        const head = run[0]!
        if (!chosen.includes(head)) break
        head.leaseOwner = owner
        head.leaseExpiresAt = now + millis(lease)
      }
      return { messages: chosen.map(toClaimed), more: backlog > limit }
    })
  const claim = (options: ClaimOptions) => Effect.map(claimBatch(options), (batch) => batch.messages)

  const extendLease = (owner: string, positions: ReadonlyArray<number>, lease: Duration.Duration) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const held: Array<number> = []
      for (const position of positions) {
        const row = byPosition.get(position)
        if (row !== undefined && row.leaseOwner === owner && unfinished(row)) {
          row.leaseExpiresAt = now + millis(lease)
          held.push(position)
        }
      }
      return held
    })

  const markPublished = (positions: ReadonlyArray<number>) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      let changed = 0
      for (const position of positions) {
        const row = byPosition.get(position)
        if (row !== undefined && row.publishedAt === null) {
          row.publishedAt = now
          row.leaseOwner = null
          row.leaseExpiresAt = null
          changed++
        }
      }
      return changed
    })

  const release = (owner: string, positions: ReadonlyArray<number>) =>
    Effect.sync(() => {
      for (const position of positions) {
        const row = byPosition.get(position)
        if (row !== undefined && row.leaseOwner === owner) {
          row.leaseOwner = null
          row.leaseExpiresAt = null
        }
      }
    })

  const releaseAll = (owner: string) =>
    Effect.sync(() => {
      let released = 0
      for (const row of rows) {
        if (row.leaseOwner === owner && unfinished(row)) {
          row.leaseOwner = null
          row.leaseExpiresAt = null
          released++
        }
      }
      return released
    })

  const fail = (owner: string, position: number, error: string, update: (row: MemoryRow, now: number) => void) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const row = byPosition.get(position)
        if (row === undefined || (row.leaseOwner !== null && row.leaseOwner !== owner) || !unfinished(row)) return
        row.attempts++
        row.lastError = error
        row.leaseOwner = null
        row.leaseExpiresAt = null
        update(row, now)
      }))

  const listDeadLetters = (options: { readonly limit: number; readonly cursor?: string | null | undefined }) =>
    Effect.sync((): DeadLetterPage => {
      const after = options.cursor !== undefined && options.cursor !== null && /^\d+$/.test(options.cursor)
        ? Number(options.cursor)
        : 0
      const dead = rows.filter((row) => row.deadLetteredAt !== null && row.publishedAt === null && row.position > after)
      const items = dead.slice(0, options.limit).map((row): DeadLetter => ({
        ...toClaimed(row),
        lastError: row.lastError,
        deadLetteredAt: new Date(row.deadLetteredAt!)
      }))
      return {
        items,
        nextCursor: dead.length > options.limit ? String(items[items.length - 1]!.position) : null
      }
    })

  const redrive = (id: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const row = byId.get(id)
      if (row === undefined || row.deadLetteredAt === null || row.publishedAt !== null) {
        return Effect.fail(new DeadLetterNotFound({ id }))
      }
      row.deadLetteredAt = null
      row.attempts = 0
      row.availableAt = now
      row.leaseOwner = null
      row.leaseExpiresAt = null
      return Effect.void
    })

  const purge = (retention: Duration.Duration) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const cutoff = now - millis(retention)
      let removed = 0
      for (let i = rows.length - 1; i >= 0; i--) {
        const row = rows[i]!
        if (row.publishedAt !== null && row.publishedAt < cutoff) {
          rows.splice(i, 1)
          byId.delete(row.message.id)
          byPosition.delete(row.position)
          removed++
        }
      }
      return removed
    })

  const stats = Effect.sync((): OutboxStats => {
    let pending = 0
    let oldest: number | null = null
    let deadLettered = 0
    for (const row of rows) {
      if (row.publishedAt !== null) continue
      if (row.deadLetteredAt !== null) {
        deadLettered++
        continue
      }
      pending++
      const at = row.message.occurredAt.getTime()
      if (oldest === null || at < oldest) oldest = at
    }
    return { pending, oldestPendingAt: oldest === null ? null : new Date(oldest), deadLettered }
  })

  return OutboxStore.of({
    enqueue,
    claim,
    claimBatch,
    extendLease,
    markPublished,
    release,
    releaseAll,
    retryLater: (owner, position, error, delay) =>
      fail(owner, position, error, (row, now) => {
        row.availableAt = now + millis(delay)
      }),
    deadLetter: (owner, position, error) =>
      fail(owner, position, error, (row, now) => {
        row.deadLetteredAt = now
      }),
    listDeadLetters,
    redrive,
    purge,
    stats
  })
})

/**
 * `OutboxStore` in memory.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<OutboxStore> = Layer.effect(OutboxStore, makeMemory)
