/**
 * Extension-header processing by the IPv6 layer (RFC 8200 §4): chains delivered, unknown options
 * handled by their action bits, routing headers, Parameter Problem pointers, the chain limit.
 */
import { describe, expect, it } from "vitest";
import { ok } from "./helpers/net.js";
import { channelStack6, icmp6Msg, ip6, newEp6, parse6, udp6 } from "./helpers/net6.js";
import { Address, UDP_PROTOCOL } from "../src/tcpip/address.js";
import { Err } from "../src/tcpip/errors.js";
import {
  IPV6_EXT_DESTINATION, IPV6_EXT_FRAGMENT, IPV6_EXT_HOP_BY_HOP, IPV6_EXT_ROUTING, IPV6_NO_NEXT_HEADER,
  IPV6_OPT_ROUTER_ALERT, encodeIPv6Fragment, encodeIPv6OptionsHeader, encodeIPv6Routing, ipv6OptionsHeaderSize,
} from "../src/header/ipv6-ext.js";
import { SeededRandom } from "../src/clock/random.js";

const local = Address.from("fd00::1");
const remote = Address.from("fd00::2");

function opts(nextHeader: number, options: { type: number; data: Uint8Array }[] = []): Uint8Array {
  const f = { nextHeader, options };
  const b = new Uint8Array(ipv6OptionsHeaderSize(f));
  encodeIPv6OptionsHeader(b, 0, f);
  return b;
}

function frag(nextHeader: number, off: number, more: boolean, id: number): Uint8Array {
  const b = new Uint8Array(8);
  encodeIPv6Fragment(b, 0, { nextHeader, fragmentOffset: off, more, id });
  return b;
}

