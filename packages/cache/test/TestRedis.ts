/**
 * Redis for the tests: a hard precondition (the suites FAIL, never skip, when 127.0.0.1:6379 is down) and
 * a side connection that kills the cache's connections by client name, as a network fault would.
 */
import { Effect, Layer } from "effect"
import { createClient } from "redis"

/** `CACHE_TEST_REDIS_URL` overrides it (e.g. to check that the suites fail without Redis). */
export const REDIS_URL = process.env.CACHE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

const adminClient = () => createClient({ url: REDIS_URL, socket: { reconnectStrategy: false, connectTimeout: 2_000 } })

const withAdmin = <A>(f: (client: ReturnType<typeof adminClient>) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: async () => {
        const client = adminClient()
        client.on("error", () => {})
        await client.connect()
        return client
      },
      catch: (cause) =>
        new Error(`Redis at ${REDIS_URL} is required by these tests and is not reachable: ${String(cause)}`)
    }),
    (client) => Effect.promise(() => f(client)),
    (client) => Effect.promise(() => client.close())
  )

/** Fails when Redis does not answer PING. */
export const requireRedis: Effect.Effect<void, Error> = withAdmin((client) => client.ping()).pipe(Effect.asVoid)

/** Provide this to a cache layer so that its construction fails without Redis. */
export const redisRequired: Layer.Layer<never, Error> = Layer.effectDiscard(requireRedis)

/** `CLIENT KILL`s every connection whose name is `name`; returns how many. */
export const killClients = (name: string): Effect.Effect<number, Error> =>
  withAdmin(async (client) => {
    const list = await client.sendCommand(["CLIENT", "LIST"]) as string
    const ids = list.split("\n")
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined)
    for (const id of ids) await client.sendCommand(["CLIENT", "KILL", "ID", id])
    return ids.length
  })

/** Runs a raw command on a side connection. */
export const command = (...args: ReadonlyArray<string>): Effect.Effect<unknown, Error> =>
  withAdmin((client) => client.sendCommand([...args]))

/** Deletes every key this test run created (they would otherwise expire within 24 h). */
export const deleteRunKeys = (run: string): Effect.Effect<number, Error> =>
  withAdmin(async (client) => {
    let deleted = 0
    for await (const keys of client.scanIterator({ MATCH: `lec-test:*${run}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await client.del(keys)
    }
    return deleted
  })
