/**
 * Every port contract suite and the waitlist properties on the SQL store, embedded PGlite.
 */
import * as Contracts from "../../domain/test/contracts/index.ts"
import { pgliteStore } from "./StoreFixtures.ts"

const store = await pgliteStore()

Contracts.eventRepositoryContract("sql-pglite", store)
Contracts.registrationRepositoryContract("sql-pglite", store)
Contracts.userRepositoryContract("sql-pglite", store)
Contracts.unitOfWorkContract("sql-pglite", store)
Contracts.waitlistProperties("sql-pglite", store, { numRuns: 15 })
