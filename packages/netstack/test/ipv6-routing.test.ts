/**
 * The IPv6 twins of stack-routing.test.ts, plus what only IPv6 has: source address selection
 * (RFC 6724), link-local zones, and path MTU discovery through Packet Too Big (RFC 8201).
 */
import { describe, expect, it } from "vitest";
import { ok } from "./helpers/net.js";
import { channelStack6, icmp6Msg, ip6, makePair6, newEp6, parse6, udp6 } from "./helpers/net6.js";
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, Subnet, UDP_PROTOCOL, type FullAddress } from "../src/tcpip/address.js";
import { Err, isError } from "../src/tcpip/errors.js";
import { SeededRandom } from "../src/clock/random.js";
import { ManualClock } from "../src/clock/clock.js";
import { LoopbackEndpoint } from "../src/link/loopback.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { EthernetEndpoint } from "../src/link/ethernet.js";
import { Stack } from "../src/stack/stack.js";
import { ipv6 } from "../src/network/ipv6/index.js";
import { udp } from "../src/transport/udp/index.js";
import { EthernetView } from "../src/header/ethernet.js";
import { NdpView, parseNdp } from "../src/header/icmpv6.js";
import { isParseError } from "../src/header/parse.js";
import { selectSourceAddress, policyLabel } from "../src/stack/source-select.js";
import type { Route } from "../src/stack/registration.js";

const addr6 = (s: string, port: number): FullAddress => ({ addr: Address.from(s), port });

function route(s: Stack, remote: string, local: string | null = null, nic = 0): Route {
  const r = s.findRoute(nic, local ? Address.from(local) : null, Address.from(remote), IPV6_PROTOCOL);
  if (isError(r)) throw new Error(`no route: ${r.name}`);
  return r;
}

