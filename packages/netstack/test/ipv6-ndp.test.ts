/**
 * Neighbor Discovery (RFC 4861) and duplicate address detection / link-local addresses
 * (RFC 4862): neighbor cache states over virtual time, advertisement rules, DAD outcomes.
 */
import { describe, expect, it } from "vitest";
import { ok } from "./helpers/net.js";
import { MAC_B, channelStack6, icmp6Msg, ip6, makePair6, newEp6, parse6 } from "./helpers/net6.js";
import { Address, IPV6_PROTOCOL, UDP_PROTOCOL, type FullAddress } from "../src/tcpip/address.js";
import { Err } from "../src/tcpip/errors.js";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { EthernetEndpoint } from "../src/link/ethernet.js";
import { Stack } from "../src/stack/stack.js";
import { ipv6With } from "../src/network/ipv6/index.js";
import { udp } from "../src/transport/udp/index.js";
import { NeighborCache, NeighborState, type NeighborResolver } from "../src/stack/neighbor.js";
import { encodeNdp, ndpSize, type NdpMessage } from "../src/header/icmpv6.js";
import { parseMac } from "../src/header/ethernet.js";
import type { PacketBuffer } from "../src/buffer/packet.js";

const addr6 = (s: string, port: number): FullAddress => ({ addr: Address.from(s), port });
const B = Address.from("fd00::2");

function send(p: ReturnType<typeof makePair6>, bytes = 1): void {
  const ep = newEp6(p.a, UDP_PROTOCOL);
  ok(ep.write(new Uint8Array(bytes), { to: addr6("fd00::2", 9) }));
  ep.close();
}

describe("neighbor cache states over virtual time (RFC 4861 §7.3.2-7.3.3)", () => {
  it("goes INCOMPLETE → REACHABLE → STALE → DELAY → PROBE → REACHABLE", () => {
    const p = makePair6({ ethernet: true });
    const cache = p.a.nic(1)!.neighborCache(IPV6_PROTOCOL);
    // RFC 4861 §6.3.2: ReachableTime is random in [0.5, 1.5) × 30 s.
    expect(cache.reachableMs).toBeGreaterThanOrEqual(15_000);
    expect(cache.reachableMs).toBeLessThan(45_000);
    send(p);
    expect(cache.get(B)?.state).toBe(NeighborState.Incomplete);
    p.pump();
    expect(cache.get(B)?.state).toBe(NeighborState.Reachable);
    const t0 = p.clock.now();
    p.clock.advance(cache.reachableMs - 1);
    expect(cache.get(B)?.state).toBe(NeighborState.Reachable);
    p.clock.advance(1);
    expect(cache.get(B)?.state).toBe(NeighborState.Stale);
    expect(p.clock.now() - t0).toBe(cache.reachableMs);
    const nsBefore = p.a.stats.icmp.v6.sent.neighborSolicit;
    const rxBefore = p.b.stats.udp.unknownPortErrors;
    send(p); // the first packet to a STALE neighbor: sent at once, and DELAY
    expect(cache.get(B)?.state).toBe(NeighborState.Delay);
    p.pump();
    expect(p.b.stats.udp.unknownPortErrors).toBe(rxBefore + 1); // it went out with the cached address
    expect(p.a.stats.icmp.v6.sent.neighborSolicit).toBe(nsBefore); // no probe yet
    p.clock.advance(4999);
    expect(cache.get(B)?.state).toBe(NeighborState.Delay);
    // DELAY_FIRST_PROBE_TIME: PROBE, with a unicast solicitation. Hold b's answer back to see it.
    const naBefore = p.b.stats.icmp.v6.sent.neighborAdvert;
    const nsSeenByB = p.b.stats.icmp.v6.received.neighborSolicit;
    p.b.enableNic(1, false);
    p.clock.advance(1);
    expect(cache.get(B)?.state).toBe(NeighborState.Probe);
    expect(p.a.stats.icmp.v6.sent.neighborSolicit).toBe(nsBefore + 1);
    p.b.enableNic(1, true);
    p.clock.advance(1000); // the second probe is answered
    expect(p.a.stats.icmp.v6.sent.neighborSolicit).toBe(nsBefore + 2);
    expect(p.b.stats.icmp.v6.received.neighborSolicit).toBe(nsSeenByB + 1);
    expect(p.b.stats.icmp.v6.sent.neighborAdvert).toBe(naBefore + 1);
    expect(cache.get(B)?.state).toBe(NeighborState.Reachable); // the solicited advertisement confirms
    expect(cache.get(B)?.linkAddress).toEqual(parseMac(MAC_B));
  });

  it("deletes an entry whose 3 unicast probes go unanswered, and resolves afresh on the next packet", () => {
    const p = makePair6({ ethernet: true });
    const cache = p.a.nic(1)!.neighborCache(IPV6_PROTOCOL);
    send(p);
    p.pump();
    p.b.enableNic(1, false); // b stops answering
    p.clock.advance(cache.reachableMs);
    send(p);
    const ns0 = p.a.stats.icmp.v6.sent.neighborSolicit;
    p.run(5000, 100);
    expect(cache.get(B)?.state).toBe(NeighborState.Probe);
    p.run(2500, 100);
    expect(p.a.stats.icmp.v6.sent.neighborSolicit - ns0).toBe(3);
    expect(cache.get(B)?.state).toBe(NeighborState.Probe);
    p.run(600, 100);
    expect(cache.get(B)).toBeUndefined();
    p.b.enableNic(1, true);
    send(p);
    expect(cache.get(B)?.state).toBe(NeighborState.Incomplete);
    p.pump();
    expect(cache.get(B)?.state).toBe(NeighborState.Reachable);
  });

  it("returns from DELAY to REACHABLE on an upper-layer confirmation without probing (RFC 4861 §7.3.1)", () => {
    const p = makePair6({ ethernet: true });
    const cache = p.a.nic(1)!.neighborCache(IPV6_PROTOCOL);
    send(p);
    p.pump();
    p.clock.advance(cache.reachableMs);
    send(p);
    expect(cache.get(B)?.state).toBe(NeighborState.Delay);
    cache.confirmReachable(B);
    const ns0 = p.a.stats.icmp.v6.sent.neighborSolicit;
    p.run(6000, 500);
    expect(cache.get(B)?.state).toBe(NeighborState.Reachable);
    expect(p.a.stats.icmp.v6.sent.neighborSolicit).toBe(ns0);
  });
});

