/**
 * The benchmark scenarios. Each one prepares its state through the public HTTP API of the server
 * under test (so baseline and ours start from equivalent data), then describes the load as a
 * request generator. Preparation is not measured; a short warm-up precedes every measurement.
 */
import { eventBody, expectJson, mapBounded } from "./lib/http.ts"
import type { PlannedRequest } from "./lib/load.ts"
import { mintToken } from "./lib/token.ts"

/** A server under test, as the scenarios see it. */
export interface Target {
  readonly kind: "ours" | "baseline" | "raw" | "embedded" | "unsealed" | "previous"
  readonly port: number
  /** The server's process id (its CPU time is read from /proc). */
  readonly pid?: number | undefined
  readonly secret: string
  /** Unique per target and run, so users never collide across phases. */
  readonly tag: string
  /** State shared by scenarios on the same target (e.g. the 1,000 events). */
  readonly shared: Map<string, unknown>
  /** False once the server process has exited. */
  readonly isAlive: () => boolean
}

/** A prepared load: a request generator, and optionally a fixed request count. */
export interface PreparedLoad {
  readonly next: () => PlannedRequest
  readonly amount?: number
  /** Requests to send (unmeasured) before the measurement, e.g. to warm caches. */
  readonly warmup?: ReadonlyArray<PlannedRequest>
  /** A line printed after the measurement (e.g. the cache hit ratio it produced). */
  readonly report?: () => Promise<string>
}

/** One scenario. */
export interface Scenario {
  readonly name: string
  readonly description: string
  /** Which targets it runs on, in addition to baseline and ours. */
  readonly alsoRaw?: boolean
  /** The baseline lacks the routes: run on ours (and raw) only. */
  readonly withoutBaseline?: boolean
  readonly connections: number
  readonly prepare: (target: Target) => Promise<PreparedLoad>
  /** Goals printed against the result, each a ratio of ours over a reference. */
  readonly goals?: ReadonlyArray<Goal>
  /** Our server's CPU per 2xx answer, at most (milliseconds). */
  readonly cpuGoalMs?: number
  /** Ours on embedded PGlite (`--embedded`): 2xx answers per second, at least. */
  readonly embeddedGoal?: number
}

/**
 * Ours ≥ `ratio` × the reference's throughput (and p99 ≤ `p99Ms`), or ours' p50 ≤ `p50AtMost` × the
 * reference's p50.
 */
export interface Goal {
  readonly ratio?: number
  readonly p50AtMost?: number
  readonly against: "baseline" | "raw" | "unsealed" | "ours" | "previous"
  /** The scenario whose reference measurement counts (default: this one). */
  readonly scenario?: string
  readonly p99Ms?: number
}

/** Knobs, all overridable from the environment by the runner. */
export interface ScenarioConfig {
  readonly connections: number
  readonly hotConnections: number
  readonly events: number
  readonly eventCapacity: number
  readonly hotCapacity: number
  readonly cancelCapacity: number
  readonly waitlistLength: number
  readonly cancels: number
  readonly setupParallelism: number
  /** Zipf exponent of `read-zipf`, in hundredths (100 = s 1.0). */
  readonly zipfExponentPercent: number
  /** Share of `read-zipf` requests that register (invalidating their event), per thousand. */
  readonly zipfWritesPerMille: number
  /** Users of `read-auth`, each with one registration and a token used for all its reads. */
  readonly readers: number
}

const organizerToken = (target: Target) => mintToken(target.secret, { sub: `bench-organizer-${target.tag}`, roles: ["organizer"] }, 86_400)

let userCounter = 0
/** A token for a user never seen before (the servers provision users on first request). */
const freshUser = (target: Target): { sub: string; token: string } => {
  userCounter += 1
  const sub = `bench-${target.tag}-${userCounter}`
  // With the contact data an identity provider's token carries: a new person's profile to seal.
  return {
    sub,
    token: mintToken(target.secret, { sub, roles: ["attendee"], email: `${sub}@bench.example.org`, name: `Bench Person ${userCounter}` }, 86_400)
  }
}

