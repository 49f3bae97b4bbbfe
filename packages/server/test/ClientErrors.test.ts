/**
 * Requests Node's own parser refuses never get a bare status line: each is answered with an RFC 9457
 * problem body and the security headers of every other response, and the connection is closed.
 */
import { connect } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { start, type TestServer } from "./support/TestServer.ts"

let server: TestServer
let port: number

beforeAll(async () => {
  server = await start()
  port = Number(new URL(server.url).port)
})
afterAll(() => server.close())

/** Sends raw bytes and reads until the server closes the connection. */
const raw = (request: string | Buffer) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    let received = ""
    socket.setTimeout(5_000, () => socket.destroy(new Error("no answer within 5 s")))
    socket.on("data", (chunk) => (received += chunk.toString("latin1")))
    socket.on("end", () => resolve(received))
    socket.on("close", () => resolve(received))
    socket.on("error", reject)
    socket.write(request)
  })

const parse = (response: string) => {
  const [head = "", body = ""] = response.split("\r\n\r\n", 2)
  const [statusLine = "", ...lines] = head.split("\r\n")
  const headers = new Map(lines.map((line) => {
    const colon = line.indexOf(":")
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const
  }))
  return { status: Number(statusLine.split(" ")[1]), headers, body }
}

const cases: ReadonlyArray<[string, string | Buffer, number]> = [
  [
    "conflicting Content-Length and Transfer-Encoding",
    "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400
  ],
  ["obsolete line folding", "GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n", 400],
  ["a NUL in a header", Buffer.from("GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Nul: a\u0000b\r\n\r\n", "latin1"), 400],
  ["an HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400],
  ["a 20 KB header", `GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431]
]

describe("requests the HTTP parser refuses", () => {
  for (const [name, request, status] of cases) {
    it(`${name} → ${status} problem with the security headers`, async () => {
      const response = parse(await raw(request))
      expect(response.status).toBe(status)
      expect(response.headers.get("content-type")).toBe("application/problem+json")
      expect(response.headers.get("x-content-type-options")).toBe("nosniff")
      expect(response.headers.get("x-frame-options")).toBe("DENY")
      expect(response.headers.get("content-security-policy")).toContain("default-src 'none'")
      expect(response.headers.get("referrer-policy")).toBe("no-referrer")
      expect(response.headers.get("permissions-policy")).toContain("camera=()")
      expect(response.headers.get("connection")).toBe("close")
      const body = JSON.parse(response.body)
      expect(body).toMatchObject({ status, code: expect.any(String), type: expect.stringMatching(/^urn:/) })
      expect(body.traceId).toMatch(/^[0-9a-f]{32}$/)
    })
  }

  it("a well-formed request on the same server is still served", async () => {
    expect((await server.request("GET", "/v1/events")).status).toBe(200)
  })
})
