/**
 * The OutboxStore contract on every implementation: memory, PGlite, PostgreSQL.
 */
import { Layer } from "effect"
import { pglite, postgres, shared } from "./Fixtures.ts"
import { memoryHarness, sqlHarness, storeContract } from "./OutboxStoreContract.ts"

storeContract("memory", memoryHarness)
storeContract("sql-pglite", sqlHarness.pipe(Layer.provide(await shared(pglite))))
storeContract("sql-postgres", sqlHarness.pipe(Layer.provide(await shared(postgres))))
