/**
 * Property test of the waitlist: random sequences and random concurrent batches of register / cancel /
 * capacity change / manual confirm / attendance commands, run through the real use-cases on the ports
 * under test and compared with a plain array-based FIFO model.
 *
 * After every step, read back through the ports only:
 * - I1 confirmedCount ≤ capacity; I2 at most one active registration per user; I3 waitlist positions are
 *   exactly 1..w, in join order (the model's queue); I4 a free seat implies an empty waitlist;
 * - the event's counters equal the rows (`listByEvent`), and every registration's status equals the model's;
 * - a sequential command's outcome (status and position, or error code) equals the model's;
 * - a concurrent batch (`Effect.all(..., { concurrency: "unbounded" })`) is serialisable: some order of
 *   its commands gives, in the model, exactly the observed outcomes and the observed final state.
 *
 * Clock: the live clock (`layer(..., { excludeTestServices: true })`), like the contract suites, so a SQL
 * layer's timeouts never wait on a TestClock; the events start 30 days from now, so attendance is always
 * "before the start" (`event-not-started`) and registration is always open.
 *
 * @since 0.1.0
 */
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Result } from "effect"
import * as fc from "fast-check"
import { EventRepository } from "../../src/EventRepository.ts"
import { Events } from "../../src/Events.ts"
import type { EventId, RegistrationId } from "../../src/Ids.ts"
import type { Registration } from "../../src/Registration.ts"
import { RegistrationRepository } from "../../src/RegistrationRepository.ts"
import { Registrations } from "../../src/Registrations.ts"
import type { Actor } from "../../src/User.ts"
import { Users } from "../../src/Users.ts"
import { allRegistrations, freshId, fullWaitlist, getEvent, now, type Ports } from "./Fixtures.ts"

// ---------------------------------------------------------------------------------------------------
// Commands

/** A generated command: indices are taken modulo the scenario's events and users. */
type Command =
  | { readonly type: "register"; readonly event: number; readonly user: number }
  | { readonly type: "cancel"; readonly event: number; readonly user: number; readonly byOrganizer: boolean }
  | { readonly type: "capacity"; readonly event: number; readonly capacity: number }
  | { readonly type: "confirm"; readonly event: number; readonly user: number }
  | { readonly type: "attendance"; readonly event: number; readonly user: number; readonly attended: boolean }

/** A command with its target registration resolved (the user's latest one, or an unknown id). */
type Resolved = Command & { readonly target: RegistrationId }

interface EventSpec {
  readonly capacity: number
  readonly enabled: boolean
  readonly limit: number | null
}

interface Scenario {
  readonly events: ReadonlyArray<EventSpec>
  readonly users: number
  readonly steps: ReadonlyArray<ReadonlyArray<Command>>
}

const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constant("register" as const), event: fc.nat(1), user: fc.nat(5) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("cancel" as const),
      event: fc.nat(1),
      user: fc.nat(5),
      byOrganizer: fc.boolean()
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({ type: fc.constant("capacity" as const), event: fc.nat(1), capacity: fc.integer({ min: 1, max: 5 }) })
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("confirm" as const), event: fc.nat(1), user: fc.nat(5) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("attendance" as const),
      event: fc.nat(1),
      user: fc.nat(5),
      attended: fc.boolean()
    })
  }
)

const scenarioArbitrary = (concurrent: boolean, maxSteps: number): fc.Arbitrary<Scenario> =>
  fc.record({
    events: fc.array(
      fc.record({
        capacity: fc.integer({ min: 1, max: 3 }),
        enabled: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        limit: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null, freq: 2 })
      }),
      { minLength: 1, maxLength: 2 }
    ),
    users: fc.integer({ min: 2, max: 6 }),
    steps: fc.array(
      concurrent
        ? fc.oneof(
          { weight: 2, arbitrary: commandArbitrary.map((command) => [command]) },
          { weight: 1, arbitrary: fc.array(commandArbitrary, { minLength: 2, maxLength: 4 }) }
        )
        : commandArbitrary.map((command) => [command]),
      { maxLength: maxSteps }
    )
  })

// ---------------------------------------------------------------------------------------------------
// Outcomes and the reference model