describe("neighbor cache update rules (RFC 4861 §7.2.3, §7.2.5)", () => {
  const X = Address.from("fe80::9");
  const mac1 = Uint8Array.of(2, 0, 0, 0, 0, 1);
  const mac2 = Uint8Array.of(2, 0, 0, 0, 0, 2);

  function cache() {
    const clock = new ManualClock();
    const requests: [string, string | null][] = [];
    const flushed: Uint8Array[] = [];
    const resolver: NeighborResolver = {
      sendRequest: (t, _l, lla) => requests.push([t.toString(), lla ? Array.from(lla).join(":") : null]),
    };
    const c = new NeighborCache(clock, () => resolver, { flush: (_p, mac) => flushed.push(mac), failed: () => {} });
    return { clock, c, requests, flushed };
  }

  it("a solicitation from a new neighbor creates a STALE entry; a different address replaces it, STALE", () => {
    const { c } = cache();
    c.handleSolicitation(X, mac1);
    expect([c.get(X)?.state, c.get(X)?.linkAddress]).toEqual([NeighborState.Stale, mac1]);
    c.handleAdvertisement(X, mac1, true, false);
    expect(c.get(X)?.state).toBe(NeighborState.Reachable);
    c.handleSolicitation(X, mac1); // same address: no change
    expect(c.get(X)?.state).toBe(NeighborState.Reachable);
    c.handleSolicitation(X, mac2);
    expect([c.get(X)?.state, c.get(X)?.linkAddress]).toEqual([NeighborState.Stale, mac2]);
  });

  it("an advertisement for an unknown neighbor is ignored; for an INCOMPLETE one it sends the queue", () => {
    const { c, flushed } = cache();
    expect(c.handleAdvertisement(X, mac1, true, true)).toBe(false);
    expect(c.get(X)).toBeUndefined();
    expect(c.resolve(X, null, {} as PacketBuffer)).toBeNull();
    expect(c.get(X)?.state).toBe(NeighborState.Incomplete);
    c.handleAdvertisement(X, null, true, true); // no target link-layer address: nothing to record
    expect(c.get(X)?.state).toBe(NeighborState.Incomplete);
    c.handleAdvertisement(X, mac1, false, false); // unsolicited: STALE, and the queued packet goes (DELAY)
    expect(flushed).toEqual([mac1]);
    expect(c.get(X)?.state).toBe(NeighborState.Delay);
    c.clear();
  });

  it("a non-overriding advertisement of another address only downgrades REACHABLE to STALE", () => {
    const { c } = cache();
    c.confirm(X, mac1, true);
    c.handleAdvertisement(X, mac2, true, false);
    expect([c.get(X)?.state, c.get(X)?.linkAddress]).toEqual([NeighborState.Stale, mac1]);
    c.handleAdvertisement(X, mac2, false, true); // overriding, unsolicited: update, STALE
    expect([c.get(X)?.state, c.get(X)?.linkAddress]).toEqual([NeighborState.Stale, mac2]);
    c.handleAdvertisement(X, mac2, true, true); // solicited: REACHABLE
    expect(c.get(X)?.state).toBe(NeighborState.Reachable);
  });

  it("retries INCOMPLETE by multicast and PROBE by unicast to the cached address", () => {
    const { clock, c, requests } = cache();
    c.resolve(X, null, null);
    clock.advance(1000);
    expect(requests).toEqual([["fe80::9", null], ["fe80::9", null]]);
    c.confirm(X, mac1, false);
    clock.advance(c.reachableMs);
    c.resolve(X, null, null);
    clock.advance(c.delayFirstProbeMs);
    expect(requests[2]).toEqual(["fe80::9", "2:0:0:0:0:1"]);
    c.clear();
    expect(clock.pendingTimers()).toBe(0);
  });

  it("static entries never change", () => {
    const { c } = cache();
    c.addStatic(X, mac1);
    c.handleAdvertisement(X, mac2, true, true);
    c.handleSolicitation(X, mac2);
    expect([c.get(X)?.state, c.get(X)?.linkAddress]).toEqual([NeighborState.Static, mac1]);
  });
});

