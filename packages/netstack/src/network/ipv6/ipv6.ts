/**
 * IPv6 (RFC 8200) for a host: receive validation, extension-header processing with a bounded
 * walk, delivery to the NIC's addresses and joined multicast groups, reassembly (RFC 8200 §4.5,
 * RFC 5722 overlaps, RFC 6946 atomic fragments, RFC 7112 header chains), fragmentation on send,
 * ICMPv6 (icmp.ts) and Neighbor Discovery (../ndp/ndp.ts, registered as the IPv6 link resolver).
 * This stack never forwards: packets not for us are dropped, so the hop limit of a received
 * packet is not checked except where NDP requires 255 (RFC 4861 §7.1).
 */
import { Address, ICMPV6_PROTOCOL, IPV6_PROTOCOL, type Subnet } from "../../tcpip/address.js";
import { Err, type TcpipError } from "../../tcpip/errors.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { IPv6View, encodeIPv6, IPV6_HEADER, IPV6_MAX_PAYLOAD } from "../../header/ipv6.js";
import {
  CHAIN_OK, IPv6HeaderChain, encodeIPv6Fragment, ipv6ExtensionHeaderLength, isIPv6ExtensionHeader,
  IPV6_EXT_DESTINATION, IPV6_EXT_FRAGMENT, IPV6_EXT_HOP_BY_HOP, IPV6_EXT_ROUTING, IPV6_FRAGMENT_HEADER,
  IPV6_FRAGMENT_OFFSET_FIELD, IPV6_NO_NEXT_HEADER, IPV6_OPT_ACTION_DISCARD_ICMP,
  IPV6_OPT_ACTION_DISCARD_ICMP_UNICAST, IPV6_OPT_PAD1, IPV6_OPT_PADN, IPV6_OPT_ROUTER_ALERT, IPV6_ROUTING_TYPE_FIELD,
} from "../../header/ipv6-ext.js";
import {
  ICMPV6_DEST_UNREACHABLE, ICMPV6_ERRONEOUS_HEADER, ICMPV6_INCOMPLETE_CHAIN, ICMPV6_PARAM_PROBLEM,
  ICMPV6_PORT_UNREACHABLE, ICMPV6_REASSEMBLY_TIMEOUT, ICMPV6_TIME_EXCEEDED, ICMPV6_UNRECOGNIZED_NEXT_HEADER,
  ICMPV6_UNRECOGNIZED_OPTION,
} from "../../header/icmpv6.js";
import { isParseError } from "../../header/parse.js";
import { Reassembler, firstFragmentOf, inboundAt, type Reassembly } from "../fragment/reassembler.js";
import { TokenBucket } from "../ratelimit.js";
import type {
  AddressOptions, NetworkProtocol, NetworkProtocolFactory, NetworkStackServices, NetworkWriteParams, NicServices,
  Route, TransportErrorKind,
} from "../../stack/registration.js";
import { Icmpv6 } from "./icmp.js";
import { Ndp, type NdpOptions } from "../ndp/ndp.js";

export interface Ipv6Options extends NdpOptions {
  /** Reassembly timeout (RFC 8200 §4.5 and Linux ip6frag_time: 60 s). */
  reassemblyTimeoutMs?: number;
  /** Bytes of fragments held at most (Linux ip6frag_high_thresh: 4 MiB). */
  reassemblyMemoryLimit?: number;
  /** ICMPv6 error rate (Linux shares icmp_msgs_per_sec 1000 / icmp_msgs_burst 50 with IPv4). */
  icmpRatePerSec?: number;
  icmpBurst?: number;
  /** Extension headers walked at most per packet; longer chains are dropped and counted. Default 8. */
  maxExtensionHeaders?: number;
}

export class Ipv6Protocol implements NetworkProtocol {
  readonly number = IPV6_PROTOCOL;
  readonly addressLength = 16;
  readonly maxHeaderLength = IPV6_HEADER;
  readonly fixedHeaderLength = IPV6_HEADER;
  readonly reassembler: Reassembler;
  readonly icmp: Icmpv6;
  readonly ndp: Ndp;
  readonly maxExtensionHeaders: number;
  /** Cursors for the receive walk and for secondary walks (errors, reassembly); reused per packet. */
  private readonly chain: IPv6HeaderChain;
  readonly chain2: IPv6HeaderChain;