/** What a command returned: a status and position (or the counts after a capacity change), or an error code. */
type Outcome =
  | {
    readonly ok: true
    readonly status: string
    readonly position: number | null
    readonly id: string | null
    readonly counts: string | null
  }
  | { readonly ok: false; readonly code: string; readonly registrationId: string | null }

const success = (status: string, position: number | null = null, id: string | null = null, counts: string | null = null): Outcome => ({ ok: true, status, position, id, counts })
const failure = (code: string, registrationId: string | null = null): Outcome => ({ ok: false, code, registrationId })
const sameOutcome = (a: Outcome, b: Outcome) => JSON.stringify(a) === JSON.stringify(b)

type ModelStatus = "confirmed" | "waitlisted" | "cancelled"

/** The reference: arrays for the seats and the FIFO queue of each event, a map for statuses. */
interface Model {
  readonly events: Array<{ capacity: number; enabled: boolean; limit: number | null; confirmed: Array<string>; queue: Array<string> }>
  readonly registrations: Map<string, { readonly event: number; readonly user: number; status: ModelStatus }>
  /** The latest registration of (event, user): the only one that can be active. */
  readonly latest: Map<string, string>
}

const key = (event: number, user: number) => `${event}:${user}`

const initialModel = (specs: ReadonlyArray<EventSpec>): Model => ({
  events: specs.map((spec) => ({ ...spec, confirmed: [], queue: [] })),
  registrations: new Map(),
  latest: new Map()
})

/**
 * Applies one command to the model (mutating it) and returns the outcome the use-case must produce.
 * `observedId` is the id the real registration got, used when the model agrees that one was created.
 */
const step = (model: Model, command: Resolved, observedId: string | null): Outcome => {
  const event = model.events[command.event]!
  const promoteHead = () => {
    const head = event.queue.shift()!
    event.confirmed.push(head)
    model.registrations.get(head)!.status = "confirmed"
  }
  switch (command.type) {
    case "register": {
      const latest = model.latest.get(key(command.event, command.user))
      const active = latest !== undefined && model.registrations.get(latest)!.status !== "cancelled" ? latest : undefined
      if (active !== undefined) return failure("already-registered", active)
      let status: "confirmed" | "waitlisted"
      if (event.confirmed.length < event.capacity && event.queue.length === 0) status = "confirmed"
      else if (!event.enabled) return failure("waitlist-closed")
      else if (event.limit !== null && event.queue.length >= event.limit) return failure("waitlist-full")
      else status = "waitlisted"
      const id = observedId ?? `model-${model.registrations.size}`
      const position = status === "waitlisted" ? event.queue.length + 1 : null
      model.registrations.set(id, { event: command.event, user: command.user, status })
      model.latest.set(key(command.event, command.user), id)
      if (status === "confirmed") event.confirmed.push(id)
      else event.queue.push(id)
      return success(status, position, id)
    }
    case "cancel": {
      const registration = model.registrations.get(command.target)
      if (registration === undefined) return failure("registration-not-found")
      if (registration.status === "confirmed") {
        event.confirmed.splice(event.confirmed.indexOf(command.target), 1)
        if (event.queue.length > 0 && event.confirmed.length < event.capacity) promoteHead()
      } else if (registration.status === "waitlisted") {
        event.queue.splice(event.queue.indexOf(command.target), 1)
      }
      registration.status = "cancelled"
      return success("cancelled")
    }
    case "capacity": {
      if (command.capacity < event.confirmed.length) return failure("capacity-below-confirmed")
      event.capacity = command.capacity
      while (event.queue.length > 0 && event.confirmed.length < event.capacity) promoteHead()
      return success("capacity", null, null, `${event.capacity}/${event.confirmed.length}/${event.queue.length}`)
    }
    case "confirm": {
      const registration = model.registrations.get(command.target)
      if (registration === undefined) return failure("registration-not-found")
      if (registration.status === "confirmed") return success("confirmed")
      if (registration.status === "cancelled") return failure("invalid-transition")
      if (event.confirmed.length >= event.capacity) return failure("no-seat-available")
      event.queue.splice(event.queue.indexOf(command.target), 1)
      event.confirmed.push(command.target)
      registration.status = "confirmed"
      return success("confirmed")
    }
    case "attendance": {
      const registration = model.registrations.get(command.target)
      if (registration === undefined) return failure("registration-not-found")
      return failure(registration.status === "confirmed" ? "event-not-started" : "invalid-transition")
    }
  }
}

