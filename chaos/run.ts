/**
 * The chaos harness: N server processes on one scratch PostgreSQL database, concurrent
 * registrations and cancels through all of them, faults injected at random instants, then the
 * invariant checker over the final rows and every answer received. Exits non-zero on any
 * violation. Traffic goes to 127.0.0.1 only; every loop is bounded in count and in time.
 *
 *   node chaos/run.ts                 3 processes, 60 s of traffic, SIGKILL faults
 *   node chaos/run.ts --ci            the short variant (20 s of traffic, under 2 minutes in all)
 *   node chaos/run.ts --processes 5 --duration 120 --pg-restart --seed 42
 *   node chaos/run.ts --server baseline   the same harness against the naive baseline
 *   node chaos/run.ts --nats          servers publish their outbox to NATS JetStream (a stream made
 *                                     for the run, deleted after); once the relays drain, the stream must
 *                                     hold every committed outbox message once and nothing else
 *
 * Flags (environment in brackets): --processes [CHAOS_PROCESSES=3], --duration seconds
 * [CHAOS_DURATION=60, 20 with --ci], --concurrency [CHAOS_CONCURRENCY=16], --users [CHAOS_USERS=40],
 * --seed [CHAOS_SEED], --pg-restart [CHAOS_PG_RESTART=0] (restarts the local PostgreSQL cluster
 * once mid-run: it disturbs everything else using that server, so it is off by default),
 * --no-kill [CHAOS_KILL=1], --nats [CHAOS_NATS=0] (NATS_URL, default 127.0.0.1:4222), --server ours|baseline [CHAOS_SERVER=ours], CHAOS_SERVER_ENV ("K=V ...": extra environment
 * for the server processes; e.g. BASELINE_UNSAFE_NO_LOCK=1 breaks the baseline on purpose, to watch
 * the checker catch it end to end), CHAOS_REDIS_URL [redis://127.0.0.1:6379] (the Redis the processes
 * share for cross-process cache invalidation, as any multi-process deployment must).
 */
import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import pg from "pg"
import { createScratchDatabase } from "../bench/lib/db.ts"
import { boolEnv, intEnv, sleep, strEnv } from "../bench/lib/env.ts"
import { eventBody, expectJson, requestJson } from "../bench/lib/http.ts"
import { freePort, type ServerProcess, startServer, stopServer, waitReady } from "../bench/lib/process.ts"
import { mintToken } from "../bench/lib/token.ts"
import * as Nats from "./nats.ts"
import { type ApiView, check, checkSnapshot, type CheckInput, type RegistrationStatus, type RequestRecord, summarize, type Violation } from "./checker.ts"

// ---------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    ci: { type: "boolean", default: false },
    processes: { type: "string" },
    duration: { type: "string" },
    concurrency: { type: "string" },
    users: { type: "string" },
    seed: { type: "string" },
    "pg-restart": { type: "boolean", default: false },
    "no-kill": { type: "boolean", default: false },
    server: { type: "string" },
    nats: { type: "boolean", default: false }
  }
})
const num = (flag: string | undefined, env: string, fallback: number) => (flag !== undefined ? Number(flag) : intEnv(env, fallback))
const options = {
  processes: Math.max(1, num(flags.processes, "CHAOS_PROCESSES", 3)),
  durationMs: num(flags.duration, "CHAOS_DURATION", flags.ci ? 20 : 60) * 1000,
  concurrency: Math.max(1, num(flags.concurrency, "CHAOS_CONCURRENCY", 16)),
  users: Math.max(2, num(flags.users, "CHAOS_USERS", 40)),
  seed: num(flags.seed, "CHAOS_SEED", Date.now() % 1_000_000),
  pgRestart: flags["pg-restart"] || boolEnv("CHAOS_PG_RESTART", false),
  kill: !flags["no-kill"] && boolEnv("CHAOS_KILL", true),
  server: (flags.server ?? strEnv("CHAOS_SERVER", "ours")) as "ours" | "baseline",
  nats: flags.nats || boolEnv("CHAOS_NATS", false),
  faultMinMs: intEnv("CHAOS_FAULT_MIN_MS", 1500),
  faultMaxMs: intEnv("CHAOS_FAULT_MAX_MS", 5000),
  requestTimeoutMs: intEnv("CHAOS_REQUEST_TIMEOUT_MS", 5000),
  readyTimeoutMs: intEnv("CHAOS_READY_TIMEOUT_MS", 120_000)
}
if (options.server !== "ours" && options.server !== "baseline") throw new Error(`--server must be ours or baseline`)
const serverEnv = Object.fromEntries(
  strEnv("CHAOS_SERVER_ENV", "").split(/\s+/).filter((pair) => pair.includes("=")).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
)

