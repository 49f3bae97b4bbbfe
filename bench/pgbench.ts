/**
 * The database's ceiling: pgbench runs the registration transaction (lock the event, read its
 * counts, insert the registration, bump the counter, insert the outbox row) straight against
 * PostgreSQL, with no HTTP, no Node and no JSON. Two shapes: six round trips (BEGIN, 4 statements,
 * COMMIT) and one statement (a data-modifying CTE), each on 1,000 events and on one hot event.
 *
 *   node bench/pgbench.ts      (creates and drops its own database)
 *
 * Environment: BENCH_PGBENCH_SECONDS [10], BENCH_PGBENCH_CLIENTS [10, the servers' pool size],
 * BENCH_PGBENCH_HOT_CLIENTS [10], BENCH_PGBENCH [path of the pgbench binary], BENCH_PG_URL [admin
 * connection string, default postgres://postgres@127.0.0.1:5432/postgres].
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { createScratchDatabase } from "./lib/db.ts"
import { intEnv, pgAdminUrl, pgHost, pgPort, pgUser } from "./lib/env.ts"

const schema = `
DROP SCHEMA IF EXISTS ceiling CASCADE;
CREATE SCHEMA ceiling;
CREATE TABLE ceiling.events (
  id integer PRIMARY KEY,
  capacity integer NOT NULL,
  confirmed_count integer NOT NULL DEFAULT 0,
  waitlist_count integer NOT NULL DEFAULT 0
);
CREATE SEQUENCE ceiling.join_seq;
CREATE TABLE ceiling.registrations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id integer NOT NULL REFERENCES ceiling.events (id),
  user_id uuid NOT NULL,
  status text NOT NULL,
  waitlist_seq bigint,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ON ceiling.registrations (event_id, user_id) WHERE status IN ('confirmed', 'waitlisted');
CREATE INDEX ON ceiling.registrations (event_id, waitlist_seq) WHERE status = 'waitlisted';
CREATE TABLE ceiling.outbox (
  position bigserial PRIMARY KEY,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  aggregate_id integer NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ceiling.events (id, capacity) SELECT g, 100000 FROM generate_series(1, 1000) g;
`

/** BEGIN, lock + read, insert, counter, outbox, COMMIT: six round trips. */
const multiStatement = `
\\set ev random(1, :events)
BEGIN;
SELECT capacity, confirmed_count FROM ceiling.events WHERE id = :ev FOR UPDATE \\gset
INSERT INTO ceiling.registrations (event_id, user_id, status)
  VALUES (:ev, gen_random_uuid(), CASE WHEN :confirmed_count < :capacity THEN 'confirmed' ELSE 'waitlisted' END);
UPDATE ceiling.events SET confirmed_count = confirmed_count + 1 WHERE id = :ev;
INSERT INTO ceiling.outbox (aggregate_id, type, payload) VALUES (:ev, 'RegistrationConfirmed', '{"eventId": 1}');
COMMIT;
`

/** The same work as one statement: one round trip. */
const singleStatement = `
\\set ev random(1, :events)
WITH event AS (
  SELECT id, capacity, confirmed_count FROM ceiling.events WHERE id = :ev FOR UPDATE
), registration AS (
  INSERT INTO ceiling.registrations (event_id, user_id, status, waitlist_seq)
  SELECT id, gen_random_uuid(),
         CASE WHEN confirmed_count < capacity THEN 'confirmed' ELSE 'waitlisted' END,
         CASE WHEN confirmed_count < capacity THEN NULL ELSE nextval('ceiling.join_seq') END
  FROM event
  RETURNING event_id, status
), counter AS (
  UPDATE ceiling.events e
  SET confirmed_count = e.confirmed_count + (r.status = 'confirmed')::int,
      waitlist_count = e.waitlist_count + (r.status = 'waitlisted')::int
  FROM registration r WHERE e.id = r.event_id
  RETURNING e.id
)
INSERT INTO ceiling.outbox (aggregate_id, type, payload)
SELECT r.event_id, 'Registration' || initcap(r.status), jsonb_build_object('eventId', r.event_id) FROM registration r;
`

