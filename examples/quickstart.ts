/**
 * Embedding the engine in a few lines: the whole engine (store, outbox relay, resilience policies,
 * read cache, use-cases) in a `ManagedRuntime`, here on the memory store.
 *
 *   node --conditions=@live-events/source examples/quickstart.ts
 *
 * For a real database swap the store, nothing else:
 *   Engine.storeEmbedded({ dataDir: "./data/pglite", keyring })          // PGlite in this process
 *   Engine.storePostgres({ url: Redacted.make(databaseUrl), keyring })    // PostgreSQL 15+
 * where `keyring = PersonalDataKeys.fromSecret(secret)` (`@live-events/sql`) seals personal data at
 * rest: keep the secret, or the data cannot be read again. See docs/embedding.md.
 */
import { Events, Registrations, Users } from "@live-events/domain"
import { Engine } from "@live-events/engine"
import { Effect, ManagedRuntime } from "effect"

const runtime = ManagedRuntime.make(Engine.layer({ store: Engine.storeMemory }))

const program = Effect.gen(function*() {
  const users = yield* Users.Users
  const events = yield* Events.Events
  const registrations = yield* Registrations.Registrations

  const organizerUser = yield* users.provision({ subject: "olivia" })
  const organizer = { userId: organizerUser.id, roles: ["organizer" as const] }
  const event = yield* events.create(organizer, {
    title: "Effect meetup",
    startsAt: new Date(Date.now() + 86_400_000),
    endsAt: new Date(Date.now() + 90_000_000),
    timeZone: "Europe/Berlin",
    location: "Berlin",
    capacity: 2
  })
  yield* events.publish(organizer, event.id)

  const people = []
  for (const subject of ["alice", "bob", "carol"]) {
    const user = yield* users.provision({ subject })
    const actor = { userId: user.id, roles: ["attendee" as const] }
    people.push({ subject, actor, registration: yield* registrations.register(actor, event.id, {}) })
  }
  for (const p of people) console.log(p.subject, p.registration.status, p.registration.waitlistPosition ?? "")

  yield* registrations.cancel(people[0]!.actor, people[0]!.registration.id)
  const carol = yield* registrations.get(people[2]!.actor, people[2]!.registration.id)
  console.log("after alice cancels, carol is", carol.status)
})

try {
  await runtime.runPromise(program)
} finally {
  // Stops the background work (relay, purge) and closes the store.
  await runtime.dispose()
}
