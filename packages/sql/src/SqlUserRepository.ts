/**
 * `UserRepository` on PostgreSQL. Provisioning is an upsert on the unique subject, so two first requests
 * of the same person racing on two processes end with one user; `insertAllIfAbsent` provisions many
 * people in one statement (the use-case batches concurrent first requests).
 *
 * @since 0.1.0
 */
import { Page, type User, UserRepository } from "@live-events/domain"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { toUser, userColumns, type UserRow } from "./Rows.ts"
import { mapSqlError } from "./SqlFailure.ts"

/** @since 0.1.0 */
export const make: Effect.Effect<UserRepository.UserRepository["Service"], never, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.literal(userColumns)
    const one = (rows: ReadonlyArray<UserRow>) => Option.map(Option.fromNullishOr(rows[0]), toUser)

    const insertIfAbsent = (user: User.User) =>
      sql<UserRow>`
        WITH inserted AS (
          INSERT INTO users (id, subject, email, name, phone, created_at, updated_at)
          VALUES (${user.id}, ${user.subject}, ${user.email}, ${user.name}, ${user.phone}, ${user.createdAt},
            ${user.updatedAt})
          ON CONFLICT (subject) DO NOTHING
          RETURNING *
        )
        SELECT ${columns} FROM inserted u
        UNION ALL
        SELECT ${columns} FROM users u WHERE u.subject = ${user.subject} AND NOT EXISTS (SELECT 1 FROM inserted)`.pipe(
        // A concurrent first request committed the same subject after this statement's snapshot was
        // taken: the insert did nothing and the select could not see it. A new statement can.
        Effect.flatMap((rows) =>
          rows[0] !== undefined
            ? Effect.succeed(toUser(rows[0]))
            : Effect.map(sql<UserRow>`SELECT ${columns} FROM users u WHERE u.subject = ${user.subject}`, (again) =>
              toUser(again[0]!))
        ),
        mapSqlError("UserRepository.insertIfAbsent")
      )

    /**
     * Many first requests at once (a registration rush of new people) provision in one statement: the
     * users are inserted together, the subjects that already existed are read back.
     */
    const insertMany = (candidates: ReadonlyArray<User.User>) => {
      const bySubject = new Map<string, User.User>()
      for (const user of candidates) if (!bySubject.has(user.subject)) bySubject.set(user.subject, user)
      const rows = [...bySubject.values()].map((user) => ({
        id: user.id,
        subject: user.subject,
        email: user.email,
        name: user.name,
        phone: user.phone,
        at: user.createdAt.toISOString()
      }))
      return sql<UserRow>`
        WITH input AS (
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
            AS i(id uuid, subject text, email text, name text, phone text, at timestamptz)
        ), inserted AS (
          INSERT INTO users (id, subject, email, name, phone, created_at, updated_at)
          SELECT id, subject, email, name, phone, at, at FROM input ORDER BY subject
          ON CONFLICT (subject) DO NOTHING
          RETURNING *
        )
        SELECT ${columns} FROM inserted u
        UNION ALL
        SELECT ${columns} FROM users u
        WHERE u.subject IN (SELECT subject FROM input) AND u.subject NOT IN (SELECT subject FROM inserted)`.pipe(
        Effect.flatMap((found) => {
          const stored = new Map(found.map((row) => [row.subject, toUser(row)]))
          const missing = [...bySubject.keys()].filter((subject) => !stored.has(subject))
          // Committed by a concurrent statement after this one's snapshot: a new statement sees them.
          return missing.length === 0 ? Effect.succeed(stored) : Effect.map(
            sql<UserRow>`SELECT ${columns} FROM users u WHERE u.subject = ANY(${`{${missing.map((m) => JSON.stringify(m)).join(",")}}`}::text[])`,
            (again) => {
              for (const row of again) stored.set(row.subject, toUser(row))
              return stored
            }
          )
        }),
        mapSqlError("UserRepository.insertIfAbsent")
      )
    }

    const insertAllIfAbsent = (users: ReadonlyArray<User.User>) =>
      Effect.map(insertMany(users), (stored) => users.map((user) => stored.get(user.subject)!))

    // An erased row is final: the update skips it and the row is returned as stored (one statement).
    const update = (user: User.User) =>
      sql<UserRow>`
        WITH updated AS (
          UPDATE users u SET email = ${user.email}, name = ${user.name}, phone = ${user.phone},
            updated_at = ${user.updatedAt}, erased_at = ${user.erasedAt}
          WHERE u.id = ${user.id} AND u.erased_at IS NULL
          RETURNING *
        )
        SELECT ${columns} FROM updated u
        UNION ALL
        SELECT ${columns} FROM users u WHERE u.id = ${user.id} AND NOT EXISTS (SELECT 1 FROM updated)`.pipe(
        Effect.map((rows) => toUser(rows[0]!)),
        mapSqlError("UserRepository.update")
      )

    const findById = (id: string) =>
      sql<UserRow>`SELECT ${columns} FROM users u WHERE u.id = ${id}`.pipe(
        Effect.map(one),
        mapSqlError("UserRepository.findById")
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

    return UserRepository.UserRepository.of({ insertIfAbsent, insertAllIfAbsent, update, findById, findBySubject, list })
  }
)

/** @since 0.1.0 */
export const layer = Layer.effect(UserRepository.UserRepository, make)
