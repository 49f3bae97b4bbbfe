/**
 * Key rotation without downtime, on PostgreSQL: 10,000 people sealed under keyring key `k1` (and 50
 * older rows in plain text, as a deployment from before sealing has them); the servers move to a
 * keyring where `k2` / `i2` are active, and `live-events keys rotate` runs in a child process while
 * registrations (new people, with notes) keep coming. The first run is killed with SIGKILL halfway; a
 * second run finishes the work. No registration fails, no row is left on `k1` / `i1` or in plain text,
 * `keys status` says both old keys can be retired, and every row opens with a keyring that no longer
 * holds them.
 */
import { it } from "@effect/vitest"
import { Events, Ids, Registrations, Users } from "@live-events/domain"
import { FieldSealing, KeyRotation, PersonalDataKeys, SqlStore, SqlUserRepository } from "@live-events/sql"
import { Context, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import { testDatabase } from "../../sql/test/TestDatabase.ts"

const PEOPLE = 10_000
const LEGACY = 50
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url))

const ringEntry = (ring: PersonalDataKeys.Ring) =>
  [...ring.keys].map(([id, key]) => `${id}=${Buffer.from(Redacted.value(key)).toString("base64")}`).join(",")

/** Runs `live-events keys rotate`; `killWhen` decides from stderr when to SIGKILL it. */
const rotate = (url: string, keyring: PersonalDataKeys.Keyring, killWhen?: (stderr: string) => boolean) =>
  Effect.callback<{ readonly code: number | null; readonly signal: string | null; readonly stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--conditions=@live-events/source", cli, "keys", "rotate", "--batch-size", "100"], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        PERSONAL_DATA_KEYS: ringEntry(keyring.data),
        PERSONAL_DATA_ACTIVE_KEY: keyring.data.active,
        EMAIL_INDEX_KEYS: ringEntry(keyring.index),
        EMAIL_INDEX_ACTIVE_KEY: keyring.index.active,
        LOG_LEVEL: "none"
      },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk)
      if (killWhen?.(stderr) === true) child.kill("SIGKILL")
    })
    child.on("exit", (code, signal) => resume(Effect.succeed({ code, signal, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

it.live("10,000 people move to a new key while registrations run; a killed rotation resumes", () =>
  Effect.gen(function*() {
    const { url } = yield* testDatabase("le_rotation")
    const before = PersonalDataKeys.generate({ data: "k1", index: "i1" })
    const after = PersonalDataKeys.withActiveKey(PersonalDataKeys.withActiveKey(before, "data", "k2"), "index", "i2")
    const retired: PersonalDataKeys.Keyring = {
      data: { active: "k2", keys: new Map([["k2", after.data.keys.get("k2")!]]) },
      index: { active: "i2", keys: new Map([["i2", after.index.keys.get("i2")!]]) }
    }
    const store = SqlStore.layerPostgres({ url, keyring: after, maxConnections: 6, outboxNotifyChannel: null })
    const context = yield* Layer.build(
      Layer.mergeAll(Users.Users.layer, Registrations.Registrations.layer, Events.Events.layer).pipe(
        Layer.provideMerge(Layer.mergeAll(store, Ids.Ids.layer))
      )
    )
    const sql = Context.get(context, SqlClient.SqlClient)
    const users = Context.get(context, Users.Users)
    const events = Context.get(context, Events.Events)
    const registrations = Context.get(context, Registrations.Registrations)

    // Written under k1 / i1, before the keyring changed.
    const oldRepository = yield* SqlUserRepository.make.pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.provideService(PersonalDataKeys.PersonalDataKeys, before)
    )
    const at = new Date()
    for (let start = 0; start < PEOPLE; start += 500) {
      yield* oldRepository.insertAllIfAbsent(Array.from({ length: 500 }, (_, i) => ({
        id: randomUUID() as Ids.UserId,
        subject: `rot-${start + i}`,
        email: `person.${start + i}@example.org`,
        name: `Person ${start + i}`,
        phone: null,
        createdAt: at,
        updatedAt: at,
        erasedAt: null
      })))
    }
    const organizer = yield* users.provision({ subject: "rot-organizer" })
    const actor = { userId: organizer.id, roles: ["organizer" as const] }
    const hall = yield* events.create(actor, {
      title: "Rotation", startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
      timeZone: "UTC", location: "Hall", capacity: 100_000
    })
    yield* events.publish(actor, hall.id)
    // Rows from before sealing existed: plain text, no data key.
    for (let i = 0; i < LEGACY; i++) {
      const id = randomUUID()
      yield* sql`INSERT INTO users (id, subject, email, name, phone, created_at, updated_at)
        VALUES (${id}, ${`rot-legacy-${i}`}, ${`legacy.${i}@example.org`}, ${`Legacy ${i}`}, '+1 555 0100', now(), now())`
      yield* sql`INSERT INTO registrations (id, event_id, user_id, status, notes, created_at, updated_at, confirmed_at)
        VALUES (${randomUUID()}, ${hall.id}, ${id}, 'confirmed', ${`legacy note ${i}`}, now(), now(), now())`
      yield* sql`UPDATE events SET confirmed_count = confirmed_count + 1 WHERE id = ${hall.id}`
    }

    // Traffic: new people register with notes until told to stop; every failure is kept.
    let stop = false
    let registered = 0
    const failures: Array<unknown> = []
    const traffic = yield* Effect.forkChild(Effect.forEach([0, 1, 2, 3], (lane) =>
      Effect.gen(function*() {
        for (let n = 0; !stop; n++) {
          const exit = yield* Effect.exit(Effect.gen(function*() {
            const user = yield* users.provision({ subject: `rot-new-${lane}-${n}`, email: `new.${lane}.${n}@example.org`, name: `New ${n}` })
            return yield* registrations.register({ userId: user.id, roles: ["attendee"] }, hall.id, { notes: `note ${lane}-${n}` })
          }))
          if (Exit.isFailure(exit)) failures.push(exit.cause)
          else registered++
        }
      }), { concurrency: "unbounded", discard: true }))

    const rewrapped = (stderr: string) => Number([...stderr.matchAll(/data-keys: (\d+) done/g)].at(-1)?.[1] ?? 0)
    const first = yield* rotate(Redacted.value(url), after, (stderr) => rewrapped(stderr) >= 3_000)
    expect(first.signal).toBe("SIGKILL")
    const onOldKey = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM person_keys WHERE key_id = 'k1'`
    expect(onOldKey[0]!.n).toBeGreaterThan(0)
    expect(onOldKey[0]!.n).toBeLessThan(PEOPLE)

    const second = yield* rotate(Redacted.value(url), after)
    expect(second.code).toBe(0)
    expect(second.stderr).toMatch(/keys rotate: done/)
    stop = true
    yield* Fiber.join(traffic)
    expect(failures).toEqual([])
    expect(registered).toBeGreaterThan(0)

    const rotation = yield* KeyRotation.make.pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.provideService(PersonalDataKeys.PersonalDataKeys, after)
    )
    const status = yield* rotation.status
    expect(status.dataKeys).toEqual({ k2: PEOPLE + LEGACY + registered + 1 })
    expect(Object.keys(status.emailIndex)).toEqual(["i2"])
    expect([status.plaintextUsers, status.plaintextNotes, status.pending]).toEqual([0, 0, 0])
    expect(status.retirable).toEqual({ data: ["k1"], index: ["i1"] })

    // Every row opens with k1 and i1 gone, and the email lookup still finds people.
    const sealing = FieldSealing.make(retired)
    const rows = yield* sql<Parameters<typeof sealing.openUser>[0]>`SELECT u.*,
      (SELECT pk.key_id || ':' || pk.wrapped FROM person_keys pk WHERE pk.user_id = u.id) AS person_key FROM users u`
    const opened = rows.map((row) => sealing.openUser(row))
    expect(opened.filter((user) => user.subject.startsWith("rot-") && /^rot-\d+$/.test(user.subject))
      .every((user) => user.email === `person.${user.subject.slice(4)}@example.org`)).toBe(true)
    expect(opened.find((user) => user.subject === "rot-legacy-7")?.phone).toBe("+1 555 0100")
    const notes = yield* sql<Parameters<typeof sealing.openRegistration>[0]>`SELECT r.*,
      (SELECT pk.key_id || ':' || pk.wrapped FROM person_keys pk WHERE pk.user_id = r.user_id) AS owner_key,
      NULL AS waitlist_position FROM registrations r`
    expect(notes.map((row) => sealing.openRegistration(row).notes)).toEqual(expect.arrayContaining(["legacy note 7", "note 0-0"]))
    const lookup = yield* SqlUserRepository.make.pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.provideService(PersonalDataKeys.PersonalDataKeys, retired)
    )
    expect((yield* lookup.findByEmail("Person.4242@example.org")).map((user) => user.subject)).toEqual(["rot-4242"])
    expect((yield* lookup.findByEmail("legacy.3@example.org")).map((user) => user.subject)).toEqual(["rot-legacy-3"])
  }).pipe(Effect.scoped), { timeout: 240_000 })
