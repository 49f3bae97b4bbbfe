/**
 * Embedding the engine: the use-cases on in-memory ports (swap `Memory.layer` for
 * `SqlStore.layerPostgres({ url, keyring })` or `SqlStore.layerEmbedded({ dataDir, keyring })` from `@live-events/sql`).
 *
 *   node --conditions=@live-events/source examples/quickstart.ts
 */
import { Events, Ids, Memory, Registrations, Users } from "@live-events/domain"
import { Effect, Layer } from "effect"

const LiveEvents = Layer.mergeAll(Events.Events.layer, Registrations.Registrations.layer, Users.Users.layer).pipe(
  Layer.provideMerge(Layer.mergeAll(Memory.layer, Ids.Ids.layer))
)

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

  const outbox = yield* Memory.MemoryStore.use((store) => store.outbox)
  console.log("domain events:", outbox.map((message) => message.type).join(", "))
})

Effect.runPromise(Effect.provide(program, LiveEvents))
