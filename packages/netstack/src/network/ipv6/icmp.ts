/**
 * ICMPv6 (RFC 4443) for the IPv6 protocol: echo replies, errors about received packets
 * (rate-limited, never about errors or multicast except where §2.4(e) allows), received errors
 * handed to the transport endpoint whose packet they quote, Packet Too Big lowering the path MTU
 * (RFC 8201), and Neighbor Discovery messages passed to NDP.
 */
import { Address, ICMPV6_PROTOCOL, IPV6_PROTOCOL } from "../../tcpip/address.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { CapRxChecksumOffload } from "../../link/link.js";
import { checksum, checksumViews, pseudoHeaderChecksum } from "../../header/checksum.js";
import { IPV6_HEADER, IPV6_MIN_MTU } from "../../header/ipv6.js";
import { CHAIN_END, CHAIN_OK, IPV6_EXT_FRAGMENT } from "../../header/ipv6-ext.js";
import {
  ICMPV6_ADDRESS_UNREACHABLE, ICMPV6_ADMIN_PROHIBITED, ICMPV6_DEST_UNREACHABLE, ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST, ICMPV6_ERRONEOUS_HEADER, ICMPV6_ERROR_MAX, ICMPV6_HEADER, ICMPV6_HOP_LIMIT_EXCEEDED,
  ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_NO_ROUTE, ICMPV6_PACKET_TOO_BIG, ICMPV6_PARAM_PROBLEM,
  ICMPV6_PORT_UNREACHABLE, ICMPV6_REASSEMBLY_TIMEOUT, ICMPV6_REDIRECT, ICMPV6_ROUTER_ADVERT, ICMPV6_ROUTER_SOLICIT,
  ICMPV6_TIME_EXCEEDED, ICMPV6_UNRECOGNIZED_NEXT_HEADER,
} from "../../header/icmpv6.js";
import type { NicServices, TransportErrorKind } from "../../stack/registration.js";
import type { TokenBucket } from "../ratelimit.js";
import type { Ipv6Protocol } from "./ipv6.js";

const ERROR_TYPE: Record<TransportErrorKind, [number, number]> = {
  "net-unreachable": [ICMPV6_DEST_UNREACHABLE, ICMPV6_NO_ROUTE],
  "host-unreachable": [ICMPV6_DEST_UNREACHABLE, ICMPV6_ADDRESS_UNREACHABLE],
  "proto-unreachable": [ICMPV6_PARAM_PROBLEM, ICMPV6_UNRECOGNIZED_NEXT_HEADER],
  "port-unreachable": [ICMPV6_DEST_UNREACHABLE, ICMPV6_PORT_UNREACHABLE],
  "packet-too-big": [ICMPV6_PACKET_TOO_BIG, 0],
  "admin-prohibited": [ICMPV6_DEST_UNREACHABLE, ICMPV6_ADMIN_PROHIBITED],
  "ttl-exceeded": [ICMPV6_TIME_EXCEEDED, ICMPV6_HOP_LIMIT_EXCEEDED],
  "reassembly-timeout": [ICMPV6_TIME_EXCEEDED, ICMPV6_REASSEMBLY_TIMEOUT],
  "parameter-problem": [ICMPV6_PARAM_PROBLEM, ICMPV6_ERRONEOUS_HEADER],
};

export class Icmpv6 {
  /** Answer echo requests at all (Linux icmp/echo_ignore_all=0). */
  answerEcho = true;
  /** Answer echo requests sent to a multicast group (Linux icmp/echo_ignore_multicast=0: yes). */
  answerMulticastEcho = true;

  constructor(
    private readonly ip: Ipv6Protocol,
    private readonly limiter: TokenBucket,
  ) {}

