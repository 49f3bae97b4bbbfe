/**
 * Contract of the {@link UserRepository} port: provisioning idempotent by subject, lookups (by email too),
 * updates and the paged list.
 *
 * Clock: live (`excludeTestServices: true`). Isolation: subjects embed fresh ids; the list test pages
 * through every user in the store and checks its own users appear exactly once.
 *
 * @since 0.1.0
 */
import { expect, layer } from "@effect/vitest"
import { Effect, type Layer, Option } from "effect"
import type { UserId } from "../../src/Ids.ts"
import type { User } from "../../src/User.ts"
import { UserRepository } from "../../src/UserRepository.ts"
import { collectPages, freshId, insertUser, now, type Ports } from "./Fixtures.ts"

const makeUser = (subject: string, fields: Partial<User> = {}) =>
  Effect.gen(function*() {
    const at = yield* now
    const user: User = {
      id: yield* freshId<UserId>(),
      subject,
      email: null,
      name: null,
      phone: null,
      createdAt: at,
      updatedAt: at,
      erasedAt: null,
      ...fields
    }
    return user
  })

/**
 * Registers the UserRepository contract suite for `layer`.
 *
 * @since 0.1.0
 */
export const userRepositoryContract = <E>(name: string, portsLayer: Layer.Layer<Ports, E>): void =>
  layer(portsLayer, { excludeTestServices: true, timeout: "60 seconds" })(`UserRepository contract (${name})`, (it) => {
    it.effect("insertIfAbsent stores a new user; findById and findBySubject read it back", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const subject = `subject-${yield* freshId<string>()}`
        const user = yield* makeUser(subject, { email: "ada@example.com", name: "Ada Lovelace", phone: "+44 20 1234" })
        expect(yield* users.insertIfAbsent(user)).toEqual(user)
        expect(Option.getOrThrow(yield* users.findById(user.id))).toEqual(user)
        expect(Option.getOrThrow(yield* users.findBySubject(subject))).toEqual(user)
      }))

    it.effect("findByIds reads the users that exist, each once, unknown and repeated ids aside", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const first = yield* insertUser()
        const second = yield* insertUser()
        const found = yield* users.findByIds([second.id, first.id, yield* freshId<UserId>(), first.id])
        expect([...found].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([first, second].sort((a, b) => (a.id < b.id ? -1 : 1)))
        expect(yield* users.findByIds([])).toEqual([])
      }))

    it.effect("unknown id and subject are none; subjects are matched exactly", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const user = yield* insertUser()
        expect(Option.isNone(yield* users.findById(yield* freshId<UserId>()))).toBe(true)
        expect(Option.isNone(yield* users.findBySubject(`missing-${yield* freshId<string>()}`))).toBe(true)
        expect(Option.isNone(yield* users.findBySubject(user.subject.toUpperCase()))).toBe(true)
        expect(Option.isNone(yield* users.findBySubject(user.subject.slice(0, -1)))).toBe(true)
      }))

    it.effect("insertIfAbsent is idempotent by subject: the first stored user wins", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const subject = `subject-${yield* freshId<string>()}`
        const first = yield* makeUser(subject, { name: "First" })
        const second = yield* makeUser(subject, { name: "Second", email: "second@example.com" })
        yield* users.insertIfAbsent(first)
        expect(yield* users.insertIfAbsent(second)).toEqual(first)
        expect(Option.isNone(yield* users.findById(second.id))).toBe(true)
        expect(Option.getOrThrow(yield* users.findBySubject(subject))).toEqual(first)
      }))

    it.effect("insertAllIfAbsent stores the new subjects and answers the stored user for the others, in input order", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const stored = yield* makeUser(`subject-${yield* freshId<string>()}`, { email: "old@example.com", name: "Stored" })
        yield* users.insertIfAbsent(stored)
        const again = yield* makeUser(stored.subject, { name: "Candidate for a stored subject" })
        const fresh = yield* makeUser(`subject-${yield* freshId<string>()}`, { email: "new@example.com", name: "New" })
        const twice = yield* makeUser(fresh.subject, { name: "Same subject twice in one call" })
        const other = yield* makeUser(`subject-${yield* freshId<string>()}`)
        const answered = yield* users.insertAllIfAbsent([fresh, again, twice, other])
        expect(answered).toEqual([fresh, stored, fresh, other])
        expect(Option.getOrThrow(yield* users.findBySubject(stored.subject))).toEqual(stored)
        expect(Option.getOrThrow(yield* users.findBySubject(fresh.subject))).toEqual(fresh)
        expect(Option.isNone(yield* users.findById(again.id))).toBe(true)
        expect(Option.isNone(yield* users.findById(twice.id))).toBe(true)
      }))

    it.effect("concurrent insertIfAbsent of one subject all return the same stored user", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const subject = `subject-${yield* freshId<string>()}`
        const candidates = yield* Effect.all(Array.from({ length: 6 }, () => makeUser(subject)))
        const results = yield* Effect.forEach(candidates, (user) => users.insertIfAbsent(user), {
          concurrency: "unbounded"
        })
        const stored = Option.getOrThrow(yield* users.findBySubject(subject))
        expect(candidates.map((c) => c.id)).toContain(stored.id)
        expect(results.map((r) => r.id)).toEqual(candidates.map(() => stored.id))
      }))

    it.effect("update persists profile fields and erasure", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const user = yield* insertUser({ name: "Before", email: "before@example.com" })
        const at = new Date(user.updatedAt.getTime() + 1000)
        const changed: User = { ...user, name: "After", phone: "+49 30 123456", email: "after@example.com", updatedAt: at }
        expect(yield* users.update(changed)).toEqual(changed)
        expect(Option.getOrThrow(yield* users.findById(user.id))).toEqual(changed)
        const erased: User = { ...changed, name: null, phone: null, email: null, erasedAt: at }
        yield* users.update(erased)
        expect(Option.getOrThrow(yield* users.findBySubject(user.subject))).toEqual(erased)
      }))

    it.effect("findByEmail finds every person with the email, however it is spelt, and follows updates", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const local = `shared-${yield* freshId<string>()}`
        const first = yield* insertUser({ email: `${local}@example.org` })
        const second = yield* insertUser({ email: `${local.toUpperCase()}@Example.ORG` })
        yield* insertUser({ email: `other-${local}@example.org` })
        const found = yield* users.findByEmail(`  ${local}@EXAMPLE.org `)
        expect(found.map((u) => u.id).sort()).toEqual([first.id, second.id].sort())
        expect(found.find((u) => u.id === second.id)?.email).toBe(second.email)
        yield* users.update({ ...first, email: `moved-${local}@example.org`, updatedAt: new Date(first.updatedAt.getTime() + 1000) })
        expect((yield* users.findByEmail(`${local}@example.org`)).map((u) => u.id)).toEqual([second.id])
        expect((yield* users.findByEmail(`moved-${local}@example.org`)).map((u) => u.id)).toEqual([first.id])
        expect(yield* users.findByEmail(`nobody-${local}@example.org`)).toEqual([])
      }))

    it.effect("list pages through every user without duplicates or gaps", () =>
      Effect.gen(function*() {
        const users = yield* UserRepository
        const mine = yield* Effect.all(Array.from({ length: 5 }, () => insertUser()))
        for (const limit of [3, 100]) {
          const pages = yield* collectPages((cursor) => users.list({ limit, cursor }))
          const ids = pages.flat().map((u) => u.id)
          expect(new Set(ids).size).toBe(ids.length)
          for (const user of mine) expect(ids).toContain(user.id)
          expect(pages.every((page) => page.length <= limit)).toBe(true)
          expect(pages.slice(0, -1).every((page) => page.length === limit)).toBe(true)
        }
      }))
  })