// Seeded PRNG (mulberry32), so a failing run can be replayed with the same choices (timings differ).
let prngState = options.seed >>> 0
const random = () => {
  prngState = (prngState + 0x6d2b79f5) >>> 0
  let t = prngState
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))

// Hard stop: whatever happens, the harness ends.
const hardLimitMs = options.durationMs + options.readyTimeoutMs * 2 + 120_000
const watchdog = setTimeout(() => {
  console.error(`chaos: hard time limit (${hardLimitMs} ms) reached, aborting`)
  process.exit(3)
}, hardLimitMs)
watchdog.unref()

// ---------------------------------------------------------------------------------------------
// Servers and faults

const secret = `chaos-secret-${process.pid}-${Date.now()}`
const logDir = join(tmpdir(), `live-events-chaos-${process.pid}`)

interface Slot {
  readonly index: number
  readonly port: number
  process: ServerProcess
  /** False while killed and restarting. */
  up: boolean
}

interface Fault {
  readonly at: number
  readonly kind: "SIGKILL" | "postgres-restart"
  readonly target: string
  readonly downMs: number
}

const natsTarget = options.nats ? Nats.streamFor(options.seed) : undefined

// Several processes share a Redis, as the README asks of any multi-process deployment: it carries the
// read cache's cross-process invalidations (without it each process's cache may serve a value another
// process changed until its TTL, and the final API view would not match the rows).
const cacheEnv = {
  REDIS_URL: strEnv("CHAOS_REDIS_URL", "redis://127.0.0.1:6379"),
  CACHE_KEY_PREFIX: `lec-chaos-${options.seed}-${process.pid}`
}

const launch = (port: number, databaseUrl: string) =>
  startServer({
    kind: options.server,
    port,
    databaseUrl,
    secret,
    logDir,
    env: {
      DATABASE_POOL_SIZE: "10",
      ...cacheEnv,
      ...(natsTarget === undefined ? {} : Nats.serverEnv(natsTarget)),
      ...serverEnv
    }
  })

const postgresCluster = (): { version: string; name: string } => {
  const versions = readdirSync("/etc/postgresql")
  return { version: versions[versions.length - 1]!, name: "main" }
}

// ---------------------------------------------------------------------------------------------
// Traffic

interface Actor {
  readonly sub: string
  readonly token: string
}

/** What the harness believes each (event, user) holds, from 2xx answers (may be stale: that is the point). */
const known = new Map<string, { id: string; cancelled: boolean }>()
const requests: Array<RequestRecord> = []
const liveViolations: Array<Violation> = []
const reads = { sent: 0, ok: 0, failed: 0 }

const classify = (status: number | null) => (status === null ? "no answer" : status >= 500 ? "5xx" : status >= 400 ? "4xx" : status >= 200 && status < 300 ? "2xx" : "other")

const sendTracked = async (
  slots: ReadonlyArray<Slot>,
  route: "register" | "cancel",
  eventId: string,
  actor: Actor,
  registrationId: string | null
): Promise<void> => {
  const alive = slots.filter((s) => s.up)
  if (alive.length === 0) {
    await sleep(50)
    return
  }
  const slot = pick(alive)
  const sentAt = performance.now()
  let httpStatus: number | null = null
  let body: any = null
  try {
    const answer = route === "register"
      ? await requestJson(slot.port, "POST", `/v1/events/${eventId}/registrations`, { token: actor.token, body: { notes: "chaos" }, timeoutMs: options.requestTimeoutMs })
      : await requestJson(slot.port, "POST", `/v1/registrations/${registrationId}/cancel`, { token: actor.token, body: {}, timeoutMs: options.requestTimeoutMs })
    httpStatus = answer.status
    body = answer.body
  } catch {
    // Connection refused/reset or timeout: the outcome is unknown, and recorded as such.
  }
  const answeredAt = httpStatus === null ? null : performance.now()
  const ok = httpStatus !== null && httpStatus >= 200 && httpStatus < 300
  const answeredId = route === "register" ? (ok && typeof body?.id === "string" ? body.id : null) : registrationId
  requests.push({
    route,
    eventId,
    userKey: actor.sub,
    registrationId: answeredId,
    sentAt,
    answeredAt,
    httpStatus,
    answeredStatus: ok && typeof body?.status === "string" ? (body.status as RegistrationStatus) : null,
    answeredPosition: ok && typeof body?.waitlistPosition === "number" ? body.waitlistPosition : null
  })
  const key = `${eventId}|${actor.sub}`
  if (ok && route === "register" && answeredId !== null) known.set(key, { id: answeredId, cancelled: false })
  if (ok && route === "cancel") {
    const entry = known.get(key)
    if (entry !== undefined && entry.id === registrationId) entry.cancelled = true
  }
  // 409 already-registered names the existing registration: learn it, so it can be cancelled later.
  if (httpStatus === 409 && route === "register" && typeof body?.registrationId === "string") {
    known.set(key, { id: body.registrationId, cancelled: false })
  }
}

