/**
 * SIGTERM drains: a request that is in flight when the signal arrives (its body still uploading) is
 * completed and answered, new connections are refused, and the process then exits by itself.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as DevKey from "../src/Auth/DevKey.ts"
import { eventInput } from "./support/TestServer.ts"

const repoRoot = new URL("../../../", import.meta.url).pathname
const secret = "shutdown-test-secret-shutdown-test"

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer()
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as { port: number }).port
      probe.close(() => resolve(port))
    })
  })

describe("graceful shutdown", () => {
  it("answers the in-flight request after SIGTERM, then exits", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "le-shutdown-"))
    const port = await freePort()
    const child = spawn(process.execPath, ["--conditions=@live-events/source", "packages/server/src/main.ts"], {
      cwd: repoRoot,
      env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, AUTH_DEV_SECRET: secret, AUTH_MODE: "development" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout!.on("data", (chunk) => (output += chunk))
    child.stderr!.on("data", (chunk) => (output += chunk))
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    try {
      const url = `http://127.0.0.1:${port}`
      for (let i = 0; ; i++) {
        const ready = await fetch(`${url}/health/ready`).then((r) => r.status, () => 0)
        if (ready === 200) break
        if (i > 300 || child.exitCode !== null) throw new Error(`server did not start:\n${output}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(output).toContain(`listening on ${url}`)
      expect(output).toContain(`${url}/docs`)
      expect(output).toContain("npx live-events token --sub alice --role organizer")

      const token = await Effect.runPromise(DevKey.mint(new TextEncoder().encode(secret), { subject: "s", roles: ["organizer"] }))
      const body = JSON.stringify(eventInput({ title: "Created while shutting down" }))
      const socket = connect(port, "127.0.0.1")
      let response = ""
      socket.on("data", (chunk) => (response += chunk))
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
      socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
          body.slice(0, 20)
      )
      await new Promise((resolve) => setTimeout(resolve, 300))
      child.kill("SIGTERM")
      await new Promise((resolve) => setTimeout(resolve, 500))
      // The listener is closed: new connections are refused while the old request drains.
      const refused = await fetch(`${url}/health/live`).then(() => false, () => true)
      expect(refused).toBe(true)
      // Not `end()`: a half-closed client socket makes Node close the response, which is a client abort.
      socket.write(body.slice(20))
      // The server closes the connection once it has answered, since it is shutting down.
      await closed
      expect(response).toMatch(/^HTTP\/1\.1 201 /)
      expect(response).toContain("Created while shutting down")
      // NodeRuntime.runMain ends an interrupted program with 130; what matters is a clean, prompt exit.
      expect([0, 130]).toContain(await exited)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 60_000)
})
