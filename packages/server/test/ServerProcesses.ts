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
    env: { ...process.env, RATE_LIMIT_ENABLED: "false", ...env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: process.env.TEST_SERVER_LOG_LEVEL ?? "Warning" },
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

/** One HTTP call to a server process; the body parsed as JSON when it is JSON. */
export const call = async (url: string, method: string, path: string, options: { token?: string; json?: unknown; headers?: Record<string, string> } = {}) => {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.json !== undefined) headers["content-type"] = "application/json"
  const response = await fetch(url + path, {
    method,
    headers,
    ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {})
  })
  const text = await response.text()
  let body: any = undefined
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined
  } catch {
    body = text
  }
  return { status: response.status, headers: response.headers, body }
}

/** `cache_hits_total` of a cache category (both tiers) from a server's `/metrics`. */
export const cacheHits = async (url: string, category: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text()
  let total = 0
  for (const line of text.split("\n")) {
    if (line.startsWith("cache_hits_total") && line.includes(`category="${category}"`)) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1))
    }
  }
  return total
}

/**
 * Reads through `url` until `ok` holds (at most 3 s), then checks it holds for `more` further reads;
 * returns how long it took.
 */
export const converges = async (
  url: string,
  path: string,
  ok: (body: any) => boolean,
  options: { readonly token?: string; readonly more?: number } = {}
) => {
  const started = Date.now()
  const read = () => call(url, "GET", path, options.token === undefined ? {} : { token: options.token })
  for (;;) {
    const response = await read()
    if (response.status !== 200) throw new Error(`${url}${path} answered ${response.status}`)
    if (ok(response.body)) break
    if (Date.now() - started > 3_000) throw new Error(`${url}${path} still stale after 3 s: ${JSON.stringify(response.body)}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const elapsed = Date.now() - started
  const reads = await Promise.all(Array.from({ length: options.more ?? 50 }, read))
  for (const response of reads) if (!ok(response.body)) throw new Error(`${url}${path} stale again: ${JSON.stringify(response.body)}`)
  return elapsed
}
