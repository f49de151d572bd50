/**
 * ICMPv6 (RFC 4443) and the Neighbor Discovery messages and options (RFC 4861 §4).
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     Type      |     Code      |          Checksum             |  0
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  type-specific:                                               |  4
 *    |    echo:            Identifier          |   Sequence Number   |
 *    |    packet too big:  MTU (32 bits)                             |
 *    |    param problem:   Pointer (32 bits)                         |
 *    |    NS / NA:         flags (NA: R S O) + reserved              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  body: echo data, the invoking packet (errors), NDP fields    |  8
 *
 * Unlike ICMPv4 the checksum covers the RFC 8200 §8.1 pseudo-header (RFC 4443 §2.3).
 *
 * NDP bodies (after the first 8 bytes): RS: options; RA: reachable time, retrans timer, options
 * (cur hop limit, M/O flags and router lifetime sit in bytes 4..7); NS: target, options;
 * NA: target, options; Redirect: target, destination, options. Options are TLVs whose length
 * counts 8-byte units (zero is invalid: RFC 4861 §4.6).
 */
import { Address } from "../tcpip/address.js";
import { checksum, pseudoHeaderChecksum } from "./checksum.js";
import { get16, get32, put16, put32, rangeOk } from "./bytes.js";
import { ParseError } from "./parse.js";

export const ICMPV6_TYPE = 0;
export const ICMPV6_CODE = 1;
export const ICMPV6_CHECKSUM = 2;
export const ICMPV6_IDENT = 4;
export const ICMPV6_SEQUENCE = 6;
export const ICMPV6_MTU = 4;
export const ICMPV6_POINTER = 4;
export const ICMPV6_REST = 4;
export const ICMPV6_HEADER = 8;
/** RFC 4443 §2.4(c): an error message, IPv6 header included, stays within the minimum MTU. */
export const ICMPV6_ERROR_MAX = 1280;

// Types (RFC 4443 §2.1; NDP: RFC 4861 §4; MLD: RFC 2710, RFC 3810).
export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_MLD_QUERY = 130;
export const ICMPV6_MLD_REPORT = 131;
export const ICMPV6_MLD_DONE = 132;
export const ICMPV6_ROUTER_SOLICIT = 133;
export const ICMPV6_ROUTER_ADVERT = 134;
export const ICMPV6_NEIGHBOR_SOLICIT = 135;
export const ICMPV6_NEIGHBOR_ADVERT = 136;
export const ICMPV6_REDIRECT = 137;
export const ICMPV6_MLD2_REPORT = 143;

// Destination unreachable codes (RFC 4443 §3.1).
export const ICMPV6_NO_ROUTE = 0;
export const ICMPV6_ADMIN_PROHIBITED = 1;
export const ICMPV6_BEYOND_SCOPE = 2;
export const ICMPV6_ADDRESS_UNREACHABLE = 3;
export const ICMPV6_PORT_UNREACHABLE = 4;
export const ICMPV6_SOURCE_POLICY_FAILED = 5;
export const ICMPV6_REJECT_ROUTE = 6;

// Time exceeded codes (RFC 4443 §3.3).
export const ICMPV6_HOP_LIMIT_EXCEEDED = 0;
export const ICMPV6_REASSEMBLY_TIMEOUT = 1;

// Parameter problem codes (RFC 4443 §3.4; 3: RFC 7112).
export const ICMPV6_ERRONEOUS_HEADER = 0;
export const ICMPV6_UNRECOGNIZED_NEXT_HEADER = 1;
export const ICMPV6_UNRECOGNIZED_OPTION = 2;
export const ICMPV6_INCOMPLETE_CHAIN = 3;

/** RFC 4443 §2.1: types 0-127 are errors, 128-255 informational. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/**
 * A checked view over an ICMPv6 message at `buf[off]` of `len` bytes (the upper-layer data).
 * The constructor does no validation.
 */
