/**
 * Key administration as the transports answer it: admins only (`forbidden` otherwise), nothing to show
 * or rotate on a store that keeps no personal data at rest (`no-data-at-rest`), a storage failure
 * logged and answered `service-unavailable` with a retry hint; a started rotation is audited. The
 * REST routes (`KeysHttp.ts`) and the GraphQL fields both answer through these two functions.
 *
 * @since 0.1.0
 */
import { Audit, type Ids, UnitOfWork, User } from "@live-events/domain"
import { Effect, Option } from "effect"
import * as Problem from "../Problem.ts"
import { Rotation as RotationModule } from "@live-events/engine"

const Rotation = RotationModule.Rotation
type Rotation = RotationModule.Rotation
/** What `status` answers. @since 0.2.0 */
export type RotationStatus = RotationModule.RotationStatus

const forbidden = Problem.make(403, "forbidden", "Only admins may manage keys")
const nothingAtRest = Problem.make(404, "no-data-at-rest", "This store keeps no personal data at rest")

const unavailable = (cause: unknown) =>
  Effect.andThen(
    Effect.logWarning("Key administration: storage failure", cause),
    Effect.fail(Problem.make(503, "service-unavailable", "Key status is temporarily unavailable, please retry", {
      headers: { "retry-after": "5" }
    }))
  )

const adminOnly = (actor: User.Actor): Effect.Effect<void, Problem.Problem> =>
  User.isAdmin(actor) ? Effect.void : Effect.fail(forbidden)

/**
 * Rows per key, and whether this process is rotating.
 *
 * @since 0.1.0
 */
export const status = (actor: User.Actor): Effect.Effect<RotationStatus, Problem.Problem, Rotation> =>
  Effect.gen(function*() {
    yield* adminOnly(actor)
    const found = yield* Effect.catch((yield* Rotation).status, unavailable)
    return Option.isNone(found) ? yield* Effect.fail(nothingAtRest) : found.value
  })

/**
 * Starts a rotation in this process (unless one runs already), recorded in the audit log.
 *
 * @since 0.1.0
 */
export const rotate = (
  actor: User.Actor
): Effect.Effect<{ readonly status: "running" }, Problem.Problem, Rotation | UnitOfWork.UnitOfWork | Audit.AuditLog | Ids.Ids> =>
  Effect.gen(function*() {
    yield* adminOnly(actor)
    const rotation = yield* Rotation
    if (!(yield* rotation.start)) return yield* Effect.fail(nothingAtRest)
    const unitOfWork = yield* UnitOfWork.UnitOfWork
    yield* Effect.catch(
      unitOfWork.transact(Audit.record(actor, { action: "keys.rotate", targetType: "keyring", targetId: "personal-data" })),
      unavailable
    )
    return { status: "running" as const }
  })
