/**
 * IPv4 (RFC 791) with ICMPv4 (RFC 792): receive validation, delivery to the NIC's addresses (and
 * broadcast), reassembly, fragmentation on send, echo replies and rate-limited errors, and ICMP
 * errors handed to the transport endpoint they concern.
 */
import { ICMPV4_PROTOCOL, IPV4_PROTOCOL } from "../../tcpip/address.js";
import { Err, type TcpipError } from "../../tcpip/errors.js";
import { PacketBuffer } from "../../buffer/packet.js";
import { CapRxChecksumOffload } from "../../link/link.js";
import { checksum } from "../../header/checksum.js";
import {
  checkIPv4Header, encodeIPv4, encodeIPv4Basic, validateIPv4Options, IPV4_DST, IPV4_FLAG_MF, IPV4_FLAGS_FRAGOFF, IPV4_ID,
  IPV4_MIN_HEADER, IPV4_PROTOCOL_FIELD, IPV4_SRC, IPV4_TOTAL_LENGTH,
} from "../../header/ipv4.js";
import { isParseError } from "../../header/parse.js";
import { Reassembler, firstFragmentOf, inboundAt, type Reassembly } from "../fragment/reassembler.js";
import { TokenBucket } from "../ratelimit.js";
import type {
  NetworkProtocol, NetworkProtocolFactory, NetworkStackServices, NetworkWriteParams, NicServices, Route,
  TransportErrorKind,
} from "../../stack/registration.js";
import { Icmpv4 } from "./icmp.js";

export interface Ipv4Options {
  /** Reassembly timeout (Linux ipfrag_time: 30 s). */
  reassemblyTimeoutMs?: number;
  /** Bytes of fragments held at most (Linux ipfrag_high_thresh: 4 MiB). */
  reassemblyMemoryLimit?: number;
  /** ICMP error rate (Linux icmp_msgs_per_sec 1000, icmp_msgs_burst 50). */
  icmpRatePerSec?: number;
  icmpBurst?: number;
}

export class Ipv4Protocol implements NetworkProtocol {
  readonly number = IPV4_PROTOCOL;
  readonly addressLength = 4;
  readonly maxHeaderLength = 60;
  readonly fixedHeaderLength = IPV4_MIN_HEADER;
  readonly reassembler: Reassembler;
  readonly icmp: Icmpv4;
  private ident: number;

  constructor(
    readonly stack: NetworkStackServices,
    opts: Ipv4Options = {},
  ) {
    this.reassembler = new Reassembler(stack.clock, {
      timeoutMs: opts.reassemblyTimeoutMs ?? 30_000,
      memoryLimit: opts.reassemblyMemoryLimit ?? 4 * 1024 * 1024,
      onTimeout: (r) => this.onReassemblyTimeout(r),
      // An incomplete datagram evicted for a newer one is a memory drop too.
      onEvict: () => { this.stack.stats.ip.reassemblyMemoryDrops++; },
    });
    this.icmp = new Icmpv4(this, new TokenBucket(stack.clock, opts.icmpRatePerSec ?? 1000, opts.icmpBurst ?? 50));
    this.ident = stack.random.uint32() & 0xffff;
  }

  // ------------------------------------------------------------------ receive

