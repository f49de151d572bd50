/**
 * Resource exhaustion at the network layer: fragment floods (IPv4 and IPv6) and neighbor-cache
 * floods (ARP and NDP). Each test floods a victim stack through an injector on its link while a
 * real peer keeps talking to it, then checks that the memory held stays under its bound, that the
 * counter naming the drop moves, and that the peer's traffic is served during and after.
 */
import { describe, expect, it } from "vitest";
import {
  Address, IPV4_PROTOCOL, IPV6_PROTOCOL, UDP_PROTOCOL, header, isError, type Endpoint, type Ipv4Protocol,
  type Ipv6Protocol, type Stack,
} from "@netstack-ts/netstack";
import { makePair6, newEp6, type Pair6 } from "../../packages/netstack/test/helpers/net6.js";
import { InjectorLink, MiB, heapAfterGc } from "./helpers.js";

const IPV6_ETHERTYPE = 0x86dd;
const IPV4_ETHERTYPE = 0x0800;

/** A victim (a) and a legitimate peer (b), dual-stack; `inj` injects into a's link. */
function setup(ethernet: boolean): { p: Pair6; inj: InjectorLink } {
  let inj: InjectorLink | null = null;
  const p = makePair6({ ethernet, queueSize: 1 << 14, wrapA: (l) => (inj = new InjectorLink(l)) });
  return { p, inj: inj! };
}

/** A UDP echo service on the victim's port 7 (both families), and a client for each family. */
function echo(p: Pair6): { v4: Endpoint; v6: Endpoint; roundTrip(ep: Endpoint, n: number): boolean } {
  // One dual-stack socket serves both families (IPv4 clients appear as v4-mapped addresses).
  const server = newEp6(p.a, UDP_PROTOCOL);
  expect(server.bind({ port: 7 })).toBeNull();
  const buf = new Uint8Array(65536);
  const serve = () => {
    for (;;) {
      const r = server.read(buf, { needRemoteAddr: true });
      if (isError(r)) return;
      server.write(buf.subarray(0, r.count), { to: r.from! });
    }
  };
  const v4 = newEp6(p.b, UDP_PROTOCOL, undefined, IPV4_PROTOCOL);
  v4.connect({ addr: p.addrA4, port: 7 });
  const v6 = newEp6(p.b, UDP_PROTOCOL, undefined, IPV6_PROTOCOL);
  v6.connect({ addr: p.addrA, port: 7 });
  let seq = 0;
  return {
    v4, v6,
    roundTrip(ep: Endpoint, n: number): boolean {
      const d = new Uint8Array(n);
      for (let i = 0; i < n; i++) d[i] = (seq * 7 + i) & 0xff;
      seq++;
      ep.write(d);
      for (let i = 0; i < 5; i++) { p.pump(); serve(); p.pump(); p.clock.advance(1); }
      const out = new Uint8Array(n + 16);
      const r = ep.read(out);
      return !isError(r) && r.count === n && Buffer.compare(out.subarray(0, n), d) === 0;
    },
  };
}

function ipv4Fragment(src: Address, dst: Address, id: number, off: number, more: boolean, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  header.encodeIPv4(b, 0, { tos: 0, totalLength: b.length, id, flags: more ? 1 : 0, fragmentOffset: off, ttl: 64,
    protocol: 17, src, dst });
  b.set(payload, 20);
  return b;
}

function ipv6Fragment(src: Address, dst: Address, id: number, off: number, more: boolean, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(48 + payload.length);
  header.encodeIPv6(b, 0, { trafficClass: 0, flowLabel: 0, payloadLength: 8 + payload.length, nextHeader: 44, hopLimit: 64, src, dst });
  header.encodeIPv6Fragment(b, 40, { nextHeader: 17, fragmentOffset: off, more, id });
  b.set(payload, 48);
  return b;
}

/** A UDP datagram (header + data) with its checksum, to be cut into fragments by the test. */
function udpDatagram(v6: boolean, src: Address, dst: Address, dstPort: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  header.encodeUdp(u, 0, { srcPort: 5555, dstPort, length: u.length });
  u.set(data, 8);
  const sum = header.checksum(u, 0, u.length, v6
    ? header.ipv6PseudoHeaderChecksum(src, dst, u.length, 17)
    : header.pseudoHeaderChecksumAddr(17, src, dst, u.length));
  const c = header.finishUdpChecksum(sum);
  u[6] = c >> 8;
  u[7] = c & 0xff;
  return u;
}

