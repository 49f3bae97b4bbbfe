/**
 * Who is asking: the client address of a request, believing `X-Forwarded-For` only when the connected
 * peer is a trusted proxy (Effect's `HttpMiddleware.xForwardedHeaders` does the walk), and the key a
 * rate limit counts it under: the IPv4 address, or the IPv6 /64 (one subscriber usually owns a whole
 * /64, so counting single IPv6 addresses would let a client rotate through 2^64 of them).
 *
 * @since 0.1.0
 */
import { Effect, Option, Result } from "effect"
import { HttpMiddleware, type HttpServerRequest, type HttpServerResponse } from "effect/http"
import { IpNetwork, NetAddress } from "effect/net"

/**
 * Applies trusted `X-Forwarded-*` headers to the request seen by `httpEffect` (`remoteAddress`,
 * `protocol`). Idempotent.
 *
 * @since 0.1.0
 */
export const withForwarded = (trustedProxies: ReadonlyArray<IpNetwork.IpNetwork>) => {
  const apply = HttpMiddleware.xForwardedHeaders({ trustedProxies })
  return <E, R>(
    httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
  ) => trustedProxies.length === 0 ? httpEffect : apply(httpEffect)
}

const parse = (input: string): NetAddress.IpAddress | undefined => {
  const trimmed = input.startsWith("[") && input.endsWith("]") ? input.slice(1, -1) : input
  const ip = NetAddress.ipFromString(trimmed.includes("%") ? trimmed.slice(0, trimmed.indexOf("%")) : trimmed)
  return Result.isSuccess(ip) ? NetAddress.toCanonical(ip.success) : undefined
}

/**
 * The rate-limit key of an address: `ip:203.0.113.7`, `ip:2001:db8:1:2::/64`; `ip:unknown` when there
 * is none (a unix socket).
 *
 * @since 0.1.0
 */
export const rateLimitKey = (address: Option.Option<string>): string => {
  const ip = Option.isSome(address) ? parse(address.value) : undefined
  if (ip === undefined) return "ip:unknown"
  if (NetAddress.isIpv4Address(ip)) return `ip:${NetAddress.formatIp(ip)}`
  const network = IpNetwork.fromAddress(ip, 64)
  return Result.isSuccess(network) ? `ip:${IpNetwork.format(network.success)}` : `ip:${NetAddress.formatIp(ip)}`
}
