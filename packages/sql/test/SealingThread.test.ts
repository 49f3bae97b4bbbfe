/**
 * The sealing thread seals exactly what inline sealing would: values that open inline under the same
 * additional data (and under no other), data keys that unwrap under the keyring, the same blind index;
 * notes of a person it has never seen, from their stored key; and a thread that dies leaves every
 * request answered (inline).
 */
import { Effect, Exit, Redacted, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { FieldSealing, PersonalDataKeys as Keys, SealingThread } from "@live-events/sql"
import * as SealingWorker from "../src/SealingWorker.ts"

const person = { id: "0b9c1f6e-1d2a-4c3b-9e8f-7a6b5c4d3e2f", email: " Ada.Lovelace@Example.org ", name: "Ada Lovelace", phone: null }

const withThread = <A>(keyring: Keys.Keyring, use: (thread: SealingThread.Client) => Effect.Effect<A>, workerUrl?: URL) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(SealingThread.make(keyring, { workerUrl }), use)))

describe("SealingThread", () => {
  it("seals new people and notes that open inline, bound to their row and field", async () => {
    const keyring = Keys.generate()
    const inline = FieldSealing.make(keyring)
    const [sealed, notes] = await withThread(keyring, (thread) =>
      Effect.gen(function*() {
        const [sealedPerson] = yield* FieldSealing.make(keyring, thread).sealNewUsers([person])
        const stored = `${sealedPerson!.key!.stored.keyId}:${sealedPerson!.key!.stored.wrapped}`
        const notes = yield* FieldSealing.make(keyring, thread).sealNotesMany([
          { registrationId: "r-1", ownerKey: stored, notes: "Wheelchair access" }
        ])
        // Sealed on the thread, not by the inline fallback.
        expect(thread.running()).toBe(true)
        return [sealedPerson!, notes] as const
      }))
    expect(sealed.key!.stored.keyId).toBe(keyring.data.active)
    const key = Keys.unwrap(keyring, sealed.key!.stored)
    expect(Keys.open(key, Keys.context("user", person.id, "email"), sealed.fields.email!)).toBe(person.email)
    expect(Keys.open(key, Keys.context("user", person.id, "name"), sealed.fields.name!)).toBe(person.name)
    expect(sealed.fields.phone).toBeNull()
    expect(sealed.fields.email_index).toBe(Keys.emailIndex(keyring, person.email))
    expect(Keys.open(key, Keys.context("registration", "r-1", "notes"), notes[0]!)).toBe("Wheelchair access")
    // Another row or another field: does not open.
    expect(() => Keys.open(key, Keys.context("user", "another-id", "email"), sealed.fields.email!)).toThrow(Keys.SealedValueUnreadable)
    expect(() => Keys.open(key, Keys.context("user", person.id, "name"), sealed.fields.email!)).toThrow(Keys.SealedValueUnreadable)
    // What the thread sealed reads like what inline sealing wrote.
    const [row] = await Effect.runPromise(inline.sealNewUsers([person]))
    expect(row!.fields.email!.slice(0, 3)).toBe(sealed.fields.email!.slice(0, 3))
    expect(row!.fields.email).not.toBe(sealed.fields.email)
  })

  it("seals the notes of people it never saw, from their stored data key", async () => {
    const keyring = Keys.generate()
    const { dataKey, stored } = Keys.newWrappedDataKey(keyring)
    const notes = await withThread(keyring, (thread) =>
      thread.notes([["r-2", `${stored.keyId}:${stored.wrapped}`, "Vegetarian"], ["r-3", `${stored.keyId}:${stored.wrapped}`, "Late"]]))
    expect(notes.map((sealed, i) => Keys.open(dataKey, Keys.context("registration", `r-${i + 2}`, "notes"), sealed))).toEqual(["Vegetarian", "Late"])
  })

  it("answers a key that does not unwrap with SealedValueUnreadable", async () => {
    const keyring = Keys.generate()
    const other = Keys.newWrappedDataKey(Keys.generate())
    const exit = await Effect.runPromise(Effect.exit(Effect.scoped(Effect.flatMap(
      SealingThread.make(keyring),
      (thread) => thread.notes([["r-4", `${other.stored.keyId}:${other.stored.wrapped}`, "x"]])
    ))))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("SealedValueUnreadable")
  })

  it("answers inline when the thread dies, for the request in flight and every later one", async () => {
    const keyring = Keys.generate()
    const dying = new URL("./fixtures/DyingWorker.ts", import.meta.url)
    const [first, second] = await withThread(keyring, (thread) =>
      Effect.gen(function*() {
        const first = yield* FieldSealing.make(keyring, thread).sealNewUsers([person])
        const second = yield* FieldSealing.make(keyring, thread).sealNewUsers([person])
        expect(thread.running()).toBe(false)
        return [first[0]!, second[0]!] as const
      }), dying)
    for (const sealed of [first, second]) {
      const key = Keys.unwrap(keyring, sealed.key!.stored)
      expect(Keys.open(key, Keys.context("user", person.id, "email"), sealed.fields.email!)).toBe(person.email)
    }
  })

  it("seals people ahead of their batches, and the batches take them without asking the thread again", async () => {
    const keyring = Keys.generate()
    const ada: SealingWorker.PersonInput = [person.id, person.email, person.name, null, "ada.lovelace@example.org"]
    const grace: SealingWorker.PersonInput = ["5d1f7c2a-3b4e-4f60-8a9b-0c1d2e3f4a5b", "grace@example.org", "Grace Hopper", null, "grace@example.org"]
    const once = new URL("./fixtures/OnceWorker.ts", import.meta.url)
    const sealed = await withThread(keyring, (thread) =>
      Effect.gen(function*() {
        thread.anticipate([ada, grace])
        // The thread answers one request only (the anticipation): asking it again would never resolve.
        const take = (input: SealingWorker.PersonInput) =>
          Effect.timeoutOrElse(thread.people([input]), {
            duration: "2 seconds",
            orElse: () => Effect.die(new Error("an anticipated person was sealed again"))
          })
        return [...(yield* take(ada)), ...(yield* take(grace))]
      }), once)
    for (const [[id, email, name], [keyId, wrapped, sealedEmail, sealedName, , index]] of [[ada, sealed[0]!], [grace, sealed[1]!]] as const) {
      const key = Keys.unwrap(keyring, { keyId, wrapped })
      expect(Keys.open(key, Keys.context("user", id, "email"), sealedEmail!)).toBe(email)
      expect(Keys.open(key, Keys.context("user", id, "name"), sealedName!)).toBe(name)
      expect(index).toBe(Keys.emailIndex(keyring, email!))
    }
  })

  it("sends a person who comes alone at once, and people who come close together in one message", async () => {
    const keyring = Keys.generate()
    const inline = SealingThread.inline(keyring)
    const messages: Array<ReadonlyArray<string>> = []
    const answers: Array<() => void> = []
    let now = 0
    const ahead = SealingThread.sealingAhead(
      (people) => people.length === 0 ? Effect.succeed([]) : Effect.die(new Error("sealed in the batch instead of ahead")),
      (people, resume) => {
        messages.push(people.map(([id]) => id))
        answers.push(() => resume({ id: 0, people: Effect.runSync(inline.people(people)) }))
      },
      () => now
    )
    const person = (id: string): SealingWorker.PersonInput => [id, `${id}@example.org`, id, null, `${id}@example.org`]
    const [ada, grace, edsger, barbara] = ["ada", "grace", "edsger", "barbara"].map(person)

    ahead.anticipate([ada!])
    expect(messages).toEqual([["ada"]])
    answers.shift()!()
    // Half a millisecond later, with nothing in flight: they wait for each other.
    now = 0.5
    ahead.anticipate([grace!])
    now = 0.7
    ahead.anticipate([edsger!])
    expect(messages).toEqual([["ada"]])
    // Their batch starts: sent at once, together, without waiting for the timer.
    const taking = Effect.runPromise(ahead.people([ada!, grace!, edsger!]))
    expect(messages).toEqual([["ada"], ["grace", "edsger"]])
    answers.shift()!()
    expect((await taking).map(([keyId]) => keyId)).toEqual([keyring.data.active, keyring.data.active, keyring.data.active])
    // Close behind, nobody asking for them: the timer sends them.
    now = 1
    ahead.anticipate([barbara!])
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(messages).toEqual([["ada"], ["grace", "edsger"], ["barbara"]])
  })

  it("seals ahead only what the batch asks for, and hands each sealing out once", async () => {
    const keyring = Keys.generate()
    const input: SealingWorker.PersonInput = [person.id, person.email, person.name, null, "ada.lovelace@example.org"]
    const changed: SealingWorker.PersonInput = [person.id, "ada@example.org", person.name, null, "ada@example.org"]
    const [first, again, other] = await withThread(keyring, (thread) =>
      Effect.gen(function*() {
        thread.anticipate([input])
        const [first] = yield* thread.people([input])
        // A batch run again after a failure: sealed anew, under a new data key.
        const [again] = yield* thread.people([input])
        // The same person with another email than the one anticipated: the batch's own fields.
        thread.anticipate([input])
        const [other] = yield* thread.people([changed])
        return [first!, again!, other!] as const
      }))
    expect(again[1]).not.toBe(first[1])
    const key = Keys.unwrap(keyring, { keyId: other[0], wrapped: other[1] })
    expect(Keys.open(key, Keys.context("user", person.id, "email"), other[2]!)).toBe("ada@example.org")
  })

  it("seals a newcomer's notes with them, and the batch's notes take them without asking the thread again", async () => {
    const keyring = Keys.generate()
    const ada: SealingWorker.PersonInput = [person.id, person.email, person.name, null, "ada.lovelace@example.org", ["r-9", "Vegetarian"]]
    const once = new URL("./fixtures/OnceWorker.ts", import.meta.url)
    const [sealed, notes] = await withThread(keyring, (thread) =>
      Effect.gen(function*() {
        thread.anticipate([ada])
        const never = (what: string) => () => Effect.die(new Error(`${what} went to the thread again`))
        // The batch provisions the person without the registration, as `sealNewUsers` does.
        const [sealed] = yield* Effect.timeoutOrElse(thread.people([[person.id, person.email, person.name, null, "ada.lovelace@example.org"]]), {
          duration: "2 seconds",
          orElse: never("the person")
        })
        const notes = yield* Effect.timeoutOrElse(thread.notes([["r-9", `${sealed![0]}:${sealed![1]}`, "Vegetarian"]]), {
          duration: "2 seconds",
          orElse: never("the notes")
        })
        return [sealed!, notes] as const
      }), once)
    const key = Keys.unwrap(keyring, { keyId: sealed[0], wrapped: sealed[1] })
    expect(Keys.open(key, Keys.context("registration", "r-9", "notes"), notes[0]!)).toBe("Vegetarian")
    expect(() => Keys.open(key, Keys.context("registration", "r-10", "notes"), notes[0]!)).toThrow(Keys.SealedValueUnreadable)
  })

  it("seals notes anew when their owner was stored with another key or the notes changed", async () => {
    const keyring = Keys.generate()
    const ada: SealingWorker.PersonInput = [person.id, person.email, person.name, null, null, ["r-11", "Late"]]
    const other = Keys.newWrappedDataKey(keyring)
    const otherKey = `${other.stored.keyId}:${other.stored.wrapped}`
    const [again, underOther, changed] = await withThread(keyring, (thread) =>
      Effect.gen(function*() {
        thread.anticipate([ada])
        yield* thread.people([ada])
        // A subject that existed keeps its stored key: the notes are sealed under that one.
        const underOther = yield* thread.notes([["r-11", otherKey, "Late"]])
        thread.anticipate([[person.id, person.email, person.name, null, null, ["r-12", "Late"]]])
        const [again] = yield* thread.people([ada])
        const changed = yield* thread.notes([["r-12", `${again![0]}:${again![1]}`, "Early"]])
        return [again!, underOther, changed] as const
      }))
    expect(Keys.open(other.dataKey, Keys.context("registration", "r-11", "notes"), underOther[0]!)).toBe("Late")
    const key = Keys.unwrap(keyring, { keyId: again[0], wrapped: again[1] })
    expect(Keys.open(key, Keys.context("registration", "r-12", "notes"), changed[0]!)).toBe("Early")
  })

  it("stops with its scope", async () => {
    const keyring = Keys.generate()
    const scope = Effect.runSync(Scope.make())
    const thread = await Effect.runPromise(Scope.provide(SealingThread.make(keyring), scope))
    expect(thread.running()).toBe(true)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(thread.running()).toBe(false)
    // A stopped thread no longer answers, so the request is sealed inline and still answered.
    const [sealed] = await Effect.runPromise(thread.people([[person.id, person.email, null, null, null]]))
    expect(Keys.open(Keys.unwrap(keyring, { keyId: sealed![0], wrapped: sealed![1] }), Keys.context("user", person.id, "email"), sealed![2]!)).toBe(person.email)
  })

  it("lets an erased person's data key go, and still seals from the stored key afterwards", async () => {
    const keyring = Keys.generate()
    const material = {
      data: { active: keyring.data.active, keys: [...keyring.data.keys].map(([id, key]) => [id, Redacted.value(key)] as const) },
      index: { active: keyring.index.active, keys: [...keyring.index.keys].map(([id, key]) => [id, Redacted.value(key)] as const) }
    }
    const sealer = SealingWorker.sealer(material)
    const [[keyId, wrapped]] = sealer.people([[person.id, person.email, null, null, null]]) as [SealingWorker.PersonSealed]
    const stored = `${keyId}:${wrapped}`
    expect(sealer.holds(stored)).toBe(true)
    sealer.forget(stored)
    expect(sealer.holds(stored)).toBe(false)
    // Through the thread: forgotten there too, and the notes of a later request still seal.
    const notes = await withThread(keyring, (thread) =>
      Effect.gen(function*() {
        yield* thread.people([[person.id, person.email, null, null, null]])
        thread.forget(stored)
        return yield* thread.notes([["r-5", stored, "After"]])
      }))
    expect(Keys.open(Keys.unwrap(keyring, { keyId, wrapped }), Keys.context("registration", "r-5", "notes"), notes[0]!)).toBe("After")
  })
})
