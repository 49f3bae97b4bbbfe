/**
 * What a decorator needs from a service implementation: all of its members as a plain object. A
 * service may be a plain object of functions or an instance of a class, whose methods live on its
 * prototype; spreading (`{ ...service }`) or `Object.entries` would silently drop those.
 *
 * @since 0.1.0
 */

/**
 * Own and inherited members (up to `Object.prototype`), methods bound to `service` so that `this`
 * still works when the decorator calls them detached. The nearest definition wins, as in a lookup.
 *
 * @since 0.1.0
 */
export const members = <S extends object>(service: S): S => {
  const out: Record<string, unknown> = {}
  for (
    let level: object | null = service;
    level !== null && level !== Object.prototype;
    level = Object.getPrototypeOf(level) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(level)) {
      if (name === "constructor" || Object.hasOwn(out, name)) continue
      const value: unknown = (service as Record<string, unknown>)[name]
      out[name] = typeof value === "function" ? value.bind(service) : value
    }
  }
  return out as S
}
