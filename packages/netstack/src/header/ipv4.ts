/**
 * IPv4 header (RFC 791 §3.1).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |Version|  IHL  |Type of Service|          Total Length         |  0
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Identification        |Flags|      Fragment Offset    |  4
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Time to Live |    Protocol   |         Header Checksum       |  8
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                       Source Address                          | 12
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Destination Address                        | 16
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Options                    |    Padding    | 20
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Flags (3 bits): reserved (must be zero), DF, MF. The fragment offset counts 8-byte units; the
 * view and the representation use bytes. The header checksum covers the header only.
 */
import { Address } from "../tcpip/address.js";
import { checksum } from "./checksum.js";
import { get16, put16, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

// Field offsets (bytes from the start of the header).
export const IPV4_VERSION_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LENGTH = 2;
export const IPV4_ID = 4;
export const IPV4_FLAGS_FRAGOFF = 6; // 3 bits of flags, 13 bits of offset in 8-byte units
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL_FIELD = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_OPTIONS = 20;

export const IPV4_VERSION = 4;
export const IPV4_MIN_HEADER = 20;
export const IPV4_MAX_HEADER = 60;
export const IPV4_MAX_OPTIONS = 40;
export const IPV4_ADDRESS_SIZE = 4;
/** Largest total length the 16-bit field can carry. */
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;
/** Flags as the 3-bit field value: DF = don't fragment, MF = more fragments. */
export const IPV4_FLAG_DF = 0x2;
export const IPV4_FLAG_MF = 0x1;
/** Largest fragment offset in bytes (13 bits of 8-byte units). */
export const IPV4_MAX_FRAGMENT_OFFSET = 0x1fff * 8;

// Option types (RFC 791 §3.1; router alert: RFC 2113).
export const IPV4_OPT_EOL = 0;
export const IPV4_OPT_NOP = 1;
export const IPV4_OPT_RECORD_ROUTE = 7;
export const IPV4_OPT_TIMESTAMP = 68;
export const IPV4_OPT_SECURITY = 130;
export const IPV4_OPT_LSRR = 131;
export const IPV4_OPT_STREAM_ID = 136;
export const IPV4_OPT_SSRR = 137;
export const IPV4_OPT_ROUTER_ALERT = 148;

/** `checkIPv4Header` results other than a header length (ParseError.BadLength, TooShort, BadVersion). */
export const IPV4_CHECK_BAD_LENGTH = -1;
export const IPV4_CHECK_TOO_SHORT = -2;
export const IPV4_CHECK_BAD_VERSION = -3;

/**
 * The checks of `IPv4View.check` without creating a view (the receive path runs them per
 * packet): the header length in bytes (20..60) when the packet at `b[off]` with `len` bytes
 * available passes them, otherwise IPV4_CHECK_BAD_LENGTH, _TOO_SHORT or _BAD_VERSION. After a
 * positive answer the header and `totalLength` bytes lie within `b`. Never throws.
 */
export function checkIPv4Header(b: Uint8Array, off: number, len: number): number {
  if (!rangeOk(b, off, len)) return IPV4_CHECK_BAD_LENGTH;
  if (len < IPV4_MIN_HEADER) return IPV4_CHECK_TOO_SHORT;
  const vihl = b[off]!;
  if (vihl >>> 4 !== IPV4_VERSION) return IPV4_CHECK_BAD_VERSION;
  const hl = (vihl & 0x0f) << 2;
  if (hl < IPV4_MIN_HEADER || hl > len) return IPV4_CHECK_BAD_LENGTH;
  const total = get16(b, off + IPV4_TOTAL_LENGTH);
  if (total < hl || total > len) return IPV4_CHECK_BAD_LENGTH;
  return hl;
}

/**
 * A checked view over an IPv4 packet at `buf[off]`; `len` is the number of bytes available (the
 * link may have added padding past `totalLength`). The constructor does no validation.
 */
export class IPv4View {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /**
   * Validates version 4, IHL >= 5, the header within `len`, and header length <= total length
   * <= `len` (RFC 791 §3.1; RFC 1122 §3.2.1.1-3.2.1.2). The header checksum is NOT verified here
   * (a link may have done it: offload); see `isChecksumValid`. Never throws.
   */
  static check(b: Uint8Array, off = 0, len = b.length - off): IPv4View | ParseError {
    const hl = checkIPv4Header(b, off, len);
    if (hl > 0) return new IPv4View(b, off, len);
    return hl === IPV4_CHECK_TOO_SHORT ? ParseError.TooShort : hl === IPV4_CHECK_BAD_VERSION ? ParseError.BadVersion
      : ParseError.BadLength;
  }

  get version(): number {
    return this.buf[this.off]! >>> 4;
  }
  /** Header length in bytes (IHL times 4). */
  get headerLength(): number {
    return (this.buf[this.off]! & 0x0f) << 2;
  }
  /** Type of service / DSCP + ECN byte (RFC 2474, RFC 3168). */
  get tos(): number {
    return this.buf[this.off + IPV4_TOS]!;
  }
  set tos(v: number) {
    this.buf[this.off + IPV4_TOS] = v;
  }
  get totalLength(): number {
    return get16(this.buf, this.off + IPV4_TOTAL_LENGTH);
  }
  get id(): number {
    return get16(this.buf, this.off + IPV4_ID);
  }
  /** The 3-bit flags field (IPV4_FLAG_DF | IPV4_FLAG_MF; the top bit is reserved). */
  get flags(): number {
    return this.buf[this.off + IPV4_FLAGS_FRAGOFF]! >>> 5;
  }
  get moreFragments(): boolean {
    return (this.buf[this.off + IPV4_FLAGS_FRAGOFF]! & 0x20) !== 0;
  }
  get dontFragment(): boolean {
    return (this.buf[this.off + IPV4_FLAGS_FRAGOFF]! & 0x40) !== 0;
  }
  /** Fragment offset in bytes (the field times 8). */
  get fragmentOffset(): number {
    return (get16(this.buf, this.off + IPV4_FLAGS_FRAGOFF) & 0x1fff) << 3;
  }
  /** True for any fragment: MF set or a non-zero offset. */
  get isFragment(): boolean {
    return (get16(this.buf, this.off + IPV4_FLAGS_FRAGOFF) & 0x3fff) !== 0;
  }
  get ttl(): number {
    return this.buf[this.off + IPV4_TTL]!;
  }
  /** Writes the TTL only; refresh the checksum with `fillChecksum` or `updateChecksum16`. */
  set ttl(v: number) {
    this.buf[this.off + IPV4_TTL] = v;
  }
  get protocol(): number {
    return this.buf[this.off + IPV4_PROTOCOL_FIELD]!;
  }
  get checksum(): number {
    return get16(this.buf, this.off + IPV4_CHECKSUM);
  }
  set checksum(v: number) {
    put16(this.buf, this.off + IPV4_CHECKSUM, v);
  }
  setChecksum(v: number): void {
    put16(this.buf, this.off + IPV4_CHECKSUM, v);
  }
  /** Absolute offset of the source address in `buf` (for hashing/comparing without allocating). */
  get srcOff(): number {
    return this.off + IPV4_SRC;
  }
  /** Absolute offset of the destination address in `buf`. */
  get dstOff(): number {
    return this.off + IPV4_DST;
  }
  /** The source address (allocates). */
  src(): Address {
    return Address.fromBytes(this.buf, this.off + IPV4_SRC, 4);
  }
  /** The destination address (allocates). */
  dst(): Address {
    return Address.fromBytes(this.buf, this.off + IPV4_DST, 4);
  }
  /** Source address as an unsigned 32-bit integer (equals `Address.key` for IPv4). */
  get srcKey(): number {
    return Address.hashBytes(this.buf, this.off + IPV4_SRC, 4);
  }
  /** Destination address as an unsigned 32-bit integer. */
  get dstKey(): number {
    return Address.hashBytes(this.buf, this.off + IPV4_DST, 4);
  }
  /** Absolute offset of the options in `buf`. */
  get optionsOffset(): number {
    return this.off + IPV4_OPTIONS;
  }
  get optionsLength(): number {
    return this.headerLength - IPV4_MIN_HEADER;
  }
  /** Absolute offset of the payload in `buf`. */
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  /** totalLength - headerLength (link padding past totalLength is not payload). */
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
  /** The payload as a view into `buf` (no copy). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + this.headerLength, this.off + this.totalLength);
  }

  /** RFC 791 §3.1: the header's ones'-complement sum, checksum field included, is all ones. */
  isChecksumValid(): boolean {
    return checksum(this.buf, this.off, this.headerLength) === 0xffff;
  }

  /** Recomputes the header checksum and writes it. */
  fillChecksum(): void {
    put16(this.buf, this.off + IPV4_CHECKSUM, 0);
    put16(this.buf, this.off + IPV4_CHECKSUM, ~checksum(this.buf, this.off, this.headerLength) & 0xffff);
  }
}

/** The fields of an IPv4 header. */
export interface IPv4Fields {
  tos: number;
  /** Header plus payload, in bytes. */
  totalLength: number;
  id: number;
  /** 3-bit flags field: IPV4_FLAG_DF | IPV4_FLAG_MF. */
  flags: number;
  /** In bytes; a multiple of 8. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: Address;
  dst: Address;
  /** Raw option bytes; padded with EOL (zero) bytes to a multiple of 4 when written. */
  options?: Uint8Array;
}

/**
 * Writes an IPv4 header at `buf[off]`, header checksum included, and returns the header length.
 * Throws RangeError (a programmer error) for options over 40 bytes, a non-IPv4 address, or a
 * fragment offset that is not a multiple of 8.
 */
export function encodeIPv4(buf: Uint8Array, off: number, f: IPv4Fields): number {
  const opts = f.options;
  const optLen = opts && opts.length > 0 ? (opts.length + 3) & ~3 : 0;
  if (optLen > IPV4_MAX_OPTIONS) throw new RangeError(`IPv4 options too long: ${opts!.length} bytes`);
  if (f.src.bytes.length !== 4 || f.dst.bytes.length !== 4) throw new RangeError("IPv4 header needs IPv4 addresses");
  if (f.fragmentOffset & 7) throw new RangeError(`fragment offset ${f.fragmentOffset} is not a multiple of 8`);
  const hl = IPV4_MIN_HEADER + optLen;
  buf[off] = (IPV4_VERSION << 4) | (hl >>> 2);
  buf[off + IPV4_TOS] = f.tos;
  put16(buf, off + IPV4_TOTAL_LENGTH, f.totalLength);
  put16(buf, off + IPV4_ID, f.id);
  put16(buf, off + IPV4_FLAGS_FRAGOFF, ((f.flags & 0x7) << 13) | ((f.fragmentOffset >>> 3) & 0x1fff));
  buf[off + IPV4_TTL] = f.ttl;
  buf[off + IPV4_PROTOCOL_FIELD] = f.protocol;
  put16(buf, off + IPV4_CHECKSUM, 0);
  buf.set(f.src.bytes, off + IPV4_SRC);
  buf.set(f.dst.bytes, off + IPV4_DST);
  if (optLen > 0) {
    buf.set(opts!, off + IPV4_OPTIONS);
    buf.fill(IPV4_OPT_EOL, off + IPV4_OPTIONS + opts!.length, off + hl);
  }
  put16(buf, off + IPV4_CHECKSUM, ~checksum(buf, off, hl) & 0xffff);
  return hl;
}

/**
 * `encodeIPv4` for the common case, without a fields record: a 20-byte header (no options, not a
 * fragment, DF as given) for the 4-byte addresses `src` and `dst`, header checksum included
 * (RFC 791 §3.1, summed here word by word: the header is ten 16-bit words). Returns 20.
 */
export function encodeIPv4Basic(
  buf: Uint8Array, off: number, tos: number, totalLength: number, id: number, df: boolean, ttl: number,
  protocol: number, src: Uint8Array, dst: Uint8Array,
): number {
  const s0 = src[0]!, s1 = src[1]!, s2 = src[2]!, s3 = src[3]!;
  const d0 = dst[0]!, d1 = dst[1]!, d2 = dst[2]!, d3 = dst[3]!;
  const frag = df ? IPV4_FLAG_DF << 13 : 0;
  const vihl = (IPV4_VERSION << 4) | (IPV4_MIN_HEADER >>> 2);
  buf[off] = vihl;
  buf[off + IPV4_TOS] = tos;
  put16(buf, off + IPV4_TOTAL_LENGTH, totalLength);
  put16(buf, off + IPV4_ID, id);
  put16(buf, off + IPV4_FLAGS_FRAGOFF, frag);
  buf[off + IPV4_TTL] = ttl;
  buf[off + IPV4_PROTOCOL_FIELD] = protocol;
  buf[off + IPV4_SRC] = s0;
  buf[off + IPV4_SRC + 1] = s1;
  buf[off + IPV4_SRC + 2] = s2;
  buf[off + IPV4_SRC + 3] = s3;
  buf[off + IPV4_DST] = d0;
  buf[off + IPV4_DST + 1] = d1;
  buf[off + IPV4_DST + 2] = d2;
  buf[off + IPV4_DST + 3] = d3;
  let sum = ((vihl << 8) | (tos & 0xff)) + (totalLength & 0xffff) + (id & 0xffff) + frag +
    (((ttl & 0xff) << 8) | (protocol & 0xff)) + ((s0 << 8) | s1) + ((s2 << 8) | s3) + ((d0 << 8) | d1) + ((d2 << 8) | d3);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  put16(buf, off + IPV4_CHECKSUM, ~sum & 0xffff);
  return IPV4_MIN_HEADER;
}

/** Decodes a checked view into a plain record (allocates the addresses and an options copy). */
export function parseIPv4(v: IPv4View): IPv4Fields {
  const f: IPv4Fields = {
    tos: v.tos,
    totalLength: v.totalLength,
    id: v.id,
    flags: v.flags,
    fragmentOffset: v.fragmentOffset,
    ttl: v.ttl,
    protocol: v.protocol,
    src: v.src(),
    dst: v.dst(),
  };
  if (v.optionsLength > 0) f.options = v.buf.slice(v.optionsOffset, v.optionsOffset + v.optionsLength);
  return f;
}

/**
 * Finds the first malformed option in `b[off, off + len)` (the header's option area). Returns
 * -1 when the options are well formed, else the absolute offset in `b` of the offending byte
 * (subtract the header offset for an ICMP Parameter Problem pointer, RFC 792 / RFC 1122
 * §3.2.2.5). Rules:
 * - EOL ends the list; NOP is one byte (RFC 791 §3.1).
 * - Every other option has a length byte >= 2 that stays inside the area.
 * - Record route, loose and strict source route (RFC 791): length >= 3, pointer >= 4.
 * - Timestamp (RFC 791): length >= 4, pointer >= 5.
 * - Stream identifier (RFC 791) and router alert (RFC 2113): length exactly 4.
 */
export function findIPv4OptionError(b: Uint8Array, off: number, len: number): number {
  if (!rangeOk(b, off, len)) return off;
  const end = off + len;
  let i = off;
  while (i < end) {
    const type = b[i]!;
    if (type === IPV4_OPT_EOL) return -1;
    if (type === IPV4_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return i; // no room for the length byte
    const l = b[i + 1]!;
    if (l < 2 || i + l > end) return i + 1;
    switch (type) {
      case IPV4_OPT_RECORD_ROUTE:
      case IPV4_OPT_LSRR:
      case IPV4_OPT_SSRR:
        if (l < 3) return i + 1;
        if (b[i + 2]! < 4) return i + 2;
        break;
      case IPV4_OPT_TIMESTAMP:
        if (l < 4) return i + 1;
        if (b[i + 2]! < 5) return i + 2;
        break;
      case IPV4_OPT_STREAM_ID:
      case IPV4_OPT_ROUTER_ALERT:
        if (l !== 4) return i + 1;
        break;
      default:
        break;
    }
    i += l;
  }
  return -1;
}

/** `true` when the option area is well formed (see findIPv4OptionError), else ParseError.BadOption. */
export function validateIPv4Options(b: Uint8Array, off: number, len: number): true | ParseError {
  return findIPv4OptionError(b, off, len) < 0 ? true : ParseError.BadOption;
}
