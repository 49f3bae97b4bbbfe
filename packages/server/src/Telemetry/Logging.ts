/**
 * The server's log output: one JSON object per line (`LOG_FORMAT=json`, the default) or Effect's pretty
 * console format (`pretty`, for a terminal), filtered by `LOG_LEVEL`.
 *
 * A JSON line carries `timestamp`, `level`, `message`, the `traceId` / `spanId` of the current span,
 * the request's `correlationId` (from the request's state, see `RequestState.ts`) and the other
 * annotations. Nothing the caller typed reaches a line unfiltered: annotations whose key names
 * personal data or a secret are dropped, and every line is scrubbed of anything shaped like an email
 * address, a bearer token / JWT or an international phone number, so a stray error message quoting a
 * row or a header cannot leak one. Names cannot be recognised by shape: they are kept out by never
 * logging bodies, users or claims (the log-capture test checks that).
 *
 * @since 0.1.0
 */
import { Cause, Context, type Fiber, Layer, Logger, LogLevel, References, Tracer } from "effect"
import * as RequestState from "./RequestState.ts"

/** @since 0.1.0 */
export type Format = "json" | "pretty"

/** `LOG_LEVEL` values, lower-case as operators type them. @since 0.1.0 */
export type Level = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "none"

const levels: Record<Level, LogLevel.LogLevel> = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
}

/** Annotation keys that are never written, whatever their value. @since 0.1.0 */
export const deniedKey = /(e-?mail|name|phone|token|authorization|password|secret|cookie|claims?|payload|body|notes)$/i

const emailShape = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g
// Three base64url segments (a JWT) or whatever follows the word Bearer.
const tokenShape = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi
// International notation only: bare digit runs are ids, counts and timestamps.
const phoneShape = /\+\d[\d ().-]{6,}\d/g

/**
 * Replaces what looks like an email, a token or a phone number.
 *
 * @since 0.1.0
 */
export const scrub = (text: string): string => {
  // Each shape needs a character most lines lack: test for it before running the pattern (every request
  // logs a line, and most carry none of these).
  let scrubbed = text
  if (scrubbed.includes("@")) scrubbed = scrubbed.replace(emailShape, "[email]")
  if (mayHoldToken.test(scrubbed)) scrubbed = scrubbed.replace(tokenShape, "[token]")
  if (scrubbed.includes("+")) scrubbed = scrubbed.replace(phoneShape, "[phone]")
  return scrubbed
}

const mayHoldToken = /eyJ|bearer|basic/i

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => typeof part === "string" ? part : safeStringify(part)).join(" ")
}

// Keys repeat (annotation and field names): one regex test per distinct key, bounded.
const deniedKeys = new Map<string, boolean>()
const isDenied = (key: string): boolean => {
  let denied = deniedKeys.get(key)
  if (denied === undefined) {
    denied = deniedKey.test(key)
    if (deniedKeys.size >= 10_000) deniedKeys.clear()
    deniedKeys.set(key, denied)
  }
  return denied
}

const withoutDenied = (key: string, value: unknown) => (key !== "" && isDenied(key) ? undefined : value)

const safeStringify = (value: unknown): string => {
  try {
    return typeof value === "object" && value !== null && !(value instanceof Error)
      ? JSON.stringify(value, withoutDenied)
      : String(value)
  } catch {
    return String(value)
  }
}

const entryOf = ({ cause, date, fiber, logLevel, message }: Logger.Options<unknown>): Record<string, unknown> => {
  const entry: Record<string, unknown> = {
    timestamp: date.toISOString(),
    level: logLevel.toUpperCase(),
    message: messageText(message)
  }
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  if (span !== undefined) {
    entry.traceId = span.traceId
    entry.spanId = span.spanId
  }
  // The request's correlation id is in its state, not copied into the annotations of every request.
  const request = RequestState.of(fiber.context)
  if (request !== undefined) entry.correlationId = request.correlationId
  for (const [key, value] of Object.entries(fiber.getRef(References.CurrentLogAnnotations))) {
    if (!isDenied(key) && !(key in entry)) entry[key] = value
  }
  if (cause.reasons.length > 0) entry.cause = Cause.pretty(cause)
  return entry
}

/**
 * The JSON line of one log entry (without the newline).
 *
 * @since 0.1.0
 */
export const formatJsonLine = Logger.make<unknown, string>((options) => scrub(safeStringify(entryOf(options))))

/**
 * A human-readable line: `12:00:00.000 INFO  message key=value …`, scrubbed like the JSON one.
 *
 * @since 0.1.0
 */
export const formatPrettyLine = Logger.make<unknown, string>((options) => {
  const { cause, level, message, timestamp, ...rest } = entryOf(options)
  const fields = Object.entries(rest).map(([key, value]) => `${key}=${typeof value === "string" ? value : safeStringify(value)}`)
  const head = `${String(timestamp).slice(11, 23)} ${String(level).padEnd(5)} ${String(message)}`
  return scrub([head, ...fields].join(" ") + (cause === undefined ? "" : "\n" + String(cause)))
})

/**
 * Where lines go; stdout by default. Tests pass their own to capture lines.
 *
 * @since 0.1.0
 */
export type Sink = (line: string) => void

/**
 * stdout, written in batches: Node writes to a file or a pipe synchronously, and on a busy server an
 * event-loop turn often carries a single request, so a line per request would cost a system call per
 * request. Lines wait at most {@link flushMillis} (or until 64 KiB are pending) and leave together;
 * whatever is pending is written when the process exits. A process killed with SIGKILL loses at most
 * the lines of its last {@link flushMillis}.
 *
 * @since 0.1.0
 */
