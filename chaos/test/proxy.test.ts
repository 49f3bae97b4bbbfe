/**
 * The fault proxy must do exactly what each fault says, or a green chaos run proves nothing: an echo
 * server stands in for the dependency.
 */
import { createServer, type Server, connect, type Socket } from "node:net"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as Proxy from "../proxy.ts"

let echo: Server
let echoPort = 0
const proxies: Array<Proxy.FaultProxy> = []

beforeAll(async () => {
  echo = createServer((socket) => {
    socket.on("data", (chunk) => socket.write(chunk))
    socket.on("error", () => {})
  })
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve))
  echoPort = (echo.address() as { port: number }).port
})
afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())))
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
})

const startProxy = async (random?: () => number) => {
  const proxy = await Proxy.start({ name: "echo", targetPort: echoPort, ...(random ? { random } : {}) })
  proxies.push(proxy)
  return proxy
}

/** Connects to `port`; resolves with the socket, or rejects with the connection error code. */
const open = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.once("connect", () => resolve(socket))
    socket.once("error", (error: NodeJS.ErrnoException) => reject(error.code))
  })

/** Sends `text` and waits for its echo: the answer, "timeout", or the socket's error code / "closed". */
const roundTrip = (socket: Socket, text: string, timeoutMs = 1000) =>
  new Promise<string>((resolve) => {
    let received = ""
    const timer = setTimeout(() => finish("timeout"), timeoutMs)
    const finish = (result: string) => {
      clearTimeout(timer)
      socket.off("data", onData)
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      received += chunk.toString()
      if (received.length >= text.length) finish(received)
    }
    socket.on("data", onData)
    socket.once("error", (error: NodeJS.ErrnoException) => finish(error.code ?? "error"))
    socket.once("close", () => finish("closed"))
    socket.write(text)
  })

describe("fault proxy", () => {
  it("passes traffic through unchanged", async () => {
    const proxy = await startProxy()
    const socket = await open(proxy.port)
    expect(await roundTrip(socket, "hello")).toBe("hello")
    expect(proxy.stats.accepted).toBe(1)
    socket.destroy()
  })

  it("adds latency to every chunk, keeping their order", async () => {
    const proxy = await startProxy()
    proxy.setLatency(150)
    const socket = await open(proxy.port)
    const started = performance.now()
    expect(await roundTrip(socket, "slow", 2000)).toBe("slow")
    // 150 ms each way.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    const parts = ["a", "b", "c", "d"]
    const answer = new Promise<string>((resolve) => {
      let received = ""
      socket.on("data", (chunk) => {
        received += chunk.toString()
        if (received.length === parts.length) resolve(received)
      })
    })
    for (const part of parts) socket.write(part)
    expect(await answer).toBe("abcd")
    proxy.setLatency(0)
    socket.destroy()
  })

  it("black-holes: accepts, never answers, and lets the held data through once healed", async () => {
    const proxy = await startProxy()
    const existing = await open(proxy.port)
    expect(await roundTrip(existing, "before")).toBe("before")
    proxy.setBlackHole(true)
    // A new connection is accepted (the client cannot tell the hole from a slow server)...
    const fresh = await open(proxy.port)
    // ...and neither it nor the open one gets an answer.
    expect(await roundTrip(fresh, "lost?", 300)).toBe("timeout")
    expect(await roundTrip(existing, "held", 300)).toBe("timeout")
    const late = new Promise<string>((resolve) => fresh.once("data", (chunk) => resolve(chunk.toString())))
    proxy.setBlackHole(false)
    expect(await late).toBe("lost?")
    fresh.destroy()
    existing.destroy()
  })

  it("goes down: cuts open connections, refuses new ones, and comes back on the same port", async () => {
    const proxy = await startProxy()
    const socket = await open(proxy.port)
    expect(await roundTrip(socket, "x")).toBe("x")
    const cut = new Promise<string>((resolve) => {
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"))
      socket.once("close", () => resolve("closed"))
    })
    await proxy.down()
    expect(["ECONNRESET", "closed"]).toContain(await cut)
    await expect(open(proxy.port)).rejects.toBe("ECONNREFUSED")
    await proxy.up()
    const again = await open(proxy.port)
    expect(await roundTrip(again, "back")).toBe("back")
    again.destroy()
  })

  it("resets every open connection on demand", async () => {
    const proxy = await startProxy()
    const sockets = [await open(proxy.port), await open(proxy.port)]
    for (const socket of sockets) expect(await roundTrip(socket, "ok")).toBe("ok")
    const outcomes = sockets.map((socket) => new Promise<string>((resolve) => {
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"))
      socket.once("close", () => resolve("closed"))
    }))
    expect(proxy.resetAll()).toBe(2)
    expect(await Promise.all(outcomes)).toEqual(["ECONNRESET", "ECONNRESET"])
    expect(proxy.stats.resets).toBe(2)
    // New connections still work: a reset is not an outage.
    const next = await open(proxy.port)
    expect(await roundTrip(next, "fine")).toBe("fine")
    next.destroy()
  })

  it("resets a connection mid-stream, before or after the chunk reached the server", async () => {
    // Draws: the first decides "reset", the second "after the server got it" (< 0.5) or "before".
    for (const [second, reachesServer] of [[0.2, true], [0.8, false]] as const) {
      let received = ""
      const target = createServer((socket) => {
        socket.on("data", (chunk) => (received += chunk.toString()))
        socket.on("error", () => {})
      })
      await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve))
      const draws = [0, second]
      const proxy = await Proxy.start({ name: "sink", targetPort: (target.address() as { port: number }).port, random: () => draws.shift() ?? 1 })
      proxies.push(proxy)
      const socket = await open(proxy.port)
      await new Promise((resolve) => setTimeout(resolve, 50))
      proxy.setResetChance(1)
      expect(await roundTrip(socket, "COMMIT", 1000)).toBe("ECONNRESET")
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(received).toBe(reachesServer ? "COMMIT" : "")
      await new Promise<void>((resolve) => target.close(() => resolve()))
    }
  })

  it("cuts one client off while another proxy to the same server keeps going", async () => {
    const cutOff = await startProxy()
    const healthy = await startProxy()
    const a = await open(cutOff.port)
    const b = await open(healthy.port)
    cutOff.setBlackHole(true)
    const [answerA, answerB] = await Promise.all([roundTrip(a, "a", 300), roundTrip(b, "b", 300)])
    expect(answerA).toBe("timeout")
    expect(answerB).toBe("b")
    a.destroy()
    b.destroy()
  })
})