const cloneModel = (model: Model): Model => structuredClone(model)

// ---------------------------------------------------------------------------------------------------
// The world under test

interface World {
  readonly organizer: Actor
  readonly attendees: ReadonlyArray<Actor>
  readonly eventIds: ReadonlyArray<EventId>
}

interface ObservedEvent {
  readonly capacity: number
  readonly confirmedCount: number
  readonly waitlistCount: number
  readonly rows: ReadonlyArray<Registration>
  readonly waitlist: ReadonlyArray<Registration>
}

const DAY = 24 * 60 * 60 * 1000

const setUp = (scenario: Scenario) =>
  Effect.gen(function*() {
    const users = yield* Users
    const events = yield* Events
    const run = yield* freshId<string>()
    const organizerUser = yield* users.provision({ subject: `property-${run}-organizer` })
    const organizer: Actor = { userId: organizerUser.id, roles: ["organizer"] }
    const attendees: Array<Actor> = []
    for (let i = 0; i < scenario.users; i++) {
      const user = yield* users.provision({ subject: `property-${run}-user-${i}` })
      attendees.push({ userId: user.id, roles: ["attendee"] })
    }
    const startsAt = new Date((yield* now).getTime() + 30 * DAY)
    const eventIds: Array<EventId> = []
    for (const spec of scenario.events) {
      const event = yield* events.create(organizer, {
        title: "Property event",
        startsAt,
        endsAt: new Date(startsAt.getTime() + DAY),
        timeZone: "Europe/Berlin",
        location: "Somewhere",
        capacity: spec.capacity,
        waitlist: { enabled: spec.enabled, limit: spec.limit }
      })
      yield* events.publish(organizer, event.id)
      eventIds.push(event.id)
    }
    const world: World = { organizer, attendees, eventIds }
    return world
  })

/** Takes indices modulo the scenario and picks the target registration from the model. */
const resolve = (scenario: Scenario, model: Model, command: Command) =>
  Effect.gen(function*() {
    const event = command.event % scenario.events.length
    const user = "user" in command ? command.user % scenario.users : 0
    const target = model.latest.get(key(event, user)) ?? (yield* freshId<string>())
    return { ...command, event, user, target: target as RegistrationId } as Resolved
  })

const toOutcome = <A, E extends { readonly code: string }>(
  effect: Effect.Effect<A, E, never>,
  onSuccess: (a: A) => Outcome
): Effect.Effect<Outcome> =>
  Effect.map(Effect.result(effect), (result) =>
    Result.isSuccess(result)
      ? onSuccess(result.success)
      : failure(
        result.failure.code,
        "registrationId" in result.failure && result.failure.code === "already-registered"
          ? String(result.failure.registrationId)
          : null
      ))

const execute = (world: World, command: Resolved) =>
  Effect.gen(function*() {
    const registrations = yield* Registrations
    const events = yield* Events
    const eventId = world.eventIds[command.event]!
    const registrationOutcome = (r: Registration) => success(r.status, r.waitlistPosition)
    switch (command.type) {
      case "register":
        return yield* toOutcome(
          registrations.register(world.attendees[command.user]!, eventId, {}),
          (r) => success(r.status, r.waitlistPosition, r.id)
        )
      case "cancel":
        return yield* toOutcome(
          registrations.cancel(command.byOrganizer ? world.organizer : world.attendees[command.user]!, command.target),
          registrationOutcome
        )
      case "capacity":
        return yield* toOutcome(
          events.update(world.organizer, eventId, { capacity: command.capacity }),
          (e) => success("capacity", null, null, `${e.capacity}/${e.confirmedCount}/${e.waitlistCount}`)
        )
      case "confirm":
        return yield* toOutcome(registrations.confirm(world.organizer, command.target), registrationOutcome)
      case "attendance":
        return yield* toOutcome(
          registrations.markAttendance(world.organizer, command.target, command.attended),
          registrationOutcome
        )
    }
  })