export class ICMPv6View {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  /** Validates that the 8-byte header fits. Never throws. */
  static check(b: Uint8Array, off = 0, len = b.length - off): ICMPv6View | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < ICMPV6_HEADER) return ParseError.TooShort;
    return new ICMPv6View(b, off, len);
  }

  get type(): number {
    return this.buf[this.off + ICMPV6_TYPE]!;
  }
  get code(): number {
    return this.buf[this.off + ICMPV6_CODE]!;
  }
  get checksum(): number {
    return get16(this.buf, this.off + ICMPV6_CHECKSUM);
  }
  setChecksum(v: number): void {
    put16(this.buf, this.off + ICMPV6_CHECKSUM, v);
  }
  /** Echo identifier. */
  get ident(): number {
    return get16(this.buf, this.off + ICMPV6_IDENT);
  }
  /** Echo sequence number. */
  get sequence(): number {
    return get16(this.buf, this.off + ICMPV6_SEQUENCE);
  }
  /** Packet Too Big: the MTU of the next-hop link (RFC 4443 §3.2). */
  get mtu(): number {
    return get32(this.buf, this.off + ICMPV6_MTU);
  }
  /** Parameter Problem: offset in the invoking packet of the error (RFC 4443 §3.4). */
  get pointer(): number {
    return get32(this.buf, this.off + ICMPV6_POINTER);
  }
  /** Bytes 4..7 as an unsigned 32-bit integer. */
  get rest(): number {
    return get32(this.buf, this.off + ICMPV6_REST);
  }
  /** Absolute offset of the body (echo data, the invoking packet, NDP fields). */
  get payloadOffset(): number {
    return this.off + ICMPV6_HEADER;
  }
  get payloadLength(): number {
    return this.len - ICMPV6_HEADER;
  }
  payload(): Uint8Array {
    return this.buf.subarray(this.off + ICMPV6_HEADER, this.off + this.len);
  }

  /**
   * RFC 4443 §2.3: the sum over the pseudo-header (source and destination addresses at
   * `src[srcOff]` and `dst[dstOff]`) and the whole message, checksum included, is all ones.
   */
  verifyChecksum(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): boolean {
    const ph = pseudoHeaderChecksum(ICMPV6_PROTOCOL_NUMBER, src, srcOff, dst, dstOff, 16, this.len);
    return checksum(this.buf, this.off, this.len, ph) === 0xffff;
  }
}

const ICMPV6_PROTOCOL_NUMBER = 58;

/** The fields of an ICMPv6 message. */
export interface Icmpv6Fields {
  type: number;
  code: number;
  /** Bytes 4..7 (ident << 16 | sequence for echo, the MTU, the pointer). */
  rest?: number;
  payload?: Uint8Array;
}

/**
 * Writes an ICMPv6 message (header, then `payload` copied after it) at `buf[off]` with the
 * checksum over the pseudo-header of `src` → `dst`, and returns the bytes written.
 */
export function encodeIcmpv6(buf: Uint8Array, off: number, f: Icmpv6Fields, src: Address, dst: Address): number {
  buf[off + ICMPV6_TYPE] = f.type;
  buf[off + ICMPV6_CODE] = f.code;
  put16(buf, off + ICMPV6_CHECKSUM, 0);
  put32(buf, off + ICMPV6_REST, f.rest ?? 0);
  let n = ICMPV6_HEADER;
  if (f.payload && f.payload.length > 0) {
    buf.set(f.payload, off + ICMPV6_HEADER);
    n += f.payload.length;
  }
  fillIcmpv6Checksum(buf, off, n, src, dst);
  return n;
}

/** Computes and writes the checksum of the `len`-byte ICMPv6 message at `buf[off]` sent `src` → `dst`. */
export function fillIcmpv6Checksum(buf: Uint8Array, off: number, len: number, src: Address, dst: Address): void {
  put16(buf, off + ICMPV6_CHECKSUM, 0);
  const ph = pseudoHeaderChecksum(ICMPV6_PROTOCOL_NUMBER, src.bytes, 0, dst.bytes, 0, 16, len);
  put16(buf, off + ICMPV6_CHECKSUM, ~checksum(buf, off, len, ph) & 0xffff);
}

