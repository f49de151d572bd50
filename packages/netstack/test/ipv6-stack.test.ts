/**
 * The IPv6 twins of stack-ipv4-udp.test.ts: ICMPv6 echo, UDP over IPv6, fragmentation and
 * reassembly, errors, bind rules and buffers, between two stacks over a pipe (L3) and over
 * Ethernet (L2 with NDP).
 */
import { describe, expect, it } from "vitest";
import { ok } from "./helpers/net.js";
import {
  channelStack6, echoMessage, icmp6Msg, ip6, makePair6, newEp6, parse6, udp6,
} from "./helpers/net6.js";
import { Address, ICMPV6_PROTOCOL, IPV6_PROTOCOL, UDP_PROTOCOL, type FullAddress } from "../src/tcpip/address.js";
import { Err } from "../src/tcpip/errors.js";
import { EventErr, EventIn, WaiterQueue } from "../src/waiter/queue.js";
import { SeededRandom } from "../src/clock/random.js";
import { encodeIPv6Fragment, IPV6_EXT_FRAGMENT } from "../src/header/ipv6-ext.js";
import { NeighborState } from "../src/stack/neighbor.js";
import type { Ipv6Protocol } from "../src/network/ipv6/index.js";

const addr6 = (s: string, port: number): FullAddress => ({ addr: Address.from(s), port });

/**
 * Resolves a and b to each other (one ping) so that bursts are not cut by the 3 packets a
 * neighbor entry queues while INCOMPLETE (stack/neighbor.ts, Linux's old unres_qlen).
 */
function primeNeighbors(p: ReturnType<typeof makePair6>): void {
  const ep = newEp6(p.a, ICMPV6_PROTOCOL);
  ok(ep.write(echoMessage(128, 0, new Uint8Array(0)), { to: { addr: p.addrB, port: 0 } }));
  p.pump();
  ok(ep.read(new Uint8Array(16)));
  ep.close();
}

