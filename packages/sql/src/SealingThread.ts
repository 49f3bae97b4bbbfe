/**
 * Sealing on a thread of its own: the registration hot path hands each batch's new people and notes to
 * a worker thread and awaits the sealed columns, so that the ciphers (a data key wrapped, email, name
 * and notes sealed, an HMAC: about 75 µs of a busy event loop per new person, and the garbage of their
 * buffers) run beside the event loop instead of in it. One message goes each way per batch.
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
    forget: (stored) => void sealer.forget(stored)
  }
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

    const call = (make: (id: number) => SealingWorker.Request) =>
      Effect.callback<SealingWorker.Response>((resume) => {
        const request = make(nextId++)
        if (!alive) return resume(Effect.succeed(sealInline(request)))
        if (pending.size === 0) worker.ref()
        pending.set(request.id, { request, resume: (response) => resume(Effect.succeed(response)) })
        worker.postMessage(request)
        return Effect.sync(() => {
          pending.delete(request.id)
          if (pending.size === 0) worker.unref()
        })
      })

    return {
      running: () => alive,
      forget: (stored) => {
        if (alive) worker.postMessage({ op: "forget", stored } satisfies SealingWorker.Forget)
        else inlineSealer(keyring).forget(stored)
      },
      people: (people) => people.length === 0 ? Effect.succeed([]) : Effect.map(call((id) => ({ id, op: "people", people })), peopleOf),
      notes: (notes) => notes.length === 0 ? Effect.succeed([]) : Effect.map(call((id) => ({ id, op: "notes", notes })), notesOf)
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
