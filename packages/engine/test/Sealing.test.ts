/**
 * Personal data in the shared cache tier (Redis) is sealed: a cached user profile is stored as an
 * AES-256-GCM blob that names no email, name or phone, another process with the same key reads it back
 * from Redis (no store read), and a process with another key treats it as a miss and reads the store.
 */
import { TwoLevelCache } from "@live-events/cache"
import { type Ids, Memory, type User, UserRepository } from "@live-events/domain"
import { Context, Effect, Layer, Option, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as CacheKeys from "../src/CacheKeys.ts"
import * as CachedStore from "../src/CachedStore.ts"
import * as Sealing from "../src/Sealing.ts"
import { Readiness } from "../src/Readiness.ts"

describe("Sealing", () => {
  const key = Sealing.deriveKey("a test secret of at least thirty-two characters")

  it("opens what it sealed, and nothing sealed for another kind, with another key or altered", () => {
    const sealed = Sealing.seal(key, "user", "{\"email\":\"someone@example.org\"}")
    expect(sealed.startsWith("v1.")).toBe(true)
    expect(sealed).not.toContain("someone")
    expect(Sealing.open(key, "user", sealed)).toBe("{\"email\":\"someone@example.org\"}")
    // A fresh IV each time: equal plain texts do not give equal blobs.
    expect(Sealing.seal(key, "user", "same")).not.toBe(Sealing.seal(key, "user", "same"))
    expect(() => Sealing.open(key, "registration", sealed)).toThrow()
    expect(() => Sealing.open(Sealing.deriveKey("another secret of at least thirty-two chars"), "user", sealed)).toThrow()
    const body = Buffer.from(sealed.slice(3), "base64url")
    body[20] = body[20]! ^ 1
    expect(() => Sealing.open(key, "user", "v1." + body.toString("base64url"))).toThrow()
    expect(() => Sealing.open(key, "user", "{\"email\":\"someone@example.org\"}")).toThrow()
  })
})

describe("cached user profiles in Redis", () => {
  const run = `${process.pid}-${Date.now().toString(36)}`
  const prefix = `lec-test:sealing-${run}`
  const scope = Effect.runSync(Scope.make())
  const reads = { users: 0 }
  let store: Context.Context<any>
  const person = {
    email: "philippa.sealtest-9931@example.org",
    name: "Philippa Sealtest",
    phone: "+44 20 7946 0958"
  }
  let user: User.User

  /** The store's user reads are counted, so a read served by Redis shows as no store read. */
  const countingStore = Layer.effectContext(Effect.gen(function*() {
    const users = yield* UserRepository.UserRepository
    return Context.make(UserRepository.UserRepository, {
      ...users,
      findById: (id: Ids.UserId) => Effect.suspend(() => (reads.users++, users.findById(id)))
    })
  })).pipe(Layer.provideMerge(Layer.merge(Memory.layer, Readiness.layerMemory)))

  /** A process's cache-aside ports: its own L1, the shared Redis, a sealing key. */
  const processWith = (sealingKey: Sealing.Key | undefined) => {
    const withKey = sealingKey === undefined
      ? CachedStore.layer
      : CachedStore.layer.pipe(Layer.provide(Layer.succeed(Sealing.CacheSealingKey, sealingKey)))
    return Effect.runPromise(Layer.buildWithScope(
      withKey.pipe(
        Layer.provideMerge(TwoLevelCache.layerRedis({ url: "redis://127.0.0.1:6379", prefix })),
        Layer.provide(Layer.succeedContext(store))
      ),
      scope
    ))
  }

  beforeAll(async () => {
    store = await Effect.runPromise(Layer.buildWithScope(countingStore, scope))
    const now = new Date()
    user = await Effect.runPromise(Context.get(store, UserRepository.UserRepository).insertIfAbsent({
      id: randomUUID() as Ids.UserId,
      subject: `sealing-${run}`,
      ...person,
      createdAt: now,
      updatedAt: now,
      erasedAt: null
    }))
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as any)))

  it("stores a sealed blob, readable by a process with the key and by no one else", async () => {
    const key = Sealing.deriveKey(`deployment secret for ${run}, long enough`)
    const a = await processWith(key)
    const before = reads.users
    const found = await Effect.runPromise(Context.get(a, UserRepository.UserRepository).findById(user.id))
    expect(Option.getOrThrow(found).email).toBe(person.email)
    expect(reads.users - before).toBe(1)

    // What Redis holds, read without any codec: the stored JSON, which is the sealed string.
    const raw = await processWith(key).then((context) =>
      Effect.runPromise(Context.get(context, TwoLevelCache.TwoLevelCache).get<unknown>(CacheKeys.userKey(user.id)))
    )
    const stored = Option.getOrThrow(raw)
    expect(typeof stored).toBe("string")
    expect(String(stored).startsWith("v1.")).toBe(true)
    for (const value of [person.email, person.name, person.phone, "philippa", "Sealtest", "7946"]) {
      expect(String(stored)).not.toContain(value)
    }

    // Another process with the same key: answered from Redis, no store read, the same profile.
    const b = await processWith(key)
    const fromRedis = await Effect.runPromise(Context.get(b, UserRepository.UserRepository).findById(user.id))
    expect(reads.users - before).toBe(1)
    expect(Option.getOrThrow(fromRedis)).toEqual(Option.getOrThrow(found))

    // A process with another key cannot open it: a miss, so the store answers.
    const c = await processWith(Sealing.deriveKey(`some other secret for ${run}, long enough`))
    const fromStore = await Effect.runPromise(Context.get(c, UserRepository.UserRepository).findById(user.id))
    expect(reads.users - before).toBe(2)
    expect(Option.getOrThrow(fromStore).name).toBe(person.name)
  })
})
