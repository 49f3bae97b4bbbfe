/**
 * Screenshot of the `/docs` page as a reader sees it, with a check of what matters in it: the
 * generated request snippet of an authenticated operation sends `Authorization: Bearer …` (not the
 * Basic credentials the page defaults to when the security scheme is not a Bearer one).
 *
 *   npm run docs:screenshot                      → docs/images/api-docs.png
 *   npm run docs:screenshot -- /tmp/docs.png     → another file
 *
 * Needs a Chromium (`apt-get install chromium` on Debian; `CHROMIUM=/path/to/chrome` for another) and
 * the PostgreSQL the tests use (`TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432`): the server
 * runs as `npm start` does, on a database of its own (dropped afterwards) because it starts far faster
 * than the embedded one, on any free port. No browser library: Chromium is driven over the DevTools
 * protocol with Node's own `WebSocket`. The browser may reach 127.0.0.1 only: the fonts the page would
 * fetch from its vendor are left out.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import pg from "pg"

const output = process.argv[2] ?? "docs/images/api-docs.png"
const chromium = process.env.CHROMIUM ?? "chromium"
/** The operation whose snippet is checked and shown: creating an event needs an organizer's token. */
const operation = "POST /v1/events"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const until = async <A>(what: string, timeoutMillis: number, attempt: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + timeoutMillis
  while (Date.now() < deadline) {
    const value = await attempt().catch(() => undefined)
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`)
}

const startServer = async (dataDir: string, databaseUrl: string): Promise<{ readonly child: ChildProcess; readonly url: string }> => {
  const port = await freePort()
  const child = spawn(process.execPath, ["--conditions=@live-events/source", "packages/server/src/main.ts"], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, DATABASE_URL: databaseUrl, LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"]
  })
  const url = `http://127.0.0.1:${port}`
  await until("the server's /health/ready", 180_000, async () => (await fetch(`${url}/health/ready`)).ok || undefined)
  return { child, url }
}

const startChromium = async (profile: string): Promise<{ readonly child: ChildProcess; readonly endpoint: string }> => {
  const child = spawn(chromium, [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    `--user-data-dir=${profile}`,
    // Every host name fails to resolve: only 127.0.0.1 is reachable.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "about:blank"
  ], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`${chromium} exited (${code}):\n${stderr}`)))
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr)
      if (match !== null) resolve(match[1]!)
    })
  })
  return { child, endpoint }
}

/** A DevTools protocol session on one page. */
const openPage = async (browserEndpoint: string) => {
  const { port } = new URL(browserEndpoint)
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as Array<{ type: string; webSocketDebuggerUrl: string }>
  const page = targets.find((target) => target.type === "page")
  if (page === undefined) throw new Error("Chromium has no page")
  const socket = new WebSocket(page.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => {
    socket.onopen = resolve
    socket.onerror = reject
  })
  let nextId = 0
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>()
  socket.onmessage = (message) => {
    const data = JSON.parse(String(message.data))
    const waiter = pending.get(data.id)
    if (waiter === undefined) return
    pending.delete(data.id)
    if (data.error) waiter.reject(new Error(data.error.message))
    else waiter.resolve(data.result)
  }
  const send = (method: string, params: Record<string, unknown> = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = ++nextId
      pending.set(id, { resolve, reject })
      socket.send(JSON.stringify({ id, method, params }))
    })
  const evaluate = async <A>(expression: string): Promise<A> => {
    const { result, exceptionDetails } = await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })
    if (exceptionDetails !== undefined) throw new Error(exceptionDetails.text)
    return result.value as A
  }
  return { send, evaluate, close: () => socket.close() }
}

/**
 * The text of the request example shown for {@link operation}, once the page rendered it: the code
 * block of the section whose text names the operation's method and path.
 */
const snippetOf = (method: string, path: string) => `(() => {
  const blocks = [...document.querySelectorAll("pre, code, .cm-content")]
    .map((element) => element.innerText)
    .filter((text) => text.includes(${JSON.stringify(path)}) && text.includes("curl") && text.includes(${JSON.stringify(method)}))
  return blocks.length > 0 ? blocks[0] : undefined
})()`

const main = async () => {
  const scratch = mkdtempSync(join(tmpdir(), "live-events-docs-"))
  const children: Array<ChildProcess> = []
  const adminUrl = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432"
  const database = `le_docs_${process.pid}_${Date.now()}`
  const admin = new pg.Client({ connectionString: `${adminUrl}/postgres` })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${database}`)
  try {
    const server = await startServer(join(scratch, "data"), `${adminUrl}/${database}`)
    children.push(server.child)
    const browser = await startChromium(join(scratch, "profile"))
    children.push(browser.child)
    const page = await openPage(browser.endpoint)
    await page.send("Page.enable")
    await page.send("Emulation.setDeviceMetricsOverride", { width: 1440, height: 1000, deviceScaleFactor: 1, mobile: false })
    const [method, path] = operation.split(" ") as [string, string]
    await page.send("Page.navigate", { url: `${server.url}/docs` })
    // Scalar renders operations lazily: bring the operation's section into view, then wait for its snippet.
    const snippet = await until(`the ${operation} request snippet`, 90_000, async () => {
      await page.evaluate(`(() => {
        const heading = [...document.querySelectorAll("h1, h2, h3, h4, [class*=operation] *")]
          .find((element) => element.textContent?.trim() === ${JSON.stringify(path)} || element.id?.includes("POST/v1/events"))
        heading?.scrollIntoView({ block: "start" })
        const section = document.getElementById("tag/events/POST/v1/events") ?? document.querySelector('[id$="POST/v1/events"]')
        section?.scrollIntoView({ block: "start" })
      })()`)
      return page.evaluate<string | undefined>(snippetOf(method, path))
    }).catch(async (error) => {
      // What the page shows instead, for whoever has to find out why.
      const { data } = await page.send("Page.captureScreenshot", { format: "png" })
      writeFileSync(join(tmpdir(), "live-events-docs-failed.png"), Buffer.from(data, "base64"))
      const ids = await page.evaluate<Array<string>>(`[...document.querySelectorAll("[id]")].map((e) => e.id).slice(0, 60)`)
      const text = await page.evaluate<string>(`document.body.innerText.slice(0, 1500)`)
      console.error(`page ids: ${ids.join(" ")}\npage text: ${text}\nscreenshot: ${join(tmpdir(), "live-events-docs-failed.png")}`)
      throw error
    })
    if (!/Authorization: Bearer /.test(snippet)) throw new Error(`the ${operation} snippet does not send a Bearer token:\n${snippet}`)
    if (/Authorization: Basic/.test(snippet)) throw new Error(`the ${operation} snippet sends Basic credentials:\n${snippet}`)
    const { data } = await page.send("Page.captureScreenshot", { format: "png" })
    page.close()
    mkdirSync(dirname(output), { recursive: true })
    writeFileSync(output, Buffer.from(data, "base64"))
    console.log(`${operation} snippet sends "Authorization: Bearer …"; screenshot: ${output}`)
  } finally {
    for (const child of children.reverse()) child.kill("SIGTERM")
    await new Promise((resolve) => setTimeout(resolve, 500))
    rmSync(scratch, { recursive: true, force: true })
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin.end()
  }
}

await main()
