/**
 * The in-process tier: a bounded map in least-recently-used order.
 *
 * A `Map` from key to a node of a doubly linked list ordered by recency: a hit moves its node to the tail,
 * an insertion beyond capacity drops the head, both in constant time. (Evicting through `Map` insertion
 * order instead looks constant but is not: V8 skips the deleted slots at the front of the table on every
 * new iterator, which made a full cache under churn spend most of its time evicting.)
 *
 * Expiry is not handled here: entries carry their own deadlines and the cache decides whether a stale
 * entry is still useful (grace), so an expired entry stays until it is read past its grace, overwritten or
 * evicted.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export interface LruStore<V> {
  readonly capacity: number
  readonly size: () => number
  /** Returns the value and marks it most recently used. */
  readonly get: (key: string) => V | undefined
  /** Returns the value without touching the recency order. */
  readonly peek: (key: string) => V | undefined
  /** Inserts or replaces; returns how many entries were evicted to make room (0 or 1). */
  readonly set: (key: string, value: V) => number
  readonly delete: (key: string) => boolean
  readonly clear: () => number
  /** From least to most recently used. */
  readonly entries: () => IterableIterator<[string, V]>
}

interface Node<V> {
  readonly key: string
  value: V
  previous: Node<V> | undefined
  next: Node<V> | undefined
}

/** @since 0.1.0 */
export const make = <V>(capacity: number): LruStore<V> => {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LRU capacity must be a positive integer`)
  const map = new Map<string, Node<V>>()
  let head: Node<V> | undefined // least recently used
  let tail: Node<V> | undefined // most recently used

  const unlink = (node: Node<V>) => {
    if (node.previous === undefined) head = node.next
    else node.previous.next = node.next
    if (node.next === undefined) tail = node.previous
    else node.next.previous = node.previous
    node.previous = node.next = undefined
  }
  const append = (node: Node<V>) => {
    node.previous = tail
    node.next = undefined
    if (tail === undefined) head = node
    else tail.next = node
    tail = node
  }

  return {
    capacity,
    size: () => map.size,
    get: (key) => {
      const node = map.get(key)
      if (node === undefined) return undefined
      if (node !== tail) {
        unlink(node)
        append(node)
      }
      return node.value
    },
    peek: (key) => map.get(key)?.value,
    set: (key, value) => {
      const existing = map.get(key)
      if (existing !== undefined) {
        existing.value = value
        if (existing !== tail) {
          unlink(existing)
          append(existing)
        }
        return 0
      }
      const node: Node<V> = { key, value, previous: undefined, next: undefined }
      map.set(key, node)
      append(node)
      if (map.size <= capacity) return 0
      const oldest = head!
      unlink(oldest)
      map.delete(oldest.key)
      return 1
    },
    delete: (key) => {
      const node = map.get(key)
      if (node === undefined) return false
      unlink(node)
      return map.delete(key)
    },
    clear: () => {
      const size = map.size
      map.clear()
      head = tail = undefined
      return size
    },
    entries: function*() {
      for (let node = head; node !== undefined; node = node.next) yield [node.key, node.value] as [string, V]
    }
  }
}
