import type { Options } from "tsup"

/** Shared build of every published package: ESM + declarations, dependencies left external. */
export const packageBuild = (options: Partial<Options> = {}): Options => ({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node22",
  platform: "node",
  tsconfig: "../../tsconfig.build.json",
  external: [/^effect/, /^@effect\//, /^@live-events\//, /^@electric-sql\//],
  ...options
})