const observe = (world: World) =>
  Effect.forEach(world.eventIds, (eventId) =>
    Effect.gen(function*() {
      const event = yield* getEvent(eventId)
      const observed: ObservedEvent = {
        capacity: event.capacity,
        confirmedCount: event.confirmedCount,
        waitlistCount: event.waitlistCount,
        rows: yield* allRegistrations(eventId, undefined, 7),
        waitlist: yield* fullWaitlist(eventId, 3)
      }
      return observed
    }))

/** I1–I4 and counters = rows, from what the ports return; independent of the model. */
const checkInvariants = (world: World, observed: ReadonlyArray<ObservedEvent>) =>
  Effect.gen(function*() {
    const registrations = yield* RegistrationRepository
    for (const [index, event] of observed.entries()) {
      const confirmed = event.rows.filter((r) => r.status === "confirmed")
      const waitlisted = event.rows.filter((r) => r.status === "waitlisted")
      // I1
      expect(event.confirmedCount).toBeLessThanOrEqual(event.capacity)
      // counters equal the rows
      expect([event.confirmedCount, event.waitlistCount]).toEqual([confirmed.length, waitlisted.length])
      // I2
      const activeUsers = [...confirmed, ...waitlisted].map((r) => r.userId)
      expect(new Set(activeUsers).size).toBe(activeUsers.length)
      const active = yield* registrations.listActive(world.eventIds[index]!)
      expect(active.map((r) => r.id).sort()).toEqual([...confirmed, ...waitlisted].map((r) => r.id).sort())
      // I3: exactly 1..w, the same set as the rows, and each row's own position agrees with the queue
      expect(event.waitlist.map((r) => r.waitlistPosition)).toEqual(event.waitlist.map((_, i) => i + 1))
      expect(event.waitlist.map((r) => r.id).sort()).toEqual(waitlisted.map((r) => r.id).sort())
      const positionOf = new Map(event.waitlist.map((r) => [r.id, r.waitlistPosition]))
      for (const row of event.rows) expect(row.waitlistPosition).toBe(positionOf.get(row.id) ?? null)
      // I4
      if (event.confirmedCount < event.capacity) expect(event.waitlistCount).toBe(0)
    }
  })

/** The comparable state: capacity, seat holders, queue order and cancelled ones, per event. */
const projectModel = (model: Model) =>
  model.events.map((event, index) => ({
    capacity: event.capacity,
    confirmed: [...event.confirmed].sort(),
    queue: [...event.queue],
    cancelled: [...model.registrations.entries()]
      .filter(([, r]) => r.event === index && r.status === "cancelled")
      .map(([id]) => id)
      .sort()
  }))

const projectObserved = (observed: ReadonlyArray<ObservedEvent>) =>
  observed.map((event) => ({
    capacity: event.capacity,
    confirmed: event.rows.filter((r) => r.status === "confirmed").map((r) => r.id).sort(),
    queue: event.waitlist.map((r) => r.id),
    cancelled: event.rows.filter((r) => r.status === "cancelled").map((r) => r.id).sort()
  }))

const permutations = (n: number): Array<Array<number>> =>
  n === 0 ? [[]] : permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]))

/**
 * Finds an order of the batch whose model outcomes and final state equal the observed ones.
 * Returns the model after that order, or undefined when the batch was not serialisable.
 */
const serialise = (
  model: Model,
  batch: ReadonlyArray<Resolved>,
  outcomes: ReadonlyArray<Outcome>,
  observed: ReadonlyArray<ObservedEvent>
): Model | undefined => {
  const target = JSON.stringify(projectObserved(observed))
  for (const order of permutations(batch.length)) {
    const candidate = cloneModel(model)
    const matches = order.every((i) => {
      const observedOutcome = outcomes[i]!
      const id = observedOutcome.ok ? observedOutcome.id : null
      return sameOutcome(step(candidate, batch[i]!, id), observedOutcome)
    })
    if (matches && JSON.stringify(projectModel(candidate)) === target) return candidate
  }
  return undefined
}