  /** An inbound ICMPv6 message (`pkt.start` at the ICMPv6 header). */
  handle(nic: NicServices, pkt: PacketBuffer, multicast: boolean): void {
    const st = this.ip.stack.stats;
    const rs = st.icmp.v6.received;
    const b = pkt.buf;
    const o = pkt.start;
    const len = pkt.end - o;
    if (len < ICMPV6_HEADER) {
      rs.invalid++;
      st.malformedRcvdPackets++;
      return;
    }
    // RFC 4443 §2.3: the checksum covers the pseudo-header too.
    if ((nic.capabilities & CapRxChecksumOffload) === 0 && !pkt.checksumOffloaded) {
      const ph = pseudoHeaderChecksum(ICMPV6_PROTOCOL, b, pkt.srcAddrOff, b, pkt.dstAddrOff, 16, len);
      if (checksum(b, o, len, ph) !== 0xffff) {
        rs.invalid++;
        st.ip.checksumErrors++;
        return;
      }
    }
    const type = b[o]!;
    const code = b[o + 1]!;
    switch (type) {
      case ICMPV6_ECHO_REQUEST:
        rs.echoRequest++;
        if (!this.answerEcho || (multicast && !this.answerMulticastEcho)) return;
        this.sendEchoReply(nic, pkt, multicast);
        return;
      case ICMPV6_ECHO_REPLY:
        rs.echoReply++;
        // Ping sockets (the ICMPv6 echo transport, when registered) receive replies by identifier.
        this.ip.stack.deliverTransportPacket(nic, pkt, ICMPV6_PROTOCOL, false);
        return;
      case ICMPV6_DEST_UNREACHABLE: {
        rs.dstUnreachable++;
        let kind: TransportErrorKind;
        if (code === ICMPV6_NO_ROUTE) kind = "net-unreachable";
        else if (code === ICMPV6_PORT_UNREACHABLE) kind = "port-unreachable";
        else if (code === ICMPV6_ADMIN_PROHIBITED || code === 5 || code === 6) kind = "admin-prohibited";
        else kind = "host-unreachable";
        this.deliverError(pkt, o + ICMPV6_HEADER, kind, 0);
        return;
      }
      case ICMPV6_PACKET_TOO_BIG: {
        rs.packetTooBig++;
        // RFC 8201 §4: never below the IPv6 minimum MTU.
        const mtu = Math.max(IPV6_MIN_MTU, ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0);
        this.deliverError(pkt, o + ICMPV6_HEADER, "packet-too-big", mtu);
        return;
      }
      case ICMPV6_TIME_EXCEEDED:
        rs.timeExceeded++;
        this.deliverError(pkt, o + ICMPV6_HEADER, code === 1 ? "reassembly-timeout" : "ttl-exceeded", 0);
        return;
      case ICMPV6_PARAM_PROBLEM:
        rs.paramProblem++;
        // Like Linux: an unrecognized Next Header means the protocol is not there (ECONNREFUSED).
        this.deliverError(pkt, o + ICMPV6_HEADER,
          code === ICMPV6_UNRECOGNIZED_NEXT_HEADER ? "proto-unreachable" : "parameter-problem", 0);
        return;
      case ICMPV6_NEIGHBOR_SOLICIT:
      case ICMPV6_NEIGHBOR_ADVERT:
      case ICMPV6_ROUTER_SOLICIT:
      case ICMPV6_ROUTER_ADVERT:
      case ICMPV6_REDIRECT:
        this.ip.ndp.handle(nic, pkt, multicast);
        return;
      default:
        rs.other++;
    }
  }

