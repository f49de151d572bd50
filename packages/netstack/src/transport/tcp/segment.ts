/**
 * The TCP endpoint's view of segments on the wire: `Segment`, a reusable record an inbound
 * packet is parsed into once (header accessors are read straight from the bytes, nothing is
 * copied), and `buildSegment`, which writes an outbound header in front of payload views.
 */
import { PacketBuffer } from "../../buffer/packet.js";
import { checksum, checksumViews, finishChecksum, pseudoHeaderChecksum } from "../../header/checksum.js";
import {
  TCP_ACK_NUM, TCP_CHECKSUM, TCP_DATA_OFFSET, TCP_DST_PORT, TCP_FIN, TCP_FLAGS, TCP_MAX_HEADER, TCP_MIN_HEADER,
  TCP_OPT_MSS, TCP_OPT_MSS_LEN, TCP_OPT_NOP, TCP_OPT_SACK, TCP_OPT_SACK_PERMITTED, TCP_OPT_TIMESTAMP, TCP_OPT_WS,
  TCP_OPT_TIMESTAMP_LEN, TCP_SEQ, TCP_SRC_PORT, TCP_SYN, TCP_URGENT, TCP_WINDOW, newTcpOptions, parseTcpOptions,
  resetTcpOptions,
  type TcpOptions,
} from "../../header/tcp.js";
import { TCP_PROTOCOL } from "../../tcpip/address.js";
import type { Route } from "../../stack/registration.js";

/** Outcome of `Segment.parse`. */
export const SegmentOk = 0;
export const SegmentMalformed = 1;
export const SegmentBadChecksum = 2;

const EMPTY = new Uint8Array(0);
/** Option bytes of a segment carrying only timestamps: NOP, NOP, kind 8, length 10, TSval, TSecr. */
const TS_ONLY_OPTIONS = 12;

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
    const o = off + TCP_MIN_HEADER;
    if (hl === TCP_MIN_HEADER + TS_ONLY_OPTIONS && b[o] === TCP_OPT_NOP && b[o + 1] === TCP_OPT_NOP &&
      b[o + 2] === TCP_OPT_TIMESTAMP && b[o + 3] === TCP_OPT_TIMESTAMP_LEN) {
      // The layout of nearly every segment of a timestamped connection (RFC 7323 Appendix A:
      // NOP, NOP, TS), read directly as Linux's tcp_parse_aligned_timestamp does; the same
      // record parseTcpOptions would produce.
      const opts = this.options;
      resetTcpOptions(opts);
      opts.hasTimestamp = true;
      opts.tsVal = get32(b, o + 4);
      opts.tsEcr = get32(b, o + 8);
    } else if (hl > TCP_MIN_HEADER) {
      // Malformed option lists are ignored like Linux does (what parsed before the fault is kept).
      parseTcpOptions(b, o, hl - TCP_MIN_HEADER, this.options);
    } else resetTcpOptions(this.options);
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
 * The options of one outbound segment (one reusable record per endpoint). SYN and SYN-ACK carry
 * MSS, SACK-permitted, timestamps and window scale; other segments timestamps and SACK blocks.
 */
export class OutOptions {
  /** MSS option value (0: none). */
  mss = 0;
  /** Window scale shift (-1: none). */
  wscale = -1;
  sackPermitted = false;
  /** Timestamps option (RFC 7323 §3). */
  ts = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks (RFC 2018): `sackCount` pairs of [left, right) in `sack`. */
  sackCount = 0;
  readonly sack = new Uint32Array(8);

  clear(): void {
    this.mss = 0;
    this.wscale = -1;
    this.sackPermitted = false;
    this.ts = false;
    this.sackCount = 0;
  }

  /** Bytes the options take (a multiple of 4). */
  length(): number {
    let n = 0;
    if (this.mss > 0) n += 4;
    if (this.ts) n += 12;
    else if (this.sackPermitted) n += 4;
    if (this.wscale >= 0) n += 4;
    if (this.sackCount > 0) n += 4 + 8 * this.sackCount;
    return n;
  }
}

/**
 * Writes `o` at b[i] in the usual layout (NOPs aligning each option on 32 bits, SACK-permitted
 * sharing the timestamps' padding, as RFC 7323 Appendix A suggests); returns the bytes written.
 */
