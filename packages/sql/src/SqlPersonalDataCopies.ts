/**
 * `PersonalDataCopies` on PostgreSQL. The copies beside the records are the stored responses of
 * `Idempotency-Key` requests (scoped `<userId> <method> <route>`, so every one of the person's is
 * found by its scope) and the outbox messages (which carry the person's id, never their data).
 *
 * Both statements run on the unit of work's connection, so the erase removes the copies in the same
 * transaction that anonymises the profile.
 *
 * @since 0.1.0
 */
import { DomainEvent, PersonalDataCopies } from "@live-events/domain"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as IdempotencyKeys from "./IdempotencyKeys.ts"
import type * as Keys from "./PersonalDataKeys.ts"
import { mapSqlError } from "./SqlFailure.ts"

/** @since 0.1.0 */
export const make: Effect.Effect<
  PersonalDataCopies.PersonalDataCopies["Service"],
  never,
  SqlClient.SqlClient | Keys.PersonalDataKeys
> = Effect
  .gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const keys = yield* IdempotencyKeys.makeSql
    const erase = (userId: string) => keys.forgetOwner(userId)

    const messagesAbout = (userId: string) =>
      sql<{ readonly payload: DomainEvent.DomainEvent | string }>`SELECT payload FROM outbox
        WHERE payload -> 'data' ->> 'userId' = ${userId} ORDER BY position`.pipe(
        Effect.map((rows) =>
          rows.map((row): DomainEvent.DomainEvent => {
            const event = typeof row.payload === "string" ? JSON.parse(row.payload) : row.payload
            return { ...event, occurredAt: new Date(event.occurredAt) }
          })
        ),
        mapSqlError("PersonalDataCopies.messagesAbout")
      )

    return PersonalDataCopies.PersonalDataCopies.of({ erase, messagesAbout })
  })

/** @since 0.1.0 */
export const layer = Layer.effect(PersonalDataCopies.PersonalDataCopies, make)
