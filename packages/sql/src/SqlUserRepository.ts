/**
 * `UserRepository` on PostgreSQL. Provisioning is an upsert on the unique subject, so two first requests
 * of the same person racing on two processes end with one user; `insertAllIfAbsent` provisions many
 * people in one statement (the use-case batches concurrent first requests).
 *
 * Personal fields are sealed under each person's data key (`FieldSealing.ts`): a new person's key is
 * created and stored by the statement that inserts them, so sealing adds no round trip to provisioning.
 * Erasing (an update with `erasedAt`) deletes the data key in the statement that anonymises the row.
 *
 * @since 0.1.0
 */
import { Page, User, UserRepository } from "@live-events/domain"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import * as FieldSealing from "./FieldSealing.ts"
import * as NewPeople from "./NewPeople.ts"
import * as Keys from "./PersonalDataKeys.ts"
import { insertedUserColumns, subjectArray, userColumns, type UserRow } from "./Rows.ts"
import { mapSqlError } from "./SqlFailure.ts"

/** @since 0.1.0 */
export const make: Effect.Effect<
  UserRepository.UserRepository["Service"],
  never,
  SqlClient.SqlClient | Keys.PersonalDataKeys
> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const sealing = yield* FieldSealing.fromContext
    const toUser = (row: UserRow) => sealing.openUser(row)
    const columns = sql.literal(userColumns)
    const insertedColumns = sql.literal(insertedUserColumns)
    const one = (rows: ReadonlyArray<UserRow>) => Option.map(Option.fromNullishOr(rows[0]), toUser)

    const insertIfAbsent = (user: User.User) =>
      Effect.map(insertMany([user]), (stored) => stored.get(user.subject)!)

    /**
     * Many first requests at once (a registration rush of new people) provision in one statement: the
     * users are inserted together, the subjects that already existed are read back.
     */
    const insertMany = (candidates: ReadonlyArray<User.User>) =>
      Effect.flatMap(NewPeople.prepare(sealing, candidates), (people) => {
        // The people this statement inserts are answered from the input (nothing to open, and only their
        // id and subject come back). Ids are new for every candidate: a row with one is the row this
        // statement inserted.
        const inserting = new Map(people.users.map((user) => [user.id as string, user]))
        const toUser = (row: UserRow) => inserting.get(row.id) ?? sealing.openUser(row)
        // Only the subjects that were there already are looked up again. Probing the subject index for
        // every candidate (`IN input AND NOT IN inserted`) met each just-inserted entry, invisible to the
        // statement's own snapshot, and cost three quarters of the statement (2.0 ms against 0.5 ms for
        // 25 new people); the inserted rows need no data key either (they are answered from the input).
        //
        // Planned at every execution: see `lockForRegistrations` (`BatchLocks.ts`) for why a cached generic
        // plan scans the whole table here.
        return sql<UserRow>`
          WITH ${NewPeople.insertCtes(sql, people)}
          SELECT ${insertedColumns} FROM inserted u
          UNION ALL
          SELECT ${columns} FROM users u
          WHERE u.subject = ANY(ARRAY(SELECT subject FROM input EXCEPT ALL SELECT subject FROM inserted))`.unprepared.pipe(
          Effect.flatMap((found) => {
            const stored = new Map(found.map((row) => [row.subject, toUser(row)]))
            const missing = people.users.map((user) => user.subject).filter((subject) => !stored.has(subject))
            // Committed by a concurrent statement after this one's snapshot: a new statement sees them.
            return missing.length === 0 ? Effect.succeed(stored) : Effect.map(
              sql<UserRow>`SELECT ${columns} FROM users u WHERE u.subject = ANY(${subjectArray(missing)}::text[])`,
              (again) => {
                for (const row of again) stored.set(row.subject, toUser(row))
                return stored
              }
            )
          })
        )
      }).pipe(mapSqlError("UserRepository.insertIfAbsent"))

    const insertAllIfAbsent = (users: ReadonlyArray<User.User>) =>
      Effect.map(insertMany(users), (stored) => users.map((user) => stored.get(user.subject)!))

    /**
     * The person's data key, created for a row written before sealing existed (racing writers agree on
     * whichever key was stored first).
     */
    const dataKeyFor = (userId: string) =>
      Effect.gen(function*() {
        const found = yield* sql<{ readonly person_key: string }>`
          SELECT pk.key_id || ':' || pk.wrapped AS person_key FROM person_keys pk WHERE pk.user_id = ${userId}`
        if (found[0] !== undefined) return sealing.dataKeyOf(found[0].person_key)!
        const key = sealing.newPersonKey()
        // Never for an erased row (its update does nothing; the key would outlive the erase).
        yield* sql`INSERT INTO person_keys (user_id, key_id, wrapped)
          SELECT ${userId}, ${key.stored.keyId}, ${key.stored.wrapped}
          WHERE EXISTS (SELECT 1 FROM users WHERE id = ${userId} AND erased_at IS NULL)
          ON CONFLICT (user_id) DO NOTHING`
        const stored = yield* sql<{ readonly person_key: string }>`
          SELECT pk.key_id || ':' || pk.wrapped AS person_key FROM person_keys pk WHERE pk.user_id = ${userId}`
        return stored[0] === undefined ? key.dataKey : sealing.dataKeyOf(stored[0].person_key)!
      })

    // An erased row is final: the update skips it and the row is returned as stored (one statement).
    const write = (user: User.User, fields: FieldSealing.SealedUserFields, shred: boolean, sealed: boolean) =>
      sql<UserRow>`
        WITH shredded AS (
          DELETE FROM person_keys WHERE ${shred ? sql`user_id = ${user.id}` : sql`false`}
          RETURNING 1
        ), updated AS (
          UPDATE users u SET email = ${fields.email}, name = ${fields.name}, phone = ${fields.phone},
            email_index = ${fields.email_index}, sealed = ${sealed}, updated_at = ${user.updatedAt},
            erased_at = ${user.erasedAt}
          WHERE u.id = ${user.id} AND u.erased_at IS NULL
          RETURNING *
        )
        SELECT ${columns} FROM updated u
        UNION ALL
        SELECT ${columns} FROM users u WHERE u.id = ${user.id} AND NOT EXISTS (SELECT 1 FROM updated)`

    /**
     * An erase (`erasedAt` set, fields cleared) deletes the person's data key in the statement that
     * anonymises the row: every copy of their sealed fields, wherever it went, stops opening.
     */
    const update = (user: User.User) =>
      Effect.gen(function*() {
        const erasing = user.erasedAt !== null && user.email === null && user.name === null && user.phone === null
        const sealed = !erasing && sealing.enabled
        const fields = sealed
          ? sealing.sealUser(user, yield* dataKeyFor(user.id))
          : { email: user.email, name: user.name, phone: user.phone, email_index: null }
        const rows = yield* write(user, fields, erasing, sealed)
        return toUser(rows[0]!)
      }).pipe(mapSqlError("UserRepository.update"))

    /** People by email, through the blind index (every index key, so a lookup works during a rotation). */
    const findByEmail = (email: string) =>
      sql<UserRow>`SELECT ${columns} FROM users u
        WHERE u.email_index = ANY(string_to_array(${Keys.emailIndexes(sealing.keyring, email).join(",")}, ','))
          OR (NOT u.sealed AND lower(u.email) = ${User.normaliseEmail(email)})
        ORDER BY u.id LIMIT 100`.pipe(
        Effect.map((rows) => rows.map(toUser)),
        mapSqlError("UserRepository.findByEmail")
      )

    const findById = (id: string) =>
      sql<UserRow>`SELECT ${columns} FROM users u WHERE u.id = ${id}`.pipe(
        Effect.map(one),
        mapSqlError("UserRepository.findById")
      )

    const findByIds = (ids: ReadonlyArray<string>) =>
      ids.length === 0
        ? Effect.succeed([])
        : sql<UserRow>`SELECT ${columns} FROM users u WHERE u.id = ANY(string_to_array(${[...new Set(ids)].join(",")}, ',')::uuid[])`.pipe(
          Effect.map((rows) => rows.map(toUser)),
          mapSqlError("UserRepository.findByIds")
        )

    const findBySubject = (subject: string) =>
      sql<UserRow>`SELECT ${columns} FROM users u WHERE u.subject = ${subject}`.pipe(
        Effect.map(one),
        mapSqlError("UserRepository.findBySubject")
      )

    const list = Effect.fnUntraced(function*(request: Page.PageRequest) {
      const after = request.cursor === undefined ? undefined : yield* Page.decodeCursor(request.cursor, ["uuid"])
      const rows = yield* sql<UserRow>`SELECT ${columns} FROM users u
        ${after ? sql`WHERE u.id > ${String(after[0])}::uuid` : sql``}
        ORDER BY u.id LIMIT ${request.limit + 1}`.pipe(mapSqlError("UserRepository.list"))
      const items = rows.slice(0, request.limit).map(toUser)
      const last = items[items.length - 1]
      return { items, nextCursor: rows.length > request.limit && last ? Page.encodeCursor([last.id]) : null }
    })

    return UserRepository.UserRepository.of({
      insertIfAbsent,
      insertAllIfAbsent,
      anticipate: sealing.anticipateNewUsers,
      update,
      findById,
      findByIds,
      findBySubject,
      findByEmail,
      list
    })
  }
)

/** @since 0.1.0 */
export const layer = Layer.effect(UserRepository.UserRepository, make)
