/**
 * The engine embedded in a plain Node HTTP server (no framework):
 *
 *   node --conditions=@live-events/source examples/node-http.ts
 *   curl -X POST localhost:3000/events -H 'x-user: olivia' -H 'x-role: organizer' \
 *     -d '{"title":"Meetup","startsAt":"2030-05-01T18:00:00Z","endsAt":"2030-05-01T20:00:00Z","timeZone":"Europe/Berlin","location":"Berlin","capacity":2}'
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { callerFrom, type LiveEvents, makeLiveEvents, type Options, type Reply } from "./liveEvents.ts"

const readJson = async (request: IncomingMessage): Promise<{ readonly ok: true; readonly value: unknown } | { readonly ok: false }> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString("utf8")
  if (text === "") return { ok: true, value: undefined }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

const send = (response: ServerResponse, reply: Reply) => {
  response.writeHead(reply.status, reply.headers).end(JSON.stringify(reply.body))
}

const route = async (app: LiveEvents, request: IncomingMessage): Promise<Reply> => {
  const path = new URL(request.url ?? "/", "http://localhost").pathname
  const caller = callerFrom(request.headers)
  const body = await readJson(request)
  if (!body.ok) return app.refuse(400, "bad-request", "The request body is not JSON", path)
  const registrations = /^\/events\/([^/]+)\/registrations$/.exec(path)
  const registration = /^\/registrations\/([^/]+)$/.exec(path)
  if (request.method === "POST" && path === "/events") return app.createEvent(caller, body.value)
  if (request.method === "POST" && registrations) return app.register(caller, registrations[1]!, body.value)
  if (request.method === "GET" && registration) return app.getRegistration(caller, registration[1]!)
  if (request.method === "DELETE" && registration) return app.cancel(caller, registration[1]!)
  if (request.method === "GET" && path === "/outbox") return app.outbox()
  return app.refuse(404, "not-found", "No such route", path)
}

/** Starts the server (port 0: any free one); `close` stops it and then the engine. */
export const start = async (options: Options & { readonly port?: number } = {}) => {
  const app = makeLiveEvents(options)
  await app.ready()
  const server = createServer((request, response) => {
    route(app, request).then((reply) => send(response, reply), () =>
      send(response, app.refuse(500, "internal-error", "An unexpected error occurred", request.url ?? "/")))
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 3000, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise((resolve) => server.close(resolve))
      await app.close()
    }
  }
}

if (import.meta.main) {
  const server = await start()
  console.log(`Listening on ${server.url}`)
  process.once("SIGINT", () => void server.close())
}
