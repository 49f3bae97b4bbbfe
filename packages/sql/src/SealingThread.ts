/**
 * Sealing on a thread of its own: the registration hot path hands each batch's new people and notes to
 * a worker thread and awaits the sealed columns, so that the ciphers (a data key wrapped, email, name
 * and notes sealed, an HMAC: about 75 µs of a busy event loop per new person, and the garbage of their
 * buffers) run beside the event loop instead of in it. New people go to it ahead of their batch, several
 * to a message (see `sealingAhead`).
 *
 * Without this service (the default) the store seals inline ({@link inline}), synchronously: the very
 * same functions, so either reads what the other wrote. Should the thread die, the requests in flight and
 * every later one are sealed inline.
 *
 * @since 0.3.0
 */
import { Context, Effect, Layer, Redacted } from "effect"
import { Worker } from "node:worker_threads"
import * as Keys from "./PersonalDataKeys.ts"
import * as SealingWorker from "./SealingWorker.ts"

/** @since 0.3.0 */
export interface Client {
  /** Whether the thread is up (`false` once it died or stopped: requests are then sealed inline). */
  readonly running: () => boolean
  readonly people: (people: ReadonlyArray<SealingWorker.PersonInput>) => Effect.Effect<ReadonlyArray<SealingWorker.PersonSealed>>
  readonly notes: (notes: ReadonlyArray<SealingWorker.NotesInput>) => Effect.Effect<ReadonlyArray<string>>
  /**
   * People who are about to be provisioned: the thread seals them now, while they wait for their batch,
   * and `people` takes the result instead of sealing them again (same id and the same fields only).
   * A person given with the registration their batch will write has its notes sealed too, and `notes`
   * takes them (same registration, same notes, and the same data key as the person was stored with).
   */
  readonly anticipate: (people: ReadonlyArray<SealingWorker.PersonInput>) => void
  /** An erased person's data key (its stored form) leaves the thread's memory. */
  readonly forget: (stored: string) => void
}

/**
 * The sealing thread of the store, if one was started ({@link layer}); `undefined`: seal inline.
 *
 * @since 0.3.0
 */
export const SealingThread = Context.Reference<Client | undefined>("@live-events/sql/SealingThread", {
  defaultValue: () => undefined
})

const material = (keyring: Keys.Keyring): SealingWorker.Material => {
  const ring = (ring: Keys.Ring): SealingWorker.RingMaterial => ({
    active: ring.active,
    keys: [...ring.keys].map(([id, key]) => [id, Redacted.value(key)] as const)
  })
  return { data: ring(keyring.data), index: ring(keyring.index) }
}

// From source the worker is the `.ts` module beside this one, from the build the bundled `.js` entry.
const workerUrl = new URL(import.meta.url.endsWith(".ts") ? "./SealingWorker.ts" : "./SealingWorker.js", import.meta.url)

type Pending = {
  readonly request: SealingWorker.Request
  readonly resume: (response: SealingWorker.Response) => void
}

const unwrapResponse = <A>(response: SealingWorker.Response, pick: (response: SealingWorker.Response) => A | undefined): A => {
  if ("error" in response) throw new Keys.SealedValueUnreadable({ message: response.error })
  return pick(response)!
}

const peopleOf = (response: SealingWorker.Response) => unwrapResponse(response, (r) => "people" in r ? r.people : undefined)
const notesOf = (response: SealingWorker.Response) => unwrapResponse(response, (r) => "notes" in r ? r.notes : undefined)

/** One inline sealer per keyring, so that the notes of a batch find the keys its new people were given. */
const inlineSealers = new WeakMap<Keys.Keyring, ReturnType<typeof SealingWorker.sealer>>()
const inlineSealer = (keyring: Keys.Keyring) => {
  let sealer = inlineSealers.get(keyring)
  if (sealer === undefined) {
    sealer = SealingWorker.sealer(material(keyring))
    inlineSealers.set(keyring, sealer)
  }
  return sealer
}

/**
 * The same operations on the calling thread, synchronously: the store's default, and what a thread
 * that died falls back to.
 *
 * @since 0.3.0
 */
export const inline = (keyring: Keys.Keyring): Client => {
  const sealer = inlineSealer(keyring)
  let nextId = 0
  const answer = (request: SealingWorker.Request) => SealingWorker.answer(sealer, request)
  return {
    running: () => false,
    people: (people) => Effect.sync(() => peopleOf(answer({ id: nextId++, op: "people", people }))),
    notes: (notes) => Effect.sync(() => notesOf(answer({ id: nextId++, op: "notes", notes }))),
    // Inline, sealing ahead would only move the same work earlier on the same thread.
    anticipate: () => undefined,
    forget: (stored) => void sealer.forget(stored)
  }
}

/**
 * The most people sealed ahead and not yet taken by a batch. Beyond, all are dropped at once, as the
 * store's other bounded maps do (dropping only the oldest through a fresh `Map` iterator would skip every
 * taken person's deleted slot each time): a dropped person is sealed in their batch instead.
 */
const maxAhead = 4_096

