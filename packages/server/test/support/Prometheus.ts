/**
 * A small parser of the Prometheus text format for tests: sample name + sorted labels → value.
 */
export type Samples = ReadonlyMap<string, number>

const key = (name: string, labels: Record<string, string>) => {
  const sorted = Object.keys(labels).sort().map((label) => `${label}="${labels[label]}"`)
  return sorted.length === 0 ? name : `${name}{${sorted.join(",")}}`
}

export const parse = (text: string): Samples => {
  const samples = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`Not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!
    }
    samples.set(key(match[1]!, labels), Number(match[3] === "+Inf" ? Infinity : match[3]))
  }
  return samples
}

/** The value of one sample (0 when absent: a counter not yet incremented). */
export const value = (samples: Samples, name: string, labels: Record<string, string> = {}): number =>
  samples.get(key(name, labels)) ?? 0

/** after − before, per sample. */
export const delta = (before: Samples, after: Samples) => (name: string, labels: Record<string, string> = {}) =>
  value(after, name, labels) - value(before, name, labels)