function routing(nextHeader: number, routingType: number, segmentsLeft: number): Uint8Array {
  const b = new Uint8Array(24);
  encodeIPv6Routing(b, 0, { nextHeader, routingType, segmentsLeft, data: new Uint8Array(20) });
  return b;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function setup() {
  const c = channelStack6();
  const server = newEp6(c.s, UDP_PROTOCOL);
  ok(server.bind({ port: 7 }));
  return { ...c, server };
}

describe("IPv6 extension-header chains (RFC 8200 §4)", () => {
  it("delivers a datagram behind hop-by-hop + destination options + fragment headers, in two fragments", () => {
    const { link, s, server } = setup();
    const data = new Uint8Array(100);
    new SeededRandom(1).fill(data);
    const dgram = udp6(remote, local, 1234, 7, data);
    const unfrag = cat(opts(IPV6_EXT_DESTINATION, [{ type: IPV6_OPT_ROUTER_ALERT, data: new Uint8Array(2) }]),
      opts(IPV6_EXT_FRAGMENT, [{ type: 0x1e, data: new Uint8Array(3) }])); // 0x1e: unknown, action 00 (skip)
    // Fragment 2 first: reassembly does not depend on order.
    link.inject(ip6(remote, local, IPV6_EXT_HOP_BY_HOP, cat(unfrag, frag(17, 56, false, 77), dgram.subarray(56))));
    link.inject(ip6(remote, local, IPV6_EXT_HOP_BY_HOP, cat(unfrag, frag(17, 0, true, 77), dgram.subarray(0, 56))));
    const r = ok(server.read(new Uint8Array(200), { needRemoteAddr: true }));
    expect(r.count).toBe(100);
    expect(r.from?.port).toBe(1234);
    expect(s.stats.ip.reassembled).toBe(1);
    expect(link.read()).toBeNull();
  });

  it("ignores a routing header with Segments Left 0, even of type 0 (RFC 8200 §4.4)", () => {
    const { link, server } = setup();
    link.inject(ip6(remote, local, IPV6_EXT_ROUTING, cat(routing(17, 0, 0), udp6(remote, local, 1, 7, new Uint8Array([5])))));
    expect(ok(server.read(new Uint8Array(4))).count).toBe(1);
  });

  it("rejects a routing header type 0 with segments left (RFC 5095): Parameter Problem code 0 at the type field", () => {
    const { link, s, server } = setup();
    const pkt = ip6(remote, local, IPV6_EXT_ROUTING, cat(routing(17, 0, 1), udp6(remote, local, 1, 7, new Uint8Array([5]))));
    link.inject(pkt);
    expect(server.read(new Uint8Array(4))).toBe(Err.WouldBlock);
    expect(s.stats.ipv6.routingHeaderDrops).toBe(1);
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 0, 42]);
    // The error quotes the invoking packet.
    expect(Array.from(out.icmp!.payload())).toEqual(Array.from(pkt));
  });

  it("acts on an unknown option by its two high bits (RFC 8200 §4.2)", () => {
    const { link, s, server } = setup();
    const withOption = (type: number, dst = local) => ip6(remote, dst, IPV6_EXT_DESTINATION,
      cat(opts(17, [{ type: IPV6_OPT_ROUTER_ALERT, data: new Uint8Array(2) }, { type, data: new Uint8Array(2) }]),
        udp6(remote, dst, 1, 7, new Uint8Array([1]))));
    link.inject(withOption(0x3e)); // 00: skip it
    expect(ok(server.read(new Uint8Array(4))).count).toBe(1);
    link.inject(withOption(0x7e)); // 01: discard silently
    expect(link.read()).toBeNull();
    link.inject(withOption(0xbe)); // 10: discard, Parameter Problem code 2 pointing at the option
    let out = parse6(link.read()!);
    // fixed header 40 + next header and length 2 + router alert (2 + 2) = option at 46
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 2, 46]);
    link.inject(withOption(0xfe)); // 11: the same, to a unicast destination
    out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 2, 46]);
    expect(server.read(new Uint8Array(4))).toBe(Err.WouldBlock);
    expect(s.stats.ipv6.unknownOptionDrops).toBe(3);
  });

  it("sends Parameter Problem for action 10 even to a multicast destination, but not for action 11 (RFC 4443 §2.4(e.3))", () => {
    const { link, s } = setup();
    const all = Address.ALL_NODES6;
    const mk = (type: number) => ip6(remote, all, IPV6_EXT_DESTINATION,
      cat(opts(17, [{ type, data: new Uint8Array(4) }]), udp6(remote, all, 1, 7, new Uint8Array([1]))));
    link.inject(mk(0xfe));
    expect(link.read()).toBeNull();
    link.inject(mk(0xbe));
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 2, 42]);
    expect(out.ip.src().toString()).toBe("fd00::1"); // never from the group
    expect(s.stats.ipv6.unknownOptionDrops).toBe(2);
  });

  it("answers a Hop-by-Hop header that is not first with Parameter Problem code 1 (RFC 8200 §4.1)", () => {
    const { link, s } = setup();
    link.inject(ip6(remote, local, IPV6_EXT_DESTINATION, cat(opts(IPV6_EXT_HOP_BY_HOP), opts(17),
      udp6(remote, local, 1, 7, new Uint8Array([1])))));
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 1, 40]); // the Next Header field naming it
    expect(s.stats.ipv6.unknownNextHeader).toBe(1);
  });

  it("answers an unknown upper-layer protocol with Parameter Problem code 1 at its Next Header field", () => {
    const { link, s } = setup();
    link.inject(ip6(remote, local, IPV6_EXT_DESTINATION, cat(opts(253), new Uint8Array(8))));
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 1, 40]);
    link.inject(ip6(remote, local, 99, new Uint8Array(8)));
    expect(parse6(link.read()!).icmp?.pointer).toBe(6); // in the fixed header
    expect(s.stats.unknownProtocolRcvdPackets).toBe(2);
  });

  it("delivers nothing after No Next Header and answers nothing", () => {
    const { link, s } = setup();
    link.inject(ip6(remote, local, IPV6_EXT_DESTINATION, opts(IPV6_NO_NEXT_HEADER)));
    expect(link.read()).toBeNull();
    expect(s.stats.malformedRcvdPackets).toBe(0);
  });

  it("drops and counts a chain longer than the limit, and one that runs past the packet, never crashing", () => {
    const { link, s, server } = setup();
    const chain: Uint8Array[] = [];
    for (let i = 0; i < 9; i++) chain.push(opts(i === 8 ? 17 : IPV6_EXT_DESTINATION));
    link.inject(ip6(remote, local, IPV6_EXT_DESTINATION, cat(...chain, udp6(remote, local, 1, 7, new Uint8Array([1])))));
    expect(s.stats.ipv6.extensionChainTooLong).toBe(1);
    expect(server.read(new Uint8Array(4))).toBe(Err.WouldBlock);
    // Eight headers are within the default limit.
    link.inject(ip6(remote, local, IPV6_EXT_DESTINATION, cat(...chain.slice(1), udp6(remote, local, 1, 7, new Uint8Array([1])))));
    expect(ok(server.read(new Uint8Array(4))).count).toBe(1);
    const big = opts(17, [{ type: 0x1e, data: new Uint8Array(30) }]);
    link.inject(ip6(remote, local, IPV6_EXT_DESTINATION, big.subarray(0, 16)));
    expect(s.stats.ipv6.malformedExtensionHeaders).toBe(1);
    expect(link.read()).toBeNull();
  });

  it("drops a first fragment without the whole header chain, with Parameter Problem code 3 (RFC 7112 §5)", () => {
    const { link, s } = setup();
    const dst = opts(17, [{ type: 0x1e, data: new Uint8Array(60) }]); // 64 bytes; only 16 in the fragment
    link.inject(ip6(remote, local, IPV6_EXT_FRAGMENT, cat(frag(IPV6_EXT_DESTINATION, 0, true, 9), dst.subarray(0, 16))));
    expect(s.stats.ipv6.incompleteFirstFragments).toBe(1);
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code]).toEqual([4, 3]);
  });

  it("never answers an ICMPv6 error with an error (RFC 4443 §2.4(e.1))", () => {
    const { link } = setup();
    const err = icmp6Msg(remote, local, 1, 4, 0, new Uint8Array(48));
    link.inject(ip6(remote, local, IPV6_EXT_DESTINATION, cat(opts(58, [{ type: 0xbe, data: new Uint8Array(2) }]), err)));
    expect(link.read()).toBeNull();
  });
});
