/**
 * IPv6 extension headers (RFC 8200 §4) and a bounded walk over the header chain.
 *
 * Hop-by-Hop Options and Destination Options (§4.3, §4.6), and every extension header defined
 * after RFC 8200 (§4.8), share one shape: Next Header, Hdr Ext Len in 8-octet units not counting
 * the first 8 octets, then data.
 *
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |  Next Header  |  Hdr Ext Len  |                               |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *     .                  Options (TLV) / type-specific data           .
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Routing header (§4.4): Next Header, Hdr Ext Len, Routing Type, Segments Left, type-specific data.
 * Fragment header (§4.5), always 8 bytes:
 *
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |                         Identification                        |
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Options (§4.2) are TLVs (type, length of the data, data) except Pad1, a single zero byte. The
 * two high bits of an option type say what to do with an unknown option; the third says whether
 * the data may change en route.
 */
import { get16, get32, put16, put32, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";
import { IPV6_HEADER, IPV6_NEXT_HEADER } from "./ipv6.js";

// Next Header values of extension headers (IANA "IPv6 Extension Header Types").
export const IPV6_EXT_HOP_BY_HOP = 0;
export const IPV6_EXT_ROUTING = 43;
export const IPV6_EXT_FRAGMENT = 44;
export const IPV6_EXT_ESP = 50;
export const IPV6_EXT_AH = 51;
export const IPV6_NO_NEXT_HEADER = 59;
export const IPV6_EXT_DESTINATION = 60;
export const IPV6_EXT_MOBILITY = 135;
export const IPV6_EXT_HIP = 139;
export const IPV6_EXT_SHIM6 = 140;
export const IPV6_EXT_EXPERIMENT1 = 253;
export const IPV6_EXT_EXPERIMENT2 = 254;

// Option types (RFC 8200 §4.2; router alert: RFC 2711; jumbo payload: RFC 2675).
export const IPV6_OPT_PAD1 = 0x00;
export const IPV6_OPT_PADN = 0x01;
export const IPV6_OPT_JUMBO = 0xc2;
export const IPV6_OPT_ROUTER_ALERT = 0x05;
/** RFC 8200 §4.2: what to do with an option of unknown type, from its two high-order bits. */
export const IPV6_OPT_ACTION_SKIP = 0; // 00: skip over it
export const IPV6_OPT_ACTION_DISCARD = 1; // 01: discard the packet
export const IPV6_OPT_ACTION_DISCARD_ICMP = 2; // 10: discard and send Parameter Problem code 2
export const IPV6_OPT_ACTION_DISCARD_ICMP_UNICAST = 3; // 11: same, unless the destination is multicast

/** The unknown-option action (IPV6_OPT_ACTION_*) encoded in the two high bits of `type`. */
export function ipv6OptionAction(type: number): number {
  return (type >>> 6) & 3;
}

/** Routing types (IANA): 0 is deprecated by RFC 5095, 2 is Mobile IPv6 (RFC 6275), 3 RPL (RFC 6554), 4 SRH (RFC 8754). */
export const IPV6_ROUTING_TYPE0 = 0;

export const IPV6_FRAGMENT_HEADER = 8;
/** Offset of the Fragment Offset field inside a fragment header (for Parameter Problem pointers). */
export const IPV6_FRAGMENT_OFFSET_FIELD = 2;
/** Offset of the Routing Type field inside a routing header (for Parameter Problem pointers). */
export const IPV6_ROUTING_TYPE_FIELD = 2;

/**
 * True for the Next Header values the chain walk can step over: the TLV-shaped headers, the
 * fragment header and AH. ESP (its contents are encrypted) and No Next Header end the chain.
 */
export function isIPv6ExtensionHeader(type: number): boolean {
  switch (type) {
    case IPV6_EXT_HOP_BY_HOP:
    case IPV6_EXT_ROUTING:
    case IPV6_EXT_FRAGMENT:
    case IPV6_EXT_DESTINATION:
    case IPV6_EXT_AH:
    case IPV6_EXT_MOBILITY:
    case IPV6_EXT_HIP:
    case IPV6_EXT_SHIM6:
    case IPV6_EXT_EXPERIMENT1:
    case IPV6_EXT_EXPERIMENT2:
      return true;
    default:
      return false;
  }
}

/**
 * Length in bytes of the extension header of `type` at `b[off]`, or -1 when its length field
 * is not inside [off, end) or the header runs past `end`. Fragment: 8; AH (RFC 4302 §2.2):
 * (len + 2) * 4; the others: (len + 1) * 8.
 */
export function ipv6ExtensionHeaderLength(type: number, b: Uint8Array, off: number, end: number): number {
  let n: number;
  if (type === IPV6_EXT_FRAGMENT) n = IPV6_FRAGMENT_HEADER;
  else {
    if (off + 2 > end) return -1;
    n = type === IPV6_EXT_AH ? (b[off + 1]! + 2) * 4 : (b[off + 1]! + 1) * 8;
  }
  return off + n <= end ? n : -1;
}

// Results of IPv6HeaderChain.advance().
/** Moved to the next header. */
export const CHAIN_OK = 0;
/** The current header does not fit in the packet. */
export const CHAIN_TRUNCATED = 1;
/** More extension headers than the walk's limit. */
export const CHAIN_TOO_LONG = 2;
/** The current header is not an extension header (it is the upper layer, ESP, or "no next header"). */
export const CHAIN_END = 3;

/**
 * A bounded walk over an IPv6 packet's header chain, as a reusable cursor (nothing is allocated
 * per step, so the receive path can use one per protocol). After `start`, the cursor is at the
 * first header after the fixed one; `advance` steps over the current extension header. The walk
 * never reads outside [ip header, end) and stops after `limit` extension headers.
 */
export class IPv6HeaderChain {
  buf: Uint8Array = new Uint8Array(0);
  /** One past the last byte of the packet. */
  end = 0;
  /** Absolute offset of the IPv6 fixed header. */
  ipOff = 0;
  /** The type of the header the cursor is at (the Next Header value that named it). */
  type = 0;
  /** Absolute offset of the header the cursor is at (at the end: of the upper-layer header). */
  off = 0;
  /** Absolute offset of the Next Header field holding `type` (for Parameter Problem pointers). */
  typeFieldOff = 0;
  /** Length of the header at the cursor once `advance` measured it (set before stepping). */
  length = 0;
  /** Extension headers stepped over so far. */
  count = 0;

  constructor(public limit = 8) {}

  /** Starts at the header after the fixed header of the IPv6 packet `b[ipOff, end)` (checked by the caller). */
  start(b: Uint8Array, ipOff: number, end: number): this {
    this.buf = b;
    this.ipOff = ipOff;
    this.end = end;
    this.type = b[ipOff + IPV6_NEXT_HEADER]!;
    this.off = ipOff + IPV6_HEADER;
    this.typeFieldOff = ipOff + IPV6_NEXT_HEADER;
    this.length = 0;
    this.count = 0;
    return this;
  }

  /** Measures the extension header at the cursor (sets `length`); -1 when it does not fit. */
  measure(): number {
    const n = ipv6ExtensionHeaderLength(this.type, this.buf, this.off, this.end);
    this.length = n;
    return n;
  }

  /** Steps over the extension header at the cursor. Returns CHAIN_OK, CHAIN_END, CHAIN_TRUNCATED or CHAIN_TOO_LONG. */
  advance(): number {
    if (!isIPv6ExtensionHeader(this.type)) return CHAIN_END;
    if (this.count >= this.limit) return CHAIN_TOO_LONG;
    const n = this.measure();
    if (n < 0) return CHAIN_TRUNCATED;
    const off = this.off;
    this.typeFieldOff = off; // every extension header starts with its Next Header field
    this.type = this.buf[off]!;
    this.off = off + n;
    this.count++;
    return CHAIN_OK;
  }
}

/** One header found by `walkIPv6Chain`. */
export interface IPv6ChainEntry {
  type: number;
  /** Offset from the start of the IPv6 header. */
  offset: number;
  length: number;
}

/** The result of `walkIPv6Chain`: the extension headers and where the upper layer starts. */
export interface IPv6Chain {
  headers: IPv6ChainEntry[];
  /** The upper-layer protocol (or 59, 50 ...: whatever ended the chain). */
  upperLayer: number;
  /** Offset of the upper-layer header from the start of the IPv6 header. */
  upperOffset: number;
}

/**
 * Walks the whole chain of the IPv6 packet at `b[off, off+len)` (fixed header included), with at
 * most `limit` extension headers. Allocates; for tests, tools and slow paths. Never throws:
 * ParseError.TooShort / BadLength for a bad fixed header or a truncated extension header,
 * ParseError.Unsupported for a chain over the limit.
 */
export function walkIPv6Chain(b: Uint8Array, off = 0, len = b.length - off, limit = 8): IPv6Chain | ParseError {
  if (!rangeOk(b, off, len)) return ParseError.BadLength;
  if (len < IPV6_HEADER) return ParseError.TooShort;
  if (b[off]! >>> 4 !== 6) return ParseError.BadVersion;
  const end = off + IPV6_HEADER + get16(b, off + 4);
  if (end > off + len) return ParseError.BadLength;
  const c = new IPv6HeaderChain(limit).start(b, off, end);
  const headers: IPv6ChainEntry[] = [];
  for (;;) {
    const type = c.type;
    const at = c.off;
    const r = c.advance();
    if (r === CHAIN_END) return { headers, upperLayer: c.type, upperOffset: c.off - off };
    if (r === CHAIN_TRUNCATED) return ParseError.BadLength;
    if (r === CHAIN_TOO_LONG) return ParseError.Unsupported;
    headers.push({ type, offset: at - off, length: c.length });
  }
}

// ---------------------------------------------------------------------------------- options

/**
 * Length of the option at `b[pos]` within [pos, end): 1 for Pad1, 2 + data length for the
 * others; -1 when it runs past `end`.
 */
export function ipv6OptionLength(b: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  if (b[pos] === IPV6_OPT_PAD1) return 1;
  if (pos + 2 > end) return -1;
  const n = 2 + b[pos + 1]!;
  return pos + n <= end ? n : -1;
}

/**
 * A checked view over a Hop-by-Hop or Destination Options header at `buf[off]` (or any
 * extension header of the generic shape). The constructor does no validation.
 */
export class IPv6OptionsHeaderView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /** Validates that the header's length fits in `len` and that its options tile it exactly. Never throws. */
  static check(b: Uint8Array, off = 0, len = b.length - off): IPv6OptionsHeaderView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < 8) return ParseError.TooShort;
    const n = (b[off + 1]! + 1) * 8;
    if (n > len) return ParseError.BadLength;
    for (let p = off + 2, end = off + n; p < end; ) {
      const l = ipv6OptionLength(b, p, end);
      if (l < 0) return ParseError.BadOption;
      p += l;
    }
    return new IPv6OptionsHeaderView(b, off, n);
  }

  get nextHeader(): number {
    return this.buf[this.off]!;
  }
  /** Header length in bytes. */
  get headerLength(): number {
    return (this.buf[this.off + 1]! + 1) * 8;
  }
  /** Absolute offset of the first option. */
  get optionsOffset(): number {
    return this.off + 2;
  }
  get optionsLength(): number {
    return this.headerLength - 2;
  }
}

