/**
 * The server's responses leave in one write when their whole body is given to `end`, and Node's
 * content-length check still refuses a body of another length.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { describe, expect, it } from "vitest"
import { OneWriteResponse } from "../src/Security/OneWriteResponse.ts"

type Handler = (response: ServerResponse) => void

/** Serves one request with `handler`; counts the socket's writes of each kind and keeps what `end` threw. */
const serveOnce = async (responseClass: typeof ServerResponse<IncomingMessage> | undefined, handler: Handler) => {
  const counts = { write: 0, writev: 0 }
  let thrown: unknown
  const server = createServer(responseClass === undefined ? {} : { ServerResponse: responseClass }, (_, response) => {
    try {
      handler(response)
    } catch (error) {
      thrown = error
      response.destroy()
    }
  })
  server.on("connection", (socket: Socket & { _write: Function; _writev: Function }) => {
    const write = socket._write.bind(socket)
    const writev = socket._writev.bind(socket)
    socket._write = (...args: Array<unknown>) => (counts.write++, write(...args))
    socket._writev = (...args: Array<unknown>) => (counts.writev++, writev(...args))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  try {
    const { port } = server.address() as AddressInfo
    const body = await fetch(`http://127.0.0.1:${port}/`).then((response) => response.text(), () => undefined)
    return { counts, thrown, body }
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

const strictEnd = (body: string, declared: number): Handler => (response) => {
  response.strictContentLength = true
  response.writeHead(200, { "content-type": "application/json", "content-length": String(declared) })
  response.end(body)
}

describe("OneWriteResponse", () => {
  const body = JSON.stringify({ id: "e1", title: "Spring concert" })

  it("writes the header block and a whole body in one write, where a strict response takes a writev", async () => {
    const plain = await serveOnce(undefined, strictEnd(body, Buffer.byteLength(body)))
    expect(plain.counts).toEqual({ write: 0, writev: 1 })
    const one = await serveOnce(OneWriteResponse, strictEnd(body, Buffer.byteLength(body)))
    expect(one.counts).toEqual({ write: 1, writev: 0 })
    expect(one.body).toBe(body)
  })

  it("counts bytes, not characters", async () => {
    const text = JSON.stringify({ title: "Café Müller — Zürich" })
    const one = await serveOnce(OneWriteResponse, strictEnd(text, Buffer.byteLength(text)))
    expect(one.body).toBe(text)
    expect(one.counts.write).toBe(1)
  })

  it("still refuses a body of another length than declared", async () => {
    const short = await serveOnce(OneWriteResponse, strictEnd(body, Buffer.byteLength(body) + 1))
    expect(short.thrown).toMatchObject({ code: "ERR_HTTP_CONTENT_LENGTH_MISMATCH" })
    const written = await serveOnce(OneWriteResponse, (response) => {
      response.strictContentLength = true
      response.writeHead(200, { "content-length": "10" })
      response.write("hello")
      response.end("wor")
    })
    expect(written.thrown).toMatchObject({ code: "ERR_HTTP_CONTENT_LENGTH_MISMATCH" })
  })
})
