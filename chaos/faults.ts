/**
 * The faults of the chaos harness besides SIGKILL (which run.ts does itself): each one breaks a
 * dependency for a while, through the run's own Redis and NATS servers or the per-process proxies,
 * then heals it. A fault reports when it started, when the dependency was back (the moment recovery is
 * measured from) and which server processes it hit.
 */
import { sleep } from "../bench/lib/env.ts"
import type { OwnServer, ProcessNetwork } from "./dependencies.ts"

export const kinds = [
  "kill",
  "pg-restart",
  "pg-blackhole",
  "pg-reset",
  "pg-slow",
  "redis-restart",
  "redis-partition",
  "nats-restart"
] as const
export type FaultKind = (typeof kinds)[number]

/** What each fault does, for the report (the matrix in docs/reliability.md says the same). */
export const descriptions: Record<FaultKind, string> = {
  kill: "SIGKILL of one server process, restarted 0.1–1.5 s later",
  "pg-restart": "PostgreSQL restart, emulated at every process's proxy: all connections cut, new ones refused for 3 s",
  "pg-blackhole": "PostgreSQL black-holed for 10 s at every process's proxy (accepted, never answered)",
  "pg-reset": "PostgreSQL connections reset mid-transaction for 8 s (3 % of client chunks, before or after they reach the server, plus every open connection at the start)",
  "pg-slow": "slow database for 10 s: +100 ms each way on every PostgreSQL chunk (+200 ms a round trip)",
  "redis-restart": "the run's Redis SIGKILLed, started again (empty) 3 s later",
  "redis-partition": "one process cut off from Redis (black hole) for 8 s while the others keep going",
  "nats-restart": "the run's NATS server SIGKILLed, started again 3 s later (JetStream store kept)"
}

export interface ChaosSlot {
  readonly index: number
  readonly network: ProcessNetwork
  up: boolean
}

export interface FaultContext {
  readonly slots: ReadonlyArray<ChaosSlot>
  readonly redis: OwnServer
  readonly nats: OwnServer | undefined
  readonly random: () => number
  /** Runs while a process is cut off from Redis: proves its cache serves nothing invalidated meanwhile. */
  readonly whilePartitioned: (slot: ChaosSlot, until: Promise<void>) => Promise<void>
}

/** One occurrence of a fault. */
export interface FaultWindow {
  readonly kind: FaultKind
  readonly target: string
  /** Slot indices whose answers the fault may affect. */
  readonly affected: ReadonlyArray<number>
  readonly startedAt: number
  /** When the dependency was back (ms, harness clock); recovery is measured from here. */
  healedAt: number
}

const all = (context: FaultContext) => context.slots.map((slot) => slot.index)

/** Injects one fault, holds it, heals it; resolves with its window. */
export const inject = async (kind: Exclude<FaultKind, "kill">, context: FaultContext): Promise<FaultWindow> => {
  const proxies = (which: keyof ProcessNetwork) => context.slots.map((slot) => slot.network[which])
  const startedAt = performance.now()
  const window = (target: string, affected: ReadonlyArray<number>): FaultWindow => ({ kind, target, affected, startedAt, healedAt: performance.now() })
  switch (kind) {
    case "pg-restart": {
      await Promise.all(proxies("postgres").map((proxy) => proxy.down()))
      await sleep(3000)
      await Promise.all(proxies("postgres").map((proxy) => proxy.up()))
      return window("PostgreSQL (all processes)", all(context))
    }
    case "pg-blackhole": {
      for (const proxy of proxies("postgres")) proxy.setBlackHole(true)
      await sleep(10_000)
      for (const proxy of proxies("postgres")) proxy.setBlackHole(false)
      return window("PostgreSQL (all processes)", all(context))
    }
    case "pg-reset": {
      for (const proxy of proxies("postgres")) {
        proxy.resetAll()
        // 3 %: a server without retries answers about one request in eight with a 503 (1 % gave 4 %,
        // too close to the 5 % bound to tell it from a retrying server under load); a retrying one,
        // whose request would need every attempt reset, stays near 0.
        proxy.setResetChance(0.03)
      }
      await sleep(8000)
      for (const proxy of proxies("postgres")) proxy.setResetChance(0)
      return window("PostgreSQL connections (all processes)", all(context))
    }
    case "pg-slow": {
      for (const proxy of proxies("postgres")) proxy.setLatency(100)
      await sleep(10_000)
      for (const proxy of proxies("postgres")) proxy.setLatency(0)
      return window("PostgreSQL (all processes)", all(context))
    }
    case "redis-restart": {
      await context.redis.kill()
      await sleep(3000)
      await context.redis.start()
      return window(`Redis :${context.redis.port}`, all(context))
    }
    case "nats-restart": {
      if (context.nats === undefined) throw new Error("nats-restart needs NATS (--nats)")
      await context.nats.kill()
      await sleep(3000)
      await context.nats.start()
      return window(`NATS :${context.nats.port}`, all(context))
    }
    case "redis-partition": {
      const up = context.slots.filter((slot) => slot.up)
      const slot = up[Math.floor(context.random() * up.length)] ?? context.slots[0]!
      slot.network.redis.setBlackHole(true)
      const healed = sleep(8000)
      await Promise.all([healed, context.whilePartitioned(slot, healed)])
      slot.network.redis.setBlackHole(false)
      return window(`Redis, from process ${slot.index} only`, [slot.index])
    }
  }
}
