/**
 * Linux's binary socket addresses and a friendly form.
 *
 * struct sockaddr_in (16 bytes):   u16 sin_family (host order) | u16 sin_port (network order) |
 *                                  4-byte address | 8 bytes zero.
 * struct sockaddr_in6 (28 bytes):  u16 sin6_family | u16 sin6_port (network) | u32 sin6_flowinfo |
 *                                  16-byte address | u32 sin6_scope_id (host order).
 * Host order is little-endian, as on x86-64 and arm64 Linux. Like the kernel, a 24-byte
 * sockaddr_in6 (RFC 2133's size, without the scope id) is accepted.
 */
import { Address } from "@netstack-ts/netstack";
import { AF_INET, AF_INET6, AF_UNSPEC } from "./constants.js";
import { SocketError } from "./errors.js";

export const SOCKADDR_IN_SIZE = 16;
export const SOCKADDR_IN6_SIZE = 28;
const SIN6_LEN_RFC2133 = 24;

/** A decoded socket address. */
export interface SockAddr {
  /** AF_INET or AF_INET6 (AF_UNSPEC only where connect(2) accepts it to dissolve an association). */
  family: number;
  /** The IP address: 4 bytes for AF_INET, 16 for AF_INET6 (v4-mapped stays 16 bytes). */
  addr: Address;
  port: number;
  flowinfo: number;
  /** IPv6 scope (interface index) for link-local addresses; 0 otherwise. */
  scopeId: number;
}

/** The friendly form, as Node's `address()` reports it. */
export interface SockAddrInfo {
  family: "IPv4" | "IPv6";
  address: string;
  port: number;
  flowinfo?: number;
  scopeId?: number;
}

/** What the socket calls take: binary sockaddr bytes, or `{ address, port }`. */
export type SockAddrInput = Uint8Array | { address: string; port: number; family?: string | number; flowinfo?: number; scopeId?: number };

/**
 * Decodes a binary sockaddr for a socket of family `family`. Linux's checks: fewer than 2 bytes
 * or a short structure is EINVAL; a family other than the socket's is EAFNOSUPPORT.
 * `allowUnspec` lets connect(2) pass AF_UNSPEC through.
 */
export function decodeSockaddr(b: Uint8Array, family: number, syscall = "", allowUnspec = false): SockAddr {
  if (b.length < 2) throw new SocketError("EINVAL", syscall);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fam = dv.getUint16(0, true);
  if (fam === AF_UNSPEC && allowUnspec) {
    return { family: AF_UNSPEC, addr: family === AF_INET ? Address.ANY4 : Address.ANY6, port: 0, flowinfo: 0, scopeId: 0 };
  }
  // Linux checks the length the socket's family needs before the family itself.
  if (b.length < (family === AF_INET6 ? SIN6_LEN_RFC2133 : SOCKADDR_IN_SIZE)) throw new SocketError("EINVAL", syscall);
  if (fam !== family) {
    // Linux (inet_bind): an AF_INET socket accepts AF_UNSPEC with INADDR_ANY for old programs.
    if (family === AF_INET && fam === AF_UNSPEC && dv.getUint32(4) === 0) {
      return { family: AF_INET, addr: Address.ANY4, port: dv.getUint16(2, false), flowinfo: 0, scopeId: 0 };
    }
    throw new SocketError("EAFNOSUPPORT", syscall);
  }
  if (fam === AF_INET) {
    return { family: AF_INET, addr: Address.fromBytes(b, 4, 4), port: dv.getUint16(2, false), flowinfo: 0, scopeId: 0 };
  }
  if (fam === AF_INET6) {
    const scopeId = b.length >= SOCKADDR_IN6_SIZE ? dv.getUint32(24, true) : 0;
    return {
      family: AF_INET6, addr: Address.fromBytes(b, 8, 16), port: dv.getUint16(2, false),
      flowinfo: dv.getUint32(4, false), scopeId,
    };
  }
  throw new SocketError("EAFNOSUPPORT", syscall);
}

/** Encodes a sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes). A 4-byte address in an AF_INET6
 *  sockaddr is written v4-mapped (::ffff:a.b.c.d), as Linux reports IPv4 peers of dual-stack sockets. */
export function encodeSockaddr(family: number, addr: Address, port: number, scopeId = 0, flowinfo = 0): Buffer {
  if (family === AF_INET) {
    const out = Buffer.alloc(SOCKADDR_IN_SIZE);
    out.writeUInt16LE(AF_INET, 0);
    out.writeUInt16BE(port, 2);
    const a = addr.isV4 ? addr : addr.unmapV4();
    if (!a) throw new SocketError("EAFNOSUPPORT");
    out.set(a.bytes, 4);
    return out;
  }
  if (family === AF_INET6) {
    const out = Buffer.alloc(SOCKADDR_IN6_SIZE);
    out.writeUInt16LE(AF_INET6, 0);
    out.writeUInt16BE(port, 2);
    out.writeUInt32BE(flowinfo >>> 0, 4);
    out.set(addr.isV4 ? addr.mapV6().bytes : addr.bytes, 8);
    // Only link-local addresses carry a scope (the interface they belong to).
    out.writeUInt32LE(addr.isV6 && addr.isLinkLocal ? scopeId >>> 0 : 0, 24);
    return out;
  }
  throw new SocketError("EAFNOSUPPORT");
}

/** Encodes a decoded address. */
export function encodeSockAddr(a: SockAddr): Buffer {
  return encodeSockaddr(a.family, a.addr, a.port, a.scopeId, a.flowinfo);
}

/**
 * Turns `{ address, port }` (or binary bytes) into a SockAddr for a socket of `family`. Text
 * addresses follow Node: an IPv4 text address on an AF_INET6 socket is an error (EAFNOSUPPORT),
 * "::ffff:a.b.c.d" is the v4-mapped form, "fe80::1%3" carries scope id 3.
 */
export function toSockAddr(input: SockAddrInput, family: number, syscall = "", allowUnspec = false): SockAddr {
  if (input instanceof Uint8Array) return decodeSockaddr(input, family, syscall, allowUnspec);
  const port = input.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SocketError("EINVAL", syscall);
  let text = input.address;
  let scopeId = input.scopeId ?? 0;
  const pct = text.indexOf("%");
  if (pct >= 0) {
    const zone = text.slice(pct + 1);
    if (/^\d+$/.test(zone)) scopeId = Number(zone);
    text = text.slice(0, pct);
  }
  const addr = Address.parse(text);
  if (!addr) throw new SocketError("EINVAL", syscall, `invalid address ${JSON.stringify(input.address)}`);
  if (family === AF_INET && !addr.isV4) throw new SocketError("EAFNOSUPPORT", syscall);
  if (family === AF_INET6 && !addr.isV6) throw new SocketError("EAFNOSUPPORT", syscall);
  return { family, addr, port, flowinfo: input.flowinfo ?? 0, scopeId };
}

/** The friendly form of an address as a socket of `family` reports it. */
export function sockAddrInfo(family: number, addr: Address, port: number, scopeId = 0, flowinfo = 0): SockAddrInfo {
  if (family === AF_INET6) {
    const a = addr.isV4 ? addr.mapV6() : addr;
    const info: SockAddrInfo = { family: "IPv6", address: a.toString(), port, flowinfo, scopeId: a.isLinkLocal ? scopeId : 0 };
    return info;
  }
  return { family: "IPv4", address: (addr.isV4 ? addr : addr.unmapV4() ?? addr).toString(), port };
}
