/**
 * Who is asking: the client address of a request, believing `X-Forwarded-For` only when the connected
 * peer is a trusted proxy, and the key a rate limit counts it under: the IPv4 address, or the IPv6 /64 (one subscriber usually owns a whole
 * /64, so counting single IPv6 addresses would let a client rotate through 2^64 of them).
 *
 * @since 0.1.0
 */
import { Option, Result } from "effect"
import type { HttpServerRequest } from "effect/http"
import { IpNetwork, NetAddress } from "effect/net"

/** A request as a trusted proxy describes it. @since 0.1.0 */
export interface Forwarded {
  readonly request: HttpServerRequest.HttpServerRequest
  /** The client reached the proxy over TLS. */
  readonly secure: boolean
}

const splitList = (value: string | undefined): Array<string> | undefined => value?.split(",").map((item) => item.trim())

/**
 * Applies trusted `X-Forwarded-*` headers to a request (`remoteAddress`, `protocol`, `host`), the way
 * Effect's `HttpMiddleware.xForwardedHeaders` walks them, and says whether the client used TLS. A proxy
 * that sends `X-Forwarded-Proto` without `X-Forwarded-For` is believed about the scheme too. `undefined`
 * when no proxy is trusted.
 *
 * @since 0.1.0
 */
export const forwarded = (
  trustedProxies: ReadonlyArray<IpNetwork.IpNetwork>
): ((request: HttpServerRequest.HttpServerRequest) => Forwarded) | undefined => {
  if (trustedProxies.length === 0) return undefined
  const isTrusted = (address: NetAddress.IpAddress) => trustedProxies.some((network) => IpNetwork.contains(network, address))
  // Peers are few (the proxies themselves): remember the verdict per peer text, bounded.
  const peers = new Map<string, boolean>()
  const trustedPeer = (peer: string): boolean => {
    let verdict = peers.get(peer)
    if (verdict === undefined) {
      const address = parse(peer)
      verdict = address !== undefined && isTrusted(address)
      if (peers.size >= 1024) peers.clear()
      peers.set(peer, verdict)
    }
    return verdict
  }
  return (request) => {
    const peer = Option.getOrUndefined(request.peerAddress)
    if (peer === undefined || !trustedPeer(peer)) return { request, secure: false }
    const headers = request.headers
    const protocols = splitList(headers["x-forwarded-proto"])
    const addresses = splitList(headers["x-forwarded-for"])
    if (addresses === undefined) {
      // The proxy reports the scheme but no client address: believe the scheme it appended last.
      return { request, secure: protocols?.[protocols.length - 1]?.toLowerCase() === "https" }
    }
    // From the nearest hop outwards, skipping our own proxies: the first untrusted hop is the client.
    for (let index = addresses.length - 1; index >= 0; index--) {
      const address = parse(addresses[index]!)
      if (address === undefined) return { request, secure: false }
      if (index > 0 && isTrusted(address)) continue
      // A scheme list belongs to the hops only when it has one value per address.
      const protocol = protocols?.length === addresses.length ? protocols[index]!.toLowerCase() : undefined
      return {
        request: request.modify({
          remoteAddress: Option.some(NetAddress.formatIp(address)),
          peerAddress: request.peerAddress,
          ...(protocol === "http" || protocol === "https" ? { protocol } : {})
        }),
        secure: protocol === "https"
      }
    }
    return { request, secure: false }
  }
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
  if (Option.isNone(address)) return "ip:unknown"
  let key = keys.get(address.value)
  if (key === undefined) {
    key = keyOf(address.value)
    // Bounded: a flood of distinct addresses only costs re-parsing.
    if (keys.size >= 10_000) keys.clear()
    keys.set(address.value, key)
  }
  return key
}

// Parsing an address (and its /64) costs microseconds; clients come back: remember their keys.
const keys = new Map<string, string>()

const keyOf = (address: string): string => {
  const ip = parse(address)
  if (ip === undefined) return "ip:unknown"
  if (NetAddress.isIpv4Address(ip)) return `ip:${NetAddress.formatIp(ip)}`
  const network = IpNetwork.fromAddress(ip, 64)
  return Result.isSuccess(network) ? `ip:${IpNetwork.format(network.success)}` : `ip:${NetAddress.formatIp(ip)}`
}