/** Decodes a checked view into a plain record (the payload is copied). */
export function parseIcmpv6(v: ICMPv6View): Required<Icmpv6Fields> & { checksum: number } {
  return { type: v.type, code: v.code, checksum: v.checksum, rest: v.rest, payload: v.buf.slice(v.payloadOffset, v.off + v.len) };
}

// ------------------------------------------------------------------------------------ NDP

// Option types (RFC 4861 §4.6; RDNSS: RFC 8106).
export const NDP_OPT_SOURCE_LINK_ADDRESS = 1;
export const NDP_OPT_TARGET_LINK_ADDRESS = 2;
export const NDP_OPT_PREFIX_INFO = 3;
export const NDP_OPT_REDIRECTED_HEADER = 4;
export const NDP_OPT_MTU = 5;
export const NDP_OPT_RDNSS = 25;

/** Offsets of NDP fields from the start of the ICMPv6 message. */
export const NDP_NS_TARGET = 8;
export const NDP_NS_OPTIONS = 24;
export const NDP_NA_FLAGS = 4;
export const NDP_NA_TARGET = 8;
export const NDP_NA_OPTIONS = 24;
export const NDP_RS_OPTIONS = 8;
export const NDP_RA_OPTIONS = 16;
export const NDP_REDIRECT_TARGET = 8;
export const NDP_REDIRECT_DESTINATION = 24;
export const NDP_REDIRECT_OPTIONS = 40;
/** NA flags (RFC 4861 §4.4), in the byte at NDP_NA_FLAGS. */
export const NDP_NA_ROUTER = 0x80;
export const NDP_NA_SOLICITED = 0x40;
export const NDP_NA_OVERRIDE = 0x20;

/** Where the options of an NDP message of `type` start (offset from the ICMPv6 header), or -1 for non-NDP types. */
export function ndpOptionsOffset(type: number): number {
  switch (type) {
    case ICMPV6_ROUTER_SOLICIT:
      return NDP_RS_OPTIONS;
    case ICMPV6_ROUTER_ADVERT:
      return NDP_RA_OPTIONS;
    case ICMPV6_NEIGHBOR_SOLICIT:
      return NDP_NS_OPTIONS;
    case ICMPV6_NEIGHBOR_ADVERT:
      return NDP_NA_OPTIONS;
    case ICMPV6_REDIRECT:
      return NDP_REDIRECT_OPTIONS;
    default:
      return -1;
  }
}

/**
 * Checks the options area `b[off, off+len)`: every option has a non-zero length and fits
 * (RFC 4861 §7.1.1). Returns true or ParseError.BadOption. Never throws.
 */
export function validateNdpOptions(b: Uint8Array, off: number, len: number): true | ParseError {
  if (!rangeOk(b, off, len)) return ParseError.BadLength;
  const end = off + len;
  for (let p = off; p < end; ) {
    if (p + 2 > end) return ParseError.BadOption;
    const n = b[p + 1]! * 8;
    if (n === 0 || p + n > end) return ParseError.BadOption;
    p += n;
  }
  return true;
}

/**
 * Absolute offset of the first option of `type` in the (validated) options area, or -1. For the
 * link-layer address options the address starts 2 bytes after it.
 */
export function findNdpOption(b: Uint8Array, off: number, len: number, type: number): number {
  const end = off + len;
  for (let p = off; p + 2 <= end; ) {
    const n = b[p + 1]! * 8;
    if (n === 0 || p + n > end) return -1;
    if (b[p] === type) return p;
    p += n;
  }
  return -1;
}

