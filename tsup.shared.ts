import type { Options } from "tsup"

/**
 * Shared build of every published package: ESM, dependencies left external. Declarations are not
 * bundled here: `scripts/build.ts` emits them with `tsc`, one `.d.ts` per module, because the bundled
 * declarations dropped every value that shares its name with a type (`export const EventId` next to
 * `export type EventId`) from the namespace re-exports.
 */
export const packageBuild = (options: Partial<Options> = {}): Options => ({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: false,
  sourcemap: true,
  clean: true,
  target: "node22",
  platform: "node",
  tsconfig: "../../tsconfig.build.json",
  external: [/^effect/, /^@effect\//, /^@live-events\//, /^@electric-sql\//],
  ...options
})
