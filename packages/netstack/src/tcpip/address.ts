/**
 * Network addresses. An `Address` is an immutable IPv4 (4 bytes) or IPv6 (16 bytes) address.
 * It carries a cached 32-bit hash so the demuxer and route cache key on numbers, never on strings.
 */
export class Address {
  /** Raw address bytes in network order; never mutated after construction. */
  readonly bytes: Uint8Array;
  /** For IPv4, the address as an unsigned 32-bit integer; for IPv6, a 32-bit hash of the bytes. */
  readonly key: number;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.key = Address.hashBytes(bytes, 0, bytes.length);
  }

  /** Hash of `len` address bytes at `off` without allocating (IPv4: the uint32 value itself). */
  static hashBytes(b: Uint8Array, off: number, len: number): number {
    if (len === 4) return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ b[off + i]!, 0x01000193);
    return h >>> 0;
  }

  static fromBytes(b: Uint8Array, off = 0, len = b.length - off): Address {
    if (len !== 4 && len !== 16) throw new RangeError(`address length must be 4 or 16, got ${len}`);
    return new Address(b.slice(off, off + len));
  }

  static v4(a: number, b: number, c: number, d: number): Address {
    return new Address(Uint8Array.of(a, b, c, d));
  }

  static fromUint32(v: number): Address {
    return new Address(Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255));
  }

  /** Parses dotted-quad IPv4 or RFC 4291 text IPv6 (with `::` and embedded IPv4). Null if invalid. */
  static parse(s: string): Address | null {
    if (s.includes(":")) return Address.parse6(s);
    const parts = s.split(".");
    if (parts.length !== 4) return null;
    const out = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      const p = parts[i]!;
      if (!/^\d{1,3}$/.test(p)) return null;
      const n = Number(p);
      if (n > 255) return null;
      out[i] = n;
    }
    return new Address(out);
  }

  /** Like `parse` but throws a RangeError naming the bad text (for configuration, not packets). */
  static from(s: string | Address): Address {
    if (s instanceof Address) return s;
    const a = Address.parse(s);
    if (!a) throw new RangeError(`invalid IP address: ${JSON.stringify(s)}`);
    return a;
  }

  private static parse6(s: string): Address | null {
    const zone = s.indexOf("%");
    if (zone >= 0) s = s.slice(0, zone);
    const out = new Uint8Array(16);
    const dbl = s.indexOf("::");
    if (dbl >= 0 && s.indexOf("::", dbl + 1) >= 0) return null;
    const parseGroups = (part: string, allowV4: boolean): number[] | null => {
      if (part === "") return [];
      const groups = part.split(":");
      const res: number[] = [];
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i]!;
        if (allowV4 && i === groups.length - 1 && g.includes(".")) {
          const v4 = Address.parse(g);
          if (!v4 || v4.bytes.length !== 4) return null;
          res.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
          continue;
        }
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        res.push(parseInt(g, 16));
      }
      return res;
    };
    let words: number[];
    if (dbl >= 0) {
      const head = parseGroups(s.slice(0, dbl), false);
      const tail = parseGroups(s.slice(dbl + 2), true);
      if (!head || !tail || head.length + tail.length > 7) return null;
      words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
    } else {
      const all = parseGroups(s, true);
      if (!all || all.length !== 8) return null;
      words = all;
    }
    for (let i = 0; i < 8; i++) {
      out[i * 2] = words[i]! >> 8;
      out[i * 2 + 1] = words[i]! & 255;
    }
    return new Address(out);
  }

  get isV4(): boolean {
    return this.bytes.length === 4;
  }
  get isV6(): boolean {
    return this.bytes.length === 16;
  }
  get length(): number {
    return this.bytes.length;
  }
  get isUnspecified(): boolean {
    for (const b of this.bytes) if (b !== 0) return false;
    return true;
  }
  get isLoopback(): boolean {
    if (this.isV4) return this.bytes[0] === 127;
    for (let i = 0; i < 15; i++) if (this.bytes[i] !== 0) return false;
    return this.bytes[15] === 1;
  }
  get isMulticast(): boolean {
    return this.isV4 ? (this.bytes[0]! & 0xf0) === 0xe0 : this.bytes[0] === 0xff;
  }
  get isV4Broadcast(): boolean {
    return this.isV4 && this.key === 0xffffffff;
  }
  /** IPv6 link-local unicast fe80::/10. */
  get isLinkLocal(): boolean {
    if (this.isV4) return this.bytes[0] === 169 && this.bytes[1] === 254;
    return this.bytes[0] === 0xfe && (this.bytes[1]! & 0xc0) === 0x80;
  }
  /** IPv4-mapped IPv6 address ::ffff:a.b.c.d. */
  get isV4Mapped(): boolean {
    if (!this.isV6) return false;
    for (let i = 0; i < 10; i++) if (this.bytes[i] !== 0) return false;
    return this.bytes[10] === 0xff && this.bytes[11] === 0xff;
  }
  /** The IPv4 address inside a v4-mapped IPv6 address, or null. */
  unmapV4(): Address | null {
    return this.isV4Mapped ? new Address(this.bytes.slice(12)) : null;
  }
  /** For a v4-mapped address, the IPv4 address inside it; otherwise this address itself. */
  unmapped(): Address {
    return this.isV4Mapped ? new Address(this.bytes.slice(12)) : this;
  }
  /** The v4-mapped IPv6 form (::ffff:a.b.c.d) of an IPv4 address; IPv6 addresses are returned as they are. */
  mapV6(): Address {
    if (!this.isV4) return this;
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(this.bytes, 12);
    return new Address(out);
  }

  /** IPv6 solicited-node multicast ff02::1:ffXX:XXXX (RFC 4291 §2.7.1). */
  get isSolicitedNodeMulticast(): boolean {
    const b = this.bytes;
    if (b.length !== 16 || b[0] !== 0xff || b[1] !== 0x02) return false;
    for (let i = 2; i < 11; i++) if (b[i] !== 0) return false;
    return b[11] === 1 && b[12] === 0xff;
  }

  /**
   * The address's scope as the 4-bit values of RFC 4291 §2.7 (1 interface-local, 2 link-local,
   * 5 site-local, 8 organization-local, 14 global), extended to unicast as RFC 6724 §3.1 does:
   * the loopback address and link-local unicast are link-local (2), the deprecated site-local
   * fec0::/10 is site-local (5), everything else is global (14). IPv4 (and v4-mapped) addresses
   * follow RFC 6724 §3.2: 127/8 and 169.254/16 are link-local, the rest global.
   */
  get scope(): number {
    const b = this.bytes;
    if (this.isV4 || this.isV4Mapped) {
      const o = this.isV4 ? 0 : 12;
      return b[o] === 127 || (b[o] === 169 && b[o + 1] === 254) ? SCOPE_LINK_LOCAL : SCOPE_GLOBAL;
    }
    if (b[0] === 0xff) return b[1]! & 0x0f;
    if (this.isLinkLocal || this.isLoopback) return SCOPE_LINK_LOCAL;
    if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return SCOPE_SITE_LOCAL;
    return SCOPE_GLOBAL;
  }

  /** True for addresses that only make sense together with a NIC (a zone): link-local unicast and multicast of scope ≤ link. */
  get needsZone(): boolean {
    if (!this.isV6) return false;
    return this.isMulticast ? this.scope <= SCOPE_LINK_LOCAL : this.isLinkLocal;
  }

  /** The solicited-node multicast group of an IPv6 address: ff02::1:ff + its low 24 bits (RFC 4291 §2.7.1). */
  solicitedNode(): Address {
    const out = new Uint8Array(16);
    out[0] = 0xff;
    out[1] = 0x02;
    out[11] = 0x01;
    out[12] = 0xff;
    out[13] = this.bytes[13]!;
    out[14] = this.bytes[14]!;
    out[15] = this.bytes[15]!;
    return new Address(out);
  }

  /**
   * The link-local address fe80::/64 whose interface identifier is the modified EUI-64 of a
   * 48-bit MAC (RFC 4291 §2.5.1 and Appendix A, RFC 2464 §4): the MAC split by ff:fe with the
   * universal/local bit inverted.
   */
  static linkLocalFromMac(mac: Uint8Array): Address {
    if (mac.length !== 6) throw new RangeError(`a MAC address is 6 bytes, got ${mac.length}`);
    const out = new Uint8Array(16);
    out[0] = 0xfe;
    out[1] = 0x80;
    out[8] = mac[0]! ^ 0x02;
    out[9] = mac[1]!;
    out[10] = mac[2]!;
    out[11] = 0xff;
    out[12] = 0xfe;
    out[13] = mac[3]!;
    out[14] = mac[4]!;
    out[15] = mac[5]!;
    return new Address(out);
  }

  /** An IPv6 address made of the first 8 bytes of `prefix` and the 8-byte interface identifier `iid`. */
  static fromPrefixAndIid(prefix: Address, iid: Uint8Array): Address {
    if (!prefix.isV6 || iid.length !== 8) throw new RangeError("need an IPv6 prefix and an 8-byte interface identifier");
    const out = new Uint8Array(16);
    out.set(prefix.bytes.subarray(0, 8), 0);
    out.set(iid, 8);
    return new Address(out);
  }

  /**
   * Splits "fe80::1%eth0" (RFC 4007 §11 text form) into the address and its zone ("eth0"); the
   * zone is null when absent. The caller maps the zone to a NIC id (Stack.nicIdForZone).
   */
  static parseScoped(s: string): { addr: Address; zone: string | null } | null {
    const i = s.indexOf("%");
    const addr = Address.parse(i >= 0 ? s.slice(0, i) : s);
    if (!addr) return null;
    if (i < 0) return { addr, zone: null };
    const zone = s.slice(i + 1);
    if (zone === "" || !addr.isV6) return null;
    return { addr, zone };
  }

  /** Number of leading bits `this` and `o` have in common (RFC 6724 §2.2 CommonPrefixLen). */
  commonPrefixLength(o: Address): number {
    const a = this.bytes;
    const b = o.bytes;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const x = a[i]! ^ b[i]!;
      if (x !== 0) return i * 8 + Math.clz32(x) - 24;
    }
    return n * 8;
  }

  equals(o: Address | null | undefined): boolean {
    if (!o || o.key !== this.key || o.bytes.length !== this.bytes.length) return false;
    for (let i = 0; i < this.bytes.length; i++) if (o.bytes[i] !== this.bytes[i]) return false;
    return true;
  }

  /** True when the `len` bytes at `off` equal this address (compares without allocating). */
  equalsBytes(b: Uint8Array, off: number): boolean {
    for (let i = 0; i < this.bytes.length; i++) if (b[off + i] !== this.bytes[i]) return false;
    return true;
  }

  toString(): string {
    if (this.isV4) return this.bytes.join(".");
    const w: number[] = [];
    for (let i = 0; i < 16; i += 2) w.push((this.bytes[i]! << 8) | this.bytes[i + 1]!);
    // RFC 5952: compress the longest run (length >= 2) of zero words.
    let bestStart = -1;
    let bestLen = 0;
    for (let i = 0; i < 8; ) {
      if (w[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && w[j] === 0) j++;
      if (j - i > bestLen && j - i >= 2) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (this.isV4Mapped) return `::ffff:${this.bytes.subarray(12).join(".")}`;
    const hex = w.map((x) => x.toString(16));
    if (bestStart < 0) return hex.join(":");
    return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
  }

  static readonly ANY4 = Address.v4(0, 0, 0, 0);
  static readonly BROADCAST4 = Address.v4(255, 255, 255, 255);
  static readonly ANY6 = new Address(new Uint8Array(16));
  /** ::1 (RFC 4291 §2.5.3). */
  static readonly LOOPBACK6 = new Address(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
  /** ff02::1, the link-local all-nodes group (RFC 4291 §2.7.1). */
  static readonly ALL_NODES6 = new Address(Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
  /** ff02::2, the link-local all-routers group (RFC 4291 §2.7.1). */
  static readonly ALL_ROUTERS6 = new Address(Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2));
}

/** Address scopes (RFC 4291 §2.7 scop values, used for unicast as RFC 6724 §3.1 does). */
export const SCOPE_INTERFACE_LOCAL = 0x1;
export const SCOPE_LINK_LOCAL = 0x2;
export const SCOPE_SITE_LOCAL = 0x5;
export const SCOPE_ORGANIZATION_LOCAL = 0x8;
export const SCOPE_GLOBAL = 0xe;

/** An address with its prefix length, as configured on a NIC ("10.0.0.2/24"). */
export class Subnet {
  constructor(
    readonly address: Address,
    readonly prefixLen: number,
  ) {
    const max = address.length * 8;
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max)
      throw new RangeError(`prefix length ${prefixLen} out of range 0..${max}`);
  }

  /** Parses "a.b.c.d/n" or "x::y/n"; without "/n" the prefix is the full length. */
  static parse(s: string): Subnet {
    const slash = s.indexOf("/");
    const addr = Address.from(slash >= 0 ? s.slice(0, slash) : s);
    const len = slash >= 0 ? Number(s.slice(slash + 1)) : addr.length * 8;
    if (slash >= 0 && !/^\d+$/.test(s.slice(slash + 1))) throw new RangeError(`invalid prefix in ${JSON.stringify(s)}`);
    return new Subnet(addr, len);
  }

  /** True when `a` is inside this subnet (same family, first prefixLen bits equal). */
  contains(a: Address): boolean {
    return prefixMatch(this.address.bytes, a.bytes, 0, this.prefixLen);
  }

  /** The subnet-directed broadcast address (IPv4 only). */
  broadcast(): Address | null {
    if (!this.address.isV4 || this.prefixLen >= 31) return null;
    const mask = this.prefixLen === 0 ? 0 : (0xffffffff << (32 - this.prefixLen)) >>> 0;
    return Address.fromUint32(((this.address.key & mask) | ~mask) >>> 0);
  }

  toString(): string {
    return `${this.address}/${this.prefixLen}`;
  }
}

/** True when the first `bits` bits of `p` equal those of the address bytes `b` at `off`. */
export function prefixMatch(p: Uint8Array, b: Uint8Array, off: number, bits: number): boolean {
  if (b.length - off < p.length) return false;
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (p[i] !== b[off + i]) return false;
  const rem = bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (p[full]! & mask) === (b[off + full]! & mask);
}

/** A transport address: optional NIC id, optional address (unset = any), port (0 = any). */
export interface FullAddress {
  nic?: number;
  addr?: Address;
  port: number;
}

/** Network protocol numbers (EtherType values, as gVisor does). */
export const IPV4_PROTOCOL = 0x0800;
export const IPV6_PROTOCOL = 0x86dd;
export const ARP_PROTOCOL = 0x0806;
/** Transport protocol numbers (IANA). */
export const ICMPV4_PROTOCOL = 1;
export const TCP_PROTOCOL = 6;
export const UDP_PROTOCOL = 17;
export const ICMPV6_PROTOCOL = 58;
