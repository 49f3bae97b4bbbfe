/**
 * Every port contract suite and the waitlist properties on the SQL store, a fresh PostgreSQL database.
 */
import * as Contracts from "../../domain/test/contracts/index.ts"
import { postgresStore } from "./StoreFixtures.ts"

const store = await postgresStore()

Contracts.eventRepositoryContract("sql-postgres", store)
Contracts.registrationRepositoryContract("sql-postgres", store)
Contracts.userRepositoryContract("sql-postgres", store)
Contracts.unitOfWorkContract("sql-postgres", store)
Contracts.waitlistProperties("sql-postgres", store, { numRuns: 25 })
