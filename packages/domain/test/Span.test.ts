/**
 * The two spans of a use-case call: `named` is the parent of what the call runs, `leaf` is recorded
 * with the same parent and timing but leaves the caller's context as it was (a batched command's work
 * runs in its batch's fiber).
 */
import { Context, Effect, Exit, Option, Tracer } from "effect"
import { describe, expect, it } from "vitest"
import { Span } from "../src/index.ts"

const recording = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

/** The fiber's context and current parent span as the wrapped effect sees them. */
const seen = Effect.withFiber((fiber) => Effect.succeed({ context: fiber.context, parent: Context.getOrUndefined(fiber.context, Tracer.ParentSpan) }))

const run = <A, E>(effect: Effect.Effect<A, E>, tracer: Tracer.Tracer) =>
  Effect.runPromiseExit(Effect.withTracer(effect, tracer))

describe("use-case spans", () => {
  it("a leaf span is recorded under the caller's span and changes nothing the call sees", async () => {
    const { spans, tracer } = recording()
    const exit = await run(
      Effect.gen(function*() {
        const outside = yield* seen
        const inside = yield* seen.pipe(Span.leaf("UseCase.batched"))
        return { outside, inside }
      }).pipe(Effect.withSpan("request")),
      tracer
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    const { inside, outside } = exit.value
    expect(inside.context).toBe(outside.context)
    expect(inside.parent).toBe(outside.parent)

    const request = spans.find((span) => span.name === "request")!
    const leaf = spans.find((span) => span.name === "UseCase.batched")!
    expect(Option.getOrUndefined(leaf.parent)).toBe(request)
    expect(leaf.status._tag).toBe("Ended")
  })

  it("a named span is the parent of what the call runs", async () => {
    const { spans, tracer } = recording()
    const exit = await run(seen.pipe(Span.named("UseCase.direct"), Effect.withSpan("request")), tracer)
    expect(Exit.isSuccess(exit)).toBe(true)
    const named = spans.find((span) => span.name === "UseCase.direct")!
    expect(Exit.isSuccess(exit) && exit.value.parent).toBe(named)
  })

  it("a leaf span ends with the call's failure", async () => {
    const { spans, tracer } = recording()
    const exit = await run(Effect.fail("refused").pipe(Span.leaf("UseCase.batched"), Effect.withSpan("request")), tracer)
    expect(Exit.isFailure(exit)).toBe(true)
    const leaf = spans.find((span) => span.name === "UseCase.batched")!
    expect(leaf.status._tag === "Ended" && Exit.isFailure(leaf.status.exit)).toBe(true)
  })
})
