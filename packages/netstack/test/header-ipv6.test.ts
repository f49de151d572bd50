import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Address } from "../src/tcpip/address.js";
import { ParseError } from "../src/header/parse.js";
import { IPV6_HEADER, IPv6View, encodeIPv6, ipv6PseudoHeaderChecksum, parseIPv6 } from "../src/header/ipv6.js";
import {
  CHAIN_END, CHAIN_OK, CHAIN_TOO_LONG, CHAIN_TRUNCATED, IPV6_EXT_AH, IPV6_EXT_DESTINATION, IPV6_EXT_FRAGMENT,
  IPV6_EXT_HOP_BY_HOP, IPV6_EXT_ROUTING, IPV6_NO_NEXT_HEADER, IPV6_OPT_ACTION_DISCARD_ICMP, IPV6_OPT_ROUTER_ALERT,
  IPv6FragmentView, IPv6HeaderChain, IPv6OptionsHeaderView, IPv6RoutingView, encodeIPv6Fragment,
  encodeIPv6OptionsHeader, encodeIPv6Routing, ipv6OptionAction, ipv6OptionsHeaderSize, parseIPv6Fragment,
  parseIPv6Options, parseIPv6Routing, walkIPv6Chain,
} from "../src/header/ipv6-ext.js";
import {
  ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_PACKET_TOO_BIG, ICMPV6_PARAM_PROBLEM, ICMPv6View,
  NDP_OPT_SOURCE_LINK_ADDRESS, NDP_OPT_TARGET_LINK_ADDRESS, NdpView, encodeIcmpv6, encodeNdp, isIcmpv6Error, ndpSize,
  parseIcmpv6, parseNdp, type NdpMessage, type NdpOption,
} from "../src/header/icmpv6.js";
import { assertProperty, arbMac, hex, probeArb, probeCheck, u16, u32 } from "./header-property.js";

const arbIPv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Address.fromBytes(b));