/**
 * A checked view over an NDP message (NS, NA, RS, RA, Redirect) at `buf[off]` (the ICMPv6
 * header). `check` validates the fixed part's length for the type and the options' TLV framing;
 * RFC 4861 §7.1 conditions that need the IP header (hop limit 255, addresses) are the network
 * layer's. The constructor does no validation.
 */
export class NdpView {
  constructor(
    readonly buf: Uint8Array,
    readonly off: number,
    readonly len: number,
  ) {}

  static check(b: Uint8Array, off = 0, len = b.length - off): NdpView | ParseError {
    if (!rangeOk(b, off, len)) return ParseError.BadLength;
    if (len < ICMPV6_HEADER) return ParseError.TooShort;
    const optOff = ndpOptionsOffset(b[off]!);
    if (optOff < 0) return ParseError.Unsupported;
    if (len < optOff) return ParseError.TooShort;
    const ok = validateNdpOptions(b, off + optOff, len - optOff);
    if (ok !== true) return ok;
    return new NdpView(b, off, len);
  }

  get type(): number {
    return this.buf[this.off]!;
  }
  get code(): number {
    return this.buf[this.off + 1]!;
  }
  /** Absolute offset of the options. */
  get optionsOffset(): number {
    return this.off + ndpOptionsOffset(this.buf[this.off]!);
  }
  get optionsLength(): number {
    return this.len - ndpOptionsOffset(this.buf[this.off]!);
  }
  /** NS, NA and Redirect carry a target address (at `targetOff`); RS and RA do not. */
  get hasTarget(): boolean {
    const t = this.type;
    return t === ICMPV6_NEIGHBOR_SOLICIT || t === ICMPV6_NEIGHBOR_ADVERT || t === ICMPV6_REDIRECT;
  }
  /** Absolute offset of the target address (meaningful when `hasTarget`). */
  get targetOff(): number {
    return this.off + 8;
  }
  /** NA flags (NDP_NA_ROUTER | NDP_NA_SOLICITED | NDP_NA_OVERRIDE); RA: the M (0x80) and O (0x40) flags. */
  get flags(): number {
    const t = this.type;
    return t === ICMPV6_NEIGHBOR_ADVERT ? this.buf[this.off + 4]! & 0xe0 : t === ICMPV6_ROUTER_ADVERT ? this.buf[this.off + 5]! & 0xc0 : 0;
  }
  /** Absolute offset of the link-layer address in the source (1) or target (2) link-layer address option, or -1. */
  linkAddressOff(optionType: number): number {
    const p = findNdpOption(this.buf, this.optionsOffset, this.optionsLength, optionType);
    return p < 0 ? -1 : p + 2;
  }
}

/** An NDP option as a plain record. */
export type NdpOption =
  | { type: "source-link-address"; address: Uint8Array }
  | { type: "target-link-address"; address: Uint8Array }
  | {
    type: "prefix-info"; prefixLength: number; onLink: boolean; autonomous: boolean; validLifetime: number;
    preferredLifetime: number; prefix: Address;
  }
  | { type: "mtu"; mtu: number }
  /** The data after type and length (its length + 2 must be a multiple of 8). */
  | { type: "other"; code: number; data: Uint8Array };

/** An NDP message as a plain record. */
export type NdpMessage =
  | { type: "router-solicit"; options: NdpOption[] }
  | {
    type: "router-advert"; curHopLimit: number; managed: boolean; other: boolean; routerLifetime: number;
    reachableTime: number; retransTimer: number; options: NdpOption[];
  }
  | { type: "neighbor-solicit"; target: Address; options: NdpOption[] }
  | { type: "neighbor-advert"; router: boolean; solicited: boolean; override: boolean; target: Address; options: NdpOption[] }
  | { type: "redirect"; target: Address; destination: Address; options: NdpOption[] };

