/**
 * The chaos harness's broker check (`node chaos/run.ts --nats`): the servers publish their outbox to
 * a NATS JetStream stream made for this run; after the traffic, once the relays have drained, every
 * committed outbox message must be in the stream exactly once (JetStream drops redeliveries by
 * `Nats-Msg-Id`) and nothing else may be there (no message of a rolled-back change). The stream is
 * deleted afterwards.
 */
import pg from "pg"
import { sleep } from "../bench/lib/env.ts"

/** The NATS server of the run (its own instance; NATS_URL only when a run brings none). */
export let natsUrl = process.env.NATS_URL ?? "127.0.0.1:4222"

export const useServer = (url: string) => {
  natsUrl = url
}

/** A unique stream (and subject prefix) per run. */
export const streamFor = (seed: number) => {
  const stream = `CHAOS_${process.pid}_${seed}_${Date.now()}`
  return { stream, subjectPrefix: stream.toLowerCase() }
}

export const serverEnv = (target: { stream: string; subjectPrefix: string }, url = natsUrl) => ({
  NATS_URL: url,
  NATS_STREAM: target.stream,
  NATS_SUBJECT_PREFIX: target.subjectPrefix
})

const withClient = async <A>(databaseUrl: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: databaseUrl, options: "-c search_path=live_events" })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Waits (bounded) until no outbox message is pending; returns what is left. */
export const waitForDrain = async (databaseUrl: string, timeoutMs: number) => {
  const started = performance.now()
  for (;;) {
    const { pending, dead } = await withClient(databaseUrl, async (client) => {
      const result = await client.query(`SELECT
        count(*) FILTER (WHERE published_at IS NULL AND dead_lettered_at IS NULL)::int AS pending,
        count(*) FILTER (WHERE dead_lettered_at IS NOT NULL)::int AS dead FROM outbox`)
      return result.rows[0] as { pending: number; dead: number }
    })
    if (pending === 0 || performance.now() - started > timeoutMs) {
      return { pending, deadLettered: dead, waitedMs: performance.now() - started }
    }
    await sleep(200)
  }
}

export interface Comparison {
  readonly committed: number
  readonly inStream: number
  /** Committed (in the outbox table) but not in JetStream: lost. */
  readonly missing: ReadonlyArray<string>
  /** In JetStream but not in the outbox table: published for a change that did not commit. */
  readonly extra: ReadonlyArray<string>
  /** The same message id stored twice (dedup failed: a redelivery after the duplicate window). */
  readonly duplicates: ReadonlyArray<string>
}

/** Reads every message id of the stream and compares with the outbox table's ids. */
export const compare = async (databaseUrl: string, stream: string): Promise<Comparison> => {
  const committed = await withClient(databaseUrl, async (client) =>
    (await client.query("SELECT id::text AS id FROM outbox")).rows.map((row) => row.id as string)
  )
  const { connect } = await import("@nats-io/transport-node")
  const { jetstreamManager } = await import("@nats-io/jetstream")
  const connection = await connect({ servers: natsUrl, timeout: 5000 })
  const ids: Array<string> = []
  let inStream = 0
  try {
    const manager = await jetstreamManager(connection)
    const info = await manager.streams.info(stream)
    inStream = info.state.messages
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
      const message = await manager.streams.getMessage(stream, { seq })
      if (message === null) continue
      const id = message.header?.get("Nats-Msg-Id") || (message.json() as { id?: string }).id
      if (id) ids.push(id)
    }
  } finally {
    await connection.close()
  }
  const inTable = new Set(committed)
  const seen = new Map<string, number>()
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1)
  return {
    committed: committed.length,
    inStream,
    missing: committed.filter((id) => !seen.has(id)),
    extra: [...seen.keys()].filter((id) => !inTable.has(id)),
    duplicates: [...seen.entries()].filter(([, n]) => n > 1).map(([id]) => id)
  }
}

export const deleteStream = async (stream: string) => {
  const { connect } = await import("@nats-io/transport-node")
  const { jetstreamManager } = await import("@nats-io/jetstream")
  const connection = await connect({ servers: natsUrl, timeout: 5000 })
  try {
    const manager = await jetstreamManager(connection)
    await manager.streams.delete(stream).catch(() => false)
  } finally {
    await connection.close()
  }
}