export const stdoutBuffered = (): Sink => {
  if (sharedStdout === undefined) {
    let pending: Array<string> = []
    let pendingChars = 0
    let timer: ReturnType<typeof setTimeout> | undefined = undefined
    const flush = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      if (pending.length === 0) return
      const chunk = pending.join("\n") + "\n"
      pending = []
      pendingChars = 0
      process.stdout.write(chunk)
    }
    process.once("exit", flush)
    sharedStdout = (line) => {
      pending.push(line)
      pendingChars += line.length + 1
      if (pendingChars >= 64 * 1024) flush()
      else if (timer === undefined) {
        timer = setTimeout(flush, flushMillis)
        // Pending lines never keep the process alive: the exit handler writes them.
        timer.unref()
      }
    }
  }
  return sharedStdout
}

/** The longest a line waits in {@link stdoutBuffered}. @since 0.1.0 */
export const flushMillis = 50

let sharedStdout: Sink | undefined = undefined

/**
 * What a request log line says besides the common fields (all bounded values: no path, no header).
 *
 * @since 0.1.0
 */
export interface RequestLine {
  readonly method: string
  readonly route: string
  readonly status: number
  readonly durationMs: number
  readonly role: string | undefined
}

/**
 * Writes the per-request line straight to the sink, the same JSON an Effect log call with these
 * annotations would produce, without the logger machinery (the annotation merge, the entry object, a
 * replacer call per key): the line every request pays for costs a few microseconds.
 *
 * @since 0.1.0
 */
export type RequestLineWriter = (fiber: Fiber.Fiber<unknown, unknown>, level: LogLevel.LogLevel, line: RequestLine) => void

/**
 * The direct writer of request lines; `undefined` (the default) means the request line goes through
 * Effect's loggers (pretty format, span events, or loggers of the embedder).
 *
 * @since 0.1.0
 */
export const RequestLines = Context.Reference<RequestLineWriter | undefined>("@live-events/server/Logging/RequestLines", {
  defaultValue: () => undefined
})

const levelNames: Record<LogLevel.LogLevel, string> = {
  All: "ALL",
  Fatal: "FATAL",
  Error: "ERROR",
  Warn: "WARN",
  Info: "INFO",
  Debug: "DEBUG",
  Trace: "TRACE",
  None: "NONE"
}

/**
 * The JSON writer of request lines over `sink`.
 *
 * @since 0.1.0
 */
export const jsonRequestLines = (sink: Sink): RequestLineWriter => (fiber, level, line) => {
  if (LogLevel.isGreaterThan(fiber.getRef(References.MinimumLogLevel), level)) return
  let text = `{"timestamp":"${timestampNow()}","level":"${levelNames[level]}","message":"http request"`
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  if (span !== undefined) text += `,"traceId":"${span.traceId}","spanId":"${span.spanId}"`
  const request = RequestState.of(fiber.context)
  // Safe to write unquoted: a correlation id is made of `A-Za-z0-9._:-` (see `Correlation.ts`). A
  // client's may still look like a token: scrubbed as any line is.
  if (request !== undefined) text += `,"correlationId":"${scrub(request.correlationId)}"`
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  let annotated = ""
  for (const key in annotations) {
    if (isDenied(key) || fixedKeys.has(key)) continue
    const value = annotations[key]
    annotated += `,${JSON.stringify(key)}:${typeof value === "string" ? JSON.stringify(value) : JSON.stringify(safeJson(value))}`
  }
  if (annotated !== "") text += scrub(annotated)
  // The rest is the server's own: a method from a closed set, a route template, numbers, roles from a
  // closed set, hexadecimal span ids, the time. Only the client's values above are scrubbed.
  text += `,"http.method":"${line.method}","http.route":${JSON.stringify(line.route)},"http.status":${line.status},"durationMs":${line.durationMs}`
  if (line.role !== undefined) text += `,"user.role":"${line.role}"`
  sink(text + "}")
}

// Many request lines share a millisecond under load: its ISO text is made once.
let timestampMillis = Number.NaN
let timestampText = ""
const timestampNow = (): string => {
  const now = Date.now()
  if (now !== timestampMillis) {
    timestampMillis = now
    timestampText = new Date(now).toISOString()
  }
  return timestampText
}

// What `entryOf` + `safeStringify` would make of a non-string annotation, as a JSON value.
const safeJson = (value: unknown): unknown => {
  if (typeof value === "object" && value !== null && !(value instanceof Error)) {
    try {
      return JSON.parse(JSON.stringify(value, withoutDenied))
    } catch {
      return String(value)
    }
  }
  return typeof value === "number" || typeof value === "boolean" ? value : String(value)
}

const fixedKeys = new Set(["timestamp", "level", "message", "traceId", "spanId", "correlationId", "http.method", "http.route", "http.status", "durationMs", "user.role"])

/**
 * The loggers and minimum level. With `spanEvents` (set when spans are exported), `tracerLogger` also
 * turns each line into an event of the current span; without an exporter nobody would read them.
 *
 * @since 0.1.0
 */
export const layer = (options: {
  readonly format?: Format | undefined
  readonly level?: Level | undefined
  readonly sink?: Sink | undefined
  readonly spanEvents?: boolean | undefined
}): Layer.Layer<never> => {
  const sink = options.sink ?? stdoutBuffered()
  const main = options.format === "pretty"
    ? Logger.map(formatPrettyLine, sink)
    : Logger.map(formatJsonLine, sink)
  // With span events, every line must also reach the tracer logger: no shortcut then.
  const direct = options.format !== "pretty" && options.spanEvents !== true ? jsonRequestLines(sink) : undefined
  return Layer.mergeAll(
    Logger.layer(options.spanEvents === true ? [main, Logger.tracerLogger] : [main]),
    Layer.succeed(References.MinimumLogLevel, levels[options.level ?? "info"]),
    Layer.succeed(RequestLines, direct)
  )
}