  handlePacket(nic: NicServices, pkt: PacketBuffer): void {
    const s = this.stack.stats;
    s.ip.packetsReceived++;
    // The header is read in place (no view object per packet): IPv4View.check's rules.
    const b = pkt.buf;
    const at = pkt.start;
    const hlen = checkIPv4Header(b, at, pkt.end - at);
    if (hlen < 0) {
      s.ip.malformedPacketsReceived++;
      s.malformedRcvdPackets++;
      return;
    }
    // RFC 791 §3.1: the header's ones'-complement sum, checksum field included, is all ones.
    if ((nic.capabilities & CapRxChecksumOffload) === 0 && checksum(b, at, hlen) !== 0xffff) {
      s.ip.checksumErrors++;
      s.malformedRcvdPackets++;
      return;
    }
    if (hlen > IPV4_MIN_HEADER && isParseError(validateIPv4Options(b, at + IPV4_MIN_HEADER, hlen - IPV4_MIN_HEADER))) {
      s.ip.malformedPacketsReceived++;
      s.malformedRcvdPackets++;
      return;
    }
    const totalLength = (b[at + IPV4_TOTAL_LENGTH]! << 8) | b[at + IPV4_TOTAL_LENGTH + 1]!;
    const srcOff = at + IPV4_SRC;
    const dstOff = at + IPV4_DST;
    pkt.networkHeader = at;
    pkt.trimTo(totalLength);
    pkt.srcAddrOff = srcOff;
    pkt.dstAddrOff = dstOff;
    pkt.addrLen = 4;
    pkt.networkProtocol = IPV4_PROTOCOL;

    // RFC 1122 §3.2.1.3: a source that is broadcast or multicast is invalid. A packet arriving
    // from a link with one of this NIC's own addresses as its source is spoofed (Linux drops it
    // as a martian unless accept_local is set); loopback legitimately carries our addresses.
    const src0 = b[srcOff]!;
    // (255.255.255.255 is tested bytewise: a uint32 hash of it is a boxed number when not inlined.)
    if ((src0 & 0xf0) === 0xe0 || (src0 & b[srcOff + 1]! & b[srcOff + 2]! & b[srcOff + 3]!) === 0xff ||
      nic.isBroadcast(b, srcOff, 4) ||
      (!nic.isLoopback && nic.hasAddress(b, srcOff, 4))) {
      s.ip.invalidSourceAddressesReceived++;
      return;
    }
    const dst0 = b[dstOff]!;
    const multicast = (dst0 & 0xf0) === 0xe0;
    const broadcast = nic.isBroadcast(b, dstOff, 4);
    if (!nic.hasAddress(b, dstOff, 4) && !broadcast && !multicast && !nic.promiscuous && !nic.isLoopback) {
      s.ip.invalidDestinationAddressesReceived++;
      return;
    }

    const flagsFrag = (b[at + IPV4_FLAGS_FRAGOFF]! << 8) | b[at + IPV4_FLAGS_FRAGOFF + 1]!;
    if ((flagsFrag & 0x3fff) !== 0) {
      // A fragment: MF set or a non-zero offset (in 8-byte units, RFC 791 §3.1).
      const moreFragments = (flagsFrag & 0x2000) !== 0;
      const fragmentOffset = (flagsFrag & 0x1fff) << 3;
      s.ip.fragmentsReceived++;
      const payloadLen = totalLength - hlen;
      // RFC 791: every fragment but the last carries a multiple of 8 bytes; the datagram fits 64 KiB.
      if ((moreFragments && (payloadLen & 7) !== 0) || fragmentOffset + payloadLen > 65535 - hlen) {
        s.ip.malformedFragmentsReceived++;
        s.malformedRcvdPackets++;
        return;
      }
      const id = (b[at + IPV4_ID]! << 8) | b[at + IPV4_ID + 1]!;
      const r = this.reassembler.add(b, srcOff, dstOff, 4, b[at + IPV4_PROTOCOL_FIELD]!, id, fragmentOffset, moreFragments,
        b.subarray(at + hlen, at + totalLength), b.subarray(at, at + hlen), pkt.nicId);
      if (r.kind === "incomplete") return;
      if (r.kind === "dropped") {
        if (r.reason === "overlap") s.ip.reassemblyOverlaps++;
        else if (r.reason === "memory") s.ip.reassemblyMemoryDrops++;
        else s.ip.malformedFragmentsReceived++;
        return;
      }
      s.ip.reassembled++;
      pkt = this.reassembledPacket(pkt, r.header, r.payload);
    }

    pkt.consume(hlen);
    const proto = pkt.buf[pkt.networkHeader + IPV4_PROTOCOL_FIELD]!;
    pkt.transportProtocol = proto;
    pkt.transportHeader = pkt.start;
    if (proto === ICMPV4_PROTOCOL) {
      s.ip.packetsDelivered++;
      this.icmp.handle(nic, pkt, broadcast || multicast);
      return;
    }
    const res = this.stack.deliverTransportPacket(nic, pkt, proto, broadcast || multicast);
    switch (res) {
      case "delivered":
        s.ip.packetsDelivered++;
        return;
      case "malformed":
        s.malformedRcvdPackets++;
        return;
      case "port-unreachable":
        if (!broadcast && !multicast) this.icmp.sendError(nic, pkt, "port-unreachable");
        return;
      case "unknown-transport":
        s.unknownProtocolRcvdPackets++;
        if (!broadcast && !multicast) this.icmp.sendError(nic, pkt, "proto-unreachable");
        return;
    }
  }

  /** Builds the reassembled datagram as a fresh inbound packet (header fixed up, start at the header). */
  private reassembledPacket(orig: PacketBuffer, header: Uint8Array, payload: Uint8Array): PacketBuffer {
    const hlen = header.length;
    const total = hlen + payload.length;
    const bytes = new Uint8Array(total);
    bytes.set(header, 0);
    bytes.set(payload, hlen);
    bytes[2] = total >>> 8;
    bytes[3] = total & 0xff;
    bytes[6] = 0; // flags and fragment offset cleared
    bytes[7] = 0;
    bytes[10] = 0;
    bytes[11] = 0;
    const c = (~checksum(bytes, 0, hlen)) & 0xffff;
    bytes[10] = c >>> 8;
    bytes[11] = c & 0xff;
    return inboundAt(bytes, IPV4_PROTOCOL, 12, 4, orig.nicId, orig);
  }

