/**
 * The read cache the hottest reads answer from without their use-case (`Events/CachedEvents.ts`,
 * `Registrations/CachedRegistrations.ts`): the cached entities and the use-cases' own pure rules
 * (`Policy`), nothing else. Not while spans are exported: the use-case's span is then part of every
 * read's trace.
 *
 * @since 0.2.0
 */
import { TwoLevelCache } from "@live-events/cache"
import { Effect, Option } from "effect"
import { Telemetry } from "../Telemetry/Telemetry.ts"

/**
 * The cache to peek in, or `undefined` when there is none or spans are exported.
 *
 * @since 0.2.0
 */
export const cache: Effect.Effect<TwoLevelCache.TwoLevelCache["Service"] | undefined> = Effect.gen(function*() {
  const found = Option.getOrUndefined(yield* Effect.serviceOption(TwoLevelCache.TwoLevelCache))
  const telemetry = Option.getOrUndefined(yield* Effect.serviceOption(Telemetry))
  return telemetry?.tracesExported === true ? undefined : found
})
