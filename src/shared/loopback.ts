// Loopback checks by address, never by spelling: "127.evil.example" is a name,
// not an address, and "::ffff:127.0.0.1" is loopback. Literals are parsed;
// names are resolved, and count as loopback only when every address is.
import { lookup as dnsLookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** An IP literal without brackets or zone (`[::1]`, `fe80::1%eth0`). */
function bare(host: string): string {
  return host
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '')
}

/**
 * True for an IP address in 127.0.0.0/8, ::1 in any spelling, or an
 * IPv4-mapped IPv6 address of 127.0.0.0/8. Names are never loopback here.
 */
export function isLoopbackAddress(address: string): boolean {
  const a = bare(address)
  const family = isIP(a)
  if (family === 0) return false
  return LOOPBACK.check(a, family === 4 ? 'ipv4' : 'ipv6')
}

export type HostLookup = (host: string) => Promise<readonly { address: string }[]>

const systemLookup: HostLookup = (host) => dnsLookup(host, { all: true, verbatim: true })

/**
 * True when `host` is a loopback address, or a name whose every address (all
 * of them, as dns.lookup returns them) is loopback. A name that does not
 * resolve, an empty host and the wildcard addresses are not loopback.
 */
export async function resolvesToLoopback(host: string, lookup: HostLookup = systemLookup): Promise<boolean> {
  const h = bare(host)
  if (h === '') return false
  if (isIP(h) !== 0) return isLoopbackAddress(h)
  let addresses: readonly { address: string }[]
  try {
    addresses = await lookup(h)
  } catch {
    return false
  }
  return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address))
}