for (const ethernet of [false, true]) {
  const link = ethernet ? "Ethernet (NDP)" : "a pipe";

  describe(`IPv6 + ICMPv6 between two stacks over ${link}`, () => {
    it("answers pings in both directions (RFC 4443 §4 echo)", () => {
      const p = makePair6({ ethernet });
      for (const [from, to, dst] of [[p.a, p.b, p.addrB], [p.b, p.a, p.addrA]] as const) {
        const ep = newEp6(from, ICMPV6_PROTOCOL);
        const payload = new TextEncoder().encode("hello, ping6");
        expect(ok(ep.write(echoMessage(128, 7, payload), { to: { addr: dst, port: 0 } }))).toBe(8 + payload.length);
        p.pump();
        const buf = new Uint8Array(100);
        const r = ok(ep.read(buf, { needRemoteAddr: true }));
        expect(r.count).toBe(8 + payload.length);
        expect(buf[0]).toBe(129); // echo reply
        expect((buf[6]! << 8) | buf[7]!).toBe(7);
        expect(buf.subarray(8, r.count)).toEqual(payload);
        expect(r.from?.addr?.toString()).toBe(dst.toString());
        expect(to.stats.icmp.v6.received.echoRequest).toBe(1);
        expect(to.stats.icmp.v6.sent.echoReply).toBe(1);
        expect(from.stats.icmp.v6.received.echoReply).toBe(1);
        ep.close();
      }
    });

    it("pings a link-local address with the NIC as its zone (RFC 4007)", () => {
      const p = makePair6({ ethernet });
      const ll = p.b.nic(1)!.addresses().find((s) => s.address.isLinkLocal)!.address;
      const ep = newEp6(p.a, ICMPV6_PROTOCOL);
      // Without a zone the link-local destination has no route.
      expect(ep.write(echoMessage(128, 1, new Uint8Array(4)), { to: { addr: ll, port: 0 } })).toBe(Err.NoRoute);
      expect(ok(ep.write(echoMessage(128, 1, new Uint8Array(4)), { to: { addr: ll, port: 0, nic: 1 } }))).toBe(12);
      p.pump();
      const r = ok(ep.read(new Uint8Array(64), { needRemoteAddr: true }));
      expect(r.from?.addr?.toString()).toBe(ll.toString());
    });
  });

  describe(`UDP over IPv6 between two stacks over ${link}`, () => {
    it(`echoes ${ethernet ? "2,000" : "10,000"} datagrams of random sizes with their contents intact`, () => {
      const p = makePair6({ seed: 42, ethernet });
      const rnd = new SeededRandom(99);
      const serverWq = new WaiterQueue();
      const server = newEp6(p.b, UDP_PROTOCOL, serverWq);
      expect(server.bind({ port: 7 })).toBeNull();
      const sbuf = new Uint8Array(65536);
      serverWq.register({
        callback: () => {
          for (;;) {
            const r = server.read(sbuf, { needRemoteAddr: true });
            if (r === Err.WouldBlock) return;
            const res = ok(r);
            ok(server.write(sbuf.subarray(0, res.count), { to: res.from! }));
          }
        },
      }, EventIn);
      const client = newEp6(p.a, UDP_PROTOCOL);
      expect(client.connect(addr6("fd00::2", 7))).toBeNull();
      if (ethernet) primeNeighbors(p);
      const cbuf = new Uint8Array(65536);
      const batches = ethernet ? 20 : 100;
      let received = 0;
      for (let batch = 0; batch < batches; batch++) {
        const sent: Uint8Array[] = [];
        for (let i = 0; i < 100; i++) {
          const d = new Uint8Array(rnd.uint32() % 1453); // 1500 - 40 - 8 fits one packet
          rnd.fill(d);
          sent.push(d);
          expect(client.write(d)).toBe(d.length);
        }
        p.pump();
        for (const d of sent) {
          const r = ok(client.read(cbuf));
          expect(r.count).toBe(d.length);
          expect(Buffer.compare(cbuf.subarray(0, r.count), d)).toBe(0);
          received++;
        }
        expect(client.read(cbuf)).toBe(Err.WouldBlock);
      }
      expect(received).toBe(batches * 100);
      expect(p.b.stats.udp.packetsReceived).toBe(batches * 100);
      expect(p.a.stats.udp.packetsReceived).toBe(batches * 100);
      expect(p.a.stats.ip.fragmentsSent).toBe(0);
      expect(ok(client.getLocalAddress()).addr?.toString()).toBe("fd00::1"); // RFC 6724 picked the global address
    });

    it("reassembles a 60,000-byte datagram fragmented at MTU 1500 and reordered and duplicated in flight (RFC 8200 §4.5)", () => {
      const p = makePair6({ seed: 5, ethernet, faults: { reorder: 0.3, duplicate: 0.2 } });
      const server = newEp6(p.b, UDP_PROTOCOL);
      ok(server.bind({ port: 9000 }));
      const client = newEp6(p.a, UDP_PROTOCOL);
      const data = new Uint8Array(60_000);
      new SeededRandom(7).fill(data);
      if (ethernet) primeNeighbors(p);
      expect(client.write(data, { to: addr6("fd00::2", 9000) })).toBe(60_000);
      p.run(20);
      const buf = new Uint8Array(65536);
      const r = ok(server.read(buf, { needRemoteAddr: true }));
      expect(r.count).toBe(60_000);
      expect(Buffer.compare(buf.subarray(0, r.count), data)).toBe(0);
      expect(r.from?.addr?.toString()).toBe("fd00::1");
      expect(server.read(buf)).toBe(Err.WouldBlock); // delivered exactly once
      // 1500 - 40 (IPv6) - 8 (fragment header) = 1452, rounded down to 1448 per fragment.
      expect(p.a.stats.ip.fragmentsSent).toBe(Math.ceil(60_008 / 1448));
      expect(p.faultA!.stats.duplicated + p.faultA!.stats.reordered).toBeGreaterThan(0);
      expect(p.b.stats.ip.reassembled).toBe(1);
    });

    it("turns ICMPv6 port unreachable into connection refused on a connected endpoint", () => {
      const p = makePair6({ ethernet });
      const wq = new WaiterQueue();
      let events = 0;
      wq.register({ callback: (e) => (events |= e) }, EventErr);
      const client = newEp6(p.a, UDP_PROTOCOL, wq);
      ok(client.connect(addr6("fd00::2", 4444)));
      expect(client.write(new Uint8Array([1, 2, 3]))).toBe(3);
      p.pump();
      expect(p.b.stats.udp.unknownPortErrors).toBe(1);
      expect(p.b.stats.icmp.v6.sent.dstUnreachable).toBe(1);
      expect(p.a.stats.icmp.v6.received.dstUnreachable).toBe(1);
      expect(events & EventErr).toBe(EventErr);
      expect(client.read(new Uint8Array(10))).toBe(Err.ConnectionRefused);
      expect(client.read(new Uint8Array(10))).toBe(Err.WouldBlock);
    });

    it("echoes between link-local addresses, the sender's zone reported with its address (RFC 4007 §6)", () => {
      const p = makePair6({ ethernet });
      const llB = p.b.nic(1)!.addresses().find((s) => s.address.isLinkLocal)!.address;
      const llA = p.a.nic(1)!.addresses().find((s) => s.address.isLinkLocal)!.address;
      const server = newEp6(p.b, UDP_PROTOCOL);
      ok(server.bind({ port: 7 }));
      const client = newEp6(p.a, UDP_PROTOCOL);
      ok(client.connect({ addr: llB, port: 7, nic: 1 }));
      expect(ok(client.getLocalAddress()).addr?.toString()).toBe(llA.toString());
      expect(client.write(new Uint8Array([1, 2]))).toBe(2);
      p.pump();
      const r = ok(server.read(new Uint8Array(8), { needRemoteAddr: true }));
      expect([r.from?.addr?.toString(), r.from?.nic]).toEqual([llA.toString(), 1]);
      expect(server.write(new Uint8Array([3]), { to: r.from! })).toBe(1); // the zone routes the answer
      p.pump();
      expect(ok(client.read(new Uint8Array(8))).count).toBe(1);
    });

    it("does not report port unreachable on an unconnected endpoint (Linux without IPV6_RECVERR)", () => {
      const p = makePair6({ ethernet });
      const client = newEp6(p.a, UDP_PROTOCOL);
      expect(client.write(new Uint8Array([1]), { to: addr6("fd00::2", 4444) })).toBe(1);
      p.pump();
      expect(p.a.stats.icmp.v6.received.dstUnreachable).toBe(1);
      expect(client.read(new Uint8Array(10))).toBe(Err.WouldBlock);
      expect(client.getSockOpt("error")).toBeNull();
    });
  });
}

