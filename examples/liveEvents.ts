/**
 * What the Node, Fastify and Express examples share: the engine in a `ManagedRuntime`, and the
 * host's handful of operations on it, each validating its input with the library's own schemas and
 * answering a {@link Reply} (a status and a JSON or `application/problem+json` body) that any HTTP
 * framework can send as it is.
 *
 * Who calls is the host's business (its own authentication): the examples take a subject and a role
 * from the `x-user` / `x-role` headers, a stand-in for a verified token.
 */
import { Event, Events, Ids, Registration, Registrations, type User, Users } from "@live-events/domain"
import { Engine, LiveFeed, OutboxDelivery, Problem } from "@live-events/engine"
import { Effect, Fiber, Layer, type LogLevel, ManagedRuntime, References, Stream } from "effect"

/** An answer any framework can send: status, headers, JSON body. */
export interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: unknown
}

/** The caller, as the host's authentication established it. */
export interface Caller {
  readonly subject: string
  readonly role: "organizer" | "attendee"
}

/** The caller from the example's stand-in headers; `undefined` when there is none. */
export const callerFrom = (headers: Record<string, string | Array<string> | undefined>): Caller | undefined => {
  const subject = headers["x-user"]
  if (typeof subject !== "string" || subject === "") return undefined
  return { subject, role: headers["x-role"] === "organizer" ? "organizer" : "attendee" }
}

export interface Options {
  /** The engine to run; default: embedded PGlite in memory, everything else at its defaults. */
  readonly engine?: Layer.Layer<Engine.Services, unknown> | undefined
  /** The lowest level the engine's logs are written at (default "Warn": a host's stdout is its own). */
  readonly logLevel?: LogLevel.LogLevel | undefined
}

/** The problem of a request that names no caller. */
const unauthenticated = Problem.make(401, "unauthenticated", "Send x-user (and x-role) headers")

const problemReply = (problem: Problem.Problem, instance: string): Reply => ({
  status: problem.status,
  headers: { ...problem.headers, "content-type": Problem.contentType },
  body: Problem.toBody(problem, { instance })
})

export const makeLiveEvents = (options: Options = {}) => {
  const engine = options.engine ?? Engine.layer({ store: Engine.storeEmbedded({ dataDir: undefined }) })
  const runtime = ManagedRuntime.make(
    Layer.merge(engine, Layer.succeed(References.MinimumLogLevel, options.logLevel ?? "Warn"))
  )

  // What the relay published, as seen by this process (the host would react to these instead).
  const published: Array<string> = []
  const watcher = runtime.runFork(Effect.scoped(Effect.gen(function*() {
    const feed = yield* LiveFeed.LiveFeed
    const stream = yield* feed.subscribe()
    yield* Stream.runForEach(stream, (item) =>
      Effect.sync(() => {
        if (item._tag === "Message") published.push(item.message.type)
      }))
  })))

  /** Runs a use-case as `caller`, answering `status` with its result or the problem of its failure. */
  const run = <A>(
    instance: string,
    status: number,
    caller: Caller | undefined,
    use: (actor: User.Actor) => Effect.Effect<A, unknown, Engine.Services>
  ): Promise<Reply> => {
    if (caller === undefined) return Promise.resolve(problemReply(unauthenticated, instance))
    const program = Effect.gen(function*() {
      const users = yield* Users.Users
      const user = yield* users.provision({ subject: caller.subject })
      return yield* use({ userId: user.id, roles: [caller.role] })
    })
    return runtime.runPromise(program.pipe(
      Effect.map((body): Reply => ({ status, headers: { "content-type": "application/json" }, body })),
      Effect.catch((error) => Effect.succeed(problemReply(Problem.fromUnknown(error), instance)))
    ))
  }

  return {
    /**
     * Builds the engine (opens the database, runs the migrations, starts the relay): call it before
     * listening, so a bad database fails the start rather than the first request.
     */
    ready: async (): Promise<void> => {
      await runtime.context()
    },

    /** `POST /events`: creates an event and publishes it at once (organizers). */
    createEvent: (caller: Caller | undefined, body: unknown) =>
      run("/events", 201, caller, (actor) =>
        Effect.gen(function*() {
          const input = yield* Problem.decode(Event.CreateEventInput, body, "body")
          const events = yield* Events.Events
          const created = yield* events.create(actor, input)
          return yield* events.publish(actor, created.id)
        })),

    /** `POST /events/{id}/registrations`. */
    register: (caller: Caller | undefined, eventId: string, body: unknown) =>
      run(`/events/${eventId}/registrations`, 201, caller, (actor) =>
        Effect.gen(function*() {
          const id = yield* Problem.decode(Ids.EventId, eventId, "id")
          const input = yield* Problem.decode(Registration.RegisterInput, body ?? {}, "body")
          return yield* Effect.flatMap(Registrations.Registrations, (use) => use.register(actor, id, input))
        })),

    /** `GET /registrations/{id}`. */
    getRegistration: (caller: Caller | undefined, registrationId: string) =>
      run(`/registrations/${registrationId}`, 200, caller, (actor) =>
        Effect.gen(function*() {
          const id = yield* Problem.decode(Ids.RegistrationId, registrationId, "id")
          return yield* Effect.flatMap(Registrations.Registrations, (use) => use.get(actor, id))
        })),

    /** `DELETE /registrations/{id}`: cancels; the head of the waitlist is promoted. */
    cancel: (caller: Caller | undefined, registrationId: string) =>
      run(`/registrations/${registrationId}`, 200, caller, (actor) =>
        Effect.gen(function*() {
          const id = yield* Problem.decode(Ids.RegistrationId, registrationId, "id")
          return yield* Effect.flatMap(Registrations.Registrations, (use) => use.cancel(actor, id))
        })),

    /** `GET /outbox`: the backlog (pending, dead letters) and what this process saw published. */
    outbox: (): Promise<Reply> =>
      runtime.runPromise(Effect.gen(function*() {
        const lag = yield* OutboxDelivery.OutboxLag
        const report = yield* lag.check
        return {
          status: 200,
          headers: { "content-type": "application/json" },
          body: { pending: report.pending, deadLettered: report.deadLettered, published: [...published] }
        }
      })),

    /** The problem answer for a request the host itself refuses (unreadable JSON, unknown route). */
    refuse: (status: number, code: string, detail: string, instance: string): Reply =>
      problemReply(Problem.make(status, code, detail), instance),

    /** Stops the relay and closes the database. */
    close: async () => {
      await runtime.runPromise(Fiber.interrupt(watcher))
      await runtime.dispose()
    }
  }
}

export type LiveEvents = ReturnType<typeof makeLiveEvents>
