import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Events, Ids, Registrations, Users } from "@live-events/domain"
import { PersonalDataKeys, SqlStore } from "@live-events/sql"

const TestLayer = Layer.mergeAll(Events.Events.layer, Registrations.Registrations.layer, Users.Users.layer).pipe(
  Layer.provideMerge(Layer.mergeAll(SqlStore.layerEmbedded({ dataDir: undefined, keyring: PersonalDataKeys.generate() }), Ids.Ids.layer))
)

describe("walk on PGlite", () => {
  it.live("capacity 2, three registrations, cancel promotes", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const events = yield* Events.Events
      const registrations = yield* Registrations.Registrations
      const org = yield* users.provision({ subject: "org" })
      const organizer = { userId: org.id, roles: ["organizer" as const] }
      const event = yield* events.create(organizer, {
        title: "T", startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
        timeZone: "Europe/Berlin", location: "Here", capacity: 2
      })
      yield* events.publish(organizer, event.id)
      const actors = []
      for (const s of ["a", "b", "c", "d"]) {
        const u = yield* users.provision({ subject: s })
        actors.push({ userId: u.id, roles: ["attendee" as const] })
      }
      const regs = []
      for (const a of actors) regs.push(yield* registrations.register(a, event.id, {}))
      expect(regs.map((r) => [r.status, r.waitlistPosition])).toEqual([["confirmed", null], ["confirmed", null], ["waitlisted", 1], ["waitlisted", 2]])
      yield* registrations.cancel(actors[0]!, regs[0]!.id)
      const promoted = yield* registrations.get(actors[2]!, regs[2]!.id)
      expect(promoted.status).toBe("confirmed")
      const last = yield* registrations.get(actors[3]!, regs[3]!.id)
      expect(last.waitlistPosition).toBe(1)
      const after = yield* events.get(organizer, event.id)
      expect([after.confirmedCount, after.waitlistCount]).toEqual([2, 1])
      const again = yield* Effect.flip(registrations.register(actors[1]!, event.id, {}))
      expect(again._tag).toBe("AlreadyRegistered")
    }).pipe(Effect.provide(TestLayer)), 60_000)
})
