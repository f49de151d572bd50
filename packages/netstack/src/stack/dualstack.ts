/**
 * Dual-stack endpoints (RFC 3493 §3.7, RFC 4038 §4.2): an IPv6 endpoint that is not v6-only
 * also talks IPv4, seeing IPv4 peers as v4-mapped addresses (::ffff:a.b.c.d). Linux's default
 * (net.ipv6.bindv6only = 0) is dual stack.
 *
 * The mechanism, shared by every transport:
 * - Registration: the endpoint registers in the demuxer and reserves its port under the
 *   network protocols `endpointNetProtos` returns ([IPv6, IPv4] for a dual-stack wildcard).
 *   The demuxer and the port manager store v4-mapped addresses under IPv4 as the IPv4 address
 *   they map, so an endpoint may pass its addresses in its own (IPv6) form.
 * - Receive: an IPv4 packet reaching an IPv6 endpoint has 4-byte addresses (pkt.addrLen 4);
 *   `packetSourceAddress` / `packetDestinationAddress` give them in the endpoint's form.
 * - Send: `Stack.findRoute(nic, local, ::ffff:a.b.c.d, IPv6)` returns the IPv4 route to
 *   a.b.c.d; its addresses are 4-byte (IPv4 pseudo-header, IPv4 MTU). `endpointAddress` maps a
 *   route's local address back to the endpoint's form.
 */
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL } from "../tcpip/address.js";
import { Err, type TcpipError } from "../tcpip/errors.js";
import type { PacketBuffer } from "../buffer/packet.js";

/** Registered under IPv4 only. */
export const NET_PROTOS_V4: readonly number[] = Object.freeze([IPV4_PROTOCOL]);
/** Registered under IPv6 only. */
export const NET_PROTOS_V6: readonly number[] = Object.freeze([IPV6_PROTOCOL]);
/** A dual-stack IPv6 endpoint: both. */
export const NET_PROTOS_DUAL: readonly number[] = Object.freeze([IPV6_PROTOCOL, IPV4_PROTOCOL]);

/**
 * The network protocols an endpoint of `netProto` receives on, for its local address (null: any)
 * and remote address (null: unconnected), like Linux:
 * - IPv4 endpoints: IPv4.
 * - IPv6, connected: IPv4 when the peer is v4-mapped (Err.NetworkUnreachable when v6-only or
 *   bound to a non-mapped address), else IPv6 (Err.NetworkUnreachable when bound to a v4-mapped address).
 * - IPv6, bound to a v4-mapped address: IPv4 (Err.InvalidArgument when v6-only: Linux EINVAL).
 * - IPv6, bound to an IPv6 address: IPv6. Bound to the wildcard: IPv6, plus IPv4 unless v6-only.
 */
export function endpointNetProtos(netProto: number, v6Only: boolean, local: Address | null,
  remote: Address | null): readonly number[] | TcpipError {
  if (netProto !== IPV6_PROTOCOL) return NET_PROTOS_V4;
  const l = local && !local.isUnspecified ? local : null;
  if (remote) {
    if (remote.isV4Mapped) {
      if (v6Only || (l && !l.isV4Mapped)) return Err.NetworkUnreachable;
      return NET_PROTOS_V4;
    }
    if (l && l.isV4Mapped) return Err.NetworkUnreachable;
    return NET_PROTOS_V6;
  }
  if (local && local.isV4Mapped) return v6Only ? Err.InvalidArgument : NET_PROTOS_V4;
  if (l) return NET_PROTOS_V6;
  return v6Only ? NET_PROTOS_V6 : NET_PROTOS_DUAL;
}

/** The address at `b[off]` of an inbound packet as an endpoint of `netProto` names it (v4-mapped for IPv6 endpoints). */
function packetAddress(pkt: PacketBuffer, off: number, netProto: number): Address {
  const a = Address.fromBytes(pkt.buf, off, pkt.addrLen);
  return pkt.addrLen === 4 && netProto === IPV6_PROTOCOL ? a.mapV6() : a;
}

/** The sender of an inbound packet, as an endpoint of `netProto` sees it (::ffff:a.b.c.d for IPv4 into IPv6). */
export function packetSourceAddress(pkt: PacketBuffer, netProto: number): Address {
  return packetAddress(pkt, pkt.srcAddrOff, netProto);
}

/** The local address an inbound packet was sent to, as an endpoint of `netProto` sees it. */
export function packetDestinationAddress(pkt: PacketBuffer, netProto: number): Address {
  return packetAddress(pkt, pkt.dstAddrOff, netProto);
}

/**
 * True when `a` is the address at `b[off]` of an inbound packet as an endpoint of `netProto`
 * names it (what `packetSourceAddress` / `packetDestinationAddress` would return), so a caller
 * can keep an Address it already has instead of allocating an equal one. Never allocates.
 */
export function isPacketAddress(a: Address | null, pkt: PacketBuffer, off: number, netProto: number): boolean {
  if (a === null) return false;
  const len = pkt.addrLen;
  if (len === 4 && netProto === IPV6_PROTOCOL) {
    // The v4-mapped form: ::ffff: then the 4 bytes.
    const ab = a.bytes;
    if (ab.length !== 16 || ab[10] !== 0xff || ab[11] !== 0xff) return false;
    for (let i = 0; i < 10; i++) if (ab[i] !== 0) return false;
    const b = pkt.buf;
    return ab[12] === b[off] && ab[13] === b[off + 1] && ab[14] === b[off + 2] && ab[15] === b[off + 3];
  }
  return a.length === len && a.equalsBytes(pkt.buf, off);
}

/** An address (e.g. a route's local address) in the form an endpoint of `netProto` uses: IPv4 becomes v4-mapped for IPv6. */
export function endpointAddress(a: Address, netProto: number): Address {
  return a.isV4 && netProto === IPV6_PROTOCOL ? a.mapV6() : a;
}
