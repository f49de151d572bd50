/**
 * ICMP for IPv4 (RFC 792; "fragmentation needed" MTU field: RFC 1191 §4).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     Type      |     Code      |          Checksum             |  0
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  type-specific ("rest of header"):                            |  4
 *    |    echo:           Identifier           |  Sequence Number    |
 *    |    frag needed:    unused (0)           |  Next-Hop MTU       |
 *    |    param problem:  Pointer | unused                           |
 *    |    redirect:       Gateway Internet Address                   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Data: echo data, or the offending IP header + 64 bits ...    |  8
 *
 * The checksum covers the whole ICMP message (no pseudo-header).
 */
import { checksum } from "./checksum.js";
import { get16, get32, put16, put32, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

export const ICMPV4_TYPE = 0;
export const ICMPV4_CODE = 1;
export const ICMPV4_CHECKSUM = 2;
export const ICMPV4_IDENT = 4;
export const ICMPV4_SEQUENCE = 6;
export const ICMPV4_POINTER = 4;
export const ICMPV4_MTU = 6;
export const ICMPV4_REST = 4;
export const ICMPV4_HEADER = 8;
/** Bytes of the offending datagram an error must quote beyond its IP header (RFC 792). */
export const ICMPV4_ERROR_QUOTE = 8;

// Types (RFC 792).
export const ICMPV4_ECHO_REPLY = 0;
export const ICMPV4_DEST_UNREACHABLE = 3;
export const ICMPV4_SOURCE_QUENCH = 4; // deprecated by RFC 6633
export const ICMPV4_REDIRECT = 5;
export const ICMPV4_ECHO_REQUEST = 8;
export const ICMPV4_TIME_EXCEEDED = 11;
export const ICMPV4_PARAM_PROBLEM = 12;
export const ICMPV4_TIMESTAMP = 13;
export const ICMPV4_TIMESTAMP_REPLY = 14;

// Destination unreachable codes (RFC 792; 6-12: RFC 1122 §3.2.2.1; 13-15: RFC 1812 §5.2.7.1).
export const ICMPV4_NET_UNREACHABLE = 0;
export const ICMPV4_HOST_UNREACHABLE = 1;
export const ICMPV4_PROTO_UNREACHABLE = 2;
export const ICMPV4_PORT_UNREACHABLE = 3;
export const ICMPV4_FRAG_NEEDED = 4;
export const ICMPV4_SOURCE_ROUTE_FAILED = 5;
export const ICMPV4_DEST_NET_UNKNOWN = 6;
export const ICMPV4_DEST_HOST_UNKNOWN = 7;
export const ICMPV4_SOURCE_HOST_ISOLATED = 8;
export const ICMPV4_NET_PROHIBITED = 9;
export const ICMPV4_HOST_PROHIBITED = 10;
export const ICMPV4_NET_UNREACHABLE_FOR_TOS = 11;
export const ICMPV4_HOST_UNREACHABLE_FOR_TOS = 12;
export const ICMPV4_ADMIN_PROHIBITED = 13;
export const ICMPV4_HOST_PRECEDENCE_VIOLATION = 14;
export const ICMPV4_PRECEDENCE_CUTOFF = 15;

// Time exceeded codes (RFC 792).
export const ICMPV4_TTL_EXCEEDED = 0;
export const ICMPV4_REASSEMBLY_TIMEOUT = 1;

// Parameter problem codes (RFC 792; 1: RFC 1122 §3.2.2.5; 2: RFC 1812 §5.2.7.2).
export const ICMPV4_POINTER_INDICATES_ERROR = 0;
export const ICMPV4_MISSING_OPTION = 1;
export const ICMPV4_BAD_LENGTH = 2;

/** True for the error types (as opposed to queries), which must never answer another error. */
export function isIcmpv4Error(type: number): boolean {
  return (
    type === ICMPV4_DEST_UNREACHABLE ||
    type === ICMPV4_SOURCE_QUENCH ||
    type === ICMPV4_REDIRECT ||
    type === ICMPV4_TIME_EXCEEDED ||
    type === ICMPV4_PARAM_PROBLEM
  );
}

/**
 * A checked view over an ICMPv4 message at `buf[off]` of `len` bytes (the IP payload).
 * The constructor does no validation.
 */
export class ICMPv4View {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /** Validates that the 8-byte header fits. Never throws. */
  static check(b: Uint8Array, off = 0, len = b.length - off): ICMPv4View | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < ICMPV4_HEADER) return ParseError.TooShort;
    return new ICMPv4View(b, off, len);
  }

  get type(): number {
    return this.buf[this.off + ICMPV4_TYPE]!;
  }
  set type(v: number) {
    this.buf[this.off + ICMPV4_TYPE] = v;
  }
  get code(): number {
    return this.buf[this.off + ICMPV4_CODE]!;
  }
  get checksum(): number {
    return get16(this.buf, this.off + ICMPV4_CHECKSUM);
  }
  set checksum(v: number) {
    put16(this.buf, this.off + ICMPV4_CHECKSUM, v);
  }
  setChecksum(v: number): void {
    put16(this.buf, this.off + ICMPV4_CHECKSUM, v);
  }
  /** Echo / echo reply identifier. */
  get ident(): number {
    return get16(this.buf, this.off + ICMPV4_IDENT);
  }
  /** Echo / echo reply sequence number. */
  get sequence(): number {
    return get16(this.buf, this.off + ICMPV4_SEQUENCE);
  }
  /** Next-hop MTU of a "fragmentation needed" message (RFC 1191 §4; 0 from old routers). */
  get mtu(): number {
    return get16(this.buf, this.off + ICMPV4_MTU);
  }
  /** Parameter problem: offset of the offending byte in the quoted IP header. */
  get pointer(): number {
    return this.buf[this.off + ICMPV4_POINTER]!;
  }
  /** Bytes 4..7 as an unsigned 32-bit integer (e.g. a redirect's gateway address). */
  get rest(): number {
    return get32(this.buf, this.off + ICMPV4_REST);
  }
  /** Absolute offset of the data (echo data or the quoted datagram). */
  get payloadOffset(): number {
    return this.off + ICMPV4_HEADER;
  }
  get payloadLength(): number {
    return this.len - ICMPV4_HEADER;
  }
  /** The data as a view into `buf` (no copy). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + ICMPV4_HEADER, this.off + this.len);
  }
  /** RFC 792: the sum over the whole message, checksum included, is all ones. */
  isChecksumValid(): boolean {
    return checksum(this.buf, this.off, this.len) === 0xffff;
  }
}

