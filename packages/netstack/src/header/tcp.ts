/**
 * TCP header (RFC 9293 §3.1) and options: MSS (RFC 9293 §3.2), window scale and timestamps
 * (RFC 7323), SACK-permitted and SACK (RFC 2018).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |          Source Port          |       Destination Port        |  0
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                        Sequence Number                        |  4
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Acknowledgment Number                      |  8
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Data |       |C|E|U|A|P|R|S|F|                               |
 *    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             | 12
 *    |       |       |R|E|G|K|H|T|N|N|                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           Checksum            |         Urgent Pointer        | 16
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Options (0..40 bytes)                      | 20
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                             Data                              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The checksum covers the pseudo-header (see checksum.ts), the header and the data.
 */
import { checksum } from "./checksum.js";
import { get16, get32, put16, put32, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

// Field offsets (bytes from the start of the header).
export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK_NUM = 8;
export const TCP_DATA_OFFSET = 12; // high nibble: header length in 32-bit words
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;
export const TCP_OPTIONS = 20;

export const TCP_MIN_HEADER = 20;
export const TCP_MAX_HEADER = 60;
/** Largest option area: 15 words of header minus the 5-word base header. */
export const TCP_MAX_OPTIONS = 40;

// Control bits (byte 13), RFC 9293 §3.1 and RFC 3168 §23.2 (ECE, CWR).
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

// Option kinds (IANA "TCP Option Kind Numbers").
export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WS = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMP = 8;

export const TCP_OPT_MSS_LEN = 4;
export const TCP_OPT_WS_LEN = 3;
export const TCP_OPT_SACK_PERMITTED_LEN = 2;
export const TCP_OPT_TIMESTAMP_LEN = 10;
/** RFC 7323 §2.3: a window scale shift above 14 is treated as 14. */
export const TCP_MAX_WSCALE = 14;
/** At most 4 SACK blocks fit in the 40-byte option space (RFC 2018 §3). */
export const TCP_MAX_SACK_BLOCKS = 4;

/**
 * A checked view over a TCP header and its payload: `buf[off, off + len)` is the whole segment.
 * After `check` succeeds every accessor reads in bounds. The constructor does no validation: use
 * it only over bytes known to be well formed (e.g. a header this stack just wrote).
 */
export class TCPView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /**
   * Validates a segment of `len` bytes at `off`: at least 20 bytes, data offset >= 5 words and
   * not past the segment (RFC 9293 §3.1). Does not verify the checksum. Never throws.
   */
  static check(b: Uint8Array, off = 0, len = b.length - off): TCPView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < TCP_MIN_HEADER) return ParseError.TooShort;
    const hl = (b[off + TCP_DATA_OFFSET]! >>> 4) << 2;
    if (hl < TCP_MIN_HEADER || hl > len) return ParseError.BadLength;
    return new TCPView(b, off, len);
  }

  get srcPort(): number {
    return get16(this.buf, this.off + TCP_SRC_PORT);
  }
  set srcPort(v: number) {
    put16(this.buf, this.off + TCP_SRC_PORT, v);
  }
  get dstPort(): number {
    return get16(this.buf, this.off + TCP_DST_PORT);
  }
  set dstPort(v: number) {
    put16(this.buf, this.off + TCP_DST_PORT, v);
  }
  /** Sequence number, unsigned 32-bit. */
  get seq(): number {
    return get32(this.buf, this.off + TCP_SEQ);
  }
  set seq(v: number) {
    put32(this.buf, this.off + TCP_SEQ, v);
  }
  /** Acknowledgment number, unsigned 32-bit (meaningful only with ACK set). */
  get ack(): number {
    return get32(this.buf, this.off + TCP_ACK_NUM);
  }
  set ack(v: number) {
    put32(this.buf, this.off + TCP_ACK_NUM, v);
  }
  /** Header length in bytes (the data offset field times 4). */
  get dataOffset(): number {
    return (this.buf[this.off + TCP_DATA_OFFSET]! >>> 4) << 2;
  }
  /** The 8 control bits (TCP_FIN .. TCP_CWR). */
  get flags(): number {
    return this.buf[this.off + TCP_FLAGS]!;
  }
  set flags(v: number) {
    this.buf[this.off + TCP_FLAGS] = v;
  }
  /** The unscaled window field. */
  get window(): number {
    return get16(this.buf, this.off + TCP_WINDOW);
  }
  set window(v: number) {
    put16(this.buf, this.off + TCP_WINDOW, v);
  }
  get checksum(): number {
    return get16(this.buf, this.off + TCP_CHECKSUM);
  }
  set checksum(v: number) {
    put16(this.buf, this.off + TCP_CHECKSUM, v);
  }
  setChecksum(v: number): void {
    put16(this.buf, this.off + TCP_CHECKSUM, v);
  }
  get urgent(): number {
    return get16(this.buf, this.off + TCP_URGENT);
  }
  /** Absolute offset of the options in `buf`. */
  get optionsOffset(): number {
    return this.off + TCP_OPTIONS;
  }
  get optionsLength(): number {
    return this.dataOffset - TCP_MIN_HEADER;
  }
  /** Absolute offset of the payload in `buf`. */
  get payloadOffset(): number {
    return this.off + this.dataOffset;
  }
  get payloadLength(): number {
    return this.len - this.dataOffset;
  }
  /** The payload as a view into `buf` (no copy). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + this.dataOffset, this.off + this.len);
  }

  /**
   * True when the checksum verifies: `pseudoSum` is the folded pseudo-header sum for this
   * segment's addresses and length `len` (pseudoHeaderChecksum(TCP_PROTOCOL, ..., len)).
   */
  isChecksumValid(pseudoSum: number): boolean {
    return checksum(this.buf, this.off, this.len, pseudoSum) === 0xffff;
  }

  /** Decodes the options into `out` (reset first). False when they are malformed. */
  parseOptions(out: TcpOptions): boolean {
    return parseTcpOptions(this.buf, this.off + TCP_OPTIONS, this.dataOffset - TCP_MIN_HEADER, out);
  }
}