const createPublishedEvents = async (target: Target, count: number, capacity: number, parallelism: number): Promise<Array<string>> => {
  const token = organizerToken(target)
  return mapBounded(Array.from({ length: count }, (_, i) => i), parallelism, async (i) => {
    const event = await expectJson([201], target.port, "POST", "/v1/events", { token, body: eventBody(`Bench event ${i}`, capacity), timeoutMs: 60_000 })
    await expectJson([200, 201], target.port, "POST", `/v1/events/${event.id}/publish`, { token })
    return event.id as string
  })
}

/** The 1,000 published events shared by the low-contention, read and mixed scenarios. */
const sharedEvents = async (target: Target, config: ScenarioConfig): Promise<Array<string>> => {
  const key = "events"
  const existing = target.shared.get(key) as Array<string> | undefined
  if (existing !== undefined) return existing
  const created = await createPublishedEvents(target, config.events, config.eventCapacity, config.setupParallelism)
  target.shared.set(key, created)
  return created
}

const registerRequest = (target: Target, eventId: string): PlannedRequest => ({
  method: "POST",
  path: `/v1/events/${eventId}/registrations`,
  token: freshUser(target).token,
  body: { notes: "bench" }
})

const readRequest = (eventId: string): PlannedRequest => ({ method: "GET", path: `/v1/events/${eventId}` })

/** The fields of the REST event, as one GraphQL query (the same document every time, as clients send it). */
const graphqlEventQuery = "query Event($id: ID!) { event(id: $id) { id organizerId title description startsAt endsAt " +
  "timeZone location capacity waitlist { enabled limit } registrationClosesAt status confirmedCount waitlistCount " +
  "availableSeats version createdAt updatedAt } }"

const graphqlReadRequest = (eventId: string): PlannedRequest => ({
  method: "POST",
  path: "/graphql",
  body: { query: graphqlEventQuery, variables: { id: eventId } }
})

/** Ids of the raw server's events (it answers any). */
const rawEvents = (config: ScenarioConfig) =>
  Array.from({ length: config.events }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`)

/** Draws ranks 0..n-1 with P(k) ∝ 1/(k+1)^s: a few hot items, a long tail. */
const zipfSampler = (n: number, s: number): (() => number) => {
  const cumulative = new Float64Array(n)
  let total = 0
  for (let k = 0; k < n; k++) cumulative[k] = total += 1 / Math.pow(k + 1, s)
  return () => {
    const x = Math.random() * total
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if (cumulative[mid]! < x) low = mid + 1
      else high = mid
    }
    return low
  }
}

/** Sums of the `cache_*` counters of event details in our server's `/metrics` (0 elsewhere). */
const cacheCounters = async (target: Target) => {
  const totals = { l1Hits: 0, l1Misses: 0, l2Hits: 0, l2Misses: 0 }
  if (target.kind !== "ours") return totals
  const response = await fetch(`http://127.0.0.1:${target.port}/metrics`)
  for (const line of (await response.text()).split("\n")) {
    const match = /^cache_(hits|misses)_total\{([^}]*)\}\s+(\S+)/.exec(line)
    if (match === null || !match[2]!.includes('category="eventDetails"')) continue
    const tier = /tier="(l1|l2)"/.exec(match[2]!)?.[1]
    const value = Number(match[3])
    if (tier === "l1") totals[match[1] === "hits" ? "l1Hits" : "l1Misses"] += value
    if (tier === "l2") totals[match[1] === "hits" ? "l2Hits" : "l2Misses"] += value
  }
  return totals
}