const worker = async (slots: ReadonlyArray<Slot>, events: ReadonlyArray<string>, actors: ReadonlyArray<Actor>, deadline: number) => {
  for (let iteration = 0; iteration < 1_000_000 && performance.now() < deadline; iteration++) {
    const eventId = pick(events)
    const actor = pick(actors)
    const mine = known.get(`${eventId}|${actor.sub}`)
    if (mine !== undefined && !mine.cancelled && random() < 0.7) await sendTracked(slots, "cancel", eventId, actor, mine.id)
    else if (mine !== undefined && mine.cancelled && random() < 0.05) await sendTracked(slots, "cancel", eventId, actor, mine.id) // idempotent re-cancel
    else await sendTracked(slots, "register", eventId, actor, null)
  }
}

/** Reads counts and waitlists through the API while the chaos runs: gaps must never be visible. */
const reader = async (slots: ReadonlyArray<Slot>, events: ReadonlyArray<string>, organizer: string, deadline: number) => {
  for (let iteration = 0; iteration < 100_000 && performance.now() < deadline; iteration++) {
    await sleep(100)
    const alive = slots.filter((s) => s.up)
    if (alive.length === 0) continue
    const slot = pick(alive)
    const eventId = pick(events)
    reads.sent += 2
    try {
      const [details, waitlist] = await Promise.all([
        requestJson(slot.port, "GET", `/v1/events/${eventId}`, { token: organizer, timeoutMs: options.requestTimeoutMs }),
        requestJson(slot.port, "GET", `/v1/events/${eventId}/waitlist?limit=100`, { token: organizer, timeoutMs: options.requestTimeoutMs })
      ])
      for (const answer of [details, waitlist]) answer.status === 200 ? reads.ok++ : reads.failed++
      if (liveViolations.length < 1000) liveViolations.push(...checkSnapshot(eventId, details.status === 200 ? details.body : null, waitlist.status === 200 ? waitlist.body : null))
    } catch {
      reads.failed += 2
    }
  }
}

const killer = async (slots: Array<Slot>, databaseUrl: string, deadline: number, faults: Array<Fault>) => {
  for (let iteration = 0; iteration < 10_000 && performance.now() < deadline; iteration++) {
    await sleep(between(options.faultMinMs, options.faultMaxMs))
    if (performance.now() >= deadline) break
    const slot = pick(slots)
    if (!slot.up) continue
    const at = performance.now()
    slot.up = false
    slot.process.markStopping()
    slot.process.child.kill("SIGKILL")
    await slot.process.exited
    await sleep(between(100, 1500))
    slot.process = launch(slot.port, databaseUrl)
    try {
      await waitReady(slot.process, options.readyTimeoutMs)
    } catch (error) {
      console.log(`  process ${slot.index} did not come back: ${(error as Error).message}`)
      faults.push({ at, kind: "SIGKILL", target: `process ${slot.index} (port ${slot.port}), did not restart`, downMs: performance.now() - at })
      continue
    }
    slot.up = true
    faults.push({ at, kind: "SIGKILL", target: `process ${slot.index} (port ${slot.port})`, downMs: performance.now() - at })
  }
}

