/**
 * Resolvers of mutations: one per REST command, each decoding its input with the REST body's schema
 * and calling the same use-case with the caller.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import { Event, Events, Privacy, Registration, Registrations, User, Users } from "@live-events/domain"
import * as PrivacyApi from "@live-events/api/PrivacyApi"
import * as KeysAdmin from "../Privacy/KeysAdmin.ts"
import * as Arguments from "./Arguments.ts"
import * as Errors from "./Errors.ts"
import type { RequestContext } from "./Execution.ts"
import { authenticated } from "./Queries.ts"

type Args = Record<string, any>

const createEventInput = Errors.decode(Event.CreateEventInput, "input")
const updateEventInput = Errors.decode(Event.UpdateEventInput, "input")
const registerInput = Errors.decode(Registration.RegisterInput, "notes")
const profileInput = Errors.decode(User.UpdateProfileInput, "input")
const createUserInput = Errors.decode(User.CreateUserInput, "input")
const updateUserInput = Errors.decode(User.AdminUpdateUserInput, "input")
const expectedVersion = Errors.decode(Schema.UndefinedOr(Schema.Int), "expectedVersion")
const encodeExport = Schema.encodeSync(Schema.toCodecJson(PrivacyApi.PersonalDataJson))

const eventTransition = (name: "publish" | "unpublish" | "cancel") =>
(_: unknown, args: Args, request: RequestContext) =>
  authenticated(request, (actor) =>
    Effect.gen(function*() {
      const id = yield* Arguments.eventId(args.id)
      return yield* (yield* Events.Events)[name](actor, id)
    }))

const registrationAction = (name: "cancel" | "confirm") => (_: unknown, args: Args, request: RequestContext) =>
  authenticated(request, (actor) =>
    Effect.gen(function*() {
      const id = yield* Arguments.registrationId(args.id)
      return yield* (yield* Registrations.Registrations)[name](actor, id)
    }))

/** @since 0.2.0 */
export const Mutation = {
  createEvent: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const input = yield* createEventInput(args.input)
        return yield* (yield* Events.Events).create(actor, input)
      })),
  updateEvent: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.eventId(args.id)
        const input = yield* updateEventInput(args.input)
        const version = yield* expectedVersion(args.expectedVersion ?? undefined)
        return yield* (yield* Events.Events).update(actor, id, input, version)
      })),
  deleteEvent: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.eventId(args.id)
        yield* (yield* Events.Events).delete(actor, id)
        return id
      })),
  publishEvent: eventTransition("publish"),
  unpublishEvent: eventTransition("unpublish"),
  cancelEvent: eventTransition("cancel"),
  register: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const eventId = yield* Arguments.eventId(args.eventId)
        const input = yield* registerInput(Arguments.withoutNulls({ notes: args.notes }))
        return yield* (yield* Registrations.Registrations).register(actor, eventId, input)
      })),
  cancelRegistration: registrationAction("cancel"),
  confirmRegistration: registrationAction("confirm"),
  markAttendance: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.registrationId(args.id)
        return yield* (yield* Registrations.Registrations).markAttendance(actor, id, args.attended === true)
      })),
  updateMe: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const input = yield* profileInput(args.input)
        return yield* (yield* Users.Users).updateMe(actor, input)
      })),
  createUser: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const input = yield* createUserInput(Arguments.withoutNulls(args.input))
        return yield* (yield* Users.Users).create(actor, input)
      })),
  updateUser: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.userId(args.id)
        const input = yield* updateUserInput(args.input)
        return yield* (yield* Users.Users).update(actor, id, input)
      })),
  exportMe: (_: unknown, __: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Privacy.Privacy.use((privacy) => privacy.export(actor, actor.userId)).pipe(
        Effect.map((data) => encodeExport(PrivacyApi.toJson(data)))
      )),
  exportUser: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.userId(args.id)
        const data = yield* (yield* Privacy.Privacy).export(actor, id)
        return encodeExport(PrivacyApi.toJson(data))
      })),
  eraseMe: (_: unknown, __: Args, request: RequestContext) =>
    authenticated(request, (actor) => Effect.as(Privacy.Privacy.use((privacy) => privacy.erase(actor, actor.userId)), true)),
  eraseUser: (_: unknown, args: Args, request: RequestContext) =>
    authenticated(request, (actor) =>
      Effect.gen(function*() {
        const id = yield* Arguments.userId(args.id)
        yield* (yield* Privacy.Privacy).erase(actor, id)
        return true
      })),
  rotateEncryptionKeys: (_: unknown, __: Args, request: RequestContext) =>
    authenticated(request, (actor) => Errors.problemAsError(KeysAdmin.rotate(actor)))
}
