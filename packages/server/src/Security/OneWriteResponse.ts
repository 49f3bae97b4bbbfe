/**
 * The server's `ServerResponse`: a response whose whole body is given to `end` leaves in one write.
 *
 * Effect's Node adapter sets `strictContentLength` on every response, so that Node refuses a body that
 * does not match its `content-length`. Node also skips, for such a response, its fast path for a body
 * given whole to `end()`: the header block and the body are queued as two chunks and written with
 * `writev` instead of one `write` (measured on a bare `node:http` server on loopback: 2–5 µs more per
 * response, a tenth of what that server spends on one). When nothing was written before `end` and the
 * body is exactly the declared length, the check has nothing left to catch, so the response ends without
 * it; any other response ends as before (a mismatch still throws).
 *
 * @since 0.3.0
 */
import { type IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from "node:http"

const lengthOf = (value: unknown): number | undefined =>
  typeof value === "string" || typeof value === "number" ? Number(value) : undefined

/** The `content-length` in the headers object given to `writeHead`, if it is one. */
const declaredIn = (headers: unknown): number | undefined =>
  headers === null || typeof headers !== "object" || Array.isArray(headers)
    ? undefined
    : lengthOf((headers as OutgoingHttpHeaders)["content-length"])

/** @since 0.3.0 */
export class OneWriteResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  #declared: number | undefined = undefined
  #wrote = false

  // Effect's adapter passes every header to `writeHead` at once: the declared length is read there.
  override writeHead(statusCode: number, ...rest: Array<any>): this {
    this.#declared = declaredIn(rest[rest.length - 1]) ?? lengthOf(this.getHeader("content-length"))
    return super.writeHead(statusCode, ...rest as [])
  }

  override write(...args: Array<any>): boolean {
    this.#wrote = true
    return super.write(...args as [any])
  }

  override end(chunk?: any, encoding?: any, callback?: any): this {
    if (this.strictContentLength && !this.#wrote && this.#declared !== undefined) {
      const length = typeof chunk === "string"
        ? Buffer.byteLength(chunk, typeof encoding === "string" ? encoding as BufferEncoding : "utf8")
        : chunk instanceof Uint8Array
        ? chunk.byteLength
        : undefined
      if (length === this.#declared) this.strictContentLength = false
    }
    return super.end(chunk, encoding, callback)
  }
}
