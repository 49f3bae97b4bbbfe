/**
 * The knobs of a {@link TwoLevelCache}: per-category lifetimes, the grace bound, factory timeouts and the
 * size of the in-process tier, with the defaults of the product specification (event details 5 min,
 * users 10 min, waitlist positions 1 min, counts 2 min) and a `Config` reader for the environment.
 *
 * @since 0.1.0
 */
import { Config, Duration } from "effect"

/**
 * What is cached. Each category has its own time to live; callers pick one per `getOrSet`.
 *
 * @since 0.1.0
 */
export type CacheCategory = "eventDetails" | "users" | "waitlistPositions" | "counts" | "default"

/** @since 0.1.0 */
export const categories: ReadonlyArray<CacheCategory> = [
  "eventDetails",
  "users",
  "waitlistPositions",
  "counts",
  "default"
]

/** @since 0.1.0 */
export interface CacheSettings {
  /** Fresh lifetime of an entry, per category. */
  readonly ttl: Readonly<Record<CacheCategory, Duration.Duration>>
  /**
   * How long after expiry a value may still be served: while a background refresh runs, or while
   * Redis or the factory fail. An invalidated value is never served, grace or not.
   */
  readonly grace: Duration.Duration
  /**
   * With a stale value at hand, wait this long for the refresh before answering with the stale value.
   * Zero answers stale at once (stale-while-revalidate).
   */
  readonly softTimeout: Duration.Duration
  /** The factory is interrupted after this long; the read then fails unless a stale value exists. */
  readonly hardTimeout: Duration.Duration
  /** Maximum number of entries in the in-process tier (least recently used are evicted). */
  readonly l1Capacity: number
  /** Cross-process single-flight: a miss takes a short Redis lease; others wait for its fill. */
  readonly lease: boolean
  /** Lease lifetime, and how long the other processes wait for the holder's value. */
  readonly leaseTimeout: Duration.Duration
}

/**
 * The specification's defaults.
 *
 * @since 0.1.0
 */
export const defaults: CacheSettings = {
  ttl: {
    eventDetails: Duration.minutes(5),
    users: Duration.minutes(10),
    waitlistPositions: Duration.minutes(1),
    counts: Duration.minutes(2),
    default: Duration.minutes(5)
  },
  grace: Duration.minutes(10),
  softTimeout: Duration.millis(50),
  hardTimeout: Duration.seconds(5),
  l1Capacity: 10_000,
  lease: false,
  leaseTimeout: Duration.millis(500)
}

/**
 * Settings with every field optional, merged over {@link defaults}.
 *
 * @since 0.1.0
 */
export interface CacheSettingsInput {
  readonly ttl?: Partial<Record<CacheCategory, Duration.Input>> | undefined
  readonly grace?: Duration.Input | undefined
  readonly softTimeout?: Duration.Input | undefined
  readonly hardTimeout?: Duration.Input | undefined
  readonly l1Capacity?: number | undefined
  readonly lease?: boolean | undefined
  readonly leaseTimeout?: Duration.Input | undefined
}

/** @since 0.1.0 */
export const make = (input: CacheSettingsInput = {}): CacheSettings => {
  const duration = (value: Duration.Input | undefined, fallback: Duration.Duration) =>
    value === undefined ? fallback : Duration.fromInputUnsafe(value)
  const ttl = { ...defaults.ttl }
  for (const category of categories) ttl[category] = duration(input.ttl?.[category], defaults.ttl[category])
  return {
    ttl,
    grace: duration(input.grace, defaults.grace),
    softTimeout: duration(input.softTimeout, defaults.softTimeout),
    hardTimeout: duration(input.hardTimeout, defaults.hardTimeout),
    l1Capacity: input.l1Capacity ?? defaults.l1Capacity,
    lease: input.lease ?? defaults.lease,
    leaseTimeout: duration(input.leaseTimeout, defaults.leaseTimeout)
  }
}

const durationVar = (name: string, fallback: Duration.Duration) =>
  Config.Duration(name).pipe(Config.withDefault(fallback))

/**
 * Reads the settings from the environment; every variable is optional:
 * `CACHE_TTL_EVENT_DETAILS`, `CACHE_TTL_USERS`, `CACHE_TTL_WAITLIST_POSITIONS`, `CACHE_TTL_COUNTS`,
 * `CACHE_TTL_DEFAULT`, `CACHE_GRACE`, `CACHE_SOFT_TIMEOUT`, `CACHE_HARD_TIMEOUT` (durations such as
 * `"5 minutes"`), `CACHE_L1_CAPACITY` (integer), `CACHE_LEASE` (boolean), `CACHE_LEASE_TIMEOUT`.
 *
 * @since 0.1.0
 */
export const config: Config.Config<CacheSettings> = Config.all({
  ttl: Config.all({
    eventDetails: durationVar("CACHE_TTL_EVENT_DETAILS", defaults.ttl.eventDetails),
    users: durationVar("CACHE_TTL_USERS", defaults.ttl.users),
    waitlistPositions: durationVar("CACHE_TTL_WAITLIST_POSITIONS", defaults.ttl.waitlistPositions),
    counts: durationVar("CACHE_TTL_COUNTS", defaults.ttl.counts),
    default: durationVar("CACHE_TTL_DEFAULT", defaults.ttl.default)
  }),
  grace: durationVar("CACHE_GRACE", defaults.grace),
  softTimeout: durationVar("CACHE_SOFT_TIMEOUT", defaults.softTimeout),
  hardTimeout: durationVar("CACHE_HARD_TIMEOUT", defaults.hardTimeout),
  l1Capacity: Config.Int("CACHE_L1_CAPACITY").pipe(Config.withDefault(defaults.l1Capacity)),
  lease: Config.Boolean("CACHE_LEASE").pipe(Config.withDefault(defaults.lease)),
  leaseTimeout: durationVar("CACHE_LEASE_TIMEOUT", defaults.leaseTimeout)
})