/**
 * How long anticipated people wait to be sent together, when they come this close to each other. A
 * person's batch starts a batch's commit later (tens of milliseconds under load) and takes them at once
 * when it starts earlier (see `people`), so the wait costs nothing; sent as they came, one message a
 * person, the messages and the thread's wake-ups cost the event loop more than the ciphers cost the
 * thread. A person who comes alone (the previous one longer ago than this) is sent at once: on an idle
 * service the thread then seals them while their batch begins its transaction.
 */
const coalesceMillis = 2

/** People sent as soon as this many wait. */
const coalesceCount = 32

/** A person sealed ahead of their batch: settled once the thread answered (`sealed` stays unset on an error). */
interface Ahead {
  readonly input: SealingWorker.PersonInput
  sealed: SealingWorker.PersonSealed | undefined
  settled: boolean
  /** Sent to the thread (else still waiting in the queue). */
  sent: boolean
  readonly waiters: Array<() => void>
}

const sameInput = (a: SealingWorker.PersonInput, b: SealingWorker.PersonInput) =>
  a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4]

/** Resumes once every one of `ahead` is settled. */
const settledAll = (ahead: ReadonlyArray<Ahead>) =>
  Effect.callback<void>((resume) => {
    let left = 0
    const done = () => {
      if (--left === 0) resume(Effect.void)
    }
    for (const person of ahead) {
      if (!person.settled) {
        left++
        person.waiters.push(done)
      }
    }
    if (left === 0) resume(Effect.void)
  })

/**
 * Sealing people ahead of their batch. A registration of a new person waits for the batch in flight
 * before its own batch starts; what its sealing needs is known from the start, so the thread seals it in
 * that wait instead of inside the batch's transaction, where a round trip to the thread would hold every
 * command of the batch and its connection (people are provisioned before the events are locked).
 * People anticipated while the thread works are sent together once it answers, and people who come
 * close together wait for each other (see `coalesceMillis`).
 *
 * @param send hands people to the thread; `resume` gets its answer.
 * @param nowMillis a monotonic clock (tests pass their own).
 * @since 0.3.0
 * @internal
 */
export const sealingAhead = (
  sealNow: (people: ReadonlyArray<SealingWorker.PersonInput>) => Effect.Effect<ReadonlyArray<SealingWorker.PersonSealed>>,
  send: (people: ReadonlyArray<SealingWorker.PersonInput>, resume: (response: SealingWorker.Response) => void) => void,
  nowMillis: () => number = () => performance.now()
) => {
  const byId = new Map<string, Ahead>()
  // Notes sealed with their owner, by registration: the owner's stored key (`<key id>:<wrapped>`), the
  // notes as given, the sealed notes.
  const notesById = new Map<string, readonly [ownerKey: string, notes: string, sealed: string]>()
  let queued: Array<Ahead> = []
  let sending = false
  let timer: ReturnType<typeof setTimeout> | undefined = undefined
  let lastAnticipated = Number.NEGATIVE_INFINITY

  const settle = (person: Ahead, sealed: SealingWorker.PersonSealed | undefined) => {
    const registration = person.input[5]
    if (sealed?.[6] !== undefined && registration !== undefined) {
      if (notesById.size >= maxAhead) notesById.clear()
      notesById.set(registration[0], [`${sealed[0]}:${sealed[1]}`, registration[1], sealed[6]])
    }
    person.sealed = sealed
    person.settled = true
    for (const waiter of person.waiters) waiter()
    person.waiters.length = 0
  }

  /** Sends what waits, unless a message is in flight: its answer sends the rest. */
  const flush = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    if (sending || queued.length === 0) return
    const batch = queued
    queued = []
    sending = true
    for (const person of batch) person.sent = true
    send(batch.map((person) => person.input), (response) => {
      sending = false
      const sealed = "people" in response ? response.people : undefined
      for (let i = 0; i < batch.length; i++) settle(batch[i]!, sealed?.[i])
      flush()
    })
  }

  const anticipate = (people: ReadonlyArray<SealingWorker.PersonInput>) => {
    for (const input of people) {
      if (byId.size >= maxAhead) byId.clear()
      const person: Ahead = { input, sealed: undefined, settled: false, sent: false, waiters: [] }
      byId.set(input[0], person)
      queued.push(person)
    }
    const now = nowMillis()
    const alone = now - lastAnticipated > coalesceMillis
    lastAnticipated = now
    if (alone || queued.length >= coalesceCount) flush()
    else if (timer === undefined && !sending) {
      timer = setTimeout(flush, coalesceMillis)
      // Waiting people never keep the process alive.
      timer.unref()
    }
  }

  /** The people sealed: those sealed ahead as they were, the others (or those whose sealing failed) now. */
  const people = (inputs: ReadonlyArray<SealingWorker.PersonInput>): Effect.Effect<ReadonlyArray<SealingWorker.PersonSealed>> =>
    Effect.suspend(() => {
      let any = false
      const taken = inputs.map((input) => {
        const person = byId.get(input[0])
        if (person === undefined || !sameInput(person.input, input)) return undefined
        // Taken once: a batch run again seals its people again (new data keys, nothing shared).
        byId.delete(input[0])
        any = true
        return person
      })
      if (!any) return sealNow(inputs)
      // A batch that starts before its people were sent (an idle service) does not wait for the timer.
      if (taken.some((person) => person !== undefined && !person.sent)) flush()
      return Effect.flatMap(settledAll(taken.filter((person) => person !== undefined)), () => {
        const rest = inputs.filter((_, i) => taken[i]?.sealed === undefined)
        return Effect.map(sealNow(rest), (sealed) => {
          let next = 0
          return inputs.map((_, i) => taken[i]?.sealed ?? sealed[next++]!)
        })
      })
    })

  /**
   * The notes sealed ahead for this registration, taken once — only for the same notes under the key its
   * owner was stored with (a batch run again, or a subject that existed, stores another key: sealed anew).
   */
  const takeNotes = ([registrationId, ownerKey, notes]: SealingWorker.NotesInput): string | undefined => {
    const ahead = notesById.get(registrationId)
    if (ahead === undefined) return undefined
    notesById.delete(registrationId)
    return ahead[0] === ownerKey && ahead[1] === notes ? ahead[2] : undefined
  }

  return { anticipate, people, takeNotes } as const
}