describe("UDP over IPv6: endpoint rules", () => {
  it("enforces bind rules: EADDRINUSE, SO_REUSEADDR sharing, foreign and tentative addresses refused", () => {
    const p = makePair6();
    const e1 = newEp6(p.a, UDP_PROTOCOL);
    const e2 = newEp6(p.a, UDP_PROTOCOL);
    expect(e1.bind({ port: 5000 })).toBeNull();
    expect(e2.bind({ port: 5000 })).toBe(Err.PortInUse);
    expect(e2.bind({ addr: Address.from("fd00::99"), port: 5001 })).toBe(Err.BadLocalAddress);
    expect(e2.bind({ addr: Address.from("10.0.0.1"), port: 5001 })).toBe(Err.AddressFamilyNotSupported);
    const e3 = newEp6(p.a, UDP_PROTOCOL);
    const e4 = newEp6(p.a, UDP_PROTOCOL);
    ok(e3.setSockOpt("reuseAddress", true));
    ok(e4.setSockOpt("reuseAddress", true));
    expect(e3.bind({ port: 6000 })).toBeNull();
    expect(e4.bind({ port: 6000 })).toBeNull();
    const e5 = newEp6(p.a, UDP_PROTOCOL);
    expect(e5.bind({ port: 0 })).toBeNull();
    const la = ok(e5.getLocalAddress());
    expect(la.addr?.toString()).toBe("::");
    expect(la.port).toBeGreaterThanOrEqual(32768);
    expect(la.port).toBeLessThanOrEqual(60999);
    expect(e5.bind({ port: 0 })).toBe(Err.InvalidEndpointState);
    const e6 = newEp6(p.a, UDP_PROTOCOL);
    expect(e6.bind({ addr: Address.from("fd00::1"), port: 5000 })).toBe(Err.PortInUse); // e1 holds the wildcard
    for (const e of [e1, e2, e3, e4, e5, e6]) e.close();
    expect(p.a.ports.size).toBe(0);
    expect(p.a.endpointCount()).toBe(0);
  });

  it("drops datagrams past the receive buffer and counts them", () => {
    const p = makePair6();
    const server = newEp6(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 53 }));
    ok(server.setSockOpt("receiveBufferSize", 4096));
    expect(server.getSockOpt("receiveBufferSize")).toBe(8192);
    const client = newEp6(p.a, UDP_PROTOCOL);
    ok(client.connect(addr6("fd00::2", 53)));
    for (let i = 0; i < 20; i++) client.write(new Uint8Array(1000));
    p.pump();
    let n = 0;
    while (server.read(new Uint8Array(2000)) !== Err.WouldBlock) n++;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(20);
    expect(p.b.stats.udp.receiveBufferErrors).toBe(20 - n);
  });

  it("peeks without consuming, reports truncation, and gives IPV6_PKTINFO / IPV6_HOPLIMIT / IPV6_TCLASS", () => {
    const p = makePair6();
    const server = newEp6(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 99 }));
    ok(server.setSockOpt("receivePacketInfo", true));
    ok(server.setSockOpt("receiveTtl", true));
    ok(server.setSockOpt("receiveTos", true));
    const client = newEp6(p.a, UDP_PROTOCOL);
    ok(client.setSockOpt("tos", 0xb8));
    ok(client.setSockOpt("ttl", 9));
    client.write(new Uint8Array([1, 2, 3, 4, 5]), { to: addr6("fd00::2", 99) });
    p.pump();
    const small = new Uint8Array(2);
    const r1 = ok(server.read(small, { peek: true }));
    expect([r1.count, r1.total]).toEqual([2, 5]);
    expect(server.getSockOpt("receiveQueueSize")).toBe(5);
    const r2 = ok(server.read(small));
    expect([r2.count, r2.total]).toEqual([2, 5]);
    expect(r2.control?.localAddr?.toString()).toBe("fd00::2");
    expect(r2.control?.nic).toBe(1);
    expect(r2.control?.ttl).toBe(9);
    expect(r2.control?.tos).toBe(0xb8);
    expect(server.read(small)).toBe(Err.WouldBlock);
  });

  it("sends UDP checksums over IPv6 and drops datagrams with checksum zero (RFC 8200 §8.1)", () => {
    const { link, s, local, remote } = channelStack6();
    const server = newEp6(s, UDP_PROTOCOL);
    ok(server.bind({ port: 7 }));
    const good = udp6(remote, local, 1000, 7, new Uint8Array([1, 2, 3]));
    link.inject(ip6(remote, local, 17, good));
    expect(ok(server.read(new Uint8Array(8))).count).toBe(3);
    const zero = good.slice();
    zero[6] = 0;
    zero[7] = 0;
    link.inject(ip6(remote, local, 17, zero));
    expect(server.read(new Uint8Array(8))).toBe(Err.WouldBlock);
    expect(s.stats.udp.checksumErrors).toBe(1);
    ok(server.write(new Uint8Array([9]), { to: { addr: remote, port: 1000 } }));
    const out = parse6(link.read()!);
    expect(out.upper).toBe(17);
    const udpBytes = out.ip.buf.subarray(out.upperOff, out.ip.totalLength);
    expect((udpBytes[6]! << 8) | udpBytes[7]!).not.toBe(0);
    // The answer verifies against the pseudo-header: re-encode and compare.
    expect(Array.from(udpBytes)).toEqual(Array.from(udp6(local, remote, 7, 1000, new Uint8Array([9]))));
  });
});

