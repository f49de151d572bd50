/**
 * ARP (RFC 826) for Ethernet hardware and IPv4 protocol addresses only.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      Hardware type (1)        |    Protocol type (0x0800)     |  0
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  HW len (6)   | Proto len (4) |     Operation (1 req, 2 rep)  |  4
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |              Sender hardware address (6 bytes)                |  8
 *    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                               | Sender protocol address (4)   | 12
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *    |                               |                               | 16
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *    |              Target hardware address (6 bytes)                | 20
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |              Target protocol address (4 bytes)                | 24
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { Address } from "../tcpip/address.js";
import { get16, put16, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OP = 6;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
export const ARP_SIZE = 28;

/** Hardware type for Ethernet (IANA "Hardware Types"). */
export const ARP_HTYPE_ETHERNET = 1;
/** Protocol type for IPv4 (the EtherType). */
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

/**
 * A checked view over an ARP packet at `buf[off]` (`len` bytes available; Ethernet padding past
 * 28 bytes is ignored). The constructor does no validation.
 */
export class ARPView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /**
   * Validates length >= 28 and the Ethernet/IPv4 address formats: hardware type 1, protocol
   * type 0x0800, hardware length 6, protocol length 4. Anything else is ParseError.Unsupported
   * (RFC 826: a receiver that does not speak the pair discards the packet). Never throws.
   */
  static check(b: Uint8Array, off = 0, len = b.length - off): ARPView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < ARP_SIZE) return ParseError.TooShort;
    if (
      get16(b, off + ARP_HTYPE) !== ARP_HTYPE_ETHERNET ||
      get16(b, off + ARP_PTYPE) !== ARP_PTYPE_IPV4 ||
      b[off + ARP_HLEN] !== 6 ||
      b[off + ARP_PLEN] !== 4
    )
      return ParseError.Unsupported;
    return new ARPView(b, off, len);
  }

  get op(): number {
    return get16(this.buf, this.off + ARP_OP);
  }
  /** Absolute offsets of the four addresses in `buf`. */
  get shaOff(): number {
    return this.off + ARP_SHA;
  }
  get spaOff(): number {
    return this.off + ARP_SPA;
  }
  get thaOff(): number {
    return this.off + ARP_THA;
  }
  get tpaOff(): number {
    return this.off + ARP_TPA;
  }
  /** Sender hardware address (a copy). */
  sha(): Uint8Array {
    return this.buf.slice(this.off + ARP_SHA, this.off + ARP_SHA + 6);
  }
  /** Sender protocol address (allocates). */
  spa(): Address {
    return Address.fromBytes(this.buf, this.off + ARP_SPA, 4);
  }
  /** Target hardware address (a copy). */
  tha(): Uint8Array {
    return this.buf.slice(this.off + ARP_THA, this.off + ARP_THA + 6);
  }
  /** Target protocol address (allocates). */
  tpa(): Address {
    return Address.fromBytes(this.buf, this.off + ARP_TPA, 4);
  }
  /** Sender protocol address as an unsigned 32-bit integer (equals `Address.key`). */
  get spaKey(): number {
    return Address.hashBytes(this.buf, this.off + ARP_SPA, 4);
  }
  /** Target protocol address as an unsigned 32-bit integer. */
  get tpaKey(): number {
    return Address.hashBytes(this.buf, this.off + ARP_TPA, 4);
  }
}

/** The fields of an Ethernet/IPv4 ARP packet. */
export interface ArpFields {
  op: number;
  sha: Uint8Array;
  spa: Address;
  /** All zero in a request (RFC 826 leaves it unspecified; Linux sends zeros). */
  tha: Uint8Array;
  tpa: Address;
}

/** Writes an ARP packet at `buf[off]` and returns its length (28). */
export function encodeArp(buf: Uint8Array, off: number, f: ArpFields): number {
  if (f.sha.length !== 6 || f.tha.length !== 6) throw new RangeError("ARP hardware addresses are 6 bytes");
  if (f.spa.bytes.length !== 4 || f.tpa.bytes.length !== 4) throw new RangeError("ARP protocol addresses are IPv4");
  put16(buf, off + ARP_HTYPE, ARP_HTYPE_ETHERNET);
  put16(buf, off + ARP_PTYPE, ARP_PTYPE_IPV4);
  buf[off + ARP_HLEN] = 6;
  buf[off + ARP_PLEN] = 4;
  put16(buf, off + ARP_OP, f.op);
  buf.set(f.sha, off + ARP_SHA);
  buf.set(f.spa.bytes, off + ARP_SPA);
  buf.set(f.tha, off + ARP_THA);
  buf.set(f.tpa.bytes, off + ARP_TPA);
  return ARP_SIZE;
}

/** Decodes a checked view into a plain record (allocates). */
export function parseArp(v: ARPView): ArpFields {
  return { op: v.op, sha: v.sha(), spa: v.spa(), tha: v.tha(), tpa: v.tpa() };
}