describe("duplicate address detection (RFC 4862 §5.4)", () => {
  it("keeps a new address tentative for one RetransTimer, dropping packets to it, then makes it usable", () => {
    const p = makePair6({ ethernet: true });
    expect(p.a.addAddress(1, "fd00::11/64")).toBeNull();
    const nic = p.a.nic(1)!;
    expect(nic.addressState(Address.from("fd00::11"))).toBe("tentative");
    const ep = newEp6(p.a, UDP_PROTOCOL);
    expect(ep.bind({ addr: Address.from("fd00::11"), port: 1 })).toBe(Err.BadLocalAddress);
    expect(p.a.stats.ndp.dadStarted).toBe(3); // link-local, fd00::1, fd00::11
    p.run(999, 111);
    expect(nic.addressState(Address.from("fd00::11"))).toBe("tentative");
    p.run(1, 1);
    expect(nic.addressState(Address.from("fd00::11"))).toBe("preferred");
    expect(p.a.stats.ndp.dadSucceeded).toBe(3);
    expect(ep.bind({ addr: Address.from("fd00::11"), port: 1 })).toBeNull();
  });

  it("detects a duplicate: the owner answers the probe, and the address is never used", () => {
    const p = makePair6({ ethernet: true });
    expect(p.b.addAddress(1, "fd00::1/64")).toBeNull(); // a already owns fd00::1
    p.run(1500, 100);
    expect(p.b.nic(1)!.addressState(Address.from("fd00::1"))).toBe("duplicate");
    expect(p.b.stats.ndp.dadFailed).toBe(1);
    expect(p.a.stats.icmp.v6.sent.neighborAdvert).toBe(1); // to all-nodes, S clear
    // a keeps its address; b cannot use it.
    expect(p.a.nic(1)!.addressState(Address.from("fd00::1"))).toBe("preferred");
    const ep = newEp6(p.b, UDP_PROTOCOL);
    expect(ep.bind({ addr: Address.from("fd00::1"), port: 1 })).toBe(Err.BadLocalAddress);
    expect(p.b.findRoute(0, null, Address.from("fd00::9"), IPV6_PROTOCOL)).not.toHaveProperty("localAddress.key",
      Address.from("fd00::1").key);
  });

  it("detects a duplicate when both nodes probe the same address at once (§5.4.3)", () => {
    const p = makePair6({ ethernet: true });
    p.a.addAddress(1, "fd00::7/64");
    p.b.addAddress(1, "fd00::7/64");
    p.run(1500, 100);
    expect(p.a.nic(1)!.addressState(Address.from("fd00::7"))).toBe("duplicate");
    expect(p.b.nic(1)!.addressState(Address.from("fd00::7"))).toBe("duplicate");
  });

  it("can be turned off per address (nodad) or per stack (dadTransmits 0), and is skipped on links without link addresses", () => {
    const p = makePair6({ ethernet: true });
    p.a.addAddress(1, "fd00::12/64", { noDad: true });
    expect(p.a.nic(1)!.addressState(Address.from("fd00::12"))).toBe("preferred");
    const q = makePair6({ ethernet: true, noSettle: true, ipv6: { dadTransmits: 0 } });
    expect(q.a.nic(1)!.addressState(Address.from("fd00::1"))).toBe("preferred");
    expect(q.a.stats.ndp.dadStarted).toBe(0);
    const r = makePair6({ noSettle: true });
    expect(r.a.nic(1)!.addressState(Address.from("fd00::1"))).toBe("preferred");
    expect(r.a.stats.ndp.dadStarted).toBe(0);
  });

  it("sends DAD solicitations from the unspecified address to the solicited-node group, with no options", () => {
    const clock = new ManualClock();
    const wire = new ChannelEndpoint({ mtu: 1500, maxHeaderLength: 14 });
    const s = new Stack({ networkProtocols: [ipv6With({ linkLocal: "none", dadTransmits: 2 })], transportProtocols: [udp],
      clock, random: new SeededRandom(1) });
    s.createNic(1, new EthernetEndpoint(wire, { mac: "02:00:00:00:00:01" }));
    s.addAddress(1, "2001:db8::abcd/64");
    const first = parse6(wire.read()!.subarray(14));
    expect([first.ip.src().toString(), first.ip.dst().toString(), first.ip.hopLimit]).toEqual(["::", "ff02::1:ff00:abcd", 255]);
    expect(first.icmp?.len).toBe(24); // type, code, checksum, reserved, target: no source link-layer option
    clock.advance(1000);
    expect(wire.pending).toBe(1); // DupAddrDetectTransmits = 2
    clock.advance(1000);
    expect(s.nic(1)!.addressState(Address.from("2001:db8::abcd"))).toBe("preferred");
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe("link-local addresses and groups (RFC 4862 §5.3, RFC 4291)", () => {
  it("forms fe80::/64 from the MAC's modified EUI-64 (RFC 4291 Appendix A)", () => {
    expect(Address.linkLocalFromMac(parseMac("34:56:78:9a:bc:de")!).toString()).toBe("fe80::3656:78ff:fe9a:bcde");
    const p = makePair6({ ethernet: true });
    expect(p.a.nic(1)!.addresses().map(String)).toContain("fe80::ff:fe00:a/64");
  });

  it("forms a stable opaque identifier (RFC 7217) on links without a MAC, the same for the same secret and NIC", () => {
    const mk = (name: string, secret: number) => {
      const s = new Stack({ networkProtocols: [ipv6With({ stableSecret: new Uint8Array(16).fill(secret) })],
        transportProtocols: [], clock: new ManualClock(), random: new SeededRandom(secret) });
      s.createNic(1, new ChannelEndpoint({ mtu: 1500 }), { name });
      return s.nic(1)!.addresses()[0]!;
    };
    const a = mk("tun0", 1);
    expect(a.prefixLen).toBe(64);
    expect(a.address.isLinkLocal).toBe(true);
    expect(mk("tun0", 1).toString()).toBe(a.toString());
    expect(mk("tun1", 1).toString()).not.toBe(a.toString());
    expect(mk("tun0", 2).toString()).not.toBe(a.toString());
  });

  it("joins all-nodes and each address's solicited-node group, and leaves it with the address", () => {
    const { s } = channelStack6();
    const nic = s.nic(1)!;
    const groups = () => nic.joinedGroups().map(String).sort();
    expect(groups()).toContain("ff02::1");
    expect(groups()).toContain("ff02::1:ff00:1");
    expect(Address.from("fd00::1").solicitedNode().isSolicitedNodeMulticast).toBe(true);
    s.addAddress(1, "2001:db8::1/64"); // same low 24 bits: the group is shared (reference counted)
    s.removeAddress(1, "fd00::1");
    expect(groups()).toContain("ff02::1:ff00:1");
    s.removeAddress(1, "2001:db8::1");
    expect(groups()).not.toContain("ff02::1:ff00:1");
  });
});

describe("NDP message validation (RFC 4861 §7.1)", () => {
  function ns(src: Address, dst: Address, target: Address, withSlla: boolean): Uint8Array {
    const m: NdpMessage = { type: "neighbor-solicit", target,
      options: withSlla ? [{ type: "source-link-address", address: Uint8Array.of(2, 0, 0, 0, 0, 2) }] : [] };
    const b = new Uint8Array(ndpSize(m));
    encodeNdp(b, 0, m, src, dst);
    return b;
  }

  it("answers a valid solicitation and drops ones with hop limit below 255 or a bad unspecified-source form", () => {
    const { link, s, local, remote } = channelStack6();
    const group = local.solicitedNode();
    link.inject(ip6(remote, group, 58, ns(remote, group, local, true), 255));
    const na = parse6(link.read()!);
    expect([na.icmp?.type, na.ip.hopLimit, na.ip.src().toString(), na.ip.dst().toString()]).toEqual([136, 255, "fd00::1", "fd00::2"]);
    link.inject(ip6(remote, group, 58, ns(remote, group, local, true), 254));
    expect(s.stats.ndp.invalidMessages).toBe(1);
    const any = Address.ANY6;
    link.inject(ip6(any, local, 58, ns(any, local, local, false), 255)); // from :: but not to the solicited-node group
    link.inject(ip6(any, group, 58, ns(any, group, local, true), 255)); // from :: with a source link-layer option
    expect(s.stats.ndp.invalidMessages).toBe(3);
    expect(link.read()).toBeNull();
    link.inject(ip6(any, group, 58, ns(any, group, local, false), 255)); // someone's DAD for our preferred address
    const defend = parse6(link.read()!);
    expect([defend.icmp?.type, defend.ip.dst().toString()]).toEqual([136, "ff02::1"]);
    expect((defend.icmp!.buf[defend.icmp!.off + 4]! & 0x40)).toBe(0); // S clear to all-nodes
  });

  it("ignores solicitations for addresses that are not ours (no proxying)", () => {
    const { link, remote } = channelStack6();
    const target = Address.from("fd00::99");
    const g = target.solicitedNode();
    link.inject(ip6(remote, g, 58, ns(remote, g, target, true), 255));
    expect(link.read()).toBeNull();
    link.inject(ip6(remote, Address.ALL_NODES6, 58, icmp6Msg(remote, Address.ALL_NODES6, 133, 0, 0, new Uint8Array(0)), 255));
    expect(link.read()).toBeNull(); // router solicitations are for routers
  });

  it("sends router solicitations when asked to (RFC 4861 §6.3.7), every 4 s up to the count", () => {
    const p = makePair6({ ethernet: true, noSettle: true, ipv6: { routerSolicitations: 2 } });
    p.run(1100, 100);
    expect(p.a.stats.icmp.v6.sent.routerSolicit).toBe(1); // once the link-local address is usable
    const dropped = p.b.stats.ipv6.notJoinedOrTentative;
    p.run(4000, 500);
    expect(p.a.stats.icmp.v6.sent.routerSolicit).toBe(2);
    p.run(10_000, 1000);
    expect(p.a.stats.icmp.v6.sent.routerSolicit).toBe(2);
    expect(p.b.stats.ipv6.notJoinedOrTentative - dropped).toBe(1); // b is not a router: it never joined ff02::2
  });
});
