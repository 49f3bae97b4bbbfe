/**
 * Contract of the {@link UnitOfWork} and {@link OutboxWriter} ports (invariant I5): everything written in
 * a unit of work, outbox messages included, commits together or not at all.
 *
 * Needs an {@link OutboxProbe} next to the ports to read the committed outbox back. Clock: live
 * (`excludeTestServices: true`). Isolation: fresh events; messages are looked up by aggregate id.
 *
 * @since 0.1.0
 */
import { expect, layer } from "@effect/vitest"
import { Data, Effect, Exit, type Layer, Option } from "effect"
import type { DomainEvent } from "../../src/DomainEvent.ts"
import { SCHEMA_VERSION } from "../../src/DomainEvent.ts"
import type { Event } from "../../src/Event.ts"
import { EventRepository } from "../../src/EventRepository.ts"
import type { MessageId, UserId } from "../../src/Ids.ts"
import { OutboxWriter } from "../../src/OutboxWriter.ts"
import type { Registration } from "../../src/Registration.ts"
import { RegistrationRepository } from "../../src/RegistrationRepository.ts"
import { UnitOfWork } from "../../src/UnitOfWork.ts"
import { UserRepository } from "../../src/UserRepository.ts"
import {
  freshId,
  getEvent,
  getRegistration,
  insertEvent,
  insertUser,
  makeEvent,
  makeRegistration,
  now,
  OutboxProbe,
  type Ports
} from "./Fixtures.ts"

class Boom extends Data.TaggedError("Boom")<{}> {}

const message = (event: Event, registration: Registration) =>
  Effect.gen(function*() {
    const message: DomainEvent = {
      id: yield* freshId<MessageId>(),
      type: "RegistrationConfirmed",
      aggregateId: event.id,
      occurredAt: yield* now,
      version: SCHEMA_VERSION,
      data: {
        registrationId: registration.id,
        eventId: event.id,
        userId: registration.userId,
        status: registration.status,
        waitlistPosition: null,
        capacity: event.capacity,
        confirmedCount: event.confirmedCount + 1,
        waitlistCount: event.waitlistCount
      }
    }
    return message
  })

/** A unit of work that does what "register" does: lock, insert a seat, record its message. */
const registerWork = (event: Event) =>
  Effect.gen(function*() {
    const registrations = yield* RegistrationRepository
    const outbox = yield* OutboxWriter
    const user = yield* insertUser()
    const registration = yield* makeRegistration(event.id, user.id, "confirmed")
    const recorded = yield* message(event, registration)
    const work = Effect.gen(function*() {
      const locked = yield* registrations.lockForRegistration(event.id, user.id)
      expect(Option.isSome(locked)).toBe(true)
      yield* registrations.apply(event.id, [{ _tag: "Insert", registration }])
      yield* outbox.record([recorded])
    })
    return { registration, recorded, work }
  })

/**
 * Registers the UnitOfWork / OutboxWriter contract suite for `layer`.
 *
 * @since 0.1.0
 */
