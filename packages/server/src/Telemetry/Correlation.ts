/**
 * Correlation ids: the `X-Correlation-ID` a client (or a proxy in front of us) sends to tie its own logs
 * to ours. Accepted only when it is short and made of safe characters — it ends up in every log line
 * and response, so free text (an email, a token pasted by mistake, a log-injection attempt) is refused
 * and replaced by a fresh id rather than echoed.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"

/** The request and response header. @since 0.1.0 */
export const header = "x-correlation-id"

/** 1..64 characters of `A-Z a-z 0-9 . _ : -` (UUIDs, ULIDs, W3C trace ids, AWS request ids…). @since 0.1.0 */
export const pattern = /^[A-Za-z0-9._:-]{1,64}$/

/** @since 0.1.0 */
export const isValid = (value: string): boolean => pattern.test(value)

/**
 * A random UUID v4 (Node's own: from a buffer of random bytes refilled every 128 ids, without the Web
 * Crypto wrapper's checks).
 *
 * @since 0.1.0
 */
export const generate = (): string => randomUUID()

/**
 * The correlation id of a request: the client's when valid, otherwise a new one.
 *
 * @since 0.1.0
 */
export const fromHeader = (value: string | undefined): string =>
  value !== undefined && isValid(value) ? value : generate()