describe("IPv6 routes", () => {
  it("chooses the longest matching prefix, falls back to ::/0, and sizes mtu() as link MTU - 40", () => {
    const clock = new ManualClock();
    const s = new Stack({ networkProtocols: [ipv6], transportProtocols: [udp], clock, random: new SeededRandom(1) });
    s.createNic(1, new ChannelEndpoint({ mtu: 1500 }));
    s.createNic(2, new ChannelEndpoint({ mtu: 9000 }));
    s.addAddress(1, "2001:db8:1::1/64");
    s.addAddress(2, "2001:db8:2::1/48");
    s.addRoute({ destination: "::/0", gateway: "fe80::1", nic: 1 });
    s.addRoute({ destination: "2001:db8:2::/48", nic: 2 });
    s.addRoute({ destination: "2001:db8:1::/64", nic: 1 });
    const r1 = route(s, "2001:db8:2:5::9");
    const r2 = route(s, "2606:4700::1111");
    const r3 = route(s, "2001:db8:1::9");
    expect([r1.nicId, r1.localAddress.toString(), r1.nextHop]).toEqual([2, "2001:db8:2::1", null]);
    expect(r1.mtu()).toBe(9000 - 40);
    // The source follows the destination (RFC 6724), not the link-local gateway.
    expect([r2.nicId, r2.nextHop?.toString(), r2.localAddress.toString()]).toEqual([1, "fe80::1", "2001:db8:1::1"]);
    expect([r3.nicId, r3.nextHop, r3.mtu()]).toEqual([1, null, 1460]);
    s.removeRoute("::/0");
    expect(s.findRoute(0, null, Address.from("2606:4700::1111"), IPV6_PROTOCOL)).toBe(Err.NoRoute);
    expect(s.findRoute(0, Address.from("2001:db8:9::9"), Address.from("2001:db8:1::9"), IPV6_PROTOCOL)).toBe(Err.BadLocalAddress);
    expect(s.findRoute(0, null, Address.from("10.0.0.1"), IPV6_PROTOCOL)).toBe(Err.AddressFamilyNotSupported);
  });

  it("resolves the gateway's MAC (not the destination's) with a solicitation to its solicited-node group", () => {
    const clock = new ManualClock();
    const wire = new ChannelEndpoint({ mtu: 1500, maxHeaderLength: 14 });
    const s = new Stack({ networkProtocols: [ipv6], transportProtocols: [udp], clock, random: new SeededRandom(1) });
    s.createNic(1, new EthernetEndpoint(wire, { mac: "02:00:00:00:00:01" }));
    s.addAddress(1, "2001:db8::1/64", { noDad: true });
    s.addRoute({ destination: "::/0", gateway: "fe80::1", nic: 1 });
    clock.advance(1000); // the link-local address finishes DAD
    wire.drain();
    const ep = newEp6(s, UDP_PROTOCOL);
    expect(ep.write(new Uint8Array(4), { to: addr6("2001:db8:5::7", 53) })).toBe(4);
    const frame = wire.read()!;
    const eth = EthernetView.check(frame);
    if (isParseError(eth)) throw new Error("bad frame");
    expect(eth.type).toBe(0x86dd);
    expect(Array.from(eth.dst())).toEqual([0x33, 0x33, 0xff, 0x00, 0x00, 0x01]); // RFC 2464 §7
    const out = parse6(frame.subarray(14));
    expect(out.ip.dst().toString()).toBe("ff02::1:ff00:1");
    expect(out.ip.hopLimit).toBe(255);
    // The solicitation's source is the packet's own source address (RFC 4861 §7.2.2).
    expect(out.ip.src().toString()).toBe("2001:db8::1");
    const ns = parseNdp(NdpView.check(frame, 14 + out.upperOff, out.ip.totalLength - out.upperOff) as NdpView);
    expect(ns.type).toBe("neighbor-solicit");
    if (ns.type !== "neighbor-solicit") return;
    expect(ns.target.toString()).toBe("fe80::1");
    expect(ns.options).toEqual([{ type: "source-link-address", address: Uint8Array.of(2, 0, 0, 0, 0, 1) }]);
  });

  it("needs a zone for link-local destinations: the NIC id, or the NIC of a link-local source", () => {
    const p = makePair6();
    const llA = p.a.nic(1)!.addresses().find((x) => x.address.isLinkLocal)!.address;
    expect(p.a.findRoute(0, null, Address.from("fe80::99"), IPV6_PROTOCOL)).toBe(Err.NoRoute);
    const r = route(p.a, "fe80::99", null, 1);
    expect([r.nicId, r.localAddress.toString(), r.nextHop]).toEqual([1, llA.toString(), null]);
    expect(route(p.a, "fe80::99", llA.toString()).nicId).toBe(1);
    expect(p.a.nicIdForZone("a0")).toBe(1);
    expect(p.a.nicIdForZone("1")).toBe(1);
    expect(p.a.nicIdForZone("eth9")).toBe(0);
    const scoped = Address.parseScoped("fe80::99%a0")!;
    expect([scoped.addr.toString(), scoped.zone]).toEqual(["fe80::99", "a0"]);
  });
});

describe("source address selection (RFC 6724 §5)", () => {
  const sub = (s: string) => Subnet.parse(s);
  const pick = (cands: string[], dst: string) => selectSourceAddress(cands.map(sub), Address.from(dst))?.toString();

  it("rule 1: prefers the destination itself", () => {
    expect(pick(["2001:db8::1/64", "2001:db8::2/64"], "2001:db8::2")).toBe("2001:db8::2");
  });
  it("rule 2: prefers the smallest scope that still reaches the destination", () => {
    expect(pick(["2001:db8::1/64", "fe80::1/64"], "fe80::9")).toBe("fe80::1");
    expect(pick(["fe80::1/64", "2001:db8::1/64"], "2606:4700::1")).toBe("2001:db8::1");
    expect(pick(["fe80::1/64"], "2606:4700::1")).toBe("fe80::1"); // better than nothing
  });
  it("rule 6: prefers a matching label (ULA with ULA)", () => {
    expect(policyLabel(Address.from("fd00::1"))).toBe(13);
    expect(pick(["2001:db8::1/64", "fd00::1/64"], "fd12::7")).toBe("fd00::1");
  });
  it("rule 8: prefers the longest matching prefix, capped at the candidate's prefix length", () => {
    expect(pick(["2001:db8:1::1/64", "2001:db8:ff::1/64"], "2001:db8:ff::9")).toBe("2001:db8:ff::1");
    expect(pick(["2001:db8::1/16", "2001:db9::1/64"], "2001:db8::9")).toBe("2001:db9::1");
  });
  it("never picks a tentative or duplicate address", () => {
    const p = makePair6({ ethernet: true, noSettle: true });
    expect(p.a.nic(1)!.addressState(Address.from("fd00::1"))).toBe("tentative");
    expect(p.a.findRoute(0, null, Address.from("fd00::2"), IPV6_PROTOCOL)).toBe(Err.BadLocalAddress);
    p.run(1000, 100);
    expect(route(p.a, "fd00::2").localAddress.toString()).toBe("fd00::1");
  });
});