/** The fields of an ICMPv4 message. */
export interface Icmpv4Fields {
  type: number;
  code: number;
  /** Bytes 4..7 as an unsigned 32-bit integer (ident << 16 | sequence for echo). */
  rest?: number;
  payload?: Uint8Array;
}

/**
 * Writes an ICMPv4 message (header, then `payload` copied after it) at `buf[off]`, checksum
 * computed over both, and returns the bytes written (8 + payload length).
 */
export function encodeIcmpv4(buf: Uint8Array, off: number, f: Icmpv4Fields): number {
  buf[off + ICMPV4_TYPE] = f.type;
  buf[off + ICMPV4_CODE] = f.code;
  put16(buf, off + ICMPV4_CHECKSUM, 0);
  put32(buf, off + ICMPV4_REST, f.rest ?? 0);
  let n = ICMPV4_HEADER;
  if (f.payload && f.payload.length > 0) {
    buf.set(f.payload, off + ICMPV4_HEADER);
    n += f.payload.length;
  }
  put16(buf, off + ICMPV4_CHECKSUM, ~checksum(buf, off, n) & 0xffff);
  return n;
}

/** Decodes a checked view into a plain record (the payload is copied). */
export function parseIcmpv4(v: ICMPv4View): Required<Icmpv4Fields> & { checksum: number } {
  return {
    type: v.type,
    code: v.code,
    checksum: v.checksum,
    rest: v.rest,
    payload: v.buf.slice(v.payloadOffset, v.off + v.len),
  };
}