/** The options of a checked options header, padding (Pad1, PadN) left out, in order (copies the data). */
export function parseIPv6Options(v: IPv6OptionsHeaderView): IPv6OptionsHeaderFields {
  const options: IPv6Option[] = [];
  const b = v.buf;
  const end = v.off + v.headerLength;
  for (let p = v.off + 2; p < end; ) {
    const l = ipv6OptionLength(b, p, end);
    if (l < 0) break;
    const type = b[p]!;
    if (type !== IPV6_OPT_PAD1 && type !== IPV6_OPT_PADN) options.push({ type, data: b.slice(p + 2, p + l) });
    p += l;
  }
  return { nextHeader: v.nextHeader, options };
}

/** An option of a Hop-by-Hop or Destination Options header. */
export interface IPv6Option {
  type: number;
  data: Uint8Array;
}

/** The fields of a Hop-by-Hop or Destination Options header. */
export interface IPv6OptionsHeaderFields {
  nextHeader: number;
  /** Options other than padding; padding is added to reach a multiple of 8 bytes. */
  options: IPv6Option[];
}

/** Bytes `encodeIPv6OptionsHeader` writes for `f`. */
export function ipv6OptionsHeaderSize(f: IPv6OptionsHeaderFields): number {
  let n = 2;
  for (const o of f.options) n += o.type === IPV6_OPT_PAD1 ? 1 : 2 + o.data.length;
  return (n + 7) & ~7;
}