function ndpOptionSize(o: NdpOption): number {
  switch (o.type) {
    case "source-link-address":
    case "target-link-address":
      return (2 + o.address.length + 7) & ~7;
    case "prefix-info":
      return 32;
    case "mtu":
      return 8;
    case "other":
      return (2 + o.data.length + 7) & ~7;
  }
}

/** Bytes `encodeNdp` writes for `m`. */
export function ndpSize(m: NdpMessage): number {
  let n = 0;
  switch (m.type) {
    case "router-solicit":
      n = NDP_RS_OPTIONS;
      break;
    case "router-advert":
      n = NDP_RA_OPTIONS;
      break;
    case "neighbor-solicit":
    case "neighbor-advert":
      n = NDP_NS_OPTIONS;
      break;
    case "redirect":
      n = NDP_REDIRECT_OPTIONS;
      break;
  }
  for (const o of m.options) n += ndpOptionSize(o);
  return n;
}

/** Writes the options and returns the bytes written. */
function encodeNdpOptions(buf: Uint8Array, off: number, options: NdpOption[]): number {
  let p = off;
  for (const o of options) {
    const n = ndpOptionSize(o);
    if (n > 255 * 8) throw new RangeError("NDP option too long");
    buf.fill(0, p, p + n);
    buf[p + 1] = n / 8;
    switch (o.type) {
      case "source-link-address":
      case "target-link-address":
        buf[p] = o.type === "source-link-address" ? NDP_OPT_SOURCE_LINK_ADDRESS : NDP_OPT_TARGET_LINK_ADDRESS;
        buf.set(o.address, p + 2);
        break;
      case "prefix-info":
        buf[p] = NDP_OPT_PREFIX_INFO;
        buf[p + 2] = o.prefixLength;
        buf[p + 3] = (o.onLink ? 0x80 : 0) | (o.autonomous ? 0x40 : 0);
        put32(buf, p + 4, o.validLifetime);
        put32(buf, p + 8, o.preferredLifetime);
        buf.set(o.prefix.bytes, p + 16);
        break;
      case "mtu":
        buf[p] = NDP_OPT_MTU;
        put32(buf, p + 4, o.mtu);
        break;
      case "other":
        buf[p] = o.code;
        buf.set(o.data, p + 2);
        break;
    }
    p += n;
  }
  return p - off;
}

/**
 * Writes the NDP message `m` (ICMPv6 header included, code 0) at `buf[off]` with its checksum for
 * `src` → `dst`, and returns its length (`ndpSize(m)`). Throws RangeError for a non-IPv6 address.
 */
export function encodeNdp(buf: Uint8Array, off: number, m: NdpMessage, src: Address, dst: Address): number {
  const n = ndpSize(m);
  buf.fill(0, off, off + n);
  buf[off + 1] = 0;
  let optOff: number;
  switch (m.type) {
    case "router-solicit":
      buf[off] = ICMPV6_ROUTER_SOLICIT;
      optOff = NDP_RS_OPTIONS;
      break;
    case "router-advert":
      buf[off] = ICMPV6_ROUTER_ADVERT;
      buf[off + 4] = m.curHopLimit;
      buf[off + 5] = (m.managed ? 0x80 : 0) | (m.other ? 0x40 : 0);
      put16(buf, off + 6, m.routerLifetime);
      put32(buf, off + 8, m.reachableTime);
      put32(buf, off + 12, m.retransTimer);
      optOff = NDP_RA_OPTIONS;
      break;
    case "neighbor-solicit":
      buf[off] = ICMPV6_NEIGHBOR_SOLICIT;
      setV6(buf, off + NDP_NS_TARGET, m.target);
      optOff = NDP_NS_OPTIONS;
      break;
    case "neighbor-advert":
      buf[off] = ICMPV6_NEIGHBOR_ADVERT;
      buf[off + NDP_NA_FLAGS] = (m.router ? NDP_NA_ROUTER : 0) | (m.solicited ? NDP_NA_SOLICITED : 0) |
        (m.override ? NDP_NA_OVERRIDE : 0);
      setV6(buf, off + NDP_NA_TARGET, m.target);
      optOff = NDP_NA_OPTIONS;
      break;
    case "redirect":
      buf[off] = ICMPV6_REDIRECT;
      setV6(buf, off + NDP_REDIRECT_TARGET, m.target);
      setV6(buf, off + NDP_REDIRECT_DESTINATION, m.destination);
      optOff = NDP_REDIRECT_OPTIONS;
      break;
  }
  encodeNdpOptions(buf, off + optOff, m.options);
  fillIcmpv6Checksum(buf, off, n, src, dst);
  return n;
}

