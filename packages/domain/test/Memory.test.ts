/**
 * Runs every port contract suite and the waitlist property on the in-memory ports (`Memory.layer`).
 * The suites themselves live in ./contracts and run unchanged on the SQL implementations.
 */
import { Effect, Layer } from "effect"
import { Ids } from "../src/Ids.ts"
import * as Memory from "../src/Memory.ts"
import {
  eventRepositoryContract,
  OutboxProbe,
  registrationRepositoryContract,
  unitOfWorkContract,
  userRepositoryContract,
  waitlistProperties
} from "./contracts/index.ts"

/** A fresh memory store per suite, with real UUID v7 ids. */
const ports = Layer.mergeAll(Memory.layer, Ids.layer)

const memoryOutboxProbe = Layer.effect(
  OutboxProbe,
  Effect.map(Memory.MemoryStore, (store) => ({
    messages: (aggregateId: string) =>
      Effect.map(store.outbox, (messages) => messages.filter((m) => m.aggregateId === aggregateId))
  }))
)

eventRepositoryContract("memory", ports)
registrationRepositoryContract("memory", ports)
userRepositoryContract("memory", ports)
unitOfWorkContract("memory", Layer.provideMerge(memoryOutboxProbe, ports))
waitlistProperties("memory", ports, { numRuns: 200 })