/**
 * Writes a Hop-by-Hop / Destination Options header at `buf[off]`, padded with Pad1/PadN to a
 * multiple of 8 bytes (RFC 8200 §4.2), and returns its length. Throws RangeError (a programmer
 * error) for option data over 255 bytes or a header over 2048 bytes.
 */
export function encodeIPv6OptionsHeader(buf: Uint8Array, off: number, f: IPv6OptionsHeaderFields): number {
  const n = ipv6OptionsHeaderSize(f);
  if (n > 2048) throw new RangeError(`options header too long: ${n} bytes`);
  buf[off] = f.nextHeader;
  buf[off + 1] = n / 8 - 1;
  let p = off + 2;
  for (const o of f.options) {
    if (o.type === IPV6_OPT_PAD1) {
      buf[p++] = 0;
      continue;
    }
    if (o.data.length > 255) throw new RangeError(`option data too long: ${o.data.length} bytes`);
    buf[p] = o.type;
    buf[p + 1] = o.data.length;
    buf.set(o.data, p + 2);
    p += 2 + o.data.length;
  }
  writeIPv6Padding(buf, p, off + n - p);
  return n;
}

/** Fills `n` bytes at `buf[off]` with one Pad1 (n = 1) or one PadN option (RFC 8200 §4.2). */
export function writeIPv6Padding(buf: Uint8Array, off: number, n: number): void {
  if (n <= 0) return;
  if (n === 1) {
    buf[off] = IPV6_OPT_PAD1;
    return;
  }
  buf[off] = IPV6_OPT_PADN;
  buf[off + 1] = n - 2;
  buf.fill(0, off + 2, off + n);
}

