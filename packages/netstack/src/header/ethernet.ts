/**
 * Ethernet II frame header (IEEE 802.3 with an EtherType, RFC 894 for IPv4 over Ethernet).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 Destination MAC address (6)                   |  0
 *    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                               |                               |  4
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *    |                    Source MAC address (6)                     |  8
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           EtherType           |  payload ...                    12
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The frame check sequence is not part of what links hand the stack.
 */
import { get16, put16, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

export const ETHERNET_DST = 0;
export const ETHERNET_SRC = 6;
export const ETHERNET_TYPE = 12;
export const ETHERNET_HEADER = 14;
export const MAC_SIZE = 6;
/** Smallest frame payload; shorter payloads are padded by the sender (IEEE 802.3). */
export const ETHERNET_MIN_PAYLOAD = 46;

/** ff:ff:ff:ff:ff:ff. Shared: never modify it. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array(MAC_SIZE).fill(0xff);

/**
 * A checked view over an Ethernet frame at `buf[off]` of `len` bytes. The constructor does no
 * validation.
 */
export class EthernetView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /** Validates that the 14-byte header fits. Never throws. */
  static check(b: Uint8Array, off = 0, len = b.length - off): EthernetView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < ETHERNET_HEADER) return ParseError.TooShort;
    return new EthernetView(b, off, len);
  }

  /** Absolute offset of the destination MAC in `buf`. */
  get dstOff(): number {
    return this.off + ETHERNET_DST;
  }
  /** Absolute offset of the source MAC in `buf`. */
  get srcOff(): number {
    return this.off + ETHERNET_SRC;
  }
  /** A copy of the destination MAC. */
  dst(): Uint8Array {
    return this.buf.slice(this.off + ETHERNET_DST, this.off + ETHERNET_DST + MAC_SIZE);
  }
  /** A copy of the source MAC. */
  src(): Uint8Array {
    return this.buf.slice(this.off + ETHERNET_SRC, this.off + ETHERNET_SRC + MAC_SIZE);
  }
  /** The EtherType (0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6). */
  get type(): number {
    return get16(this.buf, this.off + ETHERNET_TYPE);
  }
  /** True when the destination is a group (multicast or broadcast) address. */
  get isDstMulticast(): boolean {
    return (this.buf[this.off + ETHERNET_DST]! & 1) !== 0;
  }
  /** Absolute offset of the payload in `buf`. */
  get payloadOffset(): number {
    return this.off + ETHERNET_HEADER;
  }
  get payloadLength(): number {
    return this.len - ETHERNET_HEADER;
  }
}

/** The fields of an Ethernet header. */
export interface EthernetFields {
  dst: Uint8Array;
  src: Uint8Array;
  type: number;
}

/** Writes an Ethernet header at `buf[off]` and returns its length (14). */
export function encodeEthernet(buf: Uint8Array, off: number, f: EthernetFields): number {
  if (f.dst.length !== MAC_SIZE || f.src.length !== MAC_SIZE) throw new RangeError("MAC addresses are 6 bytes");
  buf.set(f.dst, off + ETHERNET_DST);
  buf.set(f.src, off + ETHERNET_SRC);
  put16(buf, off + ETHERNET_TYPE, f.type);
  return ETHERNET_HEADER;
}

/** Decodes a checked view into a plain record (the MACs are copied). */
export function parseEthernet(v: EthernetView): EthernetFields {
  return { dst: v.dst(), src: v.src(), type: v.type };
}

const HEX = "0123456789abcdef";

/** "aa:bb:cc:dd:ee:ff" for the 6 bytes at `b[off]` (for logs and configuration, not hot paths). */
export function macToString(b: Uint8Array, off = 0): string {
  let s = "";
  for (let i = 0; i < MAC_SIZE; i++) {
    const x = b[off + i] ?? 0;
    if (i > 0) s += ":";
    s += HEX[x >>> 4]! + HEX[x & 15]!;
  }
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" (also with '-' separators, any case); null when malformed. */
export function parseMac(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(s)) return null;
  const out = new Uint8Array(MAC_SIZE);
  for (let i = 0; i < MAC_SIZE; i++) out[i] = parseInt(s.slice(i * 3, i * 3 + 2), 16);
  return out;
}

/** True for a group address: the I/G bit (least significant bit of the first byte) is set. */
export function isMulticastMac(b: Uint8Array, off = 0): boolean {
  return ((b[off] ?? 0) & 1) !== 0;
}

/** True for ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(b: Uint8Array, off = 0): boolean {
  for (let i = 0; i < MAC_SIZE; i++) if (b[off + i] !== 0xff) return false;
  return true;
}

/** True when the 6 bytes at `a[aOff]` equal those at `b[bOff]`. */
export function macEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < MAC_SIZE; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}
