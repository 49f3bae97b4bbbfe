/**
 * The engine embedded in an Express app:
 *
 *   node --conditions=@live-events/source examples/express.ts
 *
 * Express parses the JSON; the library's schemas validate it (`Problem.decode` in `liveEvents.ts`),
 * and every answer, success or problem, is the engine's {@link Reply}.
 */
import express, { type ErrorRequestHandler, type Response } from "express"
import type { AddressInfo } from "node:net"
import { callerFrom, makeLiveEvents, type Options, type Reply } from "./liveEvents.ts"

const send = (response: Response, reply: Reply) => {
  response.status(reply.status).set(reply.headers).send(JSON.stringify(reply.body))
}

/** Starts the app (port 0: any free one); `close` stops it and then the engine. */
export const start = async (options: Options & { readonly port?: number } = {}) => {
  const liveEvents = makeLiveEvents(options)
  await liveEvents.ready()
  const app = express()
  app.use(express.json())

  app.post("/events", async (request, response) => send(response, await liveEvents.createEvent(callerFrom(request.headers), request.body)))
  app.post("/events/:id/registrations", async (request, response) =>
    send(response, await liveEvents.register(callerFrom(request.headers), request.params.id, request.body)))
  app.get("/registrations/:id", async (request, response) =>
    send(response, await liveEvents.getRegistration(callerFrom(request.headers), request.params.id)))
  app.delete("/registrations/:id", async (request, response) =>
    send(response, await liveEvents.cancel(callerFrom(request.headers), request.params.id)))
  app.get("/outbox", async (_request, response) => send(response, await liveEvents.outbox()))
  app.use((request, response) => send(response, liveEvents.refuse(404, "not-found", "No such route", request.path)))
  // Unreadable JSON (body-parser's 400) and anything thrown become problems too.
  const problems: ErrorRequestHandler = (error: { status?: number }, request, response, _next) => {
    const status = error.status !== undefined && error.status < 500 ? error.status : 500
    send(
      response,
      status < 500
        ? liveEvents.refuse(status, "bad-request", "The request could not be read", request.path)
        : liveEvents.refuse(500, "internal-error", "An unexpected error occurred", request.path)
    )
  }
  app.use(problems)

  const server = app.listen(options.port ?? 3000, "127.0.0.1")
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise((resolve) => server.close(resolve))
      await liveEvents.close()
    }
  }
}

if (import.meta.main) {
  const server = await start()
  console.log(`Listening on ${server.url}`)
  process.once("SIGINT", () => void server.close())
}