// ---------------------------------------------------------------------------------- routing

/** A checked view over a Routing header at `buf[off]`. */
export class IPv6RoutingView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /** Validates that the 8-byte minimum and the declared length fit in `len`. Never throws. */
  static check(b: Uint8Array, off = 0, len = b.length - off): IPv6RoutingView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < 8) return ParseError.TooShort;
    const n = (b[off + 1]! + 1) * 8;
    if (n > len) return ParseError.BadLength;
    return new IPv6RoutingView(b, off, n);
  }

  get nextHeader(): number {
    return this.buf[this.off]!;
  }
  get headerLength(): number {
    return (this.buf[this.off + 1]! + 1) * 8;
  }
  get routingType(): number {
    return this.buf[this.off + 2]!;
  }
  get segmentsLeft(): number {
    return this.buf[this.off + 3]!;
  }
  /** Absolute offset of the type-specific data. */
  get dataOff(): number {
    return this.off + 4;
  }
  /** The type-specific data (view, no copy). */
  data(): Uint8Array {
    return this.buf.subarray(this.off + 4, this.off + this.headerLength);
  }
}

export interface IPv6RoutingFields {
  nextHeader: number;
  routingType: number;
  segmentsLeft: number;
  /** Type-specific data; its length + 4 must be a multiple of 8. */
  data: Uint8Array;
}

/** Writes a Routing header and returns its length. Throws RangeError for a data length that does not tile 8-byte units. */
export function encodeIPv6Routing(buf: Uint8Array, off: number, f: IPv6RoutingFields): number {
  const n = 4 + f.data.length;
  if (n % 8 !== 0 || n > 2048) throw new RangeError(`routing header length ${n} is not a multiple of 8 up to 2048`);
  buf[off] = f.nextHeader;
  buf[off + 1] = n / 8 - 1;
  buf[off + 2] = f.routingType;
  buf[off + 3] = f.segmentsLeft;
  buf.set(f.data, off + 4);
  return n;
}

export function parseIPv6Routing(v: IPv6RoutingView): IPv6RoutingFields {
  return { nextHeader: v.nextHeader, routingType: v.routingType, segmentsLeft: v.segmentsLeft, data: v.data().slice() };
}

// ---------------------------------------------------------------------------------- fragment

/** A checked view over a Fragment header at `buf[off]`. */
export class IPv6FragmentView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /** Validates that the 8 bytes fit. Never throws. */
  static check(b: Uint8Array, off = 0, len = b.length - off): IPv6FragmentView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < IPV6_FRAGMENT_HEADER) return ParseError.TooShort;
    return new IPv6FragmentView(b, off, IPV6_FRAGMENT_HEADER);
  }

  get nextHeader(): number {
    return this.buf[this.off]!;
  }
  /** Offset of this fragment's data in the original packet's fragmentable part, in bytes. */
  get fragmentOffset(): number {
    return get16(this.buf, this.off + 2) & 0xfff8;
  }
  /** The M flag: more fragments follow. */
  get more(): boolean {
    return (this.buf[this.off + 3]! & 1) !== 0;
  }
  get id(): number {
    return get32(this.buf, this.off + 4);
  }
  /** An atomic fragment (offset 0, M clear: RFC 6946) is processed as a whole packet. */
  get isAtomic(): boolean {
    return (get16(this.buf, this.off + 2) & 0xfff9) === 0;
  }
}

export interface IPv6FragmentFields {
  nextHeader: number;
  /** In bytes; a multiple of 8. */
  fragmentOffset: number;
  more: boolean;
  id: number;
}

/** Writes a Fragment header and returns 8. Throws RangeError for an offset that is not a multiple of 8 below 65536. */
export function encodeIPv6Fragment(buf: Uint8Array, off: number, f: IPv6FragmentFields): number {
  if ((f.fragmentOffset & 7) !== 0 || f.fragmentOffset < 0 || f.fragmentOffset > 0xfff8)
    throw new RangeError(`fragment offset ${f.fragmentOffset} is not a multiple of 8 below 65536`);
  buf[off] = f.nextHeader;
  buf[off + 1] = 0;
  put16(buf, off + 2, f.fragmentOffset | (f.more ? 1 : 0));
  put32(buf, off + 4, f.id);
  return IPV6_FRAGMENT_HEADER;
}

export function parseIPv6Fragment(v: IPv6FragmentView): IPv6FragmentFields {
  return { nextHeader: v.nextHeader, fragmentOffset: v.fragmentOffset, more: v.more, id: v.id };
}