  private onReassemblyTimeout(r: Reassembly): void {
    this.stack.stats.ip.reassemblyTimeouts++;
    // RFC 792 / RFC 1122 §3.2.1.4: time exceeded (code 1) only when fragment zero arrived.
    const bytes = firstFragmentOf(r);
    if (!bytes) return;
    const p = inboundAt(bytes, IPV4_PROTOCOL, 12, 4, r.nicId, null);
    p.consume(r.firstHeader!.length);
    const nic = this.nicServices(r.nicId);
    if (nic) this.icmp.sendError(nic, p, "reassembly-timeout");
  }

  /** Resolves a NIC id to its services. */
  nicServices(id: number): NicServices | undefined {
    return this.stack.nic(id);
  }

  // ------------------------------------------------------------------ send

  writePacket(nic: NicServices, route: Route, pkt: PacketBuffer, params: NetworkWriteParams): TcpipError | null {
    const s = this.stack.stats;
    const mtu = Math.min(nic.mtu, route.mtu() + IPV4_MIN_HEADER);
    const total = pkt.size + IPV4_MIN_HEADER;
    pkt.transportProtocol = params.protocol;
    if (pkt.transportHeader < 0) pkt.transportHeader = pkt.start;
    // A GSO super-segment (PacketBuffer.gsoSize) is cut to the MTU by the link, never fragmented.
    if (total > mtu && (pkt.gsoSize === 0 || total > 65535)) {
      if (params.df || total > 65535) {
        s.ip.fragmentationNeededDrops++;
        return Err.MessageTooLong;
      }
      return this.fragmentAndSend(nic, route, pkt, params, mtu);
    }
    const id = this.nextId();
    const off = pkt.prepend(IPV4_MIN_HEADER);
    const src = route.localAddress.bytes;
    const dst = route.remoteAddress.bytes;
    if (src.length !== 4 || dst.length !== 4) throw new RangeError("IPv4 header needs IPv4 addresses");
    encodeIPv4Basic(pkt.buf, off, params.tos, total, id, params.df === true, params.ttl, params.protocol, src, dst);
    pkt.networkHeader = off;
    const err = nic.writeNetworkPacket(pkt, route.nextHop ?? route.remoteAddress, IPV4_PROTOCOL);
    if (err) {
      s.ip.outgoingPacketErrors++;
      return err;
    }
    s.ip.packetsSent++;
    return null;
  }

  nextId(): number {
    this.ident = (this.ident + 1) & 0xffff;
    return this.ident;
  }

  /** RFC 791 §3.2: splits the transport packet into fragments of at most `mtu` bytes each. */
  private fragmentAndSend(nic: NicServices, route: Route, pkt: PacketBuffer, params: NetworkWriteParams,
    mtu: number): TcpipError | null {
    const s = this.stack.stats;
    const data = pkt.toBytes();
    const per = (mtu - IPV4_MIN_HEADER) & ~7;
    if (per <= 0) return Err.MessageTooLong;
    const id = this.nextId();
    const reserve = nic.linkAddress.length > 0 ? 14 + IPV4_MIN_HEADER : IPV4_MIN_HEADER;
    for (let off = 0; off < data.length; off += per) {
      const end = Math.min(data.length, off + per);
      const more = end < data.length;
      const frag = PacketBuffer.outbound(reserve + 16, data.subarray(off, end));
      const h = frag.prepend(IPV4_MIN_HEADER);
      encodeIPv4(frag.buf, h, {
        tos: params.tos, totalLength: IPV4_MIN_HEADER + end - off, id, flags: more ? IPV4_FLAG_MF : 0,
        fragmentOffset: off, ttl: params.ttl, protocol: params.protocol, src: route.localAddress,
        dst: route.remoteAddress,
      });
      frag.networkHeader = h;
      frag.transportProtocol = params.protocol;
      const err = nic.writeNetworkPacket(frag, route.nextHop ?? route.remoteAddress, IPV4_PROTOCOL);
      if (err) {
        s.ip.outgoingPacketErrors++;
        return err;
      }
      s.ip.fragmentsSent++;
    }
    s.ip.packetsSent++;
    return null;
  }

  sendIcmpError(nic: NicServices, pkt: PacketBuffer, kind: TransportErrorKind): void {
    this.icmp.sendError(nic, pkt, kind);
  }

  close(): void {
    this.reassembler.clear();
  }
}

export const ipv4: NetworkProtocolFactory = (stack) => new Ipv4Protocol(stack);

/** An IPv4 factory with non-default options. */
export function ipv4With(opts: Ipv4Options): NetworkProtocolFactory {
  return (stack) => new Ipv4Protocol(stack, opts);
}