const postgresRestarter = async (start: number, faults: Array<Fault>) => {
  await sleep(Math.max(0, options.durationMs / 2 - (performance.now() - start)))
  const cluster = postgresCluster()
  const at = performance.now()
  console.log(`  restarting PostgreSQL ${cluster.version}/${cluster.name}`)
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", cluster.version, cluster.name, "restart", "-m", "fast"], { stdio: "inherit", timeout: 60_000 })
  faults.push({ at, kind: "postgres-restart", target: `PostgreSQL ${cluster.version}/${cluster.name}`, downMs: performance.now() - at })
}

// ---------------------------------------------------------------------------------------------
// Final state

/** Reads each event's counts and whole waitlist through the API, in small pages to exercise the cursor. */
const readApiViews = async (slots: ReadonlyArray<Slot>, events: ReadonlyArray<string>, organizer: string): Promise<Array<ApiView>> => {
  const views: Array<ApiView> = []
  for (const [i, eventId] of events.entries()) {
    const slot = slots.filter((s) => s.up)[i % Math.max(1, slots.filter((s) => s.up).length)]
    if (slot === undefined) break
    const details = await requestJson(slot.port, "GET", `/v1/events/${eventId}`, { token: organizer })
    let waitlist: Array<{ id: string; position: number | null }> | null = []
    let cursor: string | null = null
    for (let page = 0; page < 1000; page++) {
      const query: string = cursor === null ? "?limit=7" : `?limit=7&cursor=${encodeURIComponent(cursor)}`
      const answer = await requestJson(slot.port, "GET", `/v1/events/${eventId}/waitlist${query}`, { token: organizer })
      if (answer.status !== 200 || !Array.isArray(answer.body?.items)) {
        waitlist = null
        break
      }
      for (const item of answer.body.items) waitlist.push({ id: item.id, position: item.waitlistPosition ?? null })
      cursor = typeof answer.body.nextCursor === "string" ? answer.body.nextCursor : null
      if (cursor === null) break
    }
    views.push({
      eventId,
      confirmedCount: details.status === 200 && typeof details.body?.confirmedCount === "number" ? details.body.confirmedCount : null,
      waitlistCount: details.status === 200 && typeof details.body?.waitlistCount === "number" ? details.body.waitlistCount : null,
      waitlist
    })
  }
  return views
}

const readState = async (databaseUrl: string): Promise<CheckInput> => {
  const client = new pg.Client({ connectionString: databaseUrl, options: "-c search_path=live_events" })
  await client.connect()
  try {
    const number = (value: unknown) => (value === null || value === undefined ? null : Number(value))
    const time = (value: unknown) => (value instanceof Date ? value.getTime() : null)
    if (options.server === "ours") {
      const events = await client.query("SELECT id, capacity, confirmed_count, waitlist_count FROM events")
      const registrations = await client.query(
        `SELECT r.id, r.event_id, u.subject, r.status, r.waitlist_seq, r.confirmed_at
         FROM registrations r JOIN users u ON u.id = r.user_id`
      )
      const outbox = await client.query("SELECT type, aggregate_id, payload FROM outbox ORDER BY position")
      return {
        events: events.rows.map((r) => ({ id: r.id, capacity: r.capacity, confirmedCount: r.confirmed_count, waitlistCount: r.waitlist_count })),
        registrations: registrations.rows.map((r) => ({
          id: r.id, eventId: r.event_id, userKey: r.subject, status: r.status, waitlistSeq: number(r.waitlist_seq), confirmedAt: time(r.confirmed_at)
        })),
        requests,
        outbox: outbox.rows.map((r) => ({ type: r.type, aggregateId: r.aggregate_id, payload: r.payload }))
      }
    }
    const events = await client.query("SELECT id, capacity FROM baseline.events")
    const registrations = await client.query(
      `SELECT r.id, r.event_id, u.subject, r.status, r.waitlist_position, r.confirmed_at
       FROM baseline.registrations r JOIN baseline.users u ON u.id = r.user_id`
    )
    const outbox = await client.query("SELECT type, aggregate_id, payload FROM baseline.outbox ORDER BY position")
    return {
      events: events.rows.map((r) => ({ id: r.id, capacity: r.capacity, confirmedCount: null, waitlistCount: null })),
      registrations: registrations.rows.map((r) => ({
        id: r.id, eventId: r.event_id, userKey: r.subject, status: r.status, waitlistSeq: null,
        waitlistPosition: number(r.waitlist_position), confirmedAt: time(r.confirmed_at)
      })),
      requests,
      outbox: outbox.rows.map((r) => ({ type: r.type, aggregateId: r.aggregate_id, payload: r.payload }))
    }
  } finally {
    await client.end()
  }
}