/**
 * Decoded TCP options. A mutable record meant to be reused, so parsing a segment allocates
 * nothing: create one with `newTcpOptions()` and hand it to `parseTcpOptions` per segment.
 */
export interface TcpOptions {
  /** MSS option value; 0 when absent. */
  mss: number;
  /** Window scale shift (clamped to 14); -1 when absent. */
  wscale: number;
  sackPermitted: boolean;
  hasTimestamp: boolean;
  tsVal: number;
  tsEcr: number;
  /** Number of SACK blocks in `sackBlocks` (0..4). */
  sackBlockCount: number;
  /** SACK blocks as [start0, end0, start1, end1, ...] (left edge, right edge: RFC 2018 §3). */
  sackBlocks: Uint32Array;
}

export function newTcpOptions(): TcpOptions {
  return {
    mss: 0,
    wscale: -1,
    sackPermitted: false,
    hasTimestamp: false,
    tsVal: 0,
    tsEcr: 0,
    sackBlockCount: 0,
    sackBlocks: new Uint32Array(2 * TCP_MAX_SACK_BLOCKS),
  };
}

/** Resets `o` to "no options" (the SACK block array is kept; its contents are stale). */
export function resetTcpOptions(o: TcpOptions): void {
  o.mss = 0;
  o.wscale = -1;
  o.sackPermitted = false;
  o.hasTimestamp = false;
  o.tsVal = 0;
  o.tsEcr = 0;
  o.sackBlockCount = 0;
}

/**
 * Walks the options in `b[off, off + len)` and decodes them into `out`, which is reset first.
 *
 * - EOL (kind 0) ends the list; NOP (kind 1) is one byte of padding (RFC 9293 §3.1).
 * - MSS (kind 2, len 4), window scale (kind 3, len 3, shift clamped to 14: RFC 7323 §2.3),
 *   SACK-permitted (kind 4, len 2), SACK (kind 5, len 2 + 8n, n = 1..4: RFC 2018 §3) and
 *   timestamps (kind 8, len 10: RFC 7323 §3.2) are decoded. When an option repeats, the last wins.
 * - A known kind with a length other than its own, and any unknown kind, is skipped by its
 *   length (RFC 9293 §3.1: "must be prepared to handle an illegal option length"; Linux ignores
 *   such options rather than dropping the segment).
 * - A length below 2, or one running past the end, makes the option list malformed: returns
 *   false (what was decoded before that point stays in `out`). Never throws.
 */
export function parseTcpOptions(b: Uint8Array, off: number, len: number, out: TcpOptions): boolean {
  resetTcpOptions(out);
  if (!rangeOk(b, off, len)) return false;
  const end = off + len;
  let i = off;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCP_OPT_EOL) return true;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return false; // a kind with no room for its length byte
    const l = b[i + 1]!;
    if (l < 2 || i + l > end) return false;
    switch (kind) {
      case TCP_OPT_MSS:
        if (l === TCP_OPT_MSS_LEN) out.mss = get16(b, i + 2);
        break;
      case TCP_OPT_WS:
        if (l === TCP_OPT_WS_LEN) {
          const s = b[i + 2]!;
          out.wscale = s > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : s;
        }
        break;
      case TCP_OPT_SACK_PERMITTED:
        if (l === TCP_OPT_SACK_PERMITTED_LEN) out.sackPermitted = true;
        break;
      case TCP_OPT_SACK: {
        const n = (l - 2) >>> 3;
        if (n >= 1 && n <= TCP_MAX_SACK_BLOCKS && l === 2 + 8 * n) {
          const blocks = out.sackBlocks;
          for (let k = 0; k < 2 * n; k++) blocks[k] = get32(b, i + 2 + 4 * k);
          out.sackBlockCount = n;
        }
        break;
      }
      case TCP_OPT_TIMESTAMP:
        if (l === TCP_OPT_TIMESTAMP_LEN) {
          out.hasTimestamp = true;
          out.tsVal = get32(b, i + 2);
          out.tsEcr = get32(b, i + 6);
        }
        break;
      default:
        break; // unknown kind: skipped by its length
    }
    i += l;
  }
  return true;
}