const runScenario = (scenario: Scenario) =>
  Effect.gen(function*() {
    const world = yield* setUp(scenario)
    let model = initialModel(scenario.events)
    for (const [stepIndex, commands] of scenario.steps.entries()) {
      const batch: Array<Resolved> = []
      for (const command of commands) batch.push(yield* resolve(scenario, model, command))
      if (batch.length === 1) {
        const outcome = yield* execute(world, batch[0]!)
        const expected = step(model, batch[0]!, outcome.ok ? outcome.id : null)
        expect({ step: stepIndex, command: batch[0], outcome }).toEqual({ step: stepIndex, command: batch[0], outcome: expected })
        const observed = yield* observe(world)
        yield* checkInvariants(world, observed)
        expect(projectObserved(observed)).toEqual(projectModel(model))
      } else {
        const outcomes = yield* Effect.forEach(batch, (command) => execute(world, command), { concurrency: "unbounded" })
        const observed = yield* observe(world)
        yield* checkInvariants(world, observed)
        const next = serialise(model, batch, outcomes, observed)
        if (next === undefined) {
          expect.fail(
            `step ${stepIndex}: no serial order of ${JSON.stringify(batch)} explains outcomes ${JSON.stringify(outcomes)} ` +
              `and state ${JSON.stringify(projectObserved(observed))} from ${JSON.stringify(projectModel(model))}`
          )
        }
        model = next!
      }
    }
  })

/**
 * Makes every repository call yield to the scheduler first, so that concurrent use-cases interleave at
 * each port call even when the implementation answers synchronously (memory): a missing lock then shows
 * up as a non-serialisable batch instead of passing by luck.
 */
const yieldingCalls = <S extends object>(service: S): S =>
  Object.fromEntries(
    Object.entries(service).map(([name, member]) => [
      name,
      typeof member === "function"
        ? (...args: Array<unknown>) => Effect.andThen(Effect.yieldNow, () => member(...args))
        : member
    ])
  ) as S

const interleaved = <E>(portsLayer: Layer.Layer<Ports, E>): Layer.Layer<Ports, E> =>
  Layer.effectContext(Effect.gen(function*() {
    const context = yield* Effect.context<Ports>()
    return context.pipe(
      Context.add(EventRepository, yieldingCalls(Context.get(context, EventRepository))),
      Context.add(RegistrationRepository, yieldingCalls(Context.get(context, RegistrationRepository)))
    )
  })).pipe(Layer.provide(portsLayer))

/**
 * Options of {@link waitlistProperties}. `numRuns` per property; `maxSteps` bounds a scenario's length;
 * `seed` replays a failure reported by fast-check.
 *
 * @since 0.1.0
 */
export interface WaitlistPropertiesOptions {
  readonly numRuns: number
  readonly maxSteps?: number | undefined
  readonly seed?: number | undefined
  /** Per-property test timeout in milliseconds (default 120 s). */
  readonly timeout?: number | undefined
}

/**
 * Registers the waitlist properties (sequential, and with concurrent batches) on the use-cases built on
 * `portsLayer`.
 *
 * @since 0.1.0
 */
export const waitlistProperties = <E>(
  name: string,
  portsLayer: Layer.Layer<Ports, E>,
  options: WaitlistPropertiesOptions
): void => {
  const useCases = Layer.mergeAll(Events.layer, Registrations.layer, Users.layer).pipe(
    Layer.provideMerge(interleaved(portsLayer))
  )
  const timeout = options.timeout ?? 120_000
  layer(useCases, { excludeTestServices: true, timeout: "60 seconds" })(`Waitlist properties (${name})`, (it) => {
    for (const concurrent of [false, true]) {
      it.effect(
        concurrent
          ? "concurrent batches are serialisable and keep I1–I4, counters and FIFO order"
          : "sequential commands match the FIFO model and keep I1–I4 and counters",
        () =>
          Effect.gen(function*() {
            const context = yield* Effect.context<Events | Registrations | Users | Ports>()
            const run = Effect.runPromiseWith(context)
            yield* Effect.promise(() =>
              fc.assert(
                fc.asyncProperty(scenarioArbitrary(concurrent, options.maxSteps ?? 25), (scenario) =>
                  run(runScenario(scenario))),
                { numRuns: options.numRuns, ...(options.seed === undefined ? {} : { seed: options.seed }) }
              )
            )
          }),
        timeout
      )
    }
  })
}
