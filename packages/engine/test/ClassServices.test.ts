/**
 * The engine's decorators (resilience policies, read cache) over a store whose ports are class
 * instances: methods on the prototype, `this` inside them. A decorator that spread or enumerated the
 * service would drop those methods (the use-cases would fail) or call them detached from `this`.
 */
import {
  type Event,
  EventRepository,
  Events,
  type Ids,
  RegistrationRepository,
  Registrations,
  UserRepository,
  Users
} from "@live-events/domain"
import { Policy } from "@live-events/resilience"
import { Context, Effect, Exit, Layer, ManagedRuntime, References } from "effect"
import { describe, expect, it } from "vitest"
import { DatabasePolicies, Engine, ServiceMembers } from "../src/index.ts"

type EventPort = EventRepository.EventRepository["Service"]

/** An event repository written as a class; `#inner` is reachable only through `this`. */
class ClassEventRepository implements EventPort {
  readonly #inner: EventRepository.EventRepository["Service"]
  readonly calls = new Map<string, number>()
  /** How long `findById` takes: one test makes it slower than the read policy's timeout. */
  findDelayMillis = 0
  constructor(inner: EventRepository.EventRepository["Service"]) {
    this.#inner = inner
  }
  #count(name: string) {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1)
  }
  insert(event: Event.Event) {
    this.#count("insert")
    return this.#inner.insert(event)
  }
  update(event: Event.Event) {
    this.#count("update")
    return this.#inner.update(event)
  }
  delete(id: Ids.EventId) {
    this.#count("delete")
    return this.#inner.delete(id)
  }
  findById(id: Ids.EventId) {
    this.#count("findById")
    return this.findDelayMillis === 0
      ? this.#inner.findById(id)
      : Effect.andThen(Effect.sleep(this.findDelayMillis), this.#inner.findById(id))
  }
  lock(id: Ids.EventId) {
    this.#count("lock")
    return this.#inner.lock(id)
  }
  list(query: Parameters<EventPort["list"]>[0]) {
    this.#count("list")
    return this.#inner.list(query)
  }
}

/** Any port re-shaped as an instance of a class whose (non-enumerable) methods need their instance. */
const asClassInstance = <S extends object>(service: S): S => {
  class Port {}
  for (const [name, method] of Object.entries(service)) {
    if (typeof method !== "function") continue
    Object.defineProperty(Port.prototype, name, {
      value(this: unknown, ...args: Array<unknown>) {
        if (!(this instanceof Port)) throw new Error(`${name} called without its instance`)
        return method(...args)
      },
      enumerable: false,
      writable: true,
      configurable: true
    })
  }
  return new Port() as S
}

/** The engine's INFO lines (waitlist promotions) stay out of the test output. */
const quiet = Layer.succeed(References.MinimumLogLevel, "Warn")

/** The memory store with its three repositories replaced by class instances. */
const classStore = (onEvents: (events: ClassEventRepository) => void) =>
  Layer.effectContext(Effect.gen(function*() {
    const base = yield* Effect.context<Engine.Store>()
    const events = new ClassEventRepository(Context.get(base, EventRepository.EventRepository))
    onEvents(events)
    return base.pipe(
      Context.add(EventRepository.EventRepository, events),
      Context.add(UserRepository.UserRepository, asClassInstance(Context.get(base, UserRepository.UserRepository))),
      Context.add(
        RegistrationRepository.RegistrationRepository,
        asClassInstance(Context.get(base, RegistrationRepository.RegistrationRepository))
      )
    )
  })).pipe(Layer.provide(Engine.storeMemory))

const day = 86_400_000

const publishedEvent = (capacity: number) =>
  Effect.gen(function*() {
    const users = yield* Users.Users
    const events = yield* Events.Events
    const owner = yield* users.provision({ subject: `organizer-${crypto.randomUUID()}` })
    const organizer = { userId: owner.id, roles: ["organizer" as const] }
    const event = yield* events.create(organizer, {
      title: "Class-based ports",
      startsAt: new Date(Date.now() + day),
      endsAt: new Date(Date.now() + day + 3_600_000),
      timeZone: "Europe/Berlin",
      location: "Berlin",
      capacity
    })
    yield* events.publish(organizer, event.id)
    return event
  })

