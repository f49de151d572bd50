/**
 * UDP header (RFC 768).
 *
 *     0      7 8     15 16    23 24    31
 *    +--------+--------+--------+--------+
 *    |     Source      |   Destination   |  0
 *    |      Port       |      Port       |
 *    +--------+--------+--------+--------+
 *    |                 |                 |  4
 *    |     Length      |    Checksum     |
 *    +--------+--------+--------+--------+
 *    |          data octets ...           8
 *    +---------------- ...
 *
 * Length counts header and data. The checksum covers the pseudo-header, header and data; a
 * transmitted 0 means "no checksum" (IPv4 only; see finishUdpChecksum).
 */
import { checksum } from "./checksum.js";
import { get16, put16, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_HEADER = 8;
/** Largest UDP length the 16-bit field can carry. */
export const UDP_MAX_LENGTH = 0xffff;

/**
 * A checked view over a UDP datagram at `buf[off]`; `len` is the bytes available (normally the
 * IP payload length). The constructor does no validation.
 */
export class UDPView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /** Validates len >= 8 and 8 <= length field <= len (RFC 768). Never throws. */
  static check(b: Uint8Array, off = 0, len = b.length - off): UDPView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < UDP_HEADER) return ParseError.TooShort;
    const l = get16(b, off + UDP_LENGTH);
    if (l < UDP_HEADER || l > len) return ParseError.BadLength;
    return new UDPView(b, off, len);
  }

  get srcPort(): number {
    return get16(this.buf, this.off + UDP_SRC_PORT);
  }
  set srcPort(v: number) {
    put16(this.buf, this.off + UDP_SRC_PORT, v);
  }
  get dstPort(): number {
    return get16(this.buf, this.off + UDP_DST_PORT);
  }
  set dstPort(v: number) {
    put16(this.buf, this.off + UDP_DST_PORT, v);
  }
  /** The length field: header plus data. */
  get length(): number {
    return get16(this.buf, this.off + UDP_LENGTH);
  }
  get checksum(): number {
    return get16(this.buf, this.off + UDP_CHECKSUM);
  }
  set checksum(v: number) {
    put16(this.buf, this.off + UDP_CHECKSUM, v);
  }
  setChecksum(v: number): void {
    put16(this.buf, this.off + UDP_CHECKSUM, v);
  }
  /** Absolute offset of the data in `buf`. */
  get payloadOffset(): number {
    return this.off + UDP_HEADER;
  }
  /** length - 8 (bytes past the length field are not data). */
  get payloadLength(): number {
    return this.length - UDP_HEADER;
  }
  /** The data as a view into `buf` (no copy). */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + UDP_HEADER, this.off + this.length);
  }

  /**
   * True when the checksum verifies or is absent (0: RFC 768, IPv4 only; IPv6 callers must
   * reject 0 themselves, RFC 8200 §8.1). `pseudoSum` is the pseudo-header sum for `length`.
   */
  isChecksumValid(pseudoSum: number): boolean {
    if (this.checksum === 0) return true;
    return checksum(this.buf, this.off, this.length, pseudoSum) === 0xffff;
  }
}

/** The fields of a UDP header. */
export interface UdpFields {
  srcPort: number;
  dstPort: number;
  /** Header plus data, in bytes. */
  length: number;
  /** Written as given (default 0 = none); compute it over pseudo-header, header and data. */
  checksum?: number;
}

/** Writes a UDP header at `buf[off]` and returns its length (8). */
export function encodeUdp(buf: Uint8Array, off: number, f: UdpFields): number {
  put16(buf, off + UDP_SRC_PORT, f.srcPort);
  put16(buf, off + UDP_DST_PORT, f.dstPort);
  put16(buf, off + UDP_LENGTH, f.length);
  put16(buf, off + UDP_CHECKSUM, f.checksum ?? 0);
  return UDP_HEADER;
}

/** Decodes a checked view into a plain record. */
export function parseUdp(v: UDPView): Required<UdpFields> {
  return { srcPort: v.srcPort, dstPort: v.dstPort, length: v.length, checksum: v.checksum };
}
