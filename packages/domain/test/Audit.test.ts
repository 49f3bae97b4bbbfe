/**
 * The audit log as the use-cases write it (memory store): organizer/admin actions and GDPR actions are
 * recorded with actor, action, target, a before/after summary without personal data, and the request's
 * correlation id; an attendee's own actions are not; the GDPR export carries the entries about the person.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Audit, Events, Privacy, Registrations, Users } from "@live-events/domain"
import type { User } from "@live-events/domain"
import { memoryUseCases } from "./UseCases.ts"

const TestLayer = memoryUseCases

const entries = (filter: Audit.AuditFilter = {}) =>
  Effect.map(Effect.flatMap(Audit.AuditLog, (log) => log.list({ ...filter, limit: 100 })), (page) => page.items)

describe("audit log", () => {
  it.effect("records organizer and admin actions with before/after summaries and the correlation id", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const events = yield* Events.Events
      const registrations = yield* Registrations.Registrations
      const privacy = yield* Privacy.Privacy
      const organizer: User.Actor = { userId: (yield* users.provision({ subject: "org" })).id, roles: ["organizer"] }
      const admin: User.Actor = { userId: (yield* users.provision({ subject: "adm" })).id, roles: ["admin"] }
      const attendee: User.Actor = { userId: (yield* users.provision({ subject: "att" })).id, roles: ["attendee"] }

      const inRequest = <A, E, R>(effect: Effect.Effect<A, E, R>, correlationId: string) =>
        Effect.provideService(effect, Audit.AuditContext, { correlationId })
      const event = yield* inRequest(events.create(organizer, {
        title: "Before", startsAt: new Date("2099-01-01T00:00:00Z"), endsAt: new Date("2099-01-02T00:00:00Z"),
        timeZone: "UTC", location: "Hall", capacity: 2
      }), "corr-create")
      yield* events.update(organizer, event.id, { title: "After" })
      yield* events.publish(organizer, event.id)
      const own = yield* registrations.register(attendee, event.id, {})
      yield* registrations.cancel(attendee, own.id) // the attendee's own action: not audited
      const again = yield* registrations.register(attendee, event.id, {})
      yield* registrations.cancel(organizer, again.id)
      const created = yield* users.create(admin, { subject: "made-by-admin", email: "secret.person@example.org" })

      const all = yield* entries()
      expect(all.map((e) => e.action)).toEqual([
        "event.create", "event.update", "event.publish", "registration.cancel", "user.create"
      ])
      const [create, update, publish, cancel, userCreate] = all
      expect(create).toMatchObject({ actorId: organizer.userId, actorRoles: ["organizer"], targetType: "event", targetId: event.id, correlationId: "corr-create", before: null })
      expect(create!.after).toMatchObject({ title: "Before", capacity: 2, status: "draft" })
      expect(update).toMatchObject({ before: { title: "Before" }, after: { title: "After" }, correlationId: null })
      expect(publish).toMatchObject({ before: { status: "draft" }, after: { status: "published" } })
      expect(cancel).toMatchObject({
        actorId: organizer.userId, targetType: "registration", targetId: again.id, subjectUserId: attendee.userId,
        before: { status: "confirmed" }, after: { status: "cancelled" }
      })
      expect(userCreate).toMatchObject({ actorId: admin.userId, targetId: created.id, subjectUserId: created.id, after: { fields: ["email"] } })
      // No personal data in the log, ever.
      expect(JSON.stringify(all)).not.toContain("secret.person")

      // Filters.
      expect((yield* entries({ actorId: admin.userId })).map((e) => e.action)).toEqual(["user.create"])
      expect((yield* entries({ action: "event.update" })).map((e) => e.id)).toEqual([update!.id])
      expect((yield* entries({ targetId: event.id })).map((e) => e.action)).toEqual(["event.create", "event.update", "event.publish"])
      expect((yield* entries({ concerning: attendee.userId })).map((e) => e.action)).toEqual(["registration.cancel"])

      // The GDPR export carries the entries about the person, its own included.
      const exported = yield* privacy.export(admin, attendee.userId)
      expect(exported.audit.map((e) => e.action)).toEqual(["registration.cancel", "user.export"])
      yield* privacy.erase(attendee, attendee.userId)
      expect((yield* entries({ action: "user.erase" }))).toMatchObject([{ actorId: attendee.userId, targetId: attendee.userId }])
    }).pipe(Effect.provide(TestLayer)))
})