const printSummary = (faults: ReadonlyArray<Fault>, violations: ReadonlyArray<Violation>, start: number) => {
  console.log(`\n== summary`)
  const byRoute = new Map<string, Map<string, number>>()
  for (const r of requests) {
    const counts = byRoute.get(r.route) ?? new Map<string, number>()
    const key = classify(r.httpStatus)
    counts.set(key, (counts.get(key) ?? 0) + 1)
    byRoute.set(r.route, counts)
  }
  console.log(`requests sent: ${requests.length} writes + ${reads.sent} reads (${reads.ok} ok, ${reads.failed} failed)`)
  for (const [route, counts] of byRoute) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0)
    const codes = new Map<string, number>()
    for (const r of requests.filter((x) => x.route === route)) codes.set(String(r.httpStatus ?? "none"), (codes.get(String(r.httpStatus ?? "none")) ?? 0) + 1)
    console.log(
      `  ${route.padEnd(8)} ${String(total).padStart(6)}: ` + ["2xx", "4xx", "5xx", "no answer"].map((k) => `${k} ${counts.get(k) ?? 0}`).join(", ") +
        `  (by status: ${[...codes.entries()].sort().map(([c, n]) => `${c}×${n}`).join(" ")})`
    )
  }
  const outcomes = new Map<string, number>()
  for (const r of requests) if (r.route === "register" && r.answeredStatus !== null) outcomes.set(r.answeredStatus, (outcomes.get(r.answeredStatus) ?? 0) + 1)
  console.log(`  register outcomes: ${[...outcomes.entries()].map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`)
  console.log(`faults injected: ${faults.length}`)
  for (const fault of faults) console.log(`  t+${((fault.at - start) / 1000).toFixed(1)}s ${fault.kind} ${fault.target}, back after ${(fault.downMs / 1000).toFixed(1)}s`)
  const summary = summarize(violations)
  console.log(`violations: ${violations.length}${violations.length > 0 ? ` ${JSON.stringify(summary)}` : ""}`)
  // A few examples per rule: one systemic bug must not hide the others.
  for (const rule of Object.keys(summary)) {
    for (const v of violations.filter((x) => x.rule === rule).slice(0, 5)) {
      console.log(`  [${v.rule}]${v.eventId !== undefined ? ` event ${v.eventId}` : ""}${v.registrationId !== undefined ? ` registration ${v.registrationId}` : ""}: ${v.message}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------

const allSlots: Array<Slot> = []
// Interrupted: take the server processes down with the harness.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const slot of allSlots) slot.process.child.kill("SIGKILL")
    process.exit(130)
  })
}

const main = async (): Promise<number> => {
  console.log(
    `chaos: ${options.processes} × ${options.server}, ${options.durationMs / 1000}s of traffic, ${options.concurrency} writers, ${options.users} users, ` +
      `seed ${options.seed}, SIGKILL ${options.kill ? "on" : "off"}, PostgreSQL restart ${options.pgRestart ? "on" : "off"}; logs in ${logDir}`
  )
  const database = await createScratchDatabase("chaos")
  const slots = allSlots
  try {
    // The first process migrates alone; the others start once it is ready.
    for (let index = 0; index < options.processes; index++) {
      const port = await freePort()
      slots.push({ index, port, process: launch(port, database.url), up: false })
      if (index === 0) await waitReady(slots[0]!.process, options.readyTimeoutMs)
    }
    await Promise.all(slots.map((slot) => waitReady(slot.process, options.readyTimeoutMs)))
    for (const slot of slots) slot.up = true
    console.log(`servers ready on ports ${slots.map((s) => s.port).join(", ")}`)

    // Events with small capacities so waitlists form, promotions happen, and one waitlist fills up.
    const organizer = mintToken(secret, { sub: `chaos-organizer-${process.pid}`, roles: ["organizer"] }, 86_400)
    const shapes = [
      { capacity: 3, waitlist: { enabled: true, limit: null } },
      { capacity: 5, waitlist: { enabled: true, limit: null } },
      { capacity: 2, waitlist: { enabled: true, limit: 3 } },
      { capacity: 8, waitlist: { enabled: true, limit: null } },
      { capacity: 1, waitlist: { enabled: false, limit: null } }
    ]
    const events: Array<string> = []
    for (const [i, shape] of shapes.entries()) {
      const event = await expectJson([201], slots[i % slots.length]!.port, "POST", "/v1/events", { token: organizer, body: eventBody(`Chaos event ${i}`, shape.capacity, shape.waitlist) })
      await expectJson([200, 201], slots[(i + 1) % slots.length]!.port, "POST", `/v1/events/${event.id}/publish`, { token: organizer })
      events.push(event.id)
    }
    const actors: Array<Actor> = Array.from({ length: options.users }, (_, i) => {
      const sub = `chaos-${process.pid}-user-${i}`
      return { sub, token: mintToken(secret, { sub, roles: ["attendee"] }, 86_400) }
    })

    const start = performance.now()
    const deadline = start + options.durationMs
    const faults: Array<Fault> = []
    const tasks: Array<Promise<void>> = [
      ...Array.from({ length: options.concurrency }, () => worker(slots, events, actors, deadline)),
      reader(slots, events, organizer, deadline)
    ]
    if (options.kill) tasks.push(killer(slots, database.url, deadline, faults))
    if (options.pgRestart) tasks.push(postgresRestarter(start, faults))
    const progress = setInterval(() => {
      console.log(`  t+${((performance.now() - start) / 1000).toFixed(0)}s: ${requests.length} writes, ${faults.length} faults, ${slots.filter((s) => s.up).length}/${slots.length} up`)
    }, 10_000)
    try {
      await Promise.all(tasks)
    } finally {
      clearInterval(progress)
    }

    // Traffic has stopped: after a short settle (cross-process caches), what the API serves must
    // match the rows exactly.
    await sleep(1000)
    const apiViews = await readApiViews(slots, events, organizer)
    // With a broker: let the relays (still running) publish everything committed before stopping them.
    const drained = natsTarget === undefined ? undefined : await Nats.waitForDrain(database.url, 60_000)
    // Stop the servers before reading: nothing may change the rows while they are checked.
    await Promise.all(slots.map((slot) => stopServer(slot.process)))
    const state = { ...(await readState(database.url)), apiViews }
    const violations = [...check(state), ...liveViolations.map((v) => ({ ...v, message: `(live read) ${v.message}` }))]
    console.log(
      `checked ${state.events.length} events, ${state.registrations.length} registrations, ${state.outbox?.length ?? 0} outbox messages, ` +
        `${apiViews.filter((v) => v.waitlist !== null).length}/${apiViews.length} API waitlists`
    )
    if (natsTarget !== undefined && drained !== undefined) {
      const result = await Nats.compare(database.url, natsTarget.stream)
      console.log(
        `NATS JetStream ${natsTarget.stream}: ${result.inStream} messages (after dedup) for ${result.committed} committed outbox rows; ` +
          `missing ${result.missing.length}, extra ${result.extra.length}, duplicates ${result.duplicates.length}; ` +
          `relays drained in ${(drained.waitedMs / 1000).toFixed(1)} s (pending ${drained.pending}, dead letters ${drained.deadLettered})`
      )
      if (result.inStream !== result.committed || result.missing.length + result.extra.length + result.duplicates.length > 0 || drained.pending > 0) {
        violations.push({
          rule: "outbox",
          message: `(NATS) JetStream holds ${result.inStream} messages for ${result.committed} committed; missing ${result.missing.slice(0, 5).join(", ")}; ` +
            `extra ${result.extra.slice(0, 5).join(", ")}; duplicates ${result.duplicates.slice(0, 5).join(", ")}; pending ${drained.pending}`
        })
      }
    }
    printSummary(faults, violations, start)
    return violations.length === 0 ? 0 : 1
  } finally {
    await Promise.all(slots.map((slot) => stopServer(slot.process, "SIGKILL", 2000)))
    if (natsTarget !== undefined) await Nats.deleteStream(natsTarget.stream).catch((error) => console.log(`could not delete stream: ${error}`))
    if (!boolEnv("CHAOS_KEEP_DB", false)) await database.drop()
    else console.log(`kept database ${database.name}`)
  }
}

let exitCode: number
try {
  exitCode = await main()
} catch (error) {
  console.error(`chaos: harness failure: ${(error as Error).stack ?? String(error)}`)
  exitCode = 2
}
process.exit(exitCode)
