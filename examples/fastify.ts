/**
 * The engine embedded in a Fastify app:
 *
 *   node --conditions=@live-events/source examples/fastify.ts
 *
 * Fastify parses the JSON; the library's schemas validate it (`Problem.decode` in `liveEvents.ts`),
 * and every answer, success or problem, is the engine's {@link Reply}.
 */
import Fastify, { type FastifyReply } from "fastify"
import { callerFrom, makeLiveEvents, type Options, type Reply } from "./liveEvents.ts"

const send = (response: FastifyReply, reply: Reply) => response.code(reply.status).headers(reply.headers).send(JSON.stringify(reply.body))

/** Starts the app (port 0: any free one); `close` stops it and then the engine. */
export const start = async (options: Options & { readonly port?: number } = {}) => {
  const liveEvents = makeLiveEvents(options)
  await liveEvents.ready()
  const app = Fastify({ logger: false })
  // Unreadable JSON and other refusals of Fastify's own become problems too.
  app.setErrorHandler((error: { statusCode?: number }, request, response) => {
    const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500
    const reply = status < 500
      ? liveEvents.refuse(status, "bad-request", "The request could not be read", request.url)
      : liveEvents.refuse(500, "internal-error", "An unexpected error occurred", request.url)
    return send(response, reply)
  })
  app.setNotFoundHandler((request, response) => send(response, liveEvents.refuse(404, "not-found", "No such route", request.url)))

  type WithId = { Params: { id: string } }
  app.post("/events", async (request, response) => send(response, await liveEvents.createEvent(callerFrom(request.headers), request.body)))
  app.post<WithId>("/events/:id/registrations", async (request, response) =>
    send(response, await liveEvents.register(callerFrom(request.headers), request.params.id, request.body)))
  app.get<WithId>("/registrations/:id", async (request, response) =>
    send(response, await liveEvents.getRegistration(callerFrom(request.headers), request.params.id)))
  app.delete<WithId>("/registrations/:id", async (request, response) =>
    send(response, await liveEvents.cancel(callerFrom(request.headers), request.params.id)))
  app.get("/outbox", async (_request, response) => send(response, await liveEvents.outbox()))

  const url = await app.listen({ port: options.port ?? 3000, host: "127.0.0.1" })
  return {
    url,
    close: async () => {
      await app.close()
      await liveEvents.close()
    }
  }
}

if (import.meta.main) {
  const server = await start()
  console.log(`Listening on ${server.url}`)
  process.once("SIGINT", () => void server.close())
}