/**
 * A sealing thread for `keyring`, stopped when the scope closes (`workerUrl`: another thread module,
 * for tests of a thread that dies).
 *
 * @since 0.3.0
 */
export const make = (keyring: Keys.Keyring, options: { readonly workerUrl?: URL | undefined } = {}) =>
  Effect.gen(function*() {
    const materials = material(keyring)
    // The same sealing, inline: for a thread that died.
    const sealInline = (request: SealingWorker.Request) => SealingWorker.answer(inlineSealer(keyring), request)

    const pending = new Map<number, Pending>()
    let nextId = 0
    let alive = true
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const worker = new Worker(options.workerUrl ?? workerUrl, { workerData: { sealing: materials }, name: "live-events sealing" })
        // Only requests in flight keep the process alive.
        worker.unref()
        worker.on("message", (response: SealingWorker.Response) => {
          const entry = pending.get(response.id)
          if (entry === undefined) return
          pending.delete(response.id)
          if (pending.size === 0) worker.unref()
          entry.resume(response)
        })
        const died = () => {
          if (!alive) return
          alive = false
          for (const [id, entry] of pending) {
            pending.delete(id)
            entry.resume(sealInline(entry.request))
          }
        }
        worker.on("error", died)
        worker.on("exit", died)
        return worker
      }),
      (worker) =>
        Effect.promise(() => {
          alive = false
          return worker.terminate()
        })
    )

    /** Sends a request; `resume` gets the thread's answer, or the inline one should the thread die. */
    const send = (request: SealingWorker.Request, resume: (response: SealingWorker.Response) => void) => {
      if (pending.size === 0) worker.ref()
      pending.set(request.id, { request, resume })
      worker.postMessage(request)
    }

    const call = (make: (id: number) => SealingWorker.Request) =>
      Effect.callback<SealingWorker.Response>((resume) => {
        const request = make(nextId++)
        if (!alive) return resume(Effect.succeed(sealInline(request)))
        send(request, (response) => resume(Effect.succeed(response)))
        return Effect.sync(() => {
          pending.delete(request.id)
          if (pending.size === 0) worker.unref()
        })
      })

    const sealPeople = (people: ReadonlyArray<SealingWorker.PersonInput>) =>
      people.length === 0 ? Effect.succeed([]) : Effect.map(call((id) => ({ id, op: "people", people })), peopleOf)
    const ahead = sealingAhead(sealPeople, (people, resume) => {
      const request: SealingWorker.Request = { id: nextId++, op: "people", people }
      if (!alive) return resume(sealInline(request))
      send(request, resume)
    })

    return {
      running: () => alive,
      forget: (stored) => {
        if (alive) worker.postMessage({ op: "forget", stored } satisfies SealingWorker.Forget)
        else inlineSealer(keyring).forget(stored)
      },
      people: ahead.people,
      anticipate: ahead.anticipate,
      notes: (notes) =>
        Effect.suspend(() => {
          const taken = notes.map(ahead.takeNotes)
          const rest = notes.filter((_, i) => taken[i] === undefined)
          if (rest.length === 0) return Effect.succeed(taken as ReadonlyArray<string>)
          return Effect.map(call((id) => ({ id, op: "notes", notes: rest })), (response) => {
            const sealed = notesOf(response)
            let next = 0
            return taken.map((notes) => notes ?? sealed[next++]!)
          })
        })
    } satisfies Client
  })

/**
 * A sealing thread for the store's keyring (nothing when personal data is left unsealed).
 *
 * @since 0.3.0
 */
export const layer: Layer.Layer<never, never, Keys.PersonalDataKeys> = Layer.effect(
  SealingThread,
  Effect.gen(function*() {
    const keyring = yield* Keys.PersonalDataKeys
    return keyring.unsealed === true ? undefined : yield* make(keyring)
  })
)