/** All scenarios, in the order `bench/run.ts` runs them. */
export const scenarios = (config: ScenarioConfig): ReadonlyArray<Scenario> => [
  {
    name: "register-low",
    description: `register, ${config.events} published events round-robin, a new user per request`,
    connections: config.connections,
    // Sealing personal data (a data key per new person, email, name and notes sealed) costs ≤ 5 %.
    goals: [{ ratio: 2.0, against: "baseline" }, { ratio: 0.95, against: "unsealed" }],
    cpuGoalMs: 0.6,
    embeddedGoal: 400,
    prepare: async (target) => {
      const events = await sharedEvents(target, config)
      let i = 0
      return { next: () => registerRequest(target, events[i++ % events.length]!) }
    }
  },
  {
    // Batching must not add latency when idle: one client, one registration at a time.
    name: "register-one",
    description: `register, one sequential client, ${config.events} published events round-robin, a new user per request`,
    connections: 1,
    // Batching must not add latency when idle: compared with an earlier version (BENCH_PREVIOUS).
    goals: [{ p50AtMost: 1.2, against: "previous" }],
    prepare: async (target) => {
      const events = await sharedEvents(target, config)
      let i = 0
      return { next: () => registerRequest(target, events[i++ % events.length]!) }
    }
  },
  {
    name: "register-hot",
    description: `register, one event (capacity ${config.hotCapacity}, unlimited waitlist), a new user per request`,
    connections: config.hotConnections,
    goals: [{ ratio: 3.0, against: "baseline", p99Ms: 100 }, { ratio: 0.95, against: "unsealed" }],
    cpuGoalMs: 0.6,
    prepare: async (target) => {
      const [eventId] = await createPublishedEvents(target, 1, config.hotCapacity, 1)
      return { next: () => registerRequest(target, eventId!) }
    }
  },
  {
    name: "read",
    description: `GET /v1/events/{id} over ${config.events} events, after one warm-up pass`,
    connections: config.connections,
    alsoRaw: true,
    goals: [{ ratio: 0.5, against: "raw", p99Ms: 10 }, { ratio: 2.0, against: "baseline" }],
    prepare: async (target) => {
      const events = target.kind === "raw" ? rawEvents(config) : await sharedEvents(target, config)
      let i = 0
      return { next: () => readRequest(events[i++ % events.length]!), warmup: events.map(readRequest) }
    }
  },
  {
    name: "read-graphql",
    description: `the cached read of "read" as a GraphQL query (POST /graphql, event(id) with the REST fields) over ${config.events} events`,
    connections: config.connections,
    withoutBaseline: true,
    goals: [{ ratio: 0.5, against: "ours", scenario: "read" }],
    prepare: async (target) => {
      const events = await sharedEvents(target, config)
      let i = 0
      return { next: () => graphqlReadRequest(events[i++ % events.length]!), warmup: events.map(graphqlReadRequest) }
    }
  },
  {
    name: "read-auth",
    description: `authenticated cached reads with a repeated token: GET /v1/registrations/{id} and GET /v1/me/registrations ` +
      `alternately, ${config.readers} users each holding one registration (raw: its event read)`,
    connections: config.connections,
    alsoRaw: true,
    withoutBaseline: true,
    goals: [{ ratio: 0.35, against: "raw" }, { ratio: 2.0, against: "baseline", scenario: "read" }],
    prepare: async (target) => {
      if (target.kind === "raw") {
        const events = rawEvents(config)
        let i = 0
        return { next: () => readRequest(events[i++ % events.length]!), warmup: events.map(readRequest) }
      }
      const events = await sharedEvents(target, config)
      const readers = await mapBounded(Array.from({ length: config.readers }, (_, i) => i), config.setupParallelism, async (i) => {
        const user = freshUser(target)
        const registration = await expectJson([201], target.port, "POST", `/v1/events/${events[i % events.length]}/registrations`, {
          token: user.token,
          body: {}
        })
        return { token: user.token, registrationId: registration.id as string }
      })
      const requests = readers.flatMap((reader): Array<PlannedRequest> => [
        { method: "GET", path: `/v1/registrations/${reader.registrationId}`, token: reader.token },
        { method: "GET", path: "/v1/me/registrations", token: reader.token }
      ])
      let i = 0
      return { next: () => requests[i++ % requests.length]!, warmup: requests }
    }
  },
  {
    name: "read-zipf",
    description: `GET /v1/events/{id}, Zipf (s ${config.zipfExponentPercent / 100}) over ${config.events} events, ` +
      `${config.zipfWritesPerMille / 10} % registrations (each invalidates its event); cache hit ratio from /metrics`,
    connections: config.connections,
    prepare: async (target) => {
      const events = await sharedEvents(target, config)
      const rank = zipfSampler(events.length, config.zipfExponentPercent / 100)
      const before = await cacheCounters(target)
      return {
        next: () => {
          const eventId = events[rank()]!
          return Math.random() * 1000 < config.zipfWritesPerMille ? registerRequest(target, eventId) : readRequest(eventId)
        },
        report: async () => {
          if (target.kind !== "ours") return "cache hit ratio: n/a (no cache)"
          const after = await cacheCounters(target)
          const l1Hits = after.l1Hits - before.l1Hits
          const l2Hits = after.l2Hits - before.l2Hits
          const reads = l1Hits + after.l1Misses - before.l1Misses
          if (reads === 0) return "cache hit ratio: n/a (no cache reads: CACHE_ENABLED=false?)"
          const ratio = reads === 0 ? 0 : (l1Hits + l2Hits) / reads
          return `cache hit ratio (event details, warm-up + measurement): ${(ratio * 100).toFixed(1)} % of ${reads} reads ` +
            `(L1 ${l1Hits}, L2 ${l2Hits}, misses ${reads - l1Hits - l2Hits}); ` +
            `goal ≥ 90 %: ${ratio >= 0.9 ? "MET" : "NOT MET"}`
        }
      }
    }
  },
  {
    name: "cancel",
    description: `cancel confirmed registrations of one event (capacity ${config.cancelCapacity}) with a waitlist of ${config.waitlistLength}; each cancel promotes the head`,
    connections: config.connections,
    prepare: async (target) => {
      const [eventId] = await createPublishedEvents(target, 1, config.cancelCapacity, 1)
      const total = config.cancelCapacity + config.waitlistLength
      // Join sequentially in small parallel batches; the answers tell who is confirmed and each waiter's position.
      const joined = await mapBounded(Array.from({ length: total }, (_, i) => i), config.setupParallelism, async () => {
        const user = freshUser(target)
        const registration = await expectJson([201], target.port, "POST", `/v1/events/${eventId}/registrations`, { token: user.token, body: {} })
        return { id: registration.id as string, token: user.token, status: registration.status as string, position: (registration.waitlistPosition ?? 0) as number }
      })
      // Cancel in seat order: first the confirmed, then the waiters in queue order, so each target is
      // (almost always) confirmed when its cancel arrives and every cancel promotes the next head.
      const ordered = [
        ...joined.filter((r) => r.status === "confirmed"),
        ...joined.filter((r) => r.status === "waitlisted").sort((a, b) => a.position - b.position)
      ]
      const amount = Math.min(config.cancels, ordered.length)
      let i = 0
      return {
        amount,
        next: () => {
          const target = ordered[i++ % ordered.length]!
          return { method: "POST", path: `/v1/registrations/${target.id}/cancel`, token: target.token, body: {} }
        }
      }
    }
  },
  {
    name: "mixed",
    description: `90 % GET event / 10 % register (new user) over ${config.events} events`,
    connections: config.connections,
    prepare: async (target) => {
      const events = await sharedEvents(target, config)
      let i = 0
      return {
        next: () => {
          i += 1
          const eventId = events[(i * 7919) % events.length]!
          return i % 10 === 0 ? registerRequest(target, eventId) : readRequest(eventId)
        }
      }
    }
  }
]
