/**
 * The sealing thread's side (see `SealingThread.ts`): receives a batch of new people or of notes, seals
 * them, answers with the sealed columns. It holds the keyring it was started with and the data keys it
 * has made or unwrapped (bounded).
 *
 * @since 0.3.0
 */
import { createSecretKey, type KeyObject } from "node:crypto"
import { parentPort, workerData } from "node:worker_threads"
import * as Primitives from "./SealingPrimitives.ts"

/** A keyring as the thread receives it: the active key's id and every key's bytes. @since 0.3.0 */
export interface RingMaterial {
  readonly active: string
  readonly keys: ReadonlyArray<readonly [string, Uint8Array]>
}

/** What the thread is started with. @since 0.3.0 */
export interface Material {
  readonly data: RingMaterial
  readonly index: RingMaterial
}

/**
 * A new person: id, email, name, phone, normalised email (the blind index's input); and, when known, the
 * registration their batch is about to write (its id and notes), whose notes are sealed with them.
 *
 * @since 0.3.0
 */
export type PersonInput = readonly [
  string,
  string | null,
  string | null,
  string | null,
  string | null,
  (readonly [registrationId: string, notes: string])?
]

/**
 * A new person sealed: key id, wrapped data key, email, name, phone, blind index; and the notes of the
 * registration given with them, sealed under their data key (when they were given and not empty).
 *
 * @since 0.3.0
 */
export type PersonSealed = readonly [string, string, string | null, string | null, string | null, string | null, string?]

/** Notes to seal: registration id, the owner's stored key (`<key id>:<wrapped>`), the notes. @since 0.3.0 */
export type NotesInput = readonly [string, string, string]

/** @since 0.3.0 */
export type Request =
  | { readonly id: number; readonly op: "people"; readonly people: ReadonlyArray<PersonInput> }
  | { readonly id: number; readonly op: "notes"; readonly notes: ReadonlyArray<NotesInput> }

/** An erased person's data key leaves the thread's memory (no answer). @since 0.3.0 */
export interface Forget {
  readonly op: "forget"
  readonly stored: string
}

/** @since 0.3.0 */
export type Response =
  | { readonly id: number; readonly people: ReadonlyArray<PersonSealed> }
  | { readonly id: number; readonly notes: ReadonlyArray<string> }
  | { readonly id: number; readonly error: string }

/** The sealing of one keyring, as the thread runs it (exported for its tests). @since 0.3.0 */
export const sealer = (material: Material) => {
  const data = new Map(material.data.keys.map(([id, bytes]) => [id, new Uint8Array(bytes)]))
  const index = new Map(material.index.keys.map(([id, bytes]) => [id, new Uint8Array(bytes)]))
  const activeData = Primitives.keyObject(data.get(material.data.active)!)
  const activeIndex = index.get(material.index.active)!

  // Data keys by stored form, bounded, cleared whole when full (a key is unwrapped again in microseconds).
  const known = new Map<string, KeyObject>()
  const remember = (stored: string, key: KeyObject) => {
    if (known.size >= 10_000) known.clear()
    known.set(stored, key)
  }
  const dataKey = (stored: string): KeyObject => {
    const hit = known.get(stored)
    if (hit !== undefined) return hit
    const separator = stored.indexOf(":")
    const keyBytes = data.get(stored.slice(0, separator))
    if (keyBytes === undefined) throw new Error(`no key "${stored.slice(0, separator)}" in the keyring`)
    let key: KeyObject
    try {
      key = Primitives.unwrap(Primitives.keyObject(keyBytes), stored.slice(separator + 1))
    } catch {
      throw new Error(`a data key does not unwrap under key "${stored.slice(0, separator)}"`)
    }
    remember(stored, key)
    return key
  }

  const people = (inputs: ReadonlyArray<PersonInput>): Array<PersonSealed> =>
    inputs.map(([id, email, name, phone, normalised, registration]) => {
      const bytes = Primitives.random(Primitives.KEY_BYTES)
      const key = createSecretKey(bytes)
      const wrapped = Primitives.wrap(activeData, bytes)
      remember(`${material.data.active}:${wrapped}`, key)
      const columns = [
        material.data.active,
        wrapped,
        email === null ? null : Primitives.seal(key, Primitives.context("user", id, "email"), email),
        name === null ? null : Primitives.seal(key, Primitives.context("user", id, "name"), name),
        phone === null ? null : Primitives.seal(key, Primitives.context("user", id, "phone"), phone),
        normalised === null ? null : `${material.index.active}:${Primitives.mac(activeIndex, normalised)}`
      ] as const
      // Empty notes stay empty (and unsealed) in the store: nothing to seal ahead.
      return registration === undefined || registration[1] === ""
        ? columns
        : [...columns, Primitives.seal(key, Primitives.context("registration", registration[0], "notes"), registration[1])]
    })

  const notes = (inputs: ReadonlyArray<NotesInput>): Array<string> =>
    inputs.map(([registrationId, stored, text]) =>
      Primitives.seal(dataKey(stored), Primitives.context("registration", registrationId, "notes"), text)
    )

  return { people, notes, forget: (stored: string) => known.delete(stored), holds: (stored: string) => known.has(stored) } as const
}

/** Answers one request (errors become an answer: the thread never dies of one batch). @since 0.3.0 */
export const answer = (sealing: ReturnType<typeof sealer>, request: Request): Response => {
  try {
    return request.op === "people"
      ? { id: request.id, people: sealing.people(request.people) }
      : { id: request.id, notes: sealing.notes(request.notes) }
  } catch (error) {
    return { id: request.id, error: error instanceof Error ? error.message : String(error) }
  }
}

if (parentPort !== null && (workerData as { readonly sealing?: Material } | undefined)?.sealing !== undefined) {
  const port = parentPort
  const sealing = sealer((workerData as { readonly sealing: Material }).sealing)
  port.on("message", (request: Request | Forget) => {
    if (request.op === "forget") sealing.forget(request.stored)
    else port.postMessage(answer(sealing, request))
  })
}