describe("IPv6 receive validation (RFC 8200 §3, RFC 4291)", () => {
  it("drops malformed headers, foreign destinations, multicast sources and unjoined groups, counting each", () => {
    const { link, s, local, remote } = channelStack6();
    const echo = icmp6Msg(remote, local, 128, 0, 1, new Uint8Array(4));
    link.inject(ip6(remote, local, 58, echo));
    expect(parse6(link.read()!).icmp?.type).toBe(129); // a good request is answered
    link.inject(ip6(remote, local, 58, echo).subarray(0, 39));
    expect(s.stats.ip.malformedPacketsReceived).toBe(1);
    const bad = ip6(remote, local, 58, echo);
    bad[5] += 1; // payload length past the buffer
    link.inject(bad);
    expect(s.stats.ip.malformedPacketsReceived).toBe(2);
    bad[5] -= 1;
    bad[0] = 0x40; // version 4 in an IPv6 frame
    link.inject(bad, IPV6_PROTOCOL);
    expect(s.stats.ip.malformedPacketsReceived).toBe(3);
    link.inject(ip6(remote, Address.from("fd00::99"), 58, icmp6Msg(remote, Address.from("fd00::99"), 128, 0, 1, new Uint8Array(4))));
    expect(s.stats.ip.invalidDestinationAddressesReceived).toBe(1);
    const mcastSrc = Address.from("ff02::5");
    link.inject(ip6(mcastSrc, local, 58, icmp6Msg(mcastSrc, local, 128, 0, 1, new Uint8Array(4))));
    expect(s.stats.ip.invalidSourceAddressesReceived).toBe(1);
    const group = Address.from("ff02::1:2");
    link.inject(ip6(remote, group, 58, icmp6Msg(remote, group, 128, 0, 1, new Uint8Array(4))));
    expect(s.stats.ipv6.notJoinedOrTentative).toBe(1);
    const corrupt = icmp6Msg(remote, local, 128, 0, 1, new Uint8Array(4));
    corrupt[9] ^= 0xff;
    link.inject(ip6(remote, local, 58, corrupt));
    expect(s.stats.icmp.v6.received.invalid).toBe(1);
    expect(link.read()).toBeNull(); // nothing answered any of these
  });

  it("answers an echo request sent to the all-nodes group from its own unicast address", () => {
    const { link, local, remote } = channelStack6();
    const all = Address.ALL_NODES6;
    link.inject(ip6(remote, all, 58, icmp6Msg(remote, all, 128, 0, 5, new Uint8Array(4))));
    const out = parse6(link.read()!);
    expect(out.icmp?.type).toBe(129);
    expect(out.ip.dst().toString()).toBe(remote.toString());
    expect(out.ip.src().toString()).toBe(local.toString()); // not the group (RFC 4443 §4.2)
  });
});