describe("IPv6 loopback", () => {
  it("delivers datagrams to the stack's own addresses through a loopback NIC", async () => {
    const s = new Stack({ networkProtocols: [ipv6], transportProtocols: [udp], random: new SeededRandom(1) });
    s.createNic(1, new LoopbackEndpoint());
    s.addAddress(1, "::1/128");
    s.addRoute({ destination: "::1/128", nic: 1 });
    expect(s.nic(1)!.addresses().map(String)).toEqual(["::1/128"]); // no link-local on loopback
    const server = newEp6(s, UDP_PROTOCOL);
    ok(server.bind({ addr: Address.LOOPBACK6, port: 5353 }));
    const client = newEp6(s, UDP_PROTOCOL);
    expect(client.write(new Uint8Array([9, 8, 7]), { to: addr6("::1", 5353) })).toBe(3);
    for (let i = 0; i < 10 && server.readiness(1) === 0; i++) await new Promise((r) => setImmediate(r));
    const r = ok(server.read(new Uint8Array(8), { needRemoteAddr: true }));
    expect(r.count).toBe(3);
    expect(r.from?.addr?.toString()).toBe("::1");
    s.close();
  });

  it("drops ::1 arriving from a wire (RFC 4291 §2.5.3)", () => {
    const { link, s, local } = channelStack6();
    const lo = Address.LOOPBACK6;
    link.inject(ip6(lo, local, 58, icmp6Msg(lo, local, 128, 0, 1, new Uint8Array(4))));
    expect(s.stats.ip.invalidSourceAddressesReceived).toBe(1);
    expect(link.read()).toBeNull();
  });
});

describe("ICMPv6 error rate limiting (RFC 4443 §2.4(f))", () => {
  it("sends at most the burst (50) of port-unreachables at once, then refills at 1000/s like Linux", () => {
    const p = makePair6();
    const client = newEp6(p.a, UDP_PROTOCOL);
    for (let i = 0; i < 200; i++) client.write(new Uint8Array(1), { to: addr6("fd00::2", 9) });
    p.pump();
    expect(p.b.stats.udp.unknownPortErrors).toBe(200);
    expect(p.b.stats.icmp.v6.sent.dstUnreachable).toBe(50);
    expect(p.b.stats.icmp.v6.sent.rateLimited).toBe(150);
    p.clock.advance(10);
    for (let i = 0; i < 20; i++) client.write(new Uint8Array(1), { to: addr6("fd00::2", 9) });
    p.pump();
    expect(p.b.stats.icmp.v6.sent.dstUnreachable).toBe(60);
  });
});

describe("NIC state (IPv6)", () => {
  it("drops and counts what arrives on a disabled NIC, and refuses to send through it", () => {
    const p = makePair6();
    const server = newEp6(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 7 }));
    p.b.enableNic(1, false);
    const client = newEp6(p.a, UDP_PROTOCOL);
    client.write(new Uint8Array(1), { to: addr6("fd00::2", 7) });
    p.pump();
    expect(p.b.nic(1)!.stats.disabledRx).toBe(1);
    expect(server.read(new Uint8Array(4))).toBe(Err.WouldBlock);
    expect(server.write(new Uint8Array(1), { to: addr6("fd00::1", 7) })).toBe(Err.NoRoute);
  });
});