/**
 * What to put in an outgoing segment's options; a `TcpOptions` record fits. Absent fields mean
 * "do not send": mss <= 0, wscale < 0, sackBlockCount 0. When `sackBlockCount` is omitted it is
 * taken from `sackBlocks.length / 2`.
 */
export interface TcpOptionsSpec {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  hasTimestamp?: boolean;
  tsVal?: number;
  tsEcr?: number;
  sackBlockCount?: number;
  sackBlocks?: ArrayLike<number>;
}

/** Bytes of option space used by everything except SACK blocks (see encodeTcpOptions). */
function fixedOptionsSize(o: TcpOptionsSpec): number {
  let n = 0;
  if (o.mss !== undefined && o.mss > 0) n += 4;
  if (o.hasTimestamp) n += 12; // NOP,NOP,TS or SACK-permitted,TS
  else if (o.sackPermitted) n += 4; // NOP,NOP,SACK-permitted
  if (o.wscale !== undefined && o.wscale >= 0) n += 4; // NOP,WS
  return n;
}

/** How many SACK blocks `encodeTcpOptions` writes: as many as asked, up to what fits. */
function sackBlocksToSend(o: TcpOptionsSpec, fixed: number): number {
  const blocks = o.sackBlocks;
  if (!blocks) return 0;
  const asked = Math.min(o.sackBlockCount ?? blocks.length >>> 1, blocks.length >>> 1, TCP_MAX_SACK_BLOCKS);
  const room = (TCP_MAX_OPTIONS - fixed - 4) >> 3; // NOP,NOP,kind,len then 8 bytes per block
  return Math.max(0, Math.min(asked, room));
}

/** Bytes `encodeTcpOptions(buf, off, o)` writes: a multiple of 4, at most 40. */
export function tcpOptionsSize(o: TcpOptionsSpec): number {
  const fixed = fixedOptionsSize(o);
  const n = sackBlocksToSend(o, fixed);
  return fixed + (n > 0 ? 4 + 8 * n : 0);
}

/**
 * Writes the options of `o` at `buf[off]` in the usual 4-byte aligned layouts and returns the
 * bytes written (`tcpOptionsSize(o)`, a multiple of 4, so no trailing padding is needed):
 *
 *   MSS                      kind 2, len 4, value
 *   SACK-permitted + TS      kind 4, len 2, kind 8, len 10, TSval, TSecr   (Linux's SYN layout)
 *   TS alone                 NOP, NOP, kind 8, len 10, TSval, TSecr        (RFC 7323 Appendix A)
 *   SACK-permitted alone     NOP, NOP, kind 4, len 2
 *   window scale             NOP, kind 3, len 3, shift
 *   SACK blocks              NOP, NOP, kind 5, len 2 + 8n, blocks          (RFC 2018 §3)
 *
 * SACK blocks that do not fit in the 40-byte option space are left out (the last ones first):
 * with timestamps at most 3 fit.
 */
