/**
 * Pipelined JetStream publishing on a NATS connection: every message goes out as a plain publish with
 * its own reply subject under one inbox, and the broker's acknowledgements come back on one wildcard
 * subscription, matched by reply subject. Compared with one request per message this allocates no
 * error objects and no timer per message (one timer per batch), which is most of the client's CPU time
 * per message. Messages leave in call order on the one connection, so the broker stores them in it.
 *
 * @since 0.2.0
 */
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/transport-node"

/** @since 0.2.0 */
export interface Outgoing {
  readonly subject: string
  readonly data: string
  readonly headers: MsgHdrs
}

/** @since 0.2.0 */
export interface NatsAcks {
  /**
   * Sends every message, then waits (at most `timeoutMillis`) for all acknowledgements. `onResult` is
   * called once per message with `undefined` when the broker stored it (or already had it: a
   * duplicate) and with the reason otherwise.
   */
  readonly publishAll: (
    messages: ReadonlyArray<Outgoing>,
    timeoutMillis: number,
    onResult: (index: number, error: Error | undefined) => void
  ) => Promise<void>
  readonly close: () => void
}

/** Why an acknowledgement is not one, or `undefined` for a stored message. */
const ackError = (ack: Msg): Error | undefined => {
  // A status message, e.g. 503: no stream listens on the subject (or JetStream is unavailable).
  if (ack.headers?.hasError) return new Error(`${ack.headers.code} ${ack.headers.description}`.trim())
  try {
    const body = ack.json<{ readonly stream?: string; readonly error?: { readonly description?: string } }>()
    if (body.error !== undefined) return new Error(body.error.description ?? "rejected by the broker")
    if (typeof body.stream !== "string" || body.stream === "") return new Error("invalid acknowledgement")
    return undefined
  } catch (error) {
    return new Error("unreadable acknowledgement", { cause: error })
  }
}

/** @since 0.2.0 */
export const make = (connection: NatsConnection, inbox: string): NatsAcks => {
  const waiting = new Map<string, (ack: Msg | Error) => void>()
  const subscription = connection.subscribe(`${inbox}.*`, {
    callback: (_error, ack) => {
      const settle = waiting.get(ack.subject)
      if (settle === undefined) return // late: its batch timed out already
      waiting.delete(ack.subject)
      settle(ack)
    }
  })
  let sequence = 0
  let closed = false

  // The acknowledgements of messages sent before a disconnect are lost with the connection (the broker
  // sends them on the old one, if it stored the messages at all): fail them at once rather than at the
  // batch's timeout, so that the relay sends them again as soon as the broker is back (it drops the
  // copies it has by Nats-Msg-Id). The same on reconnecting: what was published while the connection
  // was down is not waited for either (its acknowledgement was seen to arrive only at the timeout, seconds
  // after the broker was back); the relay sends it again at once, and the broker drops what it has.
  void (async () => {
    for await (const status of connection.status()) {
      if (closed) return
      if (status.type !== "disconnect" && status.type !== "reconnect") continue
      const lost = Array.from(waiting.values())
      waiting.clear()
      for (const settle of lost) settle(new Error(`${status.type}: the acknowledgement was lost with the connection`))
    }
  })().catch(() => undefined)

  const publishAll: NatsAcks["publishAll"] = (messages, timeoutMillis, onResult) =>
    new Promise<void>((resolve) => {
      let open = messages.length
      if (open === 0) return resolve()
      const replies: Array<string> = new Array(messages.length)
      const done = (index: number, error: Error | undefined) => {
        onResult(index, error)
        if (--open === 0) {
          clearTimeout(timer)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        for (let i = 0; i < replies.length; i++) {
          const reply = replies[i]!
          if (waiting.delete(reply)) done(i, new Error(`timeout: no acknowledgement within ${timeoutMillis} ms`))
        }
      }, timeoutMillis)
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!
        const reply = `${inbox}.${(sequence++).toString(36)}`
        replies[i] = reply
        waiting.set(reply, (ack) => done(i, ack instanceof Error ? ack : ackError(ack)))
        try {
          connection.publish(message.subject, message.data, { reply, headers: message.headers })
        } catch (error) {
          // Refused by the client (closed connection, payload over the server's limit, bad subject).
          if (waiting.delete(reply)) done(i, error instanceof Error ? error : new Error(String(error)))
        }
      }
    })

  return {
    publishAll,
    close: () => {
      closed = true
      subscription.unsubscribe()
    }
  }
}
