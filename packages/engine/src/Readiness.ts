/**
 * Port: is the service able to serve? `/health/ready` asks it. A store layer fulfils it with a cheap
 * round trip (`SELECT 1`); later issues add the cache and the broker.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { DomainError } from "@live-events/domain"

/** @since 0.1.0 */
export class Readiness extends Context.Service<Readiness, {
  /** Failing means not ready; `"degraded"` marks a dependency that is down but not needed to serve (the cache). */
  readonly check: Effect.Effect<Record<string, "ok" | "degraded">, DomainError.RepositoryError>
}>()("@live-events/engine/Readiness") {
  /** Always ready: the in-memory store cannot be down. @since 0.1.0 */
  static readonly layerMemory = Layer.succeed(Readiness, { check: Effect.succeed({ database: "ok" as const }) })

  /** `SELECT 1` through the SQL client, bounded to 2 seconds. @since 0.1.0 */
  static readonly layerSql = Layer.effect(
    Readiness,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return Readiness.of({
        check: sql`SELECT 1`.pipe(
          Effect.timeout("2 seconds"),
          Effect.as({ database: "ok" as const }),
          Effect.mapError((cause) =>
            new DomainError.RepositoryError({ reason: "unavailable", operation: "health.ready", cause })
          )
        )
      })
    })
  )
}
