/**
 * Key rotation run by a server process (`POST /v1/admin/keys/rotate`): the same resumable batches as
 * `live-events keys rotate` (`@live-events/sql` `KeyRotation`), forked into the server's scope so the
 * request answers at once. One run at a time per process; runs in several processes share the work
 * (each batch takes only rows nobody holds). Progress goes to the log (counts only) and to the metrics
 * `personal_data_rotated_total` / `personal_data_rotation_pending`.
 *
 * @since 0.1.0
 */
import { KeyRotation, PersonalDataKeys } from "@live-events/sql"
import { Context, Effect, Layer, Option, Ref } from "effect"
import type { SqlClient } from "effect/sql"

/** Rows per key, and whether this process is rotating. @since 0.1.0 */
export interface RotationStatus extends KeyRotation.Status {
  readonly running: boolean
}

/** @since 0.1.0 */
export class Rotation extends Context.Service<Rotation, {
  /** `None`: the store keeps nothing at rest (the memory store). */
  readonly status: Effect.Effect<Option.Option<RotationStatus>, unknown>
  /** Starts a run unless one is under way in this process; `false` when there is nothing to rotate. */
  readonly start: Effect.Effect<boolean>
}>()("@live-events/engine/Rotation") {}

/** Over the SQL store, with the keyring it seals with. @since 0.1.0 */
export const layerSql = (keyring: PersonalDataKeys.Keyring): Layer.Layer<Rotation, never, SqlClient.SqlClient> =>
  Layer.effect(
    Rotation,
    Effect.gen(function*() {
      const rotation = yield* KeyRotation.make.pipe(Effect.provideService(PersonalDataKeys.PersonalDataKeys, keyring))
      const running = yield* Ref.make(false)
      const scope = yield* Effect.scope
      const run = rotation.rotate({
        onProgress: (progress) =>
          Effect.logInfo("Key rotation progress", { phase: progress.phase, done: progress.done, remaining: progress.remaining })
      }).pipe(
        Effect.tap((totals) => Effect.logInfo("Key rotation done", totals)),
        Effect.catchCause((cause) => Effect.logWarning("Key rotation stopped (run it again to resume)", cause)),
        Effect.ensuring(Ref.set(running, false))
      )
      return Rotation.of({
        status: Effect.gen(function*() {
          const status = yield* rotation.status
          return Option.some({ ...status, running: yield* Ref.get(running) })
        }),
        start: Effect.gen(function*() {
          const started = yield* Ref.modify(running, (busy) => [!busy, true])
          if (started) yield* Effect.forkIn(run, scope)
          return true
        })
      })
    })
  )

/** The memory store: nothing at rest, nothing to rotate. @since 0.1.0 */
export const layerMemory = Layer.succeed(Rotation, Rotation.of({ status: Effect.succeedNone, start: Effect.succeed(false) }))