function writeOptions(b: Uint8Array, i: number, o: OutOptions): number {
  const start = i;
  if (o.mss > 0) {
    // RFC 9293 §3.2: MSS option, kind 2, length 4 (only in SYN segments).
    b[i] = TCP_OPT_MSS;
    b[i + 1] = TCP_OPT_MSS_LEN;
    put16(b, i + 2, o.mss > 0xffff ? 0xffff : o.mss);
    i += 4;
  }
  if (o.ts) {
    if (o.sackPermitted) {
      b[i] = TCP_OPT_SACK_PERMITTED;
      b[i + 1] = 2;
    } else {
      b[i] = TCP_OPT_NOP;
      b[i + 1] = TCP_OPT_NOP;
    }
    b[i + 2] = TCP_OPT_TIMESTAMP;
    b[i + 3] = 10;
    put32(b, i + 4, o.tsVal);
    put32(b, i + 8, o.tsEcr);
    i += 12;
  } else if (o.sackPermitted) {
    b[i] = TCP_OPT_NOP;
    b[i + 1] = TCP_OPT_NOP;
    b[i + 2] = TCP_OPT_SACK_PERMITTED;
    b[i + 3] = 2;
    i += 4;
  }
  if (o.wscale >= 0) {
    b[i] = TCP_OPT_NOP;
    b[i + 1] = TCP_OPT_WS;
    b[i + 2] = 3;
    b[i + 3] = o.wscale;
    i += 4;
  }
  if (o.sackCount > 0) {
    b[i] = TCP_OPT_NOP;
    b[i + 1] = TCP_OPT_NOP;
    b[i + 2] = TCP_OPT_SACK;
    b[i + 3] = 2 + 8 * o.sackCount;
    i += 4;
    for (let k = 0; k < 2 * o.sackCount; k++, i += 4) put32(b, i, o.sack[k]!);
  }
  return i - start;
}

/**
 * Builds an outbound segment: a packet with room for the route's headers, the TCP header (with
 * the options in `opts`, if any) written in place, `payload` (non-empty views of `payloadLen` bytes
 * in all) attached as the packet's payload array — taken over, not copied — and the checksum
 * filled in unless the route's link computes it (TX offload, or a GSO super-segment when `gsoSize`
 * is set).
 */
export function buildSegment(
  route: Route,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  opts: OutOptions | null,
  payload: Uint8Array[] | null,
  payloadLen: number,
  gsoSize = 0,
): PacketBuffer {
  const optLen = opts ? opts.length() : 0;
  const hl = TCP_MIN_HEADER + optLen;
  const reserve = route.maxHeaderLength + TCP_MAX_HEADER;
  const pkt = payload ? PacketBuffer.outboundTaking(reserve, payload, payloadLen) : PacketBuffer.outbound(reserve);
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
  if (optLen > 0) writeOptions(b, off + TCP_MIN_HEADER, opts!);
  pkt.transportHeader = off;
  pkt.transportProtocol = TCP_PROTOCOL;
  if (gsoSize > 0) {
    // A GSO super-segment (gso.ts): the link completes each segment's checksum from the
    // pseudo-header sum left in the field (folded, not inverted: a partial checksum).
    pkt.gsoSize = gsoSize;
    pkt.checksumOffloaded = true;
    put16(b, off + TCP_CHECKSUM, route.pseudoHeaderChecksum(TCP_PROTOCOL, hl + payloadLen));
  } else if (route.txChecksumOffload) {
    pkt.checksumOffloaded = true;
  } else {
    // RFC 9293 §3.1: the fixed header's 16-bit words are summed from the values just written
    // (the same sum as reading the bytes back; checksum and urgent pointer are zero), the
    // options and the payload from their bytes. `seq` and `ack` may be uint32 or int32.
    const w = window > 0xffff ? 0xffff : window;
    let sum = route.pseudoHeaderChecksum(TCP_PROTOCOL, hl + payloadLen) + (srcPort & 0xffff) + (dstPort & 0xffff) +
      (seq >>> 16) + (seq & 0xffff) + (ack >>> 16) + (ack & 0xffff) + ((((hl >>> 2) << 4) & 0xff) << 8) + (flags & 0xff) + (w & 0xffff);
    sum = (sum & 0xffff) + (sum >>> 16);
    if (optLen > 0) sum = checksum(b, off + TCP_MIN_HEADER, optLen, sum);
    if (payloadLen > 0) sum = checksumViews(pkt.payload, sum);
    sum = (sum & 0xffff) + (sum >>> 16);
    put16(b, off + TCP_CHECKSUM, finishChecksum(sum));
  }
  return pkt;
}