describe("IPv6 reassembly limits (RFC 8200 §4.5)", () => {
  const remote = Address.from("fd00::2");
  const local = Address.from("fd00::1");
  function fragment(id: number, off: number, more: boolean, payload: Uint8Array, nextHeader = 17): Uint8Array {
    const b = new Uint8Array(8 + payload.length);
    encodeIPv6Fragment(b, 0, { nextHeader, fragmentOffset: off, more, id });
    b.set(payload, 8);
    return ip6(remote, local, IPV6_EXT_FRAGMENT, b);
  }

  it("times out an incomplete datagram after 60 s of virtual time and sends Time Exceeded code 1", () => {
    const { clock, link, s } = channelStack6();
    link.inject(fragment(1, 0, true, new Uint8Array(16)));
    clock.advance(59_999);
    expect(s.stats.ip.reassemblyTimeouts).toBe(0);
    clock.advance(1);
    expect(s.stats.ip.reassemblyTimeouts).toBe(1);
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code]).toEqual([3, 1]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("drops a datagram whose fragments overlap (RFC 5722), ignores exact duplicates", () => {
    const { link, s } = channelStack6();
    link.inject(fragment(2, 0, true, new Uint8Array(16)));
    link.inject(fragment(2, 0, true, new Uint8Array(16)));
    link.inject(fragment(2, 8, true, new Uint8Array(16)));
    expect(s.stats.ip.reassemblyOverlaps).toBe(1);
    link.inject(fragment(2, 16, false, new Uint8Array(8)));
    expect(s.stats.ip.reassembled).toBe(0);
  });

  it("bounds the memory held by incomplete datagrams", () => {
    const { link, s } = channelStack6({ ipv6: { reassemblyMemoryLimit: 64 * 1024 } });
    for (let id = 0; id < 200; id++) link.inject(fragment(id, 0, true, new Uint8Array(1400)));
    const ip = s.networkProtocol(IPV6_PROTOCOL) as Ipv6Protocol;
    expect(ip.reassembler.memoryUsed).toBeLessThanOrEqual(64 * 1024);
    expect(ip.reassembler.size).toBeLessThan(200);
  });

  it("accepts an atomic fragment (offset 0, M clear) as a whole packet (RFC 6946)", () => {
    const { link, s } = channelStack6();
    const server = newEp6(s, UDP_PROTOCOL);
    ok(server.bind({ port: 7 }));
    link.inject(fragment(3, 0, false, udp6(remote, local, 1, 7, new Uint8Array([4, 2]))));
    expect(ok(server.read(new Uint8Array(4))).count).toBe(2);
    expect(s.stats.ip.reassembled).toBe(0);
    expect((s.networkProtocol(IPV6_PROTOCOL) as Ipv6Protocol).reassembler.size).toBe(0);
  });

  it("rejects a non-last fragment that is not a multiple of 8 bytes, pointing at the payload length", () => {
    const { link, s } = channelStack6();
    link.inject(fragment(4, 0, true, new Uint8Array(13)));
    expect(s.stats.ip.malformedFragmentsReceived).toBe(1);
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 0, 4]);
  });

  it("rejects fragments that would reassemble past 65,535 bytes, pointing at the fragment offset", () => {
    const { link, s } = channelStack6();
    link.inject(fragment(5, 65_528, false, new Uint8Array(16)));
    expect(s.stats.ip.malformedFragmentsReceived).toBe(1);
    const out = parse6(link.read()!);
    expect([out.icmp?.type, out.icmp?.code, out.icmp?.pointer]).toEqual([4, 0, 42]);
  });
});

