/**
 * The ceiling for a read: a bare `node:http` server answering `GET /v1/events/{id}` with a fixed
 * JSON event of the same shape and size as the real one, no database, no auth, no middleware.
 * The goal "cached read ≥ 0.7× raw node:http" is measured against this.
 */
import { createServer } from "node:http"

const port = Number(process.env.PORT ?? 3200)
const host = process.env.HOST ?? "127.0.0.1"

const event = (id: string) => ({
  id,
  organizerId: "0193a1c4-5a6b-7c8d-9e0f-123456789abc",
  title: "Benchmark event",
  description: "",
  startsAt: "2030-01-01T10:00:00.000Z",
  endsAt: "2030-01-01T12:00:00.000Z",
  timeZone: "Europe/Berlin",
  location: "Hall 1",
  capacity: 100,
  waitlist: { enabled: true, limit: null },
  registrationClosesAt: "2030-01-01T10:00:00.000Z",
  status: "published",
  confirmedCount: 10,
  waitlistCount: 0,
  availableSeats: 90
})

const server = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0]!
  const match = /^\/v1\/events\/([0-9a-f-]{36})$/i.exec(path)
  if (path === "/health/ready" || path === "/health/live" || match !== null) {
    const body = JSON.stringify(match !== null ? event(match[1]!) : { status: "ok" })
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
    return
  }
  res.writeHead(404).end()
})
server.keepAliveTimeout = 65_000
server.listen(port, host, () => console.log(`raw listening on http://${host}:${port}`))
process.on("SIGTERM", () => {
  server.close()
  server.closeAllConnections()
})