describe("decorators over class-based services", () => {
  it("registers, cancels and promotes through the policies and the cache; reads hit the cache", async () => {
    let events: ClassEventRepository | undefined
    const runtime = ManagedRuntime.make(
      Layer.merge(Engine.layer({ store: classStore((created) => (events = created)) }), quiet)
    )
    try {
      const outcome = await runtime.runPromise(Effect.gen(function*() {
        const event = yield* publishedEvent(2)
        const users = yield* Users.Users
        const registrations = yield* Registrations.Registrations
        const people = []
        for (const name of ["ada", "grace", "edsger"]) {
          const user = yield* users.provision({ subject: `${name}-${crypto.randomUUID()}` })
          const actor = { userId: user.id, roles: ["attendee" as const] }
          people.push({ actor, registration: yield* registrations.register(actor, event.id, {}) })
        }
        yield* registrations.cancel(people[0]!.actor, people[0]!.registration.id)
        const promoted = yield* registrations.get(people[2]!.actor, people[2]!.registration.id)

        const eventsUseCase = yield* Events.Events
        yield* eventsUseCase.get(undefined, event.id)
        const before = events!.calls.get("findById") ?? 0
        const again = yield* eventsUseCase.get(undefined, event.id)
        const after = events!.calls.get("findById") ?? 0
        return { statuses: people.map((p) => p.registration.status), promoted: promoted.status, again, before, after }
      }))
      expect(outcome.statuses).toEqual(["confirmed", "confirmed", "waitlisted"])
      expect(outcome.promoted).toBe("confirmed")
      expect(outcome.again.confirmedCount).toBe(2)
      // The second read of the same event was answered by the cache, not the class's method.
      expect(outcome.after).toBe(outcome.before)
      expect(events!.calls.get("lock") ?? 0).toBeGreaterThan(0)
    } finally {
      await runtime.dispose()
    }
  })

  it("puts inherited methods under the read policy (a slow read times out as unavailable)", async () => {
    let events: ClassEventRepository | undefined
    const read = DatabasePolicies.defaults.policies["database-read"]!
    const policies = DatabasePolicies.layerPolicies({
      ...DatabasePolicies.defaults,
      policies: {
        ...DatabasePolicies.defaults.policies,
        "database-read": { ...read, timeout: "100 millis", attemptTimeout: "50 millis", retry: { ...read.retry, maxRetries: 0 } }
      }
    })
    const runtime = ManagedRuntime.make(
      Layer.merge(Engine.layer({ store: classStore((created) => (events = created)), cache: false, policies }), quiet)
    )
    try {
      const event = await runtime.runPromise(publishedEvent(1))
      events!.findDelayMillis = 1_000
      const exit = await runtime.runPromiseExit(Effect.flatMap(Events.Events, (use) => use.get(undefined, event.id)))
      expect(Exit.isFailure(exit)).toBe(true)
      const failure = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      const error = failure?._tag === "Fail" ? failure.error : undefined
      expect(error).toMatchObject({ _tag: "RepositoryError", reason: "unavailable", operation: "EventRepository.findById" })
      expect(Policy.isPolicyError((error as { cause?: unknown }).cause)).toBe(true)
    } finally {
      await runtime.dispose()
    }
  })
})

describe("ServiceMembers.members", () => {
  class Base {
    readonly label = "base"
    greet() {
      return `hello from ${this.label}`
    }
    name() {
      return "base"
    }
  }
  class Derived extends Base {
    override name() {
      return "derived"
    }
  }

  it("keeps inherited methods bound to the instance, nearest definition first", () => {
    const members = ServiceMembers.members(new Derived())
    const { greet, name } = members
    expect(greet()).toBe("hello from base")
    expect(name()).toBe("derived")
    expect(members.label).toBe("base")
    expect(Object.keys({ ...new Derived() })).toEqual(["label"])
    expect(Object.keys(members).sort()).toEqual(["greet", "label", "name"])
  })
})
