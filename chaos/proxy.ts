/**
 * A fault-injecting TCP proxy for the chaos harness: it sits between one server process and one
 * dependency (PostgreSQL, Redis, NATS) so that a fault can hit every process (all proxies of a
 * dependency) or cut one process off while the others keep going (that process's proxy only).
 *
 * Faults, each switched on and off at run time:
 * - latency: every chunk is delivered `ms` later, in order (a slow network or a slow server);
 * - black hole: connections are accepted, nothing is forwarded and nothing answered — data already
 *   sent waits (as TCP would retransmit it) and flows again when the hole closes, unless the peer gave up;
 * - down: every connection is cut and new ones are refused (the listening socket closes), as while a
 *   server restarts;
 * - reset: every open connection is reset now (TCP RST both ways);
 * - reset chance: each client chunk resets its connection with this probability, half of the time
 *   before the chunk reaches the server and half of the time right after (the server may then commit a
 *   transaction whose answer the client never sees: the ambiguous case).
 *
 * It is harness code: plain Node `net`, no Effect, bounded buffers are left to TCP flow control.
 */
import { createServer, type Server, type Socket, connect } from "node:net"

/** Counters, for the unit tests and the run report. */
export interface ProxyStats {
  accepted: number
  refused: number
  resets: number
  /** Connections open right now. */
  open: number
}

export interface FaultProxy {
  readonly name: string
  readonly port: number
  readonly stats: ProxyStats
  /** Delay added to every chunk, both directions (0: none). */
  readonly setLatency: (ms: number) => void
  readonly setBlackHole: (on: boolean) => void
  /** Cut everything and refuse new connections until {@link up}. */
  readonly down: () => Promise<void>
  readonly up: () => Promise<void>
  readonly resetAll: () => number
  /** Probability (0..1) that a client chunk resets its connection. */
  readonly setResetChance: (probability: number) => void
  readonly close: () => Promise<void>
}

interface Pair {
  readonly client: Socket
  upstream: Socket | undefined
  /** Chunks held while black-holed, per direction, in order. */
  readonly held: Array<{ readonly toUpstream: boolean; readonly chunk: Buffer }>
  /** Delivery time of the last delayed chunk per direction: keeps order under latency. */
  lastToUpstream: number
  lastToClient: number
  closed: boolean
}

const loopback = "127.0.0.1"

const reset = (socket: Socket | undefined) => {
  if (socket === undefined || socket.destroyed) return
  // resetAndDestroy sends a RST where the platform allows it (a crash or a middlebox, not a FIN).
  if (typeof socket.resetAndDestroy === "function" && socket.readyState !== "opening") socket.resetAndDestroy()
  else socket.destroy()
}

/**
 * Starts a proxy on `listenPort` (0: any free port) forwarding to 127.0.0.1:`targetPort`.
 * `random` is injectable so that a chaos run's choices follow its seed.
 */
