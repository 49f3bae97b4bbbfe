/**
 * Pipelined acknowledgements on a scripted connection: a disconnect fails the acknowledgements still
 * awaited at once (they are lost with the connection) instead of at the batch's timeout, and so does
 * the reconnect for what was published meanwhile; messages sent after it are acknowledged normally.
 */
import type { Msg, MsgHdrs, NatsConnection, Status } from "@nats-io/transport-node"
import { expect, it } from "vitest"
import * as NatsAcks from "../src/NatsAcks.ts"

/** A connection whose broker never answers by itself: the test delivers acks and status events. */
const scriptedConnection = () => {
  const sent: Array<string> = []
  let deliver: ((ack: Msg) => void) | undefined
  const statuses: Array<Status> = []
  let wake: (() => void) | undefined
  const connection = {
    subscribe: (_subject: string, options: { callback: (error: unknown, msg: Msg) => void }) => {
      deliver = (ack) => options.callback(null, ack)
      return { unsubscribe: () => undefined }
    },
    publish: (_subject: string, _data: string, options: { reply: string }) => {
      sent.push(options.reply)
    },
    status: () => ({
      async *[Symbol.asyncIterator]() {
        while (true) {
          while (statuses.length > 0) yield statuses.shift()!
          await new Promise<void>((resolve) => (wake = resolve))
        }
      }
    })
  }
  return {
    connection: connection as unknown as NatsConnection,
    sent,
    ack: (reply: string) =>
      deliver!({ subject: reply, headers: undefined, json: () => ({ stream: "S", seq: 1 }) } as unknown as Msg),
    emit: (status: Status) => {
      statuses.push(status)
      wake?.()
    }
  }
}

const outgoing = (n: number): ReadonlyArray<NatsAcks.Outgoing> =>
  Array.from({ length: n }, (_, i) => ({ subject: `s.${i}`, data: "{}", headers: undefined as unknown as MsgHdrs }))

it("a disconnect fails the awaited acknowledgements at once; later batches are acknowledged", async () => {
  const broker = scriptedConnection()
  const acks = NatsAcks.make(broker.connection, "_INBOX.test")
  const results: Array<[number, Error | undefined]> = []
  // A minute's ack timeout: only the disconnect can end this batch within the test.
  const batch = acks.publishAll(outgoing(3), 60_000, (i, error) => void results.push([i, error]))
  broker.ack(broker.sent[0]!)
  broker.emit({ type: "disconnect", server: "127.0.0.1:4222" })
  await batch
  expect(results.map(([i, error]) => [i, error?.message.slice(0, 12)])).toEqual([
    [0, undefined],
    [1, "disconnect: "],
    [2, "disconnect: "]
  ])

  // Published while reconnecting (buffered by the client): not waited for past the reconnect either.
  const buffered: Array<Error | undefined> = []
  const during = acks.publishAll(outgoing(1), 60_000, (_i, error) => void buffered.push(error))
  broker.emit({ type: "reconnect", server: "127.0.0.1:4222" })
  await during
  expect(buffered.map((error) => error?.message.slice(0, 9))).toEqual(["reconnect"])

  const after: Array<Error | undefined> = []
  const next = acks.publishAll(outgoing(1), 60_000, (_i, error) => void after.push(error))
  broker.ack(broker.sent[4]!)
  await next
  expect(after).toEqual([undefined])
  acks.close()
})