describe.each([
  { family: "IPv4", v6: false },
  { family: "IPv6", v6: true },
])("$family fragment flood (RFC 791 §3.2 / RFC 8200 §4.5 reassembly bounded like ipfrag_high_thresh)", ({ v6 }) => {
  it("keeps reassembly memory and heap bounded, counts evictions and timeouts, and still reassembles a real datagram", () => {
    const { p, inj } = setup(false);
    const e = echo(p);
    const victim = v6 ? p.addrA : p.addrA4;
    const legitSrc = v6 ? p.addrB : p.addrB4;
    const frag = v6 ? ipv6Fragment : ipv4Fragment;
    const proto = v6 ? IPV6_ETHERTYPE : IPV4_ETHERTYPE;
    const ip = p.a.networkProtocol(v6 ? IPV6_PROTOCOL : IPV4_PROTOCOL) as Ipv4Protocol | Ipv6Protocol;
    const limit = ip.reassembler.memoryLimit;
    const attackers = [0, 1, 2, 3].map((i) => Address.from(v6 ? `fd00::99:${i}` : `10.0.0.${99 + i}`));
    const empty = new Uint8Array(0);
    const eight = new Uint8Array(8);

    // The legitimate datagram: 3,000 bytes in three fragments, sent while the flood runs.
    const data = new Uint8Array(3000).map((_, i) => (i * 13) & 0xff);
    const dgram = udpDatagram(v6, legitSrc, victim, 7, data);
    const legit = [
      frag(legitSrc, victim, 4242, 0, true, dgram.subarray(0, 1200)),
      frag(legitSrc, victim, 4242, 1200, true, dgram.subarray(1200, 2400)),
      frag(legitSrc, victim, 4242, 2400, false, dgram.subarray(2400)),
    ];

    const base = heapAfterGc();
    const FLOOD = 40_000;
    let maxHeld = 0;
    let maxSize = 0;
    const served: boolean[] = [];
    for (let i = 0; i < FLOOD; i++) {
      // Empty and 8-byte fragments with distinct ids: each opens a datagram that never completes.
      inj.inject(frag(attackers[i & 3]!, victim, i >>> 2, 0, true, (i & 1) === 0 ? empty : eight), proto);
      if (i % 8000 === 1000) inj.inject(legit[0]!, proto);
      if (i % 8000 === 2000) inj.inject(legit[1]!, proto);
      if (i % 8000 === 3000) inj.inject(legit[2]!, proto);
      if (i % 8000 === 5000) served.push(e.roundTrip(v6 ? e.v6 : e.v4, 4000)); // fragmented both ways
      if ((i & 1023) === 0) {
        maxHeld = Math.max(maxHeld, ip.reassembler.memoryUsed);
        maxSize = Math.max(maxSize, ip.reassembler.size);
      }
    }
    const growth = heapAfterGc() - base;
    const s = p.a.stats.ip;
    expect(maxHeld).toBeLessThanOrEqual(limit);
    // The bound charges bookkeeping: a few thousand datagrams, not 40,000.
    expect(maxSize).toBeLessThan(limit / 1024);
    expect(growth).toBeLessThan(16 * MiB);
    expect(s.reassemblyMemoryDrops).toBeGreaterThan(FLOOD - 5000);
    // The hand-built datagram was reassembled each time (its fragments 1,000 floods apart)...
    expect(s.reassembled).toBeGreaterThanOrEqual(5 + 5);
    // ... and the peer's fragmented echo worked during the flood.
    expect(served).toEqual(served.map(() => true));
    expect(served.length).toBe(5);

    // After the reassembly timeout everything held is released and counted.
    const timeoutsBefore = s.reassemblyTimeouts;
    p.run(61_000, 1000);
    expect(ip.reassembler.size).toBe(0);
    expect(ip.reassembler.memoryUsed).toBe(0);
    expect(s.reassemblyTimeouts).toBeGreaterThan(timeoutsBefore);
    expect(e.roundTrip(v6 ? e.v6 : e.v4, 4000)).toBe(true);
  });
});

function ethernet(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  header.encodeEthernet(f, 0, { dst, src, type });
  f.set(payload, 14);
  return f;
}

