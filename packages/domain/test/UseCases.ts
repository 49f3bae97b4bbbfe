/**
 * Every use-case over the memory store and test ids: what the domain's scenario tests run on.
 */
import { Layer } from "effect"
import { Events, Ids, Memory, Privacy, Registrations, Users } from "@live-events/domain"

export const memoryUseCases = Layer.mergeAll(
  Events.Events.layer,
  Registrations.Registrations.layer,
  Users.Users.layer,
  Privacy.Privacy.layer
).pipe(Layer.provideMerge(Layer.mergeAll(Memory.layer, Ids.Ids.layerTest)))
