/**
 * Throw-away databases: every benchmark or chaos run creates its own database on the local
 * PostgreSQL and drops it at the end, so runs never see each other's rows.
 */
import pg from "pg"
import { pgAdminUrl } from "./env.ts"

/** A database created for one run. */
export interface ScratchDatabase {
  readonly name: string
  readonly url: string
  readonly drop: () => Promise<void>
}

/** The connection string of a database on the configured local server. */
export const databaseUrl = (name: string): string => {
  const url = new URL(pgAdminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const withAdmin = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: pgAdminUrl.toString() })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Creates `<prefix>_<pid>_<time>` and returns how to reach and drop it. */
export const createScratchDatabase = async (prefix: string): Promise<ScratchDatabase> => {
  const name = `${prefix}_${process.pid}_${Date.now()}`
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`))
  return {
    name,
    url: databaseUrl(name),
    drop: () =>
      withAdmin(async (client) => {
        // WITH (FORCE) ends leftover sessions, e.g. of a server process that was SIGKILLed.
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      })
  }
}

/**
 * Writes every dirty page out now (`CHECKPOINT` needs a superuser; the admin URL is one). Run before
 * each measurement: otherwise the checkpoint that the previous server's writes made due lands in the
 * middle of the next server's run and is charged to it.
 */
export const checkpoint = (): Promise<void> => withAdmin(async (client) => {
  await client.query("CHECKPOINT")
})

/** The server's version string, for the report. */
export const serverVersion = (): Promise<string> =>
  withAdmin(async (client) => (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]!.server_version)