describe("SO_REUSEPORT (IPv6)", () => {
  it("spreads flows over a group of endpoints bound to the same port, each flow to one endpoint", () => {
    const p = makePair6();
    const servers = [0, 1, 2, 3].map(() => {
      const e = newEp6(p.b, UDP_PROTOCOL);
      ok(e.setSockOpt("reusePort", true));
      ok(e.bind({ port: 8080 }));
      return e;
    });
    const counts = new Map<number, number>();
    for (let i = 0; i < 64; i++) {
      const c = newEp6(p.a, UDP_PROTOCOL);
      c.write(new Uint8Array([i]), { to: addr6("fd00::2", 8080) });
      c.write(new Uint8Array([i]), { to: addr6("fd00::2", 8080) });
      p.pump();
      const hit = servers.findIndex((s) => s.getSockOpt("receiveQueueSize") === 1);
      expect(hit).toBeGreaterThanOrEqual(0);
      const s = servers[hit]!;
      expect(ok(s.read(new Uint8Array(2))).count).toBe(1);
      expect(ok(s.read(new Uint8Array(2))).count).toBe(1);
      counts.set(hit, (counts.get(hit) ?? 0) + 1);
      c.close();
    }
    expect(counts.size).toBeGreaterThan(1);
  });
});

describe("path MTU discovery (RFC 8201)", () => {
  /** A Packet Too Big from a router (fd00::fe) about a packet the stack sent. */
  function packetTooBig(sent: Uint8Array, mtu: number, from = Address.from("fd00::fe")): Uint8Array {
    const dst = Address.from("fd00::1");
    return ip6(from, dst, 58, icmp6Msg(from, dst, 2, 0, mtu, sent.subarray(0, Math.min(sent.length, 1232))));
  }

  it("lowers the path MTU for the destination, so route.mtu() and fragmentation follow, and expires it after 10 min", () => {
    const { clock, link, s } = channelStack6();
    const ep = newEp6(s, UDP_PROTOCOL);
    ok(ep.connect(addr6("fd00::2", 9)));
    const r0 = route(s, "fd00::2");
    expect(r0.mtu()).toBe(1460);
    ok(ep.write(new Uint8Array(1400)));
    const sent = link.read()!;
    expect(sent.length).toBe(40 + 8 + 1400);
    link.inject(packetTooBig(sent, 1300));
    expect(s.stats.icmp.v6.received.packetTooBig).toBe(1);
    expect(r0.mtu()).toBe(1300 - 40); // the cached route sees the new path MTU
    expect(ep.read(new Uint8Array(4))).toBe(Err.MessageTooLong); // EMSGSIZE on the connected socket, once
    ok(ep.write(new Uint8Array(1400)));
    const frags = link.drain().map(parse6);
    expect(frags.length).toBe(2);
    expect(frags.every((f) => f.ip.totalLength <= 1300)).toBe(true);
    expect(frags[0]!.ip.nextHeader).toBe(44);
    // Another host's path is unaffected.
    expect(route(s, "fd00::3").mtu()).toBe(1460);
    clock.advance(600_001);
    expect(r0.mtu()).toBe(1460);
  });

  it("never goes below the IPv6 minimum MTU of 1280 (RFC 8201 §4)", () => {
    const { link, s } = channelStack6();
    const ep = newEp6(s, UDP_PROTOCOL);
    ok(ep.write(new Uint8Array(1400), { to: addr6("fd00::2", 9) }));
    link.inject(packetTooBig(link.read()!, 576));
    expect(route(s, "fd00::2").mtu()).toBe(1280 - 40);
  });

  it("keeps IPv4 route MTUs at link MTU - 20 (the fixed header of each family)", () => {
    const { s } = channelStack6();
    const r = s.findRoute(0, null, Address.from("10.0.0.2"), IPV4_PROTOCOL);
    if (isError(r)) throw new Error("no route");
    expect(r.mtu()).toBe(1480);
  });

  it("answers nothing about a Packet Too Big that quotes a packet we did not send, but still records it", () => {
    const { link, s } = channelStack6();
    const fake = ip6(Address.from("fd00::1"), Address.from("fd00::2"), 17,
      udp6(Address.from("fd00::1"), Address.from("fd00::2"), 1, 2, new Uint8Array(8)));
    link.inject(packetTooBig(fake, 1400));
    expect(link.read()).toBeNull();
    expect(route(s, "fd00::2").mtu()).toBe(1360);
  });
});
