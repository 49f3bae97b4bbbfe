/**
 * Environment knobs shared by the benchmark and chaos scripts. Every knob has a short default so a
 * bare `node bench/run.ts` finishes in minutes; overrides are read once, here, and printed with the
 * results so a table always says how it was produced.
 */

/** Reads a positive integer from the environment, or the default. */
export const intEnv = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`)
  return value
}

/** Reads a string from the environment, or the default. */
export const strEnv = (name: string, fallback: string): string => {
  const raw = process.env[name]
  return raw === undefined || raw === "" ? fallback : raw
}

/** Reads a boolean flag (`1`, `true`, `yes`) from the environment. */
export const boolEnv = (name: string, fallback: boolean): boolean => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  return ["1", "true", "yes", "on"].includes(raw.toLowerCase())
}

/**
 * The PostgreSQL server every script talks to, as an admin connection string (the same variable as
 * `npm run bench:cancel`): by default local, user postgres, trust auth. Scratch databases are
 * created next to the database it names.
 */
export const pgAdminUrl = new URL(strEnv("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
export const pgHost = pgAdminUrl.hostname
export const pgPort = Number(pgAdminUrl.port || 5432)
export const pgUser = decodeURIComponent(pgAdminUrl.username || "postgres")

/** Scripts only ever send traffic to the loopback interface. */
export const loopback = "127.0.0.1"

/** The repository root (bench/ and chaos/ sit directly under it). */
export const repoRoot = new URL("../../", import.meta.url).pathname

/** Bounded sleep. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