describe("NDP over Ethernet (RFC 4861)", () => {
  it("resolves the peer's MAC before the first datagram and answers solicitations", () => {
    const p = makePair6({ ethernet: true });
    const server = newEp6(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 7 }));
    const client = newEp6(p.a, UDP_PROTOCOL);
    const nsBefore = p.a.stats.icmp.v6.sent.neighborSolicit; // DAD's
    expect(client.write(new Uint8Array([42]), { to: addr6("fd00::2", 7) })).toBe(1);
    p.pump();
    expect(p.a.stats.icmp.v6.sent.neighborSolicit - nsBefore).toBe(1);
    expect(p.b.stats.icmp.v6.received.neighborSolicit).toBe(1);
    expect(p.b.stats.icmp.v6.sent.neighborAdvert).toBe(1);
    expect(p.a.stats.icmp.v6.received.neighborAdvert).toBe(1);
    expect(ok(server.read(new Uint8Array(4))).count).toBe(1);
    const e = p.a.nic(1)!.neighborCache(IPV6_PROTOCOL).get(Address.from("fd00::2"));
    expect(e?.linkAddress).toEqual(Uint8Array.of(2, 0, 0, 0, 0, 0x0b));
    expect(e?.state).toBe(NeighborState.Reachable); // a solicited advertisement (RFC 4861 §7.2.5)
    // b learned a's address from the solicitation's source link-layer option: STALE (§7.2.3).
    expect(p.b.nic(1)!.neighborCache(IPV6_PROTOCOL).get(Address.from("fd00::1"))?.state).toBe(NeighborState.Stale);
    client.write(new Uint8Array([43]), { to: addr6("fd00::2", 7) });
    p.pump();
    expect(p.a.stats.icmp.v6.sent.neighborSolicit - nsBefore).toBe(1);
    expect(ok(server.read(new Uint8Array(4))).count).toBe(1);
  });

  it("gives up after 3 solicitations in virtual time and reports host unreachable", () => {
    const p = makePair6({ ethernet: true });
    const client = newEp6(p.a, UDP_PROTOCOL);
    ok(client.connect(addr6("fd00::77", 7)));
    const nsBefore = p.a.stats.icmp.v6.sent.neighborSolicit;
    expect(client.write(new Uint8Array([1]))).toBe(1);
    p.pump();
    expect(p.a.stats.icmp.v6.sent.neighborSolicit - nsBefore).toBe(1);
    p.run(2500, 100);
    expect(p.a.stats.icmp.v6.sent.neighborSolicit - nsBefore).toBe(3);
    expect(p.a.stats.ndp.resolutionTimeouts).toBe(0);
    p.run(600, 100);
    expect(p.a.stats.ndp.resolutionTimeouts).toBe(1);
    expect(client.read(new Uint8Array(4))).toBe(Err.HostUnreachable);
    expect(p.clock.pendingTimers()).toBe(0);
  });
});