function setV6(buf: Uint8Array, off: number, a: Address): void {
  if (!a.isV6) throw new RangeError("NDP addresses are IPv6 addresses");
  buf.set(a.bytes, off);
}

/** Decodes the options area (validated by NdpView.check) into records. */
export function parseNdpOptions(b: Uint8Array, off: number, len: number): NdpOption[] {
  const out: NdpOption[] = [];
  const end = off + len;
  for (let p = off; p + 2 <= end; ) {
    const n = b[p + 1]! * 8;
    if (n === 0 || p + n > end) break;
    const t = b[p]!;
    if ((t === NDP_OPT_SOURCE_LINK_ADDRESS || t === NDP_OPT_TARGET_LINK_ADDRESS) && n === 8) {
      out.push({ type: t === NDP_OPT_SOURCE_LINK_ADDRESS ? "source-link-address" : "target-link-address",
        address: b.slice(p + 2, p + 8) });
    } else if (t === NDP_OPT_PREFIX_INFO && n === 32) {
      out.push({
        type: "prefix-info", prefixLength: b[p + 2]!, onLink: (b[p + 3]! & 0x80) !== 0,
        autonomous: (b[p + 3]! & 0x40) !== 0, validLifetime: get32(b, p + 4), preferredLifetime: get32(b, p + 8),
        prefix: Address.fromBytes(b, p + 16, 16),
      });
    } else if (t === NDP_OPT_MTU && n === 8) {
      out.push({ type: "mtu", mtu: get32(b, p + 4) });
    } else {
      out.push({ type: "other", code: t, data: b.slice(p + 2, p + n) });
    }
    p += n;
  }
  return out;
}

/** Decodes a checked NDP view into a plain record (allocates). */
export function parseNdp(v: NdpView): NdpMessage {
  const b = v.buf;
  const o = v.off;
  const options = parseNdpOptions(b, v.optionsOffset, v.optionsLength);
  switch (v.type) {
    case ICMPV6_ROUTER_SOLICIT:
      return { type: "router-solicit", options };
    case ICMPV6_ROUTER_ADVERT:
      return {
        type: "router-advert", curHopLimit: b[o + 4]!, managed: (b[o + 5]! & 0x80) !== 0, other: (b[o + 5]! & 0x40) !== 0,
        routerLifetime: get16(b, o + 6), reachableTime: get32(b, o + 8), retransTimer: get32(b, o + 12), options,
      };
    case ICMPV6_NEIGHBOR_SOLICIT:
      return { type: "neighbor-solicit", target: Address.fromBytes(b, o + NDP_NS_TARGET, 16), options };
    case ICMPV6_NEIGHBOR_ADVERT: {
      const f = b[o + NDP_NA_FLAGS]!;
      return {
        type: "neighbor-advert", router: (f & NDP_NA_ROUTER) !== 0, solicited: (f & NDP_NA_SOLICITED) !== 0,
        override: (f & NDP_NA_OVERRIDE) !== 0, target: Address.fromBytes(b, o + NDP_NA_TARGET, 16), options,
      };
    }
    default:
      return {
        type: "redirect", target: Address.fromBytes(b, o + NDP_REDIRECT_TARGET, 16),
        destination: Address.fromBytes(b, o + NDP_REDIRECT_DESTINATION, 16), options,
      };
  }
}