/** RFC 1071 reference: big-endian 16-bit words, odd byte padded on the right, end-around carry. */
function referenceSum(parts: Uint8Array[]): number {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** RFC 8200 §8.1 pseudo-header as bytes: source, destination, 32-bit length, 3 zero bytes, next header. */
function pseudoBytes(src: Address, dst: Address, len: number, nh: number): Uint8Array {
  const b = new Uint8Array(40);
  b.set(src.bytes, 0);
  b.set(dst.bytes, 16);
  b[32] = len >>> 24;
  b[33] = (len >>> 16) & 0xff;
  b[34] = (len >>> 8) & 0xff;
  b[35] = len & 0xff;
  b[39] = nh;
  return b;
}

const arbFields = fc.record({
  trafficClass: fc.nat({ max: 255 }),
  flowLabel: fc.nat({ max: 0xfffff }),
  payloadLength: fc.nat({ max: 120 }),
  nextHeader: fc.nat({ max: 255 }),
  hopLimit: fc.nat({ max: 255 }),
  src: arbIPv6,
  dst: arbIPv6,
});

const arbPacket = arbFields.chain((f) => fc.uint8Array({ minLength: f.payloadLength, maxLength: f.payloadLength }).map((p) => {
  const b = new Uint8Array(IPV6_HEADER + p.length);
  encodeIPv6(b, 0, f);
  b.set(p, IPV6_HEADER);
  return b;
}));

describe("IPv6View / encodeIPv6 (RFC 8200 §3)", () => {
  it("round-trips random header fields through encode → check → parse (seed 8200)", () => {
    assertProperty(
      fc.property(arbFields, fc.nat({ max: 7 }), fc.nat({ max: 9 }), (f, at, pad) => {
        const buf = new Uint8Array(at + IPV6_HEADER + f.payloadLength + pad);
        expect(encodeIPv6(buf, at, f)).toBe(40);
        const v = IPv6View.check(buf, at);
        if (v instanceof ParseError) throw new Error(v.reason);
        const r = parseIPv6(v);
        expect({ ...r, src: r.src.toString(), dst: r.dst.toString() })
          .toEqual({ ...f, src: f.src.toString(), dst: f.dst.toString() });
        expect(v.totalLength).toBe(40 + f.payloadLength);
        expect(v.payloadOffset).toBe(at + 40);
        expect(v.payload().length).toBe(f.payloadLength); // link padding is not payload
      }),
      8200,
      1000,
    );
  });

  it("encodes the fields at the offsets of the RFC 8200 §3 diagram", () => {
    const b = new Uint8Array(48);
    encodeIPv6(b, 0, { trafficClass: 0xab, flowLabel: 0x12345, payloadLength: 8, nextHeader: 58, hopLimit: 255,
      src: Address.from("fe80::1"), dst: Address.from("ff02::1:ff00:2") });
    expect(Array.from(b.subarray(0, 40))).toEqual(Array.from(hex(
      "6ab1 2345 0008 3aff fe80 0000 0000 0000 0000 0000 0000 0001 ff02 0000 0000 0000 0000 0001 ff00 0002")));
  });

  it("check rejects short buffers, other versions and payload lengths past the buffer", () => {
    const b = new Uint8Array(48);
    encodeIPv6(b, 0, { trafficClass: 0, flowLabel: 0, payloadLength: 8, nextHeader: 59, hopLimit: 64,
      src: Address.from("::1"), dst: Address.from("::1") });
    expect(IPv6View.check(b.subarray(0, 39))).toBe(ParseError.TooShort);
    expect(IPv6View.check(b, 0, 47)).toBe(ParseError.BadLength);
    expect(IPv6View.check(b)).toBeInstanceOf(IPv6View);
    b[0] = 0x45;
    expect(IPv6View.check(b)).toBe(ParseError.BadVersion);
    expect(IPv6View.check(b, -1, 4)).toBe(ParseError.BadLength);
  });

  it("check never throws on arbitrary bytes and its accessors stay inside the checked range (seed 2460)", () => {
    let views = 0;
    assertProperty(fc.property(probeArb(arbPacket), (p) => {
      if (probeCheck(IPv6View.check, p)) views++;
    }), 2460, 2000);
    expect(views).toBeGreaterThan(200);
  });

  it("computes the RFC 8200 §8.1 pseudo-header sum (32-bit length, next header last)", () => {
    assertProperty(fc.property(arbIPv6, arbIPv6, fc.nat({ max: 0x1ffff }), fc.nat({ max: 255 }), (s, d, len, nh) => {
      expect(ipv6PseudoHeaderChecksum(s, d, len, nh)).toBe(referenceSum([pseudoBytes(s, d, len, nh)]));
    }), 81, 500);
  });
});

/** Builds an IPv6 packet whose payload is `chain` (bytes of extension headers and upper layer). */
function packetWith(nextHeader: number, chain: Uint8Array): Uint8Array {
  const b = new Uint8Array(40 + chain.length);
  encodeIPv6(b, 0, { trafficClass: 0, flowLabel: 0, payloadLength: chain.length, nextHeader, hopLimit: 64,
    src: Address.from("fd00::1"), dst: Address.from("fd00::2") });
  b.set(chain, 40);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function optionsHeader(nextHeader: number, options: { type: number; data: Uint8Array }[]): Uint8Array {
  const f = { nextHeader, options };
  const b = new Uint8Array(ipv6OptionsHeaderSize(f));
  encodeIPv6OptionsHeader(b, 0, f);
  return b;
}

function fragmentHeader(nextHeader: number, fragmentOffset: number, more: boolean, id: number): Uint8Array {
  const b = new Uint8Array(8);
  encodeIPv6Fragment(b, 0, { nextHeader, fragmentOffset, more, id });
  return b;
}

const arbOption = fc.record({ type: fc.integer({ min: 2, max: 255 }), data: fc.uint8Array({ maxLength: 20 }) });

describe("IPv6 extension headers (RFC 8200 §4)", () => {
  it("round-trips options headers, padded to 8-byte multiples with Pad1/PadN (seed 42)", () => {
    assertProperty(fc.property(fc.nat({ max: 255 }), fc.array(arbOption, { maxLength: 5 }), (nh, options) => {
      const b = optionsHeader(nh, options);
      expect(b.length % 8).toBe(0);
      const v = IPv6OptionsHeaderView.check(b);
      if (v instanceof ParseError) throw new Error(v.reason);
      expect(v.headerLength).toBe(b.length);
      const r = parseIPv6Options(v);
      expect({ nextHeader: r.nextHeader, options: r.options.map((o) => [o.type, Array.from(o.data)]) })
        .toEqual({ nextHeader: nh, options: options.map((o) => [o.type, Array.from(o.data)]) });
    }), 42, 500);
  });

  it("round-trips fragment and routing headers", () => {
    assertProperty(fc.property(fc.nat({ max: 255 }), fc.nat({ max: 0x1fff }), fc.boolean(), u32, (nh, units, more, id) => {
      const b = fragmentHeader(nh, units * 8, more, id);
      const v = IPv6FragmentView.check(b) as IPv6FragmentView;
      expect(parseIPv6Fragment(v)).toEqual({ nextHeader: nh, fragmentOffset: units * 8, more, id });
      expect(v.isAtomic).toBe(units === 0 && !more);
    }), 4402, 500);
    const r = new Uint8Array(24);
    expect(encodeIPv6Routing(r, 0, { nextHeader: 17, routingType: 0, segmentsLeft: 1, data: new Uint8Array(20).fill(7) }))
      .toBe(24);
    const rv = IPv6RoutingView.check(r) as IPv6RoutingView;
    expect([rv.headerLength, rv.routingType, rv.segmentsLeft]).toEqual([24, 0, 1]);
    expect(Array.from(parseIPv6Routing(rv).data)).toEqual(new Array(20).fill(7));
  });

  it("reads the unknown-option action from the two high bits of the option type (RFC 8200 §4.2)", () => {
    expect([0x1e, 0x5e, 0x9e, 0xde].map(ipv6OptionAction)).toEqual([0, 1, 2, 3]);
    expect(ipv6OptionAction(IPV6_OPT_ROUTER_ALERT)).toBe(0);
    expect(ipv6OptionAction(0x80)).toBe(IPV6_OPT_ACTION_DISCARD_ICMP);
  });

  it("walks a hop-by-hop + routing + destination options + fragment chain to the upper layer", () => {
    const routing = new Uint8Array(8);
    encodeIPv6Routing(routing, 0, { nextHeader: IPV6_EXT_DESTINATION, routingType: 4, segmentsLeft: 0, data: new Uint8Array(4) });
    const pkt = packetWith(IPV6_EXT_HOP_BY_HOP, concat(
      optionsHeader(IPV6_EXT_ROUTING, [{ type: IPV6_OPT_ROUTER_ALERT, data: new Uint8Array(2) }]),
      routing,
      optionsHeader(IPV6_EXT_FRAGMENT, [{ type: 0x1e, data: new Uint8Array(9) }]),
      fragmentHeader(17, 0, false, 1),
      new Uint8Array(8),
    ));
    const c = walkIPv6Chain(pkt);
    if (c instanceof ParseError) throw new Error(c.reason);
    expect(c.headers.map((h) => [h.type, h.offset, h.length])).toEqual([
      [IPV6_EXT_HOP_BY_HOP, 40, 8], [IPV6_EXT_ROUTING, 48, 8], [IPV6_EXT_DESTINATION, 56, 16], [IPV6_EXT_FRAGMENT, 72, 8],
    ]);
    expect([c.upperLayer, c.upperOffset]).toEqual([17, 80]);
    // The cursor form reports where each Next Header field is (Parameter Problem pointers).
    const cur = new IPv6HeaderChain(8).start(pkt, 0, pkt.length);
    const fields: number[] = [cur.typeFieldOff];
    while (cur.advance() === CHAIN_OK) fields.push(cur.typeFieldOff);
    expect(fields).toEqual([6, 40, 48, 56, 72]);
    expect(cur.advance()).toBe(CHAIN_END);
  });

  it("measures AH in 4-byte units (RFC 4302 §2.2) and stops at No Next Header", () => {
    const ah = new Uint8Array(16);
    ah[0] = IPV6_NO_NEXT_HEADER;
    ah[1] = 2; // (2 + 2) * 4 = 16 bytes
    const c = walkIPv6Chain(packetWith(IPV6_EXT_AH, ah));
    if (c instanceof ParseError) throw new Error(c.reason);
    expect(c.headers).toEqual([{ type: IPV6_EXT_AH, offset: 40, length: 16 }]);
    expect([c.upperLayer, c.upperOffset]).toEqual([IPV6_NO_NEXT_HEADER, 56]);
  });

  it("bounds the walk: a chain over the limit and a truncated header are errors, not reads past the end", () => {
    const many: Uint8Array[] = [];
    for (let i = 0; i < 9; i++) many.push(optionsHeader(IPV6_EXT_DESTINATION, []));
    many[8]![0] = 17;
    const long = packetWith(IPV6_EXT_DESTINATION, concat(...many));
    expect(walkIPv6Chain(long, 0, long.length, 8)).toBe(ParseError.Unsupported);
    expect(walkIPv6Chain(long, 0, long.length, 9)).not.toBeInstanceOf(ParseError);
    const cur = new IPv6HeaderChain(2).start(long, 0, long.length);
    expect([cur.advance(), cur.advance(), cur.advance()]).toEqual([CHAIN_OK, CHAIN_OK, CHAIN_TOO_LONG]);
    const hdr = optionsHeader(17, [{ type: 0x1e, data: new Uint8Array(20) }]);
    const cut = packetWith(IPV6_EXT_DESTINATION, hdr.subarray(0, hdr.length - 1));
    expect(walkIPv6Chain(cut)).toBe(ParseError.BadLength);
    expect(new IPv6HeaderChain().start(cut, 0, cut.length).advance()).toBe(CHAIN_TRUNCATED);
  });

  it("option-header check rejects options that run past the header (malformed TLVs)", () => {
    const b = optionsHeader(17, [{ type: 0x1e, data: new Uint8Array(3) }]);
    b[3] = 200; // the option claims 200 bytes of data
    expect(IPv6OptionsHeaderView.check(b)).toBe(ParseError.BadOption);
    expect(IPv6OptionsHeaderView.check(b.subarray(0, 7))).toBe(ParseError.TooShort);
  });

  it("views and the chain walk never throw on arbitrary bytes (seed 5095)", () => {
    const arbChain = fc.array(arbOption, { maxLength: 3 }).map((o) => optionsHeader(IPV6_EXT_FRAGMENT, o));
    let views = 0;
    assertProperty(fc.property(probeArb(arbChain), probeArb(arbChain), fc.nat({ max: 12 }), (p, q, limit) => {
      if (probeCheck(IPv6OptionsHeaderView.check, p)) views++;
      probeCheck(IPv6RoutingView.check, p);
      probeCheck(IPv6FragmentView.check, q);
      const w = p.defaultLen ? walkIPv6Chain(p.bytes, p.off) : walkIPv6Chain(p.bytes, p.off, p.len, limit);
      expect(w instanceof ParseError || Array.isArray(w.headers)).toBe(true);
      if (p.off >= 0 && p.off <= p.bytes.length) {
        const c = new IPv6HeaderChain(limit);
        if (p.bytes.length - p.off >= 40) {
          c.start(p.bytes, p.off, p.bytes.length);
          for (let i = 0; i < 20 && c.advance() === CHAIN_OK; i++) expect(c.off).toBeLessThanOrEqual(p.bytes.length);
        }
      }
    }), 5095, 1500);
    expect(views).toBeGreaterThan(100);
  });
});

describe("ICMPv6 (RFC 4443) and NDP (RFC 4861 §4)", () => {
  const src = Address.from("fe80::1");
  const dst = Address.from("fe80::2");

  it("round-trips messages with a checksum over the pseudo-header (seed 4443)", () => {
    assertProperty(fc.property(fc.nat({ max: 255 }), fc.nat({ max: 255 }), u32, fc.uint8Array({ maxLength: 80 }), arbIPv6,
      arbIPv6, (type, code, rest, payload, s, d) => {
        const b = new Uint8Array(8 + payload.length);
        const n = encodeIcmpv6(b, 0, { type, code, rest, payload }, s, d);
        const v = ICMPv6View.check(b, 0, n) as ICMPv6View;
        expect(v.verifyChecksum(s.bytes, 0, d.bytes, 0)).toBe(true);
        // Independent check: pseudo-header + message sums to all ones.
        expect(referenceSum([pseudoBytes(s, d, n, 58), b])).toBe(0xffff);
        const r = parseIcmpv6(v);
        expect([r.type, r.code, r.rest, Array.from(r.payload)]).toEqual([type, code, rest, Array.from(payload)]);
        expect(isIcmpv6Error(type)).toBe(type < 128);
      }), 4443, 500);
  });

  it("detects corruption and a wrong pseudo-header", () => {
    const b = new Uint8Array(16);
    encodeIcmpv6(b, 0, { type: ICMPV6_ECHO_REQUEST, code: 0, rest: (7 << 16) | 1, payload: hex("6162636465666768") }, src, dst);
    const v = ICMPv6View.check(b) as ICMPv6View;
    expect([v.ident, v.sequence]).toEqual([7, 1]);
    expect(v.verifyChecksum(src.bytes, 0, dst.bytes, 0)).toBe(true);
    expect(v.verifyChecksum(dst.bytes, 0, src.bytes, 0)).toBe(true); // the sum is symmetric in the addresses
    expect(v.verifyChecksum(src.bytes, 0, Address.from("fe80::3").bytes, 0)).toBe(false);
    b[15] ^= 1;
    expect(v.verifyChecksum(src.bytes, 0, dst.bytes, 0)).toBe(false);
  });

  it("reads Packet Too Big's MTU and Parameter Problem's 32-bit pointer", () => {
    const b = new Uint8Array(8);
    encodeIcmpv6(b, 0, { type: ICMPV6_PACKET_TOO_BIG, code: 0, rest: 1280 }, src, dst);
    expect((ICMPv6View.check(b) as ICMPv6View).mtu).toBe(1280);
    encodeIcmpv6(b, 0, { type: ICMPV6_PARAM_PROBLEM, code: 2, rest: 0x12345 }, src, dst);
    expect((ICMPv6View.check(b) as ICMPv6View).pointer).toBe(0x12345);
    expect(ICMPv6View.check(new Uint8Array(7))).toBe(ParseError.TooShort);
  });

  const arbOpt: fc.Arbitrary<NdpOption> = fc.oneof(
    arbMac.map((address) => ({ type: "source-link-address" as const, address })),
    arbMac.map((address) => ({ type: "target-link-address" as const, address })),
    fc.record({ prefixLength: fc.nat({ max: 128 }), onLink: fc.boolean(), autonomous: fc.boolean(), validLifetime: u32,
      preferredLifetime: u32, prefix: arbIPv6 }).map((r) => ({ type: "prefix-info" as const, ...r })),
    u32.map((mtu) => ({ type: "mtu" as const, mtu })),
    fc.tuple(fc.integer({ min: 6, max: 255 }), fc.nat({ max: 3 })).map(([code, units]) =>
      ({ type: "other" as const, code, data: new Uint8Array(6 + units * 8).fill(code) })),
  );
  const arbNdp: fc.Arbitrary<NdpMessage> = fc.array(arbOpt, { maxLength: 4 }).chain((options) => fc.oneof(
    fc.constant<NdpMessage>({ type: "router-solicit", options }),
    fc.record({ curHopLimit: fc.nat({ max: 255 }), managed: fc.boolean(), other: fc.boolean(), routerLifetime: u16,
      reachableTime: u32, retransTimer: u32 }).map((r): NdpMessage => ({ type: "router-advert", ...r, options })),
    arbIPv6.map((target): NdpMessage => ({ type: "neighbor-solicit", target, options })),
    fc.record({ router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: arbIPv6 })
      .map((r): NdpMessage => ({ type: "neighbor-advert", ...r, options })),
    fc.tuple(arbIPv6, arbIPv6).map(([target, destination]): NdpMessage => ({ type: "redirect", target, destination, options })),
  ));
  const norm = (m: unknown) => JSON.parse(JSON.stringify(m, (_k, v) =>
    v instanceof Address ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v));

  it("round-trips every NDP message type with its options (seed 4861)", () => {
    assertProperty(fc.property(arbNdp, (m) => {
      const b = new Uint8Array(ndpSize(m));
      expect(encodeNdp(b, 0, m, src, dst)).toBe(b.length);
      const v = NdpView.check(b);
      if (v instanceof ParseError) throw new Error(v.reason);
      expect((ICMPv6View.check(b) as ICMPv6View).verifyChecksum(src.bytes, 0, dst.bytes, 0)).toBe(true);
      expect(norm(parseNdp(v))).toEqual(norm(m));
    }), 4861, 500);
  });

  it("finds the link-layer address options and rejects zero-length or truncated options (RFC 4861 §4.6)", () => {
    const m: NdpMessage = { type: "neighbor-solicit", target: dst, options: [
      { type: "mtu", mtu: 1500 }, { type: "source-link-address", address: Uint8Array.of(2, 0, 0, 0, 0, 1) }] };
    const b = new Uint8Array(ndpSize(m));
    encodeNdp(b, 0, m, src, Address.from("ff02::1:ff00:2"));
    const v = NdpView.check(b) as NdpView;
    expect(v.type).toBe(ICMPV6_NEIGHBOR_SOLICIT);
    expect(v.targetOff).toBe(8);
    expect(Array.from(b.subarray(v.linkAddressOff(NDP_OPT_SOURCE_LINK_ADDRESS), v.linkAddressOff(NDP_OPT_SOURCE_LINK_ADDRESS) + 6)))
      .toEqual([2, 0, 0, 0, 0, 1]);
    expect(v.linkAddressOff(NDP_OPT_TARGET_LINK_ADDRESS)).toBe(-1);
    const zero = b.slice();
    zero[25] = 0; // the MTU option's length
    expect(NdpView.check(zero)).toBe(ParseError.BadOption);
    expect(NdpView.check(b, 0, b.length - 1)).toBe(ParseError.BadOption);
    expect(NdpView.check(b, 0, 23)).toBe(ParseError.TooShort);
    const echo = b.slice();
    echo[0] = ICMPV6_ECHO_REQUEST;
    expect(NdpView.check(echo)).toBe(ParseError.Unsupported);
  });

  it("ICMPv6 and NDP views never throw on arbitrary bytes (seed 7112)", () => {
    const arbBytes = arbNdp.map((m) => {
      const b = new Uint8Array(ndpSize(m));
      encodeNdp(b, 0, m, src, dst);
      return b;
    });
    let views = 0;
    assertProperty(fc.property(probeArb(arbBytes), (p) => {
      probeCheck(ICMPv6View.check, p);
      const rel = (v: NdpView, t: number) => (v.linkAddressOff(t) < 0 ? -1 : v.linkAddressOff(t) - v.off);
      if (probeCheck(NdpView.check, p, (v) => [rel(v, 1), rel(v, 2), rel(v, 5)])) views++;
    }), 7112, 1500);
    expect(views).toBeGreaterThan(100);
  });
});
