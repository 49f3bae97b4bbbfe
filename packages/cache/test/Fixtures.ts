/**
 * Test doubles: a `Source` standing for the database (a mutable value and a load counter), fresh keys.
 */
import { type Duration, Effect } from "effect"

/** Identifies this test run in every key and prefix. */
export const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let counter = 0

/** A key no other test (or parallel run) uses. */
export const freshKey = (name: string) => `${name}:${run}:${++counter}`

/** A key prefix unique to this run, so parallel runs against one Redis never collide. */
export const runPrefix = (name: string) => `lec-test:${name}:${run}`

/** The "database": `load` reads the current value and counts the calls. */
export class Source<A> {
  loads = 0
  value: A
  private readonly delay: Duration.Input | undefined
  constructor(value: A, options: { readonly delay?: Duration.Input } = {}) {
    this.value = value
    this.delay = options.delay
  }
  get load(): Effect.Effect<A> {
    return Effect.suspend(() => {
      this.loads++
      const value = this.value
      return this.delay === undefined ? Effect.succeed(value) : Effect.as(Effect.sleep(this.delay), value)
    })
  }
}