/** One pgbench result. */
export interface PgbenchResult {
  readonly shape: "6 round trips" | "1 statement"
  readonly events: number
  readonly clients: number
  readonly tps: number
  readonly p50: number
  readonly p99: number
  readonly failed: number
}

const findPgbench = (): string => {
  const configured = process.env.BENCH_PGBENCH
  if (configured !== undefined && configured !== "") return configured
  for (const candidate of ["/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench"]) if (existsSync(candidate)) return candidate
  return "pgbench"
}

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!

/** Runs both shapes on 1,000 events and on one hot event against `databaseUrl` and prints the table. */
export const runPgbench = async (databaseUrl: string): Promise<Array<PgbenchResult>> => {
  const seconds = intEnv("BENCH_PGBENCH_SECONDS", 10)
  const clients = intEnv("BENCH_PGBENCH_CLIENTS", 10)
  const hotClients = intEnv("BENCH_PGBENCH_HOT_CLIENTS", 10)
  const binary = findPgbench()
  const version = execFileSync(binary, ["--version"]).toString().trim()
  const database = new URL(databaseUrl).pathname.slice(1)
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const workDir = mkdtempSync(join(tmpdir(), "live-events-pgbench-"))
  const results: Array<PgbenchResult> = []
  console.log(`\n== pgbench (${version}): the registration transaction straight on PostgreSQL, ${seconds}s each`)
  try {
    const scripts = [["6 round trips", multiStatement], ["1 statement", singleStatement]] as const
    for (const [events, clientCount] of [[1000, clients], [1, hotClients]] as const) {
      for (const [shape, script] of scripts) {
        await client.query(schema)
        const scriptPath = join(workDir, "register.sql")
        writeFileSync(scriptPath, script)
        const logPrefix = join(workDir, `log-${results.length}`)
        const run = spawnSync(binary, [
          "-h", pgHost, "-p", String(pgPort), "-U", pgUser, "-n", "-M", "prepared",
          "-c", String(clientCount), "-j", String(Math.min(2, clientCount)), "-T", String(seconds),
          "-D", `events=${events}`, "-f", scriptPath, "-l", `--log-prefix=${logPrefix}`, database
        ], {
          cwd: workDir,
          encoding: "utf8",
          timeout: (seconds + 60) * 1000,
          env: { ...process.env, ...(pgAdminUrl.password !== "" ? { PGPASSWORD: decodeURIComponent(pgAdminUrl.password) } : {}) }
        })
        if (run.status !== 0) throw new Error(`pgbench failed: ${run.stderr}`)
        const tps = Number(/tps = ([\d.]+)/.exec(run.stdout)?.[1] ?? Number.NaN)
        const failed = Number(/number of failed transactions: (\d+)/.exec(run.stdout)?.[1] ?? 0)
        // Per-transaction log lines: client_id transaction_no latency_us script_no epoch epoch_us
        const latencies = readdirSync(workDir)
          .filter((name) => name.startsWith(`log-${results.length}`))
          .flatMap((name) => readFileSync(join(workDir, name), "utf8").split("\n"))
          .map((line) => Number(line.split(" ")[2]))
          .filter((value) => Number.isFinite(value))
          .sort((a, b) => a - b)
        const result: PgbenchResult = { shape, events, clients: clientCount, tps, p50: percentile(latencies, 50) / 1000, p99: percentile(latencies, 99) / 1000, failed }
        results.push(result)
        console.log(
          `  ${shape.padEnd(14)} ${events === 1 ? "1 hot event" : `${events} events`.padEnd(11)} ${String(clientCount).padStart(3)} clients ` +
            `${tps.toFixed(0).padStart(7)} tps  p50 ${result.p50.toFixed(1)} ms  p99 ${result.p99.toFixed(1)} ms  failed ${failed}`
        )
      }
    }
    await client.query("DROP SCHEMA IF EXISTS ceiling CASCADE")
  } finally {
    await client.end()
    rmSync(workDir, { recursive: true, force: true })
  }
  return results
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const database = await createScratchDatabase("bench_pgbench")
  try {
    await runPgbench(database.url)
  } finally {
    await database.drop()
  }
}