  constructor(
    readonly stack: NetworkStackServices,
    opts: Ipv6Options = {},
  ) {
    this.maxExtensionHeaders = opts.maxExtensionHeaders ?? 8;
    this.chain = new IPv6HeaderChain(this.maxExtensionHeaders);
    this.chain2 = new IPv6HeaderChain(this.maxExtensionHeaders);
    this.reassembler = new Reassembler(stack.clock, {
      timeoutMs: opts.reassemblyTimeoutMs ?? 60_000,
      memoryLimit: opts.reassemblyMemoryLimit ?? 4 * 1024 * 1024,
      onTimeout: (r) => this.onReassemblyTimeout(r),
      // An incomplete datagram evicted for a newer one is a memory drop too.
      onEvict: () => { this.stack.stats.ip.reassemblyMemoryDrops++; },
    });
    this.icmp = new Icmpv6(this, new TokenBucket(stack.clock, opts.icmpRatePerSec ?? 1000, opts.icmpBurst ?? 50));
    this.ndp = new Ndp(this, opts);
  }

  // ------------------------------------------------------------------ NIC and address events

  nicAdded(nic: NicServices): void {
    this.ndp.nicAdded(nic);
  }

  nicRemoved(nic: NicServices): void {
    this.ndp.nicRemoved(nic);
  }

  addressAdded(nic: NicServices, addr: Subnet, opts: AddressOptions): void {
    this.ndp.addressAdded(nic, addr, opts);
  }

  addressRemoved(nic: NicServices, addr: Subnet): void {
    this.ndp.addressRemoved(nic, addr);
  }

  // ------------------------------------------------------------------ receive

  handlePacket(nic: NicServices, pkt: PacketBuffer): void {
    const s = this.stack.stats;
    s.ip.packetsReceived++;
    const b = pkt.buf;
    const ip = pkt.start;
    const v = IPv6View.check(b, ip, pkt.end - ip);
    if (isParseError(v)) {
      s.ip.malformedPacketsReceived++;
      s.malformedRcvdPackets++;
      return;
    }
    pkt.networkHeader = ip;
    pkt.trimTo(v.totalLength);
    pkt.srcAddrOff = ip + 8;
    pkt.dstAddrOff = ip + 24;
    pkt.addrLen = 16;
    pkt.networkProtocol = IPV6_PROTOCOL;

    // RFC 4291 §2.7: a multicast source is invalid; §2.5.3: ::1 never arrives from a wire;
    // RFC 4291 §2.5.5.2 (and Linux): v4-mapped addresses never appear in IPv6 headers.
    const so = ip + 8;
    if (b[so] === 0xff || isV4MappedAt(b, so) || (!nic.isLoopback && isLoopbackAt(b, so))) {
      s.ip.invalidSourceAddressesReceived++;
      return;
    }
    const d = ip + 24;
    let multicast = false;
    if (b[d] === 0xff) {
      multicast = true;
      // RFC 4291 §2.7: scope 0 is reserved; interface-local scope only loops back.
      const scope = b[d + 1]! & 0x0f;
      if (scope === 0 || (scope === 1 && !nic.isLoopback)) {
        s.ip.invalidDestinationAddressesReceived++;
        return;
      }
      if (!nic.isInGroup(b, d, 16) && !nic.promiscuous && !nic.isLoopback) {
        s.ipv6.notJoinedOrTentative++;
        return;
      }
    } else if (!nic.hasAddress(b, d, 16) && !nic.promiscuous && !nic.isLoopback) {
      // RFC 4862 §5.4: packets to a tentative address are silently discarded.
      if (nic.addressState(Address.fromBytes(b, d, 16)) !== null) s.ipv6.notJoinedOrTentative++;
      else s.ip.invalidDestinationAddressesReceived++;
      return;
    }
    this.processHeaders(nic, pkt, multicast, false);
  }

