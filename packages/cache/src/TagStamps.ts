/**
 * The newest invalidation stamp of every tag raised recently: an entry created at or before its tag's
 * stamp is stale. A stamp older than the longest life of an entry can no longer make anything stale,
 * so it is forgotten.
 *
 * Forgetting costs only what it forgets. The stamps are also queued in the order they were recorded,
 * and `prune` takes expired ones off the head of that queue; a tag recorded again leaves its old place
 * in the queue behind, which is skipped when it reaches the head. (Scanning the map for expired stamps
 * once it held many cost a full pass per invalidation: with a tag per person, a registration rush
 * reached 100,000 live tags within a minute and spent most of the event loop in that pass.)
 *
 * @since 0.3.0
 */

/** @since 0.3.0 */
export interface TagStamps {
  readonly get: (tag: string) => number | undefined
  /** Records `stamp` for `tag` unless a newer one is known. */
  readonly raise: (tag: string, stamp: number) => void
  /** Forgets the stamps older than `horizon`, recorded in about that order (a late one waits its turn). */
  readonly prune: (horizon: number) => void
  readonly size: () => number
}

/** @since 0.3.0 */
export const make = (): TagStamps => {
  const stamps = new Map<string, number>()
  // The queue as two parallel arrays and a head index; compacted once the consumed part is its larger half.
  let tags: Array<string> = []
  let values: Array<number> = []
  let head = 0

  return {
    get: (tag) => stamps.get(tag),
    raise: (tag, stamp) => {
      const known = stamps.get(tag)
      if (known !== undefined && known >= stamp) return
      stamps.set(tag, stamp)
      tags.push(tag)
      values.push(stamp)
    },
    prune: (horizon) => {
      while (head < values.length && values[head]! < horizon) {
        const tag = tags[head]!
        // Recorded again since: a newer stamp, queued further back, is the one that counts.
        if (stamps.get(tag) === values[head]) stamps.delete(tag)
        head++
      }
      if (head > 1024 && head * 2 > values.length) {
        tags = tags.slice(head)
        values = values.slice(head)
        head = 0
      }
    },
    size: () => stamps.size
  }
}
