/**
 * Starts real server processes (`node packages/server/src/main.ts`) on 127.0.0.1 for end-to-end tests,
 * and mints development tokens for them with a shared secret.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createServer } from "node:net"
import { SignJWT } from "jose"

const repoRoot = new URL("../../../", import.meta.url).pathname

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })

export interface ServerProcess {
  readonly url: string
  readonly child: ChildProcess
  readonly output: () => string
  readonly stop: () => Promise<void>
}

export const devSecret = () => randomBytes(24).toString("base64url")

/** Starts one server process and waits (bounded) until /health/ready answers 200. */
export const startServer = async (env: Record<string, string>): Promise<ServerProcess> => {
  const port = await freePort()
  const child = spawn(process.execPath, ["--conditions=@live-events/source", "packages/server/src/main.ts"], {
    cwd: repoRoot,
    // Rate limiting off unless a test asks for it: most tests send far more than 100 requests a minute.
    env: { ...process.env, RATE_LIMIT_ENABLED: "false", ...env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "Warning" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`)
    try {
      const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) })
      if (response.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`server not ready after 30 s:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGTERM")
      setTimeout(() => child.kill("SIGKILL"), 5_000).unref()
    })
  return { url, child, output: () => output, stop }
}

/** A development token as the server's dev mode expects it. */
export const mintToken = (secret: string, subject: string, roles: ReadonlyArray<string>) =>
  new SignJWT({ roles: [...roles] })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(subject)
    .setIssuer("live-events-dev")
    .setAudience("live-events")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret))
