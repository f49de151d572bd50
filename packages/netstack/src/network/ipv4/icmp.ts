/**
 * ICMPv4 (RFC 792) for the IPv4 protocol: echo replies, errors sent about received packets
 * (rate-limited, never about errors, broadcasts or non-initial fragments: RFC 1122 §3.2.2), and
 * received errors handed to the transport endpoint whose packet they quote.
 */
import { Address, ICMPV4_PROTOCOL, IPV4_PROTOCOL } from "../../tcpip/address.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { CapRxChecksumOffload } from "../../link/link.js";
import { checksum, checksumViews } from "../../header/checksum.js";
import {
  ICMPv4View, ICMPV4_ECHO_REPLY, ICMPV4_ECHO_REQUEST, ICMPV4_DEST_UNREACHABLE, ICMPV4_TIME_EXCEEDED,
  ICMPV4_PARAM_PROBLEM,
} from "../../header/icmpv4.js";
import { isParseError } from "../../header/parse.js";
import type { NicServices, TransportErrorKind } from "../../stack/registration.js";
import type { TokenBucket } from "../ratelimit.js";
import type { Ipv4Protocol } from "./ipv4.js";

/** Largest ICMP error datagram, as Linux (RFC 1812 §4.3.2.3: at most 576 bytes). */
const MAX_ERROR_DATAGRAM = 576;
const ICMP_HEADER = 8;

const ERROR_TYPE: Record<TransportErrorKind, [number, number]> = {
  "net-unreachable": [ICMPV4_DEST_UNREACHABLE, 0],
  "host-unreachable": [ICMPV4_DEST_UNREACHABLE, 1],
  "proto-unreachable": [ICMPV4_DEST_UNREACHABLE, 2],
  "port-unreachable": [ICMPV4_DEST_UNREACHABLE, 3],
  "packet-too-big": [ICMPV4_DEST_UNREACHABLE, 4],
  "admin-prohibited": [ICMPV4_DEST_UNREACHABLE, 13],
  "ttl-exceeded": [ICMPV4_TIME_EXCEEDED, 0],
  "reassembly-timeout": [ICMPV4_TIME_EXCEEDED, 1],
  "parameter-problem": [ICMPV4_PARAM_PROBLEM, 0],
};

export class Icmpv4 {
  /** Answer echo requests sent to a broadcast address (Linux icmp_echo_ignore_broadcasts=1: no). */
  answerBroadcastEcho = false;
  /** Answer echo requests at all (Linux icmp_echo_ignore_all=0: yes). */
  answerEcho = true;
  /**
   * Transparent mode: on a promiscuous NIC, answer echo requests sent to any address, from that
   * address (the NIC must also allow spoofing). Off: such requests are not answered.
   */
  answerTransparentEcho = true;

  constructor(
    private readonly ip: Ipv4Protocol,
    private readonly limiter: TokenBucket,
  ) {}

  /** An inbound ICMP message (`pkt.start` at the ICMP header). */
  handle(nic: NicServices, pkt: PacketBuffer, broadcast: boolean): void {
    const st = this.ip.stack.stats;
    const rs = st.icmp.v4.received;
    const b = pkt.buf;
    const len = pkt.end - pkt.start;
    const v = ICMPv4View.check(b, pkt.start, len);
    if (isParseError(v)) {
      rs.invalid++;
      st.malformedRcvdPackets++;
      return;
    }
    if ((nic.capabilities & CapRxChecksumOffload) === 0 && checksum(b, pkt.start, len) !== 0xffff) {
      rs.invalid++;
      st.ip.checksumErrors++;
      return;
    }
    switch (v.type) {
      case ICMPV4_ECHO_REQUEST:
        rs.echoRequest++;
        if (!this.answerEcho || (broadcast && !this.answerBroadcastEcho)) return;
        if (!broadcast && !nic.hasAddress(pkt.buf, pkt.dstAddrOff, 4) && !nic.isLoopback &&
          !(nic.promiscuous && this.answerTransparentEcho)) return;
        this.sendEchoReply(nic, pkt);
        return;
      case ICMPV4_ECHO_REPLY:
        rs.echoReply++;
        // Ping sockets (the ICMP transport, when registered) receive replies by identifier.
        this.ip.stack.deliverTransportPacket(nic, pkt, ICMPV4_PROTOCOL, false);
        return;
      case ICMPV4_DEST_UNREACHABLE: {
        rs.dstUnreachable++;
        const code = v.code;
        let kind: TransportErrorKind;
        let info = 0;
        if (code === 0 || code === 6) kind = "net-unreachable";
        else if (code === 2) kind = "proto-unreachable";
        else if (code === 3) kind = "port-unreachable";
        else if (code === 4) {
          kind = "packet-too-big";
          info = v.mtu;
        } else if (code === 9 || code === 10 || code === 13) kind = "admin-prohibited";
        else kind = "host-unreachable";
        this.deliverError(pkt, v.payloadOffset, kind, info);
        return;
      }
      case ICMPV4_TIME_EXCEEDED:
        rs.timeExceeded++;
        this.deliverError(pkt, v.payloadOffset, v.code === 1 ? "reassembly-timeout" : "ttl-exceeded", 0);
        return;
      case ICMPV4_PARAM_PROBLEM:
        rs.paramProblem++;
        this.deliverError(pkt, v.payloadOffset, "parameter-problem", 0);
        return;
      default:
        rs.other++;
    }
  }