  /**
   * Hands an error to the endpoint that sent the packet quoted at `b[qoff]` (its IPv6 header and
   * as much as fits): walks the quoted header chain (bounded) to the transport header. For
   * "packet-too-big", records the path MTU of the quoted destination first.
   */
  private deliverError(pkt: PacketBuffer, qoff: number, kind: TransportErrorKind, info: number): void {
    const b = pkt.buf;
    const end = pkt.end;
    if (end - qoff < IPV6_HEADER || b[qoff]! >> 4 !== 6) return;
    if (kind === "packet-too-big") this.ip.stack.updatePathMtu(Address.fromBytes(b, qoff + 24, 16), info);
    const c = this.ip.chain2.start(b, qoff, end);
    for (;;) {
      if (c.type === IPV6_EXT_FRAGMENT) {
        // Only the first fragment carries the transport header.
        if (c.off + 4 > end || (((b[c.off + 2]! << 8) | b[c.off + 3]!) & 0xfff8) !== 0) return;
      }
      const r = c.advance();
      if (r === CHAIN_END) break;
      if (r !== CHAIN_OK) return;
    }
    const proto = c.type;
    const t = c.off;
    if (end - t < 8) return; // RFC 4443 §2.4(c) quotes as much as fits: at least the ports
    const q = PacketBuffer.inbound(b, t, end - t);
    q.networkHeader = qoff;
    q.srcAddrOff = qoff + 8;
    q.dstAddrOff = qoff + 24;
    q.addrLen = 16;
    q.nicId = pkt.nicId;
    q.networkProtocol = IPV6_PROTOCOL;
    q.transportProtocol = proto;
    q.transportHeader = t;
    this.ip.stack.deliverTransportError(q, proto, { kind, info });
  }

  private sendEchoReply(nic: NicServices, req: PacketBuffer, multicast: boolean): void {
    const st = this.ip.stack;
    const b = req.buf;
    if (isUnspecifiedAt(b, req.srcAddrOff)) return;
    const dst = Address.fromBytes(b, req.srcAddrOff, 16);
    // Reply from the address the request was sent to; for a multicast request, choose (RFC 4443 §4.2).
    const local = multicast ? null : Address.fromBytes(b, req.dstAddrOff, 16);
    const route = st.findRoute(nic.id, local, dst, IPV6_PROTOCOL);
    if (!(route && "writePacket" in route)) {
      st.stats.icmp.v6.sent.dropped++;
      return;
    }
    const body = b.subarray(req.start + ICMPV6_HEADER, req.end);
    const pkt = PacketBuffer.outbound(route.maxHeaderLength + ICMPV6_HEADER, body);
    const o = pkt.prepend(ICMPV6_HEADER);
    const h = pkt.buf;
    h[o] = ICMPV6_ECHO_REPLY;
    h[o + 1] = 0;
    h[o + 2] = 0;
    h[o + 3] = 0;
    h.set(b.subarray(req.start + 4, req.start + 8), o + 4); // identifier and sequence echoed
    const len = ICMPV6_HEADER + body.length;
    const c = ~checksumViews([h.subarray(o, o + ICMPV6_HEADER), body], route.pseudoHeaderChecksum(ICMPV6_PROTOCOL, len)) &
      0xffff;
    h[o + 2] = c >>> 8;
    h[o + 3] = c & 0xff;
    pkt.transportHeader = o;
    const nh = req.networkHeader;
    const tclass = ((b[nh]! & 0x0f) << 4) | (b[nh + 1]! >> 4);
    if (route.writePacket(pkt, { protocol: ICMPV6_PROTOCOL, ttl: route.defaultTtl, tos: tclass }) === null)
      st.stats.icmp.v6.sent.echoReply++;
    else st.stats.icmp.v6.sent.dropped++;
  }

  /** `sendError` for the error kinds transports name (e.g. port unreachable). */
  sendErrorKind(nic: NicServices, pkt: PacketBuffer, kind: TransportErrorKind): void {
    const [type, code] = ERROR_TYPE[kind];
    this.sendError(nic, pkt, type, code, type === ICMPV6_PACKET_TOO_BIG ? nic.mtu : 0, false);
  }