export function encodeTcpOptions(buf: Uint8Array, off: number, o: TcpOptionsSpec): number {
  let i = off;
  if (o.mss !== undefined && o.mss > 0) {
    buf[i] = TCP_OPT_MSS;
    buf[i + 1] = TCP_OPT_MSS_LEN;
    put16(buf, i + 2, o.mss);
    i += 4;
  }
  if (o.hasTimestamp) {
    if (o.sackPermitted) {
      buf[i] = TCP_OPT_SACK_PERMITTED;
      buf[i + 1] = TCP_OPT_SACK_PERMITTED_LEN;
    } else {
      buf[i] = TCP_OPT_NOP;
      buf[i + 1] = TCP_OPT_NOP;
    }
    buf[i + 2] = TCP_OPT_TIMESTAMP;
    buf[i + 3] = TCP_OPT_TIMESTAMP_LEN;
    put32(buf, i + 4, o.tsVal ?? 0);
    put32(buf, i + 8, o.tsEcr ?? 0);
    i += 12;
  } else if (o.sackPermitted) {
    buf[i] = TCP_OPT_NOP;
    buf[i + 1] = TCP_OPT_NOP;
    buf[i + 2] = TCP_OPT_SACK_PERMITTED;
    buf[i + 3] = TCP_OPT_SACK_PERMITTED_LEN;
    i += 4;
  }
  if (o.wscale !== undefined && o.wscale >= 0) {
    buf[i] = TCP_OPT_NOP;
    buf[i + 1] = TCP_OPT_WS;
    buf[i + 2] = TCP_OPT_WS_LEN;
    buf[i + 3] = o.wscale;
    i += 4;
  }
  const n = sackBlocksToSend(o, i - off);
  if (n > 0) {
    const blocks = o.sackBlocks!;
    buf[i] = TCP_OPT_NOP;
    buf[i + 1] = TCP_OPT_NOP;
    buf[i + 2] = TCP_OPT_SACK;
    buf[i + 3] = 2 + 8 * n;
    i += 4;
    for (let k = 0; k < 2 * n; k++, i += 4) put32(buf, i, blocks[k]!);
  }
  return i - off;
}

/** The fields of a TCP header, for building one (`encodeTcp`). */
export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Control bits, TCP_FIN .. TCP_CWR. */
  flags: number;
  /** The window field as sent (already scaled down). */
  window: number;
  urgent?: number;
  /** Written as given (default 0); compute it afterwards over pseudo-header, header and data. */
  checksum?: number;
  /** Raw option bytes to copy after the base header (padded with EOL to a 4-byte multiple). */
  options?: Uint8Array | null;
}

/**
 * Writes a TCP header at `buf[off]` and returns its length in bytes (20 + option bytes).
 *
 * Options either come as raw bytes in `f.options`, copied here, or are written in place by the
 * caller at `off + TCP_MIN_HEADER` (before or after this call) with `encodeTcpOptions`, whose
 * return value is passed as `optionsLen` so the data offset covers them:
 *
 *     const optLen = encodeTcpOptions(buf, off + TCP_MIN_HEADER, opts);
 *     const hdrLen = encodeTcp(buf, off, fields, optLen);
 *
 * Throws RangeError (a programmer error) when the options exceed 40 bytes or `optionsLen` is not
 * a multiple of 4.
 */
export function encodeTcp(buf: Uint8Array, off: number, f: TcpFields, optionsLen = 0): number {
  const raw = f.options;
  if (raw && raw.length > 0) {
    optionsLen = (raw.length + 3) & ~3;
    if (optionsLen > TCP_MAX_OPTIONS) throw new RangeError(`TCP options too long: ${raw.length} bytes`);
    buf.set(raw, off + TCP_OPTIONS);
    buf.fill(TCP_OPT_EOL, off + TCP_OPTIONS + raw.length, off + TCP_OPTIONS + optionsLen);
  } else if (optionsLen & 3 || optionsLen < 0 || optionsLen > TCP_MAX_OPTIONS) {
    throw new RangeError(`TCP options length must be a multiple of 4 in 0..40, got ${optionsLen}`);
  }
  const hl = TCP_MIN_HEADER + optionsLen;
  put16(buf, off + TCP_SRC_PORT, f.srcPort);
  put16(buf, off + TCP_DST_PORT, f.dstPort);
  put32(buf, off + TCP_SEQ, f.seq);
  put32(buf, off + TCP_ACK_NUM, f.ack);
  buf[off + TCP_DATA_OFFSET] = (hl >>> 2) << 4; // reserved bits zero
  buf[off + TCP_FLAGS] = f.flags;
  put16(buf, off + TCP_WINDOW, f.window);
  put16(buf, off + TCP_CHECKSUM, f.checksum ?? 0);
  put16(buf, off + TCP_URGENT, f.urgent ?? 0);
  return hl;
}

/** A decoded TCP header (for tests and upper layers that want a plain record). */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  checksum: number;
  /** Header length in bytes. */
  dataOffset: number;
  /** Decoded options (a fresh record). */
  options: TcpOptions;
  /** False when the option list is malformed (see parseTcpOptions). */
  optionsValid: boolean;
  payloadLength: number;
}

/** Decodes a checked view into a plain record (allocates; not for the per-segment fast path). */
export function parseTcp(v: TCPView): TcpRepr {
  const options = newTcpOptions();
  const optionsValid = v.parseOptions(options);
  return {
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    seq: v.seq,
    ack: v.ack,
    flags: v.flags,
    window: v.window,
    urgent: v.urgent,
    checksum: v.checksum,
    dataOffset: v.dataOffset,
    options,
    optionsValid,
    payloadLength: v.payloadLength,
  };
}
