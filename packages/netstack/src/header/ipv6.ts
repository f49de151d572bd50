/**
 * IPv6 fixed header (RFC 8200 §3).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |Version| Traffic Class |           Flow Label                  |  0
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Payload Length        |  Next Header  |   Hop Limit   |  4
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         Source Address (128 bits)             |  8
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                      Destination Address (128 bits)           | 24
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The payload length counts everything after the fixed header (extension headers included).
 * There is no header checksum: upper layers cover the addresses with the pseudo-header of
 * RFC 8200 §8.1 (`ipv6PseudoHeaderChecksum`).
 */
import { Address } from "../tcpip/address.js";
import { pseudoHeaderChecksum } from "./checksum.js";
import { get16, get32, put16, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

// Field offsets (bytes from the start of the header).
export const IPV6_VERSION_TC_FLOW = 0;
export const IPV6_PAYLOAD_LENGTH = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;

export const IPV6_VERSION = 6;
export const IPV6_HEADER = 40;
export const IPV6_ADDRESS_SIZE = 16;
/** Largest payload the 16-bit field carries (jumbograms, RFC 2675, are not supported). */
export const IPV6_MAX_PAYLOAD = 0xffff;
/** RFC 8200 §5: every link carries at least 1280-byte packets. */
export const IPV6_MIN_MTU = 1280;

/**
 * A checked view over an IPv6 packet at `buf[off]`; `len` is the number of bytes available (the
 * link may have added padding past the payload length). The constructor does no validation.
 */
export class IPv6View {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /**
   * Validates version 6, the 40-byte header within `len`, and 40 + payload length <= `len`
   * (RFC 8200 §3). Never throws.
   */
  static check(b: Uint8Array, off = 0, len = b.length - off): IPv6View | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < IPV6_HEADER) return ParseError.TooShort;
    if (b[off]! >>> 4 !== IPV6_VERSION) return ParseError.BadVersion;
    if (IPV6_HEADER + get16(b, off + IPV6_PAYLOAD_LENGTH) > len) return ParseError.BadLength;
    return new IPv6View(b, off, len);
  }

  get version(): number {
    return this.buf[this.off]! >>> 4;
  }
  /** Traffic class: DSCP + ECN (RFC 2474, RFC 3168). */
  get trafficClass(): number {
    return ((this.buf[this.off]! & 0x0f) << 4) | (this.buf[this.off + 1]! >>> 4);
  }
  /** 20-bit flow label (RFC 6437). */
  get flowLabel(): number {
    return get32(this.buf, this.off) & 0xfffff;
  }
  get payloadLength(): number {
    return get16(this.buf, this.off + IPV6_PAYLOAD_LENGTH);
  }
  /** 40 + payload length: the packet's length without link padding. */
  get totalLength(): number {
    return IPV6_HEADER + get16(this.buf, this.off + IPV6_PAYLOAD_LENGTH);
  }
  /** The type of the first header after the fixed one (an extension header or the upper layer). */
  get nextHeader(): number {
    return this.buf[this.off + IPV6_NEXT_HEADER]!;
  }
  get hopLimit(): number {
    return this.buf[this.off + IPV6_HOP_LIMIT]!;
  }
  set hopLimit(v: number) {
    this.buf[this.off + IPV6_HOP_LIMIT] = v;
  }
  /** Absolute offset of the source address in `buf`. */
  get srcOff(): number {
    return this.off + IPV6_SRC;
  }
  /** Absolute offset of the destination address in `buf`. */
  get dstOff(): number {
    return this.off + IPV6_DST;
  }
  /** The source address (allocates). */
  src(): Address {
    return Address.fromBytes(this.buf, this.off + IPV6_SRC, 16);
  }
  /** The destination address (allocates). */
  dst(): Address {
    return Address.fromBytes(this.buf, this.off + IPV6_DST, 16);
  }
  /** Absolute offset of what follows the fixed header. */
  get payloadOffset(): number {
    return this.off + IPV6_HEADER;
  }
  /** The payload (extension headers included) as a view into `buf` (no copy). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + IPV6_HEADER, this.off + this.totalLength);
  }
}

/** The fields of an IPv6 fixed header. */
export interface IPv6Fields {
  trafficClass: number;
  flowLabel: number;
  /** Bytes after the fixed header (extension headers plus upper-layer data). */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Address;
  dst: Address;
}

/**
 * Writes an IPv6 fixed header at `buf[off]` and returns its length (40). Throws RangeError (a
 * programmer error) for a non-IPv6 address.
 */
export function encodeIPv6(buf: Uint8Array, off: number, f: IPv6Fields): number {
  if (f.src.bytes.length !== 16 || f.dst.bytes.length !== 16) throw new RangeError("IPv6 header needs IPv6 addresses");
  const tc = f.trafficClass & 0xff;
  const fl = f.flowLabel & 0xfffff;
  buf[off] = (IPV6_VERSION << 4) | (tc >>> 4);
  buf[off + 1] = ((tc & 0x0f) << 4) | (fl >>> 16);
  buf[off + 2] = (fl >>> 8) & 0xff;
  buf[off + 3] = fl & 0xff;
  put16(buf, off + IPV6_PAYLOAD_LENGTH, f.payloadLength);
  buf[off + IPV6_NEXT_HEADER] = f.nextHeader;
  buf[off + IPV6_HOP_LIMIT] = f.hopLimit;
  buf.set(f.src.bytes, off + IPV6_SRC);
  buf.set(f.dst.bytes, off + IPV6_DST);
  return IPV6_HEADER;
}

/** Decodes a checked view into a plain record (allocates the addresses). */
export function parseIPv6(v: IPv6View): IPv6Fields {
  return {
    trafficClass: v.trafficClass,
    flowLabel: v.flowLabel,
    payloadLength: v.payloadLength,
    nextHeader: v.nextHeader,
    hopLimit: v.hopLimit,
    src: v.src(),
    dst: v.dst(),
  };
}

/**
 * RFC 8200 §8.1 pseudo-header sum (source, destination, 32-bit upper-layer length, next header),
 * folded and not inverted, for TCP, UDP and ICMPv6 checksums. `length` is the upper-layer
 * length (its header plus data), not the IPv6 payload length when extension headers precede it.
 */
export function ipv6PseudoHeaderChecksum(src: Address, dst: Address, length: number, nextHeader: number): number {
  return pseudoHeaderChecksum(nextHeader, src.bytes, 0, dst.bytes, 0, 16, length);
}