export const start = async (options: {
  readonly name: string
  readonly targetPort: number
  readonly listenPort?: number
  readonly random?: () => number
}): Promise<FaultProxy> => {
  const random = options.random ?? Math.random
  const stats: ProxyStats = { accepted: 0, refused: 0, resets: 0, open: 0 }
  const pairs = new Set<Pair>()
  let latencyMs = 0
  let blackHole = false
  let resetChance = 0
  let isDown = false

  const closePair = (pair: Pair, how: "reset" | "end") => {
    if (pair.closed) return
    pair.closed = true
    pairs.delete(pair)
    stats.open -= 1
    if (how === "reset") {
      stats.resets += 1
      reset(pair.client)
      reset(pair.upstream)
    } else {
      pair.client.destroy()
      pair.upstream?.destroy()
    }
  }

  const deliver = (pair: Pair, toUpstream: boolean, chunk: Buffer) => {
    if (pair.closed) return
    // Held chunks go first: nothing overtakes them.
    if (blackHole || pair.upstream === undefined || pair.held.length > 0) {
      pair.held.push({ toUpstream, chunk })
      return
    }
    send(pair, toUpstream, chunk)
  }

  const send = (pair: Pair, toUpstream: boolean, chunk: Buffer) => {
    const target = toUpstream ? pair.upstream! : pair.client
    if (latencyMs <= 0) {
      target.write(chunk)
      return
    }
    const now = performance.now()
    const at = Math.max(now + latencyMs, toUpstream ? pair.lastToUpstream : pair.lastToClient)
    if (toUpstream) pair.lastToUpstream = at
    else pair.lastToClient = at
    setTimeout(() => {
      if (!pair.closed) target.write(chunk)
    }, at - now)
  }

  const flushHeld = (pair: Pair) => {
    if (pair.upstream === undefined || blackHole || pair.closed) return
    for (const { toUpstream, chunk } of pair.held.splice(0)) send(pair, toUpstream, chunk)
  }

  const openUpstream = (pair: Pair) => {
    const upstream = connect({ host: loopback, port: options.targetPort })
    pair.upstream = upstream
    upstream.setNoDelay(true)
    // Writes before the connect are queued by Node, so held chunks may go at once.
    flushHeld(pair)
    upstream.on("data", (chunk: Buffer) => deliver(pair, false, chunk))
    // The server went away: the client sees the same (an end, or a reset on error).
    upstream.on("end", () => closePair(pair, "end"))
    upstream.on("error", () => closePair(pair, "reset"))
    upstream.on("close", () => closePair(pair, "end"))
  }

  const onConnection = (client: Socket) => {
    if (isDown) {
      stats.refused += 1
      reset(client)
      return
    }
    stats.accepted += 1
    stats.open += 1
    client.setNoDelay(true)
    const pair: Pair = { client, upstream: undefined, held: [], lastToUpstream: 0, lastToClient: 0, closed: false }
    pairs.add(pair)
    client.on("data", (chunk: Buffer) => {
      if (resetChance > 0 && !blackHole && random() < resetChance) {
        // Before or after the chunk reaches the server: the second leaves the client not knowing.
        if (random() < 0.5 && pair.upstream !== undefined) {
          pair.upstream.write(chunk, () => closePair(pair, "reset"))
          return
        }
        closePair(pair, "reset")
        return
      }
      deliver(pair, true, chunk)
    })
    client.on("end", () => closePair(pair, "end"))
    client.on("error", () => closePair(pair, "reset"))
    client.on("close", () => closePair(pair, "end"))
    // Black-holed: accepted, but the server is not even reached until the hole closes.
    if (!blackHole) openUpstream(pair)
  }

  let server: Server = createServer(onConnection)
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, loopback, () => {
        server.off("error", reject)
        const address = server.address()
        resolve(typeof address === "object" && address !== null ? address.port : port)
      })
    })
  const port = await listen(options.listenPort ?? 0)
  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()))

  const resetAll = () => {
    const count = pairs.size
    for (const pair of [...pairs]) closePair(pair, "reset")
    return count
  }

  return {
    name: options.name,
    port,
    stats,
    setLatency: (ms) => {
      latencyMs = Math.max(0, ms)
    },
    setBlackHole: (on) => {
      blackHole = on
      if (on) return
      for (const pair of [...pairs]) {
        if (pair.upstream === undefined) openUpstream(pair)
        else flushHeld(pair)
      }
    },
    down: async () => {
      if (isDown) return
      isDown = true
      resetAll()
      // Closing the listener makes new connections fail with ECONNREFUSED, as against a stopped server.
      await closeServer()
    },
    up: async () => {
      if (!isDown) return
      server = createServer(onConnection)
      // The port may be briefly unavailable; a few tries, then the error surfaces.
      for (let attempt = 0; ; attempt++) {
        try {
          await listen(port)
          break
        } catch (error) {
          if (attempt >= 20) throw error
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      isDown = false
    },
    resetAll,
    setResetChance: (probability) => {
      resetChance = Math.min(1, Math.max(0, probability))
    },
    close: async () => {
      isDown = true
      resetAll()
      if (server.listening) await closeServer()
    }
  }
}