  /**
   * Walks the extension headers (RFC 8200 §4.1 order is not enforced except Hop-by-Hop first),
   * then delivers the upper-layer payload. `reassembled`: the packet was just reassembled (a
   * second fragment header is then an error).
   */
  private processHeaders(nic: NicServices, pkt: PacketBuffer, multicast: boolean, reassembled: boolean): void {
    const s = this.stack.stats;
    const b = pkt.buf;
    const ip = pkt.networkHeader;
    const c = this.chain.start(b, ip, pkt.end);
    for (;;) {
      const type = c.type;
      if (type !== IPV6_EXT_HOP_BY_HOP && type !== IPV6_EXT_DESTINATION && type !== IPV6_EXT_ROUTING &&
        type !== IPV6_EXT_FRAGMENT) break;
      if (c.count >= this.maxExtensionHeaders) {
        s.ipv6.extensionChainTooLong++;
        s.malformedRcvdPackets++;
        return;
      }
      const n = c.measure();
      if (n < 0) {
        s.ipv6.malformedExtensionHeaders++;
        s.malformedRcvdPackets++;
        return;
      }
      const h = c.off;
      if (type === IPV6_EXT_HOP_BY_HOP || type === IPV6_EXT_DESTINATION) {
        if (type === IPV6_EXT_HOP_BY_HOP && c.count !== 0) {
          // RFC 8200 §4.1: Hop-by-Hop Options only immediately after the IPv6 header; elsewhere
          // its Next Header value is unrecognized (§4: Parameter Problem code 1).
          s.ipv6.unknownNextHeader++;
          this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_UNRECOGNIZED_NEXT_HEADER, c.typeFieldOff - ip, false);
          return;
        }
        if (!this.processOptions(nic, pkt, h, n, type === IPV6_EXT_HOP_BY_HOP, multicast)) return;
      } else if (type === IPV6_EXT_ROUTING) {
        // RFC 8200 §4.4: with Segments Left 0 the header is ignored. Otherwise a host supports no
        // routing type (type 0 is deprecated: RFC 5095 §3 treats it as unrecognized): discard
        // and point a Parameter Problem (code 0) at the Routing Type field.
        if (b[h + 3] !== 0) {
          s.ipv6.routingHeaderDrops++;
          this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_ERRONEOUS_HEADER, h + IPV6_ROUTING_TYPE_FIELD - ip,
            false);
          return;
        }
      } else {
        const fragField = (b[h + 2]! << 8) | b[h + 3]!;
        if ((fragField & 0xfff9) !== 0) {
          // A real fragment (an atomic one, offset 0 and M clear, is processed whole: RFC 6946).
          if (reassembled) {
            s.ip.malformedFragmentsReceived++;
            s.malformedRcvdPackets++;
            return;
          }
          this.handleFragment(nic, pkt, c, multicast);
          return;
        }
      }
      if (c.advance() !== CHAIN_OK) return; // cannot happen: measured above
    }

    const proto = c.type;
    const upper = c.off;
    const typeField = c.typeFieldOff;
    if (proto === IPV6_NO_NEXT_HEADER) {
      // RFC 8200 §4.7: nothing follows; the packet ends here. Counted as delivered (Linux counts
      // it in InDelivers too), so that every received packet shows up in some counter.
      s.ip.packetsDelivered++;
      return;
    }
    pkt.consume(upper - pkt.start);
    pkt.transportProtocol = proto;
    pkt.transportHeader = upper;
    if (proto === ICMPV6_PROTOCOL) {
      s.ip.packetsDelivered++;
      this.icmp.handle(nic, pkt, multicast);
      return;
    }
    const res = this.stack.deliverTransportPacket(nic, pkt, proto, multicast);
    switch (res) {
      case "delivered":
        s.ip.packetsDelivered++;
        return;
      case "malformed":
        s.malformedRcvdPackets++;
        return;
      case "port-unreachable":
        if (!multicast) this.icmp.sendError(nic, pkt, ICMPV6_DEST_UNREACHABLE, ICMPV6_PORT_UNREACHABLE, 0, false);
        return;
      case "unknown-transport":
        // RFC 8200 §4: an unrecognized Next Header gets Parameter Problem code 1 pointing at it.
        s.unknownProtocolRcvdPackets++;
        s.ipv6.unknownNextHeader++;
        if (!multicast)
          this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_UNRECOGNIZED_NEXT_HEADER, typeField - ip, false);
        return;
    }
  }

  /**
   * RFC 8200 §4.2: processes the options of a Hop-by-Hop or Destination Options header at
   * `b[h, h+n)`. Returns false when the packet was dropped.
   */
  private processOptions(nic: NicServices, pkt: PacketBuffer, h: number, n: number, hopByHop: boolean,
    multicast: boolean): boolean {
    const s = this.stack.stats;
    const b = pkt.buf;
    const end = h + n;
    for (let p = h + 2; p < end; ) {
      const t = b[p]!;
      if (t === IPV6_OPT_PAD1) {
        p++;
        continue;
      }
      if (p + 2 > end || p + 2 + b[p + 1]! > end) {
        s.ipv6.malformedExtensionHeaders++;
        s.malformedRcvdPackets++;
        return false;
      }
      if (t !== IPV6_OPT_PADN && !(hopByHop && t === IPV6_OPT_ROUTER_ALERT)) {
        // An option we do not know: its two high bits say what to do.
        const action = t >>> 6;
        if (action !== 0) {
          s.ipv6.unknownOptionDrops++;
          const ptr = p - pkt.networkHeader;
          if (action === IPV6_OPT_ACTION_DISCARD_ICMP) {
            // Sent even to a multicast destination (RFC 4443 §2.4(e.3) exception).
            this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_UNRECOGNIZED_OPTION, ptr, true);
          } else if (action === IPV6_OPT_ACTION_DISCARD_ICMP_UNICAST && !multicast) {
            this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_UNRECOGNIZED_OPTION, ptr, false);
          }
          return false; // 01 (IPV6_OPT_ACTION_DISCARD): discard silently
        }
      }
      p += 2 + b[p + 1]!;
    }
    return true;
  }

  /** A fragment (the cursor is at its fragment header): validate, reassemble, and process the whole packet when complete. */
  private handleFragment(nic: NicServices, pkt: PacketBuffer, c: IPv6HeaderChain, multicast: boolean): void {
    const s = this.stack.stats;
    const b = pkt.buf;
    const ip = pkt.networkHeader;
    const h = c.off;
    const end = pkt.end;
    s.ip.fragmentsReceived++;
    const fo = ((b[h + 2]! << 8) | b[h + 3]!) & 0xfff8;
    const more = (b[h + 3]! & 1) !== 0;
    const dataStart = h + IPV6_FRAGMENT_HEADER;
    const dataLen = end - dataStart;
    // RFC 8200 §4.5: a non-last fragment carries a multiple of 8 bytes; otherwise Parameter
    // Problem code 0 pointing at the Payload Length field.
    if (more && (dataLen & 7) !== 0) {
      s.ip.malformedFragmentsReceived++;
      s.malformedRcvdPackets++;
      this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_ERRONEOUS_HEADER, 4, false);
      return;
    }
    // ... and the reassembled payload must fit 65,535 bytes; else point at the Fragment Offset.
    if (h - ip - IPV6_HEADER + fo + dataLen > IPV6_MAX_PAYLOAD) {
      s.ip.malformedFragmentsReceived++;
      s.malformedRcvdPackets++;
      this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_ERRONEOUS_HEADER, h + IPV6_FRAGMENT_OFFSET_FIELD - ip,
        false);
      return;
    }
    if (fo === 0) {
      // RFC 8200 §4.5 / RFC 7112 §5: the first fragment holds the whole header chain.
      let t = b[h]!;
      let p = dataStart;
      let count = c.count + 1;
      while (isIPv6ExtensionHeader(t) && t !== IPV6_EXT_FRAGMENT) {
        const n = ipv6ExtensionHeaderLength(t, b, p, end);
        if (n < 0) {
          s.ipv6.incompleteFirstFragments++;
          this.icmp.sendError(nic, pkt, ICMPV6_PARAM_PROBLEM, ICMPV6_INCOMPLETE_CHAIN, 0, false);
          return;
        }
        if (++count > this.maxExtensionHeaders) {
          s.ipv6.extensionChainTooLong++;
          s.malformedRcvdPackets++;
          return;
        }
        t = b[p]!;
        p += n;
      }
    }
    const id = ((b[h + 4]! << 24) | (b[h + 5]! << 16) | (b[h + 6]! << 8) | b[h + 7]!) >>> 0;
    // Reassembly key: source, destination, identification (RFC 8200 §4.5; no protocol).
    const r = this.reassembler.add(b, ip + 8, ip + 24, 16, 0, id, fo, more, b.subarray(dataStart, end),
      b.subarray(ip, dataStart), pkt.nicId);
    if (r.kind === "incomplete") return;
    if (r.kind === "dropped") {
      if (r.reason === "overlap") s.ip.reassemblyOverlaps++; // RFC 5722: the whole datagram is dropped
      else if (r.reason === "memory") s.ip.reassemblyMemoryDrops++;
      else s.ip.malformedFragmentsReceived++;
      return;
    }
    const whole = this.reassembledPacket(pkt, r.header, r.payload);
    if (!whole) {
      s.ip.malformedFragmentsReceived++;
      return;
    }
    s.ip.reassembled++;
    this.processHeaders(nic, whole, multicast, true);
  }

  /**
   * RFC 8200 §4.5: the reassembled packet is the first fragment's unfragmentable part (its
   * headers before the fragment header) with the payload length fixed and the Next Header of
   * its last header set from the fragment header, followed by the fragmentable data.
   * `header` is the first fragment's bytes up to and including its fragment header.
   */
  private reassembledPacket(orig: PacketBuffer, header: Uint8Array, payload: Uint8Array): PacketBuffer | null {
    const unfrag = header.length - IPV6_FRAGMENT_HEADER;
    const total = unfrag + payload.length;
    const bytes = new Uint8Array(total);
    bytes.set(header.subarray(0, unfrag), 0);
    bytes.set(payload, unfrag);
    const plen = total - IPV6_HEADER;
    bytes[4] = plen >>> 8;
    bytes[5] = plen & 0xff;
    const c = this.chain2.start(bytes, 0, unfrag);
    while (c.off < unfrag) if (c.advance() !== CHAIN_OK) return null;
    if (c.off !== unfrag) return null;
    bytes[c.typeFieldOff] = header[unfrag]!;
    return inboundAt(bytes, IPV6_PROTOCOL, 8, 16, orig.nicId, orig);
  }

  private onReassemblyTimeout(r: Reassembly): void {
    this.stack.stats.ip.reassemblyTimeouts++;
    // RFC 8200 §4.5: Time Exceeded code 1 to the source, only when the first fragment arrived.
    const bytes = firstFragmentOf(r);
    if (!bytes) return;
    const p = inboundAt(bytes, IPV6_PROTOCOL, 8, 16, r.nicId, null);
    const nic = this.stack.nic(r.nicId);
    if (nic) this.icmp.sendError(nic, p, ICMPV6_TIME_EXCEEDED, ICMPV6_REASSEMBLY_TIMEOUT, 0, false);
  }

  // ------------------------------------------------------------------ send

  writePacket(nic: NicServices, route: Route, pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | null {
    const s = this.stack.stats;
    const mtu = Math.min(nic.mtu, route.mtu() + IPV6_HEADER);
    const payloadLen = pkt.size;
    pkt.transportProtocol = params.protocol;
    if (pkt.transportHeader < 0) pkt.transportHeader = pkt.start;
    if (payloadLen > IPV6_MAX_PAYLOAD) {
      s.ip.fragmentationNeededDrops++;
      return Err.MessageTooLong;
    }
    // A GSO super-segment (PacketBuffer.gsoSize) is cut to the MTU by the link, never fragmented.
    if (payloadLen + IPV6_HEADER > mtu && pkt.gsoSize === 0) {
      // RFC 8200 §5: only the source fragments. `df` (TCP, or IPV6_DONTFRAG) refuses instead.
      if (params.df) {
        s.ip.fragmentationNeededDrops++;
        return Err.MessageTooLong;
      }
      return this.fragmentAndSend(nic, route, pkt, params, mtu);
    }
    const off = pkt.prepend(IPV6_HEADER);
    encodeIPv6(pkt.buf, off, {
      trafficClass: params.tos, flowLabel: 0, payloadLength: payloadLen, nextHeader: params.protocol,
      hopLimit: params.ttl, src: route.localAddress, dst: route.remoteAddress,
    });
    pkt.networkHeader = off;
    const err = nic.writeNetworkPacket(pkt, route.nextHop ?? route.remoteAddress, IPV6_PROTOCOL);
    if (err) {
      s.ip.outgoingPacketErrors++;
      return err;
    }
    s.ip.packetsSent++;
    return null;
  }

  /**
   * RFC 8200 §4.5: splits the packet into fragments of at most `mtu` bytes, each an IPv6 header,
   * a fragment header and a multiple of 8 bytes of data (the last one any length). The
   * identification is random per packet (RFC 7739: unpredictable identifiers).
   */
  private fragmentAndSend(nic: NicServices, route: Route, pkt: PacketBuffer, params: NetworkWriteParams,
    mtu: number): TcpipError | null {
    const s = this.stack.stats;
    const data = pkt.toBytes();
    const per = (mtu - IPV6_HEADER - IPV6_FRAGMENT_HEADER) & ~7;
    if (per <= 0) return Err.MessageTooLong;
    const id = this.stack.random.uint32();
    const reserve = route.maxHeaderLength + IPV6_FRAGMENT_HEADER + 16;
    for (let off = 0; off < data.length; off += per) {
      const end = Math.min(data.length, off + per);
      const more = end < data.length;
      const frag = PacketBuffer.outbound(reserve, data.subarray(off, end));
      const fh = frag.prepend(IPV6_FRAGMENT_HEADER);
      encodeIPv6Fragment(frag.buf, fh, { nextHeader: params.protocol, fragmentOffset: off, more, id });
      const h = frag.prepend(IPV6_HEADER);
      encodeIPv6(frag.buf, h, {
        trafficClass: params.tos, flowLabel: 0, payloadLength: IPV6_FRAGMENT_HEADER + end - off,
        nextHeader: IPV6_EXT_FRAGMENT, hopLimit: params.ttl, src: route.localAddress, dst: route.remoteAddress,
      });
      frag.networkHeader = h;
      frag.transportProtocol = params.protocol;
      const err = nic.writeNetworkPacket(frag, route.nextHop ?? route.remoteAddress, IPV6_PROTOCOL);
      if (err) {
        s.ip.outgoingPacketErrors++;
        return err;
      }
      s.ip.fragmentsSent++;
    }
    s.ip.packetsSent++;
    return null;
  }

  /** Sends an IPv6 packet built here (NDP, ICMPv6 without a route): `pkt.start` at the upper-layer header. */
  writeRaw(nic: NicServices, pkt: PacketBuffer, src: Address, dst: Address, nextHeader: number, hopLimit: number,
    remoteLinkAddress: Uint8Array | null): TcpipError | null {
    const len = pkt.size;
    pkt.transportProtocol = nextHeader;
    if (pkt.transportHeader < 0) pkt.transportHeader = pkt.start;
    const off = pkt.prepend(IPV6_HEADER);
    encodeIPv6(pkt.buf, off, {
      trafficClass: 0, flowLabel: 0, payloadLength: len, nextHeader, hopLimit, src, dst,
    });
    pkt.networkHeader = off;
    if (remoteLinkAddress) pkt.remoteLinkAddress = remoteLinkAddress;
    const err = nic.writeNetworkPacket(pkt, dst, IPV6_PROTOCOL);
    if (err) {
      this.stack.stats.ip.outgoingPacketErrors++;
      return err;
    }
    this.stack.stats.ip.packetsSent++;
    return null;
  }

  sendIcmpError(nic: NicServices, pkt: PacketBuffer, kind: TransportErrorKind): void {
    this.icmp.sendErrorKind(nic, pkt, kind);
  }

  close(): void {
    this.reassembler.clear();
    this.ndp.close();
  }
}

function isV4MappedAt(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 10; i++) if (b[o + i] !== 0) return false;
  return b[o + 10] === 0xff && b[o + 11] === 0xff;
}

function isLoopbackAt(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 15; i++) if (b[o + i] !== 0) return false;
  return b[o + 15] === 1;
}

export const ipv6: NetworkProtocolFactory = (stack) => new Ipv6Protocol(stack);

/** An IPv6 factory with non-default options (DAD, link-local generation, limits ...). */
export function ipv6With(opts: Ipv6Options): NetworkProtocolFactory {
  return (stack) => new Ipv6Protocol(stack, opts);
}