export const unitOfWorkContract = <E>(name: string, portsLayer: Layer.Layer<Ports | OutboxProbe, E>): void =>
  layer(portsLayer, { excludeTestServices: true, timeout: "60 seconds" })(
    `UnitOfWork and OutboxWriter contract (${name})`,
    (it) => {
      it.effect("a committed unit of work keeps the registration, the counters and the outbox messages", () =>
        Effect.gen(function*() {
          const unitOfWork = yield* UnitOfWork
          const probe = yield* OutboxProbe
          const event = yield* insertEvent({ capacity: 2 })
          const { recorded, registration, work } = yield* registerWork(event)
          const result = yield* unitOfWork.transact(Effect.as(work, "done"))
          expect(result).toBe("done")
          expect(yield* getRegistration(registration.id)).toEqual(registration)
          expect((yield* getEvent(event.id)).confirmedCount).toBe(1)
          const read = yield* probe.messages(event.id)
          expect(read.map(({ aggregateId, id, type }) => ({ aggregateId, id, type }))).toEqual([
            { id: recorded.id, type: recorded.type, aggregateId: recorded.aggregateId }
          ])
        }))

      it.effect("messages recorded in several calls keep their recording order", () =>
        Effect.gen(function*() {
          const unitOfWork = yield* UnitOfWork
          const outbox = yield* OutboxWriter
          const probe = yield* OutboxProbe
          const event = yield* insertEvent()
          const user = yield* insertUser()
          const registration = yield* makeRegistration(event.id, user.id, "confirmed")
          const messages = yield* Effect.all(Array.from({ length: 5 }, () => message(event, registration)))
          yield* unitOfWork.transact(Effect.gen(function*() {
            yield* outbox.record(messages.slice(0, 2))
            yield* outbox.record(messages.slice(2))
          }))
          yield* unitOfWork.transact(outbox.record([]))
          const read = yield* probe.messages(event.id)
          expect(read.map((m) => m.id)).toEqual(messages.map((m) => m.id))
          expect(read.every((m) => m.aggregateId === event.id && m.type === "RegistrationConfirmed")).toBe(true)
        }))

      for (
        const [label, fail] of [
          ["fails with a typed error", Effect.fail(new Boom())],
          ["dies with a defect", Effect.die(new Error("defect inside the unit of work"))]
        ] as const
      ) {
        it.effect(`a unit of work that ${label} leaves no registration, no counter change, no message`, () =>
          Effect.gen(function*() {
            const unitOfWork = yield* UnitOfWork
            const events = yield* EventRepository
            const users = yield* UserRepository
            const probe = yield* OutboxProbe
            const event = yield* insertEvent({ capacity: 2 })
            const before = yield* getEvent(event.id)
            const { registration, work } = yield* registerWork(event)
            const newEvent = yield* makeEvent(event.organizerId)
            const subject = `rollback-${yield* freshId<string>()}`
            const at = yield* now

            const exit = yield* Effect.exit(unitOfWork.transact(Effect.gen(function*() {
              yield* work
              yield* events.update({ ...before, title: "changed in a rolled back unit of work" })
              yield* events.insert(newEvent)
              yield* users.insertIfAbsent({
                id: yield* freshId<UserId>(),
                subject,
                email: null,
                name: null,
                phone: null,
                createdAt: at,
                updatedAt: at,
                erasedAt: null
              })
              return yield* fail
            })))
            // The caller's own error (or defect) comes back unchanged, not wrapped in a storage error.
            if (label === "fails with a typed error") {
              expect(Option.getOrThrow(Exit.findErrorOption(exit))).toBeInstanceOf(Boom)
            } else {
              expect(Exit.hasDies(exit)).toBe(true)
              expect(Exit.hasFails(exit)).toBe(false)
            }
            expect(Option.isNone(yield* (yield* RegistrationRepository).findById(registration.id))).toBe(true)
            expect(yield* getEvent(event.id)).toEqual(before)
            expect(Option.isNone(yield* events.findById(newEvent.id))).toBe(true)
            expect(Option.isNone(yield* users.findBySubject(subject))).toBe(true)
            expect(yield* probe.messages(event.id)).toEqual([])

            // The event is not left locked: the next unit of work on it commits.
            const retry = yield* registerWork(event)
            yield* unitOfWork.transact(retry.work)
            expect((yield* getEvent(event.id)).confirmedCount).toBe(1)
            expect((yield* probe.messages(event.id)).map((m) => m.id)).toEqual([retry.recorded.id])
          }))
      }

      it.effect("a failure in one unit of work does not undo a concurrent one on another event", () =>
        Effect.gen(function*() {
          const unitOfWork = yield* UnitOfWork
          const probe = yield* OutboxProbe
          const failing = yield* registerWork(yield* insertEvent())
          const good = yield* registerWork(yield* insertEvent())
          const results = yield* Effect.all([
            Effect.exit(unitOfWork.transact(Effect.andThen(failing.work, Effect.fail(new Boom())))),
            Effect.exit(unitOfWork.transact(good.work))
          ], { concurrency: "unbounded" })
          expect(results.map((r) => r._tag)).toEqual(["Failure", "Success"])
          expect(yield* getRegistration(good.registration.id)).toEqual(good.registration)
          expect((yield* probe.messages(good.registration.eventId)).map((m) => m.id)).toEqual([good.recorded.id])
          expect(yield* probe.messages(failing.registration.eventId)).toEqual([])
        }))
    }
  )
