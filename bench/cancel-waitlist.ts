/**
 * bench:cancel — does cancelling cost grow with the waitlist? (goal: ≤ 1.3×)
 *
 * For a waitlist of 100 and of 50,000 on real PostgreSQL, through the Registrations use-case and the SQL
 * store: cancel confirmed registrations one after another (each promotes the head of the waitlist and
 * shifts everyone), and cancel waitlisted registrations from the middle of the queue. Prints p50/p95
 * per size and the ratio large/small. Setup is bulk SQL (not timed).
 *
 *   npm run bench:cancel            # BENCH_PG_URL overrides postgres://postgres@127.0.0.1:5432/postgres
 */
import { Events, Ids, Registrations, Users } from "@live-events/domain"
import { PersonalDataKeys, SqlStore } from "@live-events/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const adminUrl = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40)
const CAPACITY = 100

const admin = <A, E>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(PgClient.layer({ url: Redacted.make(adminUrl), maxConnections: 1 }))
    return yield* f(Context.get(context, SqlClient.SqlClient))
  }))

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const measure = (waitlistSize: number) =>
  Effect.gen(function*() {
    const users = yield* Users.Users
    const events = yield* Events.Events
    const registrations = yield* Registrations.Registrations
    const sql = yield* SqlClient.SqlClient
    const organizerUser = yield* users.provision({ subject: `bench-organizer-${waitlistSize}` })
    const organizer = { userId: organizerUser.id, roles: ["organizer" as const] }
    const event = yield* events.create(organizer, {
      title: `Cancel bench ${waitlistSize}`,
      startsAt: new Date("2099-01-01T00:00:00Z"),
      endsAt: new Date("2099-01-02T00:00:00Z"),
      timeZone: "UTC",
      location: "Bench",
      capacity: CAPACITY
    })
    yield* events.publish(organizer, event.id)
    // Bulk setup: CAPACITY confirmed + waitlistSize waitlisted, in join order, counters set to match.
    const total = CAPACITY + waitlistSize
    yield* sql`INSERT INTO users (id, subject, created_at, updated_at)
      SELECT gen_random_uuid(), ${event.id} || '-' || g, now(), now() FROM generate_series(1, ${total}) g`
    yield* sql`INSERT INTO registrations (id, event_id, user_id, status, waitlist_seq, notes, created_at, updated_at,
        confirmed_at)
      SELECT gen_random_uuid(), ${event.id}, u.id,
        CASE WHEN n <= ${CAPACITY} THEN 'confirmed' ELSE 'waitlisted' END,
        CASE WHEN n > ${CAPACITY} THEN nextval('registration_join_seq') END, '', now(), now(),
        CASE WHEN n <= ${CAPACITY} THEN now() END
      FROM (SELECT id, row_number() OVER (ORDER BY subject) AS n FROM users WHERE subject LIKE ${event.id + "-%"}) u
      ORDER BY n`
    yield* sql`UPDATE events SET confirmed_count = ${CAPACITY}, waitlist_count = ${waitlistSize} WHERE id = ${event.id}`
    yield* sql`INSERT INTO waitlist_buckets (event_id, bucket, waiting)
      SELECT event_id, waitlist_seq >> 8, count(*) FROM registrations
      WHERE event_id = ${event.id} AND status = 'waitlisted' GROUP BY 1, 2`
    yield* sql`ANALYZE registrations`

    const confirmed = yield* sql<{ id: string }>`SELECT id FROM registrations
      WHERE event_id = ${event.id} AND status = 'confirmed' ORDER BY created_at LIMIT ${SAMPLES}`
    const admin = { userId: organizerUser.id, roles: ["admin" as const] }
    const time = (effect: Effect.Effect<unknown, unknown>) =>
      Effect.gen(function*() {
        const start = performance.now()
        yield* effect
        return performance.now() - start
      })
    // Warm-up (statement preparation, caches).
    const warm = yield* sql<{ id: string }>`SELECT id FROM registrations WHERE event_id = ${event.id}
      AND status = 'waitlisted' ORDER BY waitlist_seq DESC LIMIT 5`
    for (const row of warm) yield* registrations.cancel(admin, row.id as any)

    const promote: Array<number> = []
    for (const row of confirmed) promote.push(yield* time(registrations.cancel(admin, row.id as any)))
    // Waitlisted people from the middle of the queue.
    const [{ waiting }] = yield* sql<{ waiting: number }>`SELECT waitlist_count AS waiting FROM events
      WHERE id = ${event.id}`
    const middle = yield* sql<{ id: string }>`SELECT id FROM registrations WHERE event_id = ${event.id}
      AND status = 'waitlisted' ORDER BY waitlist_seq OFFSET ${Math.max(0, Math.floor((waiting - SAMPLES) / 2))}
      LIMIT ${SAMPLES}`
    const leave: Array<number> = []
    for (const row of middle) leave.push(yield* time(registrations.cancel(admin, row.id as any)))
    return { promote, leave }
  })

const program = Effect.gen(function*() {
  const name = `bench_cancel_${process.pid}`
  yield* admin((sql) => sql.unsafe(`CREATE DATABASE ${name}`))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const layer = Layer.mergeAll(Events.Events.layer, Registrations.Registrations.layer, Users.Users.layer).pipe(
    Layer.provideMerge(Layer.mergeAll(
      SqlStore.layerPostgres({ url: Redacted.make(url.toString()), maxConnections: 2, keyring: PersonalDataKeys.generate() }),
      Ids.Ids.layer
    ))
  )
  const results = yield* Effect.gen(function*() {
    const small = yield* measure(100)
    const large = yield* measure(50_000)
    return { small, large }
  }).pipe(Effect.provide(layer), Effect.ensuring(admin((sql) => sql.unsafe(`DROP DATABASE ${name} WITH (FORCE)`)).pipe(Effect.orDie)))

  const row = (label: string, small: ReadonlyArray<number>, large: ReadonlyArray<number>) => {
    const s50 = percentile(small, 50)
    const l50 = percentile(large, 50)
    console.log(
      `${label.padEnd(34)} ${s50.toFixed(2).padStart(7)} ms ${percentile(small, 95).toFixed(2).padStart(7)} ms   ` +
        `${l50.toFixed(2).padStart(7)} ms ${percentile(large, 95).toFixed(2).padStart(7)} ms   ${(l50 / s50).toFixed(2)}×`
    )
    return l50 / s50
  }
  console.log(`cancel latency on PostgreSQL, ${SAMPLES} samples each (sequential, one client)`)
  console.log(`${"".padEnd(34)} ${"waitlist 100: p50".padStart(18)} ${"p95".padStart(10)}   ${"waitlist 50,000: p50".padStart(20)} ${"p95".padStart(8)}   ratio p50`)
  const ratio = row("cancel confirmed (promotes head)", results.small.promote, results.large.promote)
  const ratioLeave = row("cancel waitlisted (mid-queue)", results.small.leave, results.large.leave)
  console.log(`\ngoal: ratio ≤ 1.3× → confirmed ${ratio <= 1.3 ? "MET" : "NOT MET"} (${ratio.toFixed(2)}×), waitlisted ${ratioLeave <= 1.3 ? "MET" : "NOT MET"} (${ratioLeave.toFixed(2)}×)`)
})

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