  /** Hands an error to the endpoint whose packet is quoted at `b[qoff]` (IP header + ≥ 8 bytes). */
  private deliverError(pkt: PacketBuffer, qoff: number, kind: TransportErrorKind, info: number): void {
    const b = pkt.buf;
    const avail = pkt.end - qoff;
    if (avail < 20 || b[qoff]! >> 4 !== 4) return;
    const ihl = (b[qoff]! & 0x0f) * 4;
    if (ihl < 20 || avail < ihl + 8) return;
    // Only the first fragment carries the transport header.
    if ((((b[qoff + 6]! & 0x1f) << 8) | b[qoff + 7]!) !== 0) return;
    const proto = b[qoff + 9]!;
    if (kind === "packet-too-big" && info > 0) {
      this.ip.stack.updatePathMtu(Address.fromBytes(b, qoff + 16, 4), info);
    } else if (kind === "packet-too-big") {
      // RFC 1191 §5: an old router sends MTU 0; fall back to the plateau below the quoted length.
      const qlen = (b[qoff + 2]! << 8) | b[qoff + 3]!;
      const plateaus = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];
      info = plateaus.find((p) => p < qlen) ?? 68;
      this.ip.stack.updatePathMtu(Address.fromBytes(b, qoff + 16, 4), info);
    }
    const q = PacketBuffer.inbound(b, qoff + ihl, avail - ihl);
    q.networkHeader = qoff;
    q.srcAddrOff = qoff + 12;
    q.dstAddrOff = qoff + 16;
    q.addrLen = 4;
    q.nicId = pkt.nicId;
    q.networkProtocol = IPV4_PROTOCOL;
    q.transportProtocol = proto;
    q.transportHeader = qoff + ihl;
    this.ip.stack.deliverTransportError(q, proto, { kind, info });
  }

  private sendEchoReply(nic: NicServices, req: PacketBuffer): void {
    const st = this.ip.stack;
    const b = req.buf;
    const dst = Address.fromBytes(b, req.srcAddrOff, 4);
    // Reply from the address the request was sent to when it is ours (or, in transparent mode,
    // whatever it was), else (a broadcast) from the NIC's own address.
    const unicastToUs = nic.hasAddress(b, req.dstAddrOff, 4) || (nic.promiscuous && !nic.isBroadcast(b, req.dstAddrOff, 4) &&
      (b[req.dstAddrOff]! & 0xf0) !== 0xe0);
    const local = unicastToUs ? Address.fromBytes(b, req.dstAddrOff, 4) : nic.primaryAddress(4);
    const route = st.findRoute(nic.id, local, dst, IPV4_PROTOCOL);
    if (!(route && "writePacket" in route)) {
      st.stats.icmp.v4.sent.dropped++;
      return;
    }
    const body = b.subarray(req.start + ICMP_HEADER, req.end);
    const pkt = PacketBuffer.outbound(route.maxHeaderLength + ICMP_HEADER, body);
    const o = pkt.prepend(ICMP_HEADER);
    const h = pkt.buf;
    h[o] = ICMPV4_ECHO_REPLY;
    h[o + 1] = 0;
    h[o + 2] = 0;
    h[o + 3] = 0;
    h.set(b.subarray(req.start + 4, req.start + 8), o + 4); // identifier and sequence echoed
    const c = ~checksumViews([h.subarray(o, o + ICMP_HEADER), body]) & 0xffff;
    h[o + 2] = c >>> 8;
    h[o + 3] = c & 0xff;
    const tos = b[req.networkHeader + 1]!;
    if (route.writePacket(pkt, { protocol: ICMPV4_PROTOCOL, ttl: route.defaultTtl, tos }) === null)
      st.stats.icmp.v4.sent.echoReply++;
    else st.stats.icmp.v4.sent.dropped++;
  }

  /**
   * Sends an ICMP error about the received packet `pkt` (network header at pkt.networkHeader).
   * RFC 1122 §3.2.2: not about an ICMP error, a broadcast/multicast, a non-initial fragment, or a
   * packet whose source is not a unicast address.
   */
  sendError(nic: NicServices, pkt: PacketBuffer, kind: TransportErrorKind): void {
    const st = this.ip.stack;
    const sent = st.stats.icmp.v4.sent;
    const b = pkt.buf;
    const nh = pkt.networkHeader;
    if (nh < 0 || pkt.addrLen !== 4) return;
    if (pkt.linkBroadcast) return;
    if (nic.isBroadcast(b, pkt.dstAddrOff, 4) || (b[pkt.dstAddrOff]! & 0xf0) === 0xe0) return;
    const src0 = b[pkt.srcAddrOff]!;
    if (src0 === 0 || (src0 & 0xf0) === 0xe0 || Address.hashBytes(b, pkt.srcAddrOff, 4) === 0xffffffff) return;
    if ((((b[nh + 6]! & 0x1f) << 8) | b[nh + 7]!) !== 0) return;
    const ihl = (b[nh]! & 0x0f) * 4;
    if (b[nh + 9] === ICMPV4_PROTOCOL) {
      const t = b[nh + ihl];
      if (t !== undefined && t !== ICMPV4_ECHO_REQUEST && t !== ICMPV4_ECHO_REPLY && t !== 13 && t !== 14 && t !== 15 &&
        t !== 16 && t !== 17 && t !== 18) return; // an error (or unknown type) never triggers an error
    }
    if (!this.limiter.take()) {
      sent.rateLimited++;
      return;
    }
    const dst = Address.fromBytes(b, pkt.srcAddrOff, 4);
    const local = nic.hasAddress(b, pkt.dstAddrOff, 4) ? Address.fromBytes(b, pkt.dstAddrOff, 4) : nic.primaryAddress(4);
    const route = st.findRoute(nic.id, local, dst, IPV4_PROTOCOL);
    if (!(route && "writePacket" in route)) {
      sent.dropped++;
      return;
    }
    const origLen = Math.min(pkt.end, nh + ((b[nh + 2]! << 8) | b[nh + 3]!)) - nh;
    const quoteLen = Math.min(origLen, MAX_ERROR_DATAGRAM - 20 - ICMP_HEADER);
    const quote = b.slice(nh, nh + quoteLen);
    const [type, code] = ERROR_TYPE[kind];
    const out = PacketBuffer.outbound(route.maxHeaderLength + ICMP_HEADER, quote);
    const o = out.prepend(ICMP_HEADER);
    const h = out.buf;
    h.fill(0, o, o + ICMP_HEADER);
    h[o] = type;
    h[o + 1] = code;
    if (kind === "packet-too-big") {
      const m = nic.mtu;
      h[o + 6] = m >>> 8;
      h[o + 7] = m & 0xff;
    }
    const c = ~checksumViews([h.subarray(o, o + ICMP_HEADER), quote]) & 0xffff;
    h[o + 2] = c >>> 8;
    h[o + 3] = c & 0xff;
    // RFC 1812 §4.3.2.5: TOS of an error is 0xc0 (internetwork control), as Linux does.
    if (route.writePacket(out, { protocol: ICMPV4_PROTOCOL, ttl: route.defaultTtl, tos: 0xc0 }) !== null) {
      sent.dropped++;
      return;
    }
    if (type === ICMPV4_DEST_UNREACHABLE) sent.dstUnreachable++;
    else if (type === ICMPV4_TIME_EXCEEDED) sent.timeExceeded++;
    else sent.paramProblem++;
  }
}