/** A locally administered MAC that differs for each `i`. */
function mac(i: number): Uint8Array {
  return Uint8Array.of(0x02, 0x99, (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff);
}

function v6Packet(src: Address, dst: Address, icmp: Uint8Array, hopLimit: number): Uint8Array {
  const b = new Uint8Array(40 + icmp.length);
  header.encodeIPv6(b, 0, { trafficClass: 0, flowLabel: 0, payloadLength: icmp.length, nextHeader: 58, hopLimit, src, dst });
  b.set(icmp, 40);
  return b;
}

function neighborSolicit(src: Address, srcMac: Uint8Array, target: Address): Uint8Array {
  const m = { type: "neighbor-solicit" as const, target, options: [{ type: "source-link-address" as const, address: srcMac }] };
  const icmp = new Uint8Array(header.ndpSize(m));
  // Sent to the target's address directly (a unicast NS, as for a reachability check).
  header.encodeNdp(icmp, 0, m, src, target);
  return v6Packet(src, target, icmp, 255);
}

function echoRequest6(src: Address, dst: Address, seq: number): Uint8Array {
  const icmp = new Uint8Array(16);
  header.encodeIcmpv6(icmp, 0, { type: 128, code: 0, rest: (0x4242 << 16) | (seq & 0xffff), payload: new Uint8Array(8) }, src, dst);
  return v6Packet(src, dst, icmp, 64);
}

describe("neighbor cache flood (RFC 826 / RFC 4861 §7.2.3: senders are learned, the cache is bounded)", () => {
  const cacheOf = (s: Stack, proto: number) => s.nic(1)!.neighborCache(proto);

  it.each([
    { kind: "ARP requests from 20,000 sender addresses", v6: false },
    { kind: "Neighbor Solicitations from 20,000 source addresses", v6: true },
    { kind: "echo requests from 20,000 unresolvable on-link sources (replies wait for resolution)", v6: true, echo: true },
  ])("$kind: the cache stays at its bound, evictions are counted, real traffic flows", ({ v6, echo: pending }) => {
    const { p, inj } = setup(true);
    const e = echo(p);
    const proto = v6 ? IPV6_PROTOCOL : IPV4_PROTOCOL;
    const cache = cacheOf(p.a, proto);
    expect(e.roundTrip(v6 ? e.v6 : e.v4, 100)).toBe(true);
    const victimMac = p.a.nic(1)!.linkAddress;
    const base = heapAfterGc();
    const FLOOD = 20_000;
    let maxSize = 0;
    const served: boolean[] = [];
    for (let i = 0; i < FLOOD; i++) {
      const src = mac(i);
      let frame: Uint8Array;
      if (!v6) {
        const a = new Uint8Array(28);
        header.encodeArp(a, 0, { op: 1, sha: src, spa: Address.from(`10.${1 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`),
          tha: new Uint8Array(6), tpa: p.addrA4 });
        frame = ethernet(header.BROADCAST_MAC, src, 0x0806, a);
      } else {
        const from = Address.from(`fd00::dead:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
        frame = ethernet(victimMac, src, IPV6_ETHERTYPE, pending ? echoRequest6(from, p.addrA, i) : neighborSolicit(from, src, p.addrA));
      }
      inj.inject(frame, 0);
      if ((i & 255) === 0) maxSize = Math.max(maxSize, cache.size);
      if (i % 4000 === 2000) served.push(e.roundTrip(v6 ? e.v6 : e.v4, 100));
    }
    maxSize = Math.max(maxSize, cache.size);
    const growth = heapAfterGc() - base;
    expect(maxSize).toBeLessThanOrEqual(cache.maxEntries);
    expect(cache.evictions).toBeGreaterThan(FLOOD - 2 * cache.maxEntries);
    if (pending) expect(cache.droppedPending).toBeGreaterThan(0);
    if (!v6) expect(p.a.stats.arp.requestsReceived).toBeGreaterThanOrEqual(FLOOD);
    expect(growth).toBeLessThan(16 * MiB);
    expect(served).toEqual([true, true, true, true, true]);
    // After the flood: entries age out or stay bounded, and the peer is still served.
    p.run(10_000, 500);
    expect(cache.size).toBeLessThanOrEqual(cache.maxEntries);
    expect(e.roundTrip(v6 ? e.v6 : e.v4, 100)).toBe(true);
  });
});
