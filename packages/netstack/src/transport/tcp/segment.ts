/**
 * The TCP endpoint's view of segments on the wire: `Segment`, a reusable record an inbound
 * packet is parsed into once (header accessors are read straight from the bytes, nothing is
 * copied), and `buildSegment`, which writes an outbound header in front of payload views.
 */
import { PacketBuffer } from "../../buffer/packet.js";
import { checksum, checksumViews, finishChecksum, pseudoHeaderChecksum } from "../../header/checksum.js";
import {
  TCP_ACK_NUM, TCP_CHECKSUM, TCP_DATA_OFFSET, TCP_DST_PORT, TCP_FIN, TCP_FLAGS, TCP_MAX_HEADER, TCP_MIN_HEADER,
  TCP_OPT_MSS, TCP_OPT_MSS_LEN, TCP_SEQ, TCP_SRC_PORT, TCP_SYN, TCP_URGENT, TCP_WINDOW, newTcpOptions, parseTcpOptions,
  type TcpOptions,
} from "../../header/tcp.js";
import { TCP_PROTOCOL } from "../../tcpip/address.js";
import type { Route } from "../../stack/registration.js";

/** Outcome of `Segment.parse`. */
export const SegmentOk = 0;
export const SegmentMalformed = 1;
export const SegmentBadChecksum = 2;

const EMPTY = new Uint8Array(0);

/** An inbound segment's fields. One record per endpoint (and one per protocol), reused. */
export class Segment {
  buf: Uint8Array = EMPTY;
  /** Offset of the TCP header in `buf`. */
  off = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** The window field as received (unscaled). */
  window = 0;
  headerLength = 0;
  payloadOff = 0;
  payloadLen = 0;
  /** Decoded options (only SYN segments' MSS is used in part 1). */
  readonly options: TcpOptions = newTcpOptions();

  /** SEG.LEN (RFC 9293 §3.4): payload plus one for SYN and one for FIN. */
  get seqLen(): number {
    return this.payloadLen + (this.flags & TCP_SYN ? 1 : 0) + (this.flags & TCP_FIN ? 1 : 0);
  }

  /**
   * Reads the segment at `pkt.start`. Validates the header lengths (RFC 9293 §3.1) and, unless
   * the link verified it, the checksum over the pseudo-header, header and data. Never throws.
   */
  parse(pkt: PacketBuffer): number {
    const b = pkt.buf;
    const off = pkt.start;
    const len = pkt.end - pkt.start;
    if (len < TCP_MIN_HEADER || off < 0 || pkt.end > b.length) return SegmentMalformed;
    const hl = (b[off + TCP_DATA_OFFSET]! >>> 4) << 2;
    if (hl < TCP_MIN_HEADER || hl > len) return SegmentMalformed;
    if (!pkt.checksumOffloaded) {
      if (pkt.addrLen !== 4 && pkt.addrLen !== 16) return SegmentMalformed;
      const ps = pseudoHeaderChecksum(TCP_PROTOCOL, b, pkt.srcAddrOff, b, pkt.dstAddrOff, pkt.addrLen, len);
      if (checksum(b, off, len, ps) !== 0xffff) return SegmentBadChecksum;
    }
    this.buf = b;
    this.off = off;
    this.srcPort = (b[off + TCP_SRC_PORT]! << 8) | b[off + TCP_SRC_PORT + 1]!;
    this.dstPort = (b[off + TCP_DST_PORT]! << 8) | b[off + TCP_DST_PORT + 1]!;
    this.seq = get32(b, off + TCP_SEQ);
    this.ack = get32(b, off + TCP_ACK_NUM);
    this.flags = b[off + TCP_FLAGS]!;
    this.window = (b[off + TCP_WINDOW]! << 8) | b[off + TCP_WINDOW + 1]!;
    this.headerLength = hl;
    this.payloadOff = off + hl;
    this.payloadLen = len - hl;
    // Malformed option lists are ignored like Linux does (what parsed before the fault is kept).
    if (hl > TCP_MIN_HEADER) parseTcpOptions(b, off + TCP_MIN_HEADER, hl - TCP_MIN_HEADER, this.options);
    else this.options.mss = 0;
    return SegmentOk;
  }
}

function get32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function put16(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 8;
  b[i + 1] = v;
}

function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

/**
 * Builds an outbound segment: a packet with room for the route's headers, the TCP header (with
 * an MSS option when `mss` > 0) written in place, `payload` attached as views, and the checksum
 * filled in unless the route's link computes it (TX offload).
 */
export function buildSegment(
  route: Route,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  mss: number,
  payload: readonly Uint8Array[] | null,
  payloadLen: number,
): PacketBuffer {
  const optLen = mss > 0 ? TCP_OPT_MSS_LEN : 0;
  const hl = TCP_MIN_HEADER + optLen;
  const pkt = PacketBuffer.outbound(route.maxHeaderLength + TCP_MAX_HEADER, payload ?? undefined);
  const off = pkt.prepend(hl);
  const b = pkt.buf;
  put16(b, off + TCP_SRC_PORT, srcPort);
  put16(b, off + TCP_DST_PORT, dstPort);
  put32(b, off + TCP_SEQ, seq);
  put32(b, off + TCP_ACK_NUM, ack);
  b[off + TCP_DATA_OFFSET] = (hl >>> 2) << 4;
  b[off + TCP_FLAGS] = flags;
  put16(b, off + TCP_WINDOW, window > 0xffff ? 0xffff : window);
  put16(b, off + TCP_CHECKSUM, 0);
  put16(b, off + TCP_URGENT, 0);
  if (mss > 0) {
    // RFC 9293 §3.2: MSS option, kind 2, length 4 (only in SYN segments).
    b[off + TCP_MIN_HEADER] = TCP_OPT_MSS;
    b[off + TCP_MIN_HEADER + 1] = TCP_OPT_MSS_LEN;
    put16(b, off + TCP_MIN_HEADER + 2, mss > 0xffff ? 0xffff : mss);
  }
  pkt.transportHeader = off;
  pkt.transportProtocol = TCP_PROTOCOL;
  if (route.txChecksumOffload) {
    pkt.checksumOffloaded = true;
  } else {
    let sum = route.pseudoHeaderChecksum(TCP_PROTOCOL, hl + payloadLen);
    sum = checksum(b, off, hl, sum);
    if (payloadLen > 0) sum = checksumViews(pkt.payload, sum);
    put16(b, off + TCP_CHECKSUM, finishChecksum(sum));
  }
  return pkt;
}
