/**
 * Requests Node's HTTP parser refuses before any handler runs — conflicting `Content-Length` and
 * `Transfer-Encoding`, obsolete line folding, a NUL in a header, an HTTP/2 preface on the HTTP/1 port,
 * headers past the size limit — answered like every other refusal: an RFC 9457 problem with the
 * security headers every response carries, instead of Node's bare `400`/`431` status line.
 *
 * The request never became a request (no URL, no trace), so the problem has no `instance` path and a
 * fresh `traceId`. The connection is closed after the answer: after a framing error the rest of the
 * stream cannot be trusted.
 *
 * @since 0.1.0
 */
import type { Server } from "node:http"
import type { Duplex } from "node:stream"
import * as Problem from "../Problem.ts"
import * as Headers from "./Headers.ts"

/** The status for a parser error code of Node (`HPE_*`, `ERR_HTTP_*`). @since 0.1.0 */
export const statusOf = (code: string | undefined): number => {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return 431
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return 408
    default:
      return 400
  }
}

const details: Record<number, [code: string, detail: string]> = {
  400: ["malformed-request", "The request could not be parsed as HTTP/1.1"],
  408: ["request-timeout", "The request was not received in time"],
  431: ["request-headers-too-large", "The request headers are too large"]
}

/**
 * The raw HTTP/1.1 response for a refused request: status line, security headers, problem body.
 *
 * @since 0.1.0
 */
export const render = (status: number): string => {
  const [code, detail] = details[status] ?? details[400]!
  const body = JSON.stringify({
    type: Problem.typeOf(code),
    title: Problem.titleOf(status),
    status,
    detail,
    code,
    instance: "",
    traceId: Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0"))
      .join("")
  })
  const headers: Record<string, string> = {
    ...Headers.fixed,
    "content-security-policy": Headers.apiCsp,
    "cache-control": "no-store",
    "content-type": Problem.contentType,
    "content-length": String(Buffer.byteLength(body)),
    connection: "close"
  }
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  return `HTTP/1.1 ${status} ${Problem.titleOf(status)}\r\n${lines.join("\r\n")}\r\n\r\n${body}`
}

/**
 * Answers parser errors of `server` with {@link render}; a connection already reset or half-written
 * is just closed.
 *
 * @since 0.1.0
 */
export const install = <S extends Server>(server: S): S =>
  server.on("clientError", (error: Error & { readonly code?: string }, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable || ("_httpMessage" in socket && socket._httpMessage)) {
      socket.destroy()
      return
    }
    socket.end(render(statusOf(error.code)))
  })
