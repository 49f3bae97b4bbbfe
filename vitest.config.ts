import { existsSync, readdirSync } from "node:fs"
import { defineConfig } from "vitest/config"

// Every package is tested from its TypeScript source through the "@live-events/source" export
// condition. It must be set under ssr.resolve.conditions: plain resolve.conditions is ignored for
// Node tests and vitest would silently import a stale dist/.
const sourceCondition = {
  ssr: { resolve: { conditions: ["@live-events/source"] } },
  resolve: { conditions: ["@live-events/source"] }
}

const project = (name: string, root: string) => ({
  ...sourceCondition,
  test: {
    name,
    include: [`${root}/test/**/*.test.ts`],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // graphql-ws imports graphql itself: transformed here too, it gets the same graphql module as the
    // server's source (Vite resolves graphql's "development" build, Node alone its default one).
    server: { deps: { inline: ["graphql-ws"] } }
  }
})

// One project per package that has tests, plus the chaos checker's unit tests and the examples.
const packages = readdirSync("packages").filter((name) => existsSync(`packages/${name}/test`))

export default defineConfig({
  ...sourceCondition,
  test: {
    projects: [
      ...packages.map((name) => project(name, `packages/${name}`)),
      ...(existsSync("chaos/test") ? [project("chaos", "chaos")] : []),
      ...(existsSync("examples/test") ? [project("examples", "examples")] : [])
    ]
  }
})