  /**
   * Sends an ICMPv6 error of `type`/`code` about the received packet `pkt` (IPv6 header at
   * `pkt.networkHeader`); `param` is the MTU (Packet Too Big) or the pointer (Parameter Problem).
   * RFC 4443 §2.4(e): never about an ICMPv6 error or redirect, nor a packet whose source is not a
   * unicast address; not about a packet to a multicast group or sent as link-layer multicast
   * unless it is Packet Too Big or `allowMulticast` (Parameter Problem code 2 for an option with
   * action bits 10). §2.4(f): rate-limited (Packet Too Big is exempt, like Linux's ratemask).
   */
  sendError(nic: NicServices, pkt: PacketBuffer, type: number, code: number, param: number, allowMulticast: boolean): void {
    const st = this.ip.stack;
    const sent = st.stats.icmp.v6.sent;
    const b = pkt.buf;
    const nh = pkt.networkHeader;
    if (nh < 0 || pkt.addrLen !== 16) return;
    const so = nh + 8;
    const dO = nh + 24;
    if (isUnspecifiedAt(b, so) || b[so] === 0xff) return;
    const mcast = b[dO] === 0xff || pkt.linkBroadcast;
    if (mcast && type !== ICMPV6_PACKET_TOO_BIG && !allowMulticast) return;
    if (this.isErrorOrRedirect(b, nh, pkt.end)) return;
    if (type !== ICMPV6_PACKET_TOO_BIG && !this.limiter.take()) {
      sent.rateLimited++;
      return;
    }
    const dst = Address.fromBytes(b, so, 16);
    const local = nic.hasAddress(b, dO, 16) ? Address.fromBytes(b, dO, 16) : null;
    const route = st.findRoute(nic.id, local, dst, IPV6_PROTOCOL);
    if (!(route && "writePacket" in route)) {
      sent.dropped++;
      return;
    }
    const origLen = Math.min(pkt.end, nh + IPV6_HEADER + ((b[nh + 4]! << 8) | b[nh + 5]!)) - nh;
    // RFC 4443 §2.4(c): as much of the invoking packet as fits in the minimum MTU.
    const quoteLen = Math.min(origLen, ICMPV6_ERROR_MAX - IPV6_HEADER - ICMPV6_HEADER);
    const quote = b.slice(nh, nh + quoteLen);
    const out = PacketBuffer.outbound(route.maxHeaderLength + ICMPV6_HEADER, quote);
    const o = out.prepend(ICMPV6_HEADER);
    const h = out.buf;
    h[o] = type;
    h[o + 1] = code;
    h[o + 2] = 0;
    h[o + 3] = 0;
    h[o + 4] = param >>> 24;
    h[o + 5] = (param >>> 16) & 0xff;
    h[o + 6] = (param >>> 8) & 0xff;
    h[o + 7] = param & 0xff;
    const len = ICMPV6_HEADER + quoteLen;
    const c = ~checksumViews([h.subarray(o, o + ICMPV6_HEADER), quote], route.pseudoHeaderChecksum(ICMPV6_PROTOCOL, len)) &
      0xffff;
    h[o + 2] = c >>> 8;
    h[o + 3] = c & 0xff;
    out.transportHeader = o;
    if (route.writePacket(out, { protocol: ICMPV6_PROTOCOL, ttl: route.defaultTtl, tos: 0 }) !== null) {
      sent.dropped++;
      return;
    }
    if (type === ICMPV6_DEST_UNREACHABLE) sent.dstUnreachable++;
    else if (type === ICMPV6_PACKET_TOO_BIG) sent.packetTooBig++;
    else if (type === ICMPV6_TIME_EXCEEDED) sent.timeExceeded++;
    else sent.paramProblem++;
  }

  /** True when the IPv6 packet at `b[nh, end)` carries an ICMPv6 error or a redirect (bounded walk). */
  private isErrorOrRedirect(b: Uint8Array, nh: number, end: number): boolean {
    const c = this.ip.chain2.start(b, nh, end);
    for (;;) {
      const r = c.advance();
      if (r === CHAIN_END) break;
      if (r !== CHAIN_OK) return false;
    }
    if (c.type !== ICMPV6_PROTOCOL || c.off >= end) return false;
    const t = b[c.off]!;
    return t < 128 || t === ICMPV6_REDIRECT;
  }
}

function isUnspecifiedAt(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}
