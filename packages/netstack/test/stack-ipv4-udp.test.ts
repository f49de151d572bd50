import { describe, expect, it } from "vitest";
import { makePair, newEp, ok, addr, rawPing } from "./helpers/net.js";
import { Address, ICMPV4_PROTOCOL, UDP_PROTOCOL } from "../src/tcpip/address.js";
import { Err } from "../src/tcpip/errors.js";
import { EventErr, EventIn, WaiterQueue } from "../src/waiter/queue.js";
import { SeededRandom } from "../src/clock/random.js";
import { ManualClock } from "../src/clock/clock.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4, ipv4With, Ipv4Protocol } from "../src/network/ipv4/index.js";
import { udp } from "../src/transport/udp/index.js";
import { encodeIPv4, IPv4View, IPV4_FLAG_MF } from "../src/header/ipv4.js";
import { ICMPv4View } from "../src/header/icmpv4.js";
import { isParseError } from "../src/header/parse.js";

function echoRequest(seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = 8;
  m[6] = seq >> 8;
  m[7] = seq & 0xff;
  m.set(data, 8);
  return m;
}

/** A stack with one channel-linked NIC at 198.18.0.1/24. */
function channelStack(): { s: Stack; link: ChannelEndpoint } {
  const link = new ChannelEndpoint({ mtu: 1500 });
  const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp], clock: new ManualClock(), random: new SeededRandom(3) });
  s.createNic(1, link);
  s.addAddress(1, "198.18.0.1/24");
  s.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  return { s, link };
}

describe("IPv4 + ICMP between two stacks over a pipe", () => {
  it("answers pings in both directions (RFC 792 echo)", () => {
    const p = makePair();
    for (const [from, to, dst] of [[p.a, p.b, p.addrB], [p.b, p.a, p.addrA]] as const) {
      const ep = newEp(from, ICMPV4_PROTOCOL);
      const payload = new TextEncoder().encode("hello, ping");
      expect(ok(ep.write(echoRequest(7, payload), { to: { addr: dst, port: 0 } }))).toBe(8 + payload.length);
      p.pump();
      const buf = new Uint8Array(100);
      const r = ok(ep.read(buf, { needRemoteAddr: true }));
      expect(r.count).toBe(8 + payload.length);
      expect(buf[0]).toBe(0); // echo reply
      expect((buf[6]! << 8) | buf[7]!).toBe(7);
      expect(buf.subarray(8, r.count)).toEqual(payload);
      expect(r.from?.addr?.toString()).toBe(dst.toString());
      expect(to.stats.icmp.v4.received.echoRequest).toBe(1);
      expect(to.stats.icmp.v4.sent.echoReply).toBe(1);
      expect(from.stats.icmp.v4.received.echoReply).toBe(1);
      ep.close();
    }
  });

  it("drops packets with a bad IPv4 header checksum and counts them", () => {
    const { s, link } = channelStack();
    const pkt = rawPing("198.18.0.2", "198.18.0.1");
    pkt[10] ^= 0xff; // break the IP header checksum
    link.inject(pkt);
    expect(s.stats.ip.checksumErrors).toBe(1);
    expect(link.read()).toBeNull();
    pkt[10] ^= 0xff;
    link.inject(pkt);
    expect(link.read()).not.toBeNull(); // now answered
    link.inject(pkt.subarray(0, 10)); // truncated
    expect(s.stats.ip.malformedPacketsReceived).toBe(1);
    const other = pkt.slice();
    other[19] = 99; // another host's address: not ours, not delivered
    encodeIPv4(other, 0, { tos: 0, totalLength: 28, id: 1, flags: 0, fragmentOffset: 0, ttl: 64, protocol: 1,
      src: Address.from("198.18.0.2"), dst: Address.from("198.18.0.99") });
    link.inject(other);
    expect(s.stats.ip.invalidDestinationAddressesReceived).toBe(1);
    s.close();
  });

  it("drops a packet from the link that claims the NIC's own address as its source (a martian, as Linux)", () => {
    const { s, link } = channelStack();
    const ping = (src: string): Uint8Array => rawPing(src, "198.18.0.1");
    link.inject(ping("198.18.0.1"));
    expect(s.stats.ip.invalidSourceAddressesReceived).toBe(1);
    expect(s.stats.icmp.v4.received.echoRequest).toBe(0);
    expect(link.read()).toBeNull();
    link.inject(ping("198.18.0.2"));
    expect(s.stats.icmp.v4.received.echoRequest).toBe(1);
    expect(link.read()).not.toBeNull();
    s.close();
  });
});

describe("UDP between two stacks over a pipe", () => {
  it("echoes 10,000 datagrams of random sizes with their contents intact", () => {
    const p = makePair({ seed: 42 });
    const rnd = new SeededRandom(99);
    const serverWq = new WaiterQueue();
    const server = newEp(p.b, UDP_PROTOCOL, serverWq);
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
    const client = newEp(p.a, UDP_PROTOCOL);
    expect(client.connect(addr("198.18.0.2", 7))).toBeNull();
    const cbuf = new Uint8Array(65536);
    let received = 0;
    for (let batch = 0; batch < 100; batch++) {
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 100; i++) {
        const d = new Uint8Array(rnd.uint32() % 1473);
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
    expect(received).toBe(10_000);
    expect(p.b.stats.udp.packetsReceived).toBe(10_000);
    expect(p.a.stats.udp.packetsReceived).toBe(10_000);
  });

  it("reassembles a 60,000-byte datagram fragmented at MTU 1500 and reordered and duplicated in flight", () => {
    const p = makePair({ seed: 5, faults: { reorder: 0.3, duplicate: 0.2 } });
    const server = newEp(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 9000 }));
    const client = newEp(p.a, UDP_PROTOCOL);
    const data = new Uint8Array(60_000);
    new SeededRandom(7).fill(data);
    expect(client.write(data, { to: addr("198.18.0.2", 9000) })).toBe(60_000);
    p.run(20);
    const buf = new Uint8Array(65536);
    const r = ok(server.read(buf));
    expect(r.count).toBe(60_000);
    expect(Buffer.compare(buf.subarray(0, r.count), data)).toBe(0);
    expect(server.read(buf)).toBe(Err.WouldBlock); // delivered exactly once
    expect(p.a.stats.ip.fragmentsSent).toBe(Math.ceil(60_008 / 1480));
    expect(p.faultA!.stats.duplicated + p.faultA!.stats.reordered).toBeGreaterThan(0);
    expect(p.b.stats.ip.reassembled).toBe(1);
  });

  it("turns ICMP port unreachable into connection refused on a connected endpoint", () => {
    const p = makePair();
    const wq = new WaiterQueue();
    let events = 0;
    wq.register({ callback: (e) => (events |= e) }, EventErr);
    const client = newEp(p.a, UDP_PROTOCOL, wq);
    ok(client.connect(addr("198.18.0.2", 4444)));
    expect(client.write(new Uint8Array([1, 2, 3]))).toBe(3);
    p.pump();
    expect(p.b.stats.udp.unknownPortErrors).toBe(1);
    expect(p.b.stats.icmp.v4.sent.dstUnreachable).toBe(1);
    expect(p.a.stats.icmp.v4.received.dstUnreachable).toBe(1);
    expect(events & EventErr).toBe(EventErr);
    expect(client.read(new Uint8Array(10))).toBe(Err.ConnectionRefused);
    expect(client.read(new Uint8Array(10))).toBe(Err.WouldBlock); // reported once, like SO_ERROR
  });

  it("does not report port unreachable on an unconnected endpoint (Linux without IP_RECVERR)", () => {
    const p = makePair();
    const client = newEp(p.a, UDP_PROTOCOL);
    expect(client.write(new Uint8Array([1]), { to: addr("198.18.0.2", 4444) })).toBe(1);
    p.pump();
    expect(p.a.stats.icmp.v4.received.dstUnreachable).toBe(1);
    expect(client.read(new Uint8Array(10))).toBe(Err.WouldBlock);
    expect(client.getSockOpt("error")).toBeNull();
  });

  it("enforces bind rules: EADDRINUSE, SO_REUSEADDR sharing, foreign addresses refused", () => {
    const p = makePair();
    const e1 = newEp(p.a, UDP_PROTOCOL);
    const e2 = newEp(p.a, UDP_PROTOCOL);
    expect(e1.bind({ port: 5000 })).toBeNull();
    expect(e2.bind({ port: 5000 })).toBe(Err.PortInUse);
    expect(e2.bind({ addr: Address.from("198.18.0.99"), port: 5001 })).toBe(Err.BadLocalAddress);
    const e3 = newEp(p.a, UDP_PROTOCOL);
    const e4 = newEp(p.a, UDP_PROTOCOL);
    ok(e3.setSockOpt("reuseAddress", true));
    ok(e4.setSockOpt("reuseAddress", true));
    expect(e3.bind({ port: 6000 })).toBeNull();
    expect(e4.bind({ port: 6000 })).toBeNull();
    const e5 = newEp(p.a, UDP_PROTOCOL);
    expect(e5.bind({ port: 0 })).toBeNull();
    const la = ok(e5.getLocalAddress());
    expect(la.port).toBeGreaterThanOrEqual(32768);
    expect(la.port).toBeLessThanOrEqual(60999);
    expect(e5.bind({ port: 0 })).toBe(Err.InvalidEndpointState);
    for (const e of [e1, e2, e3, e4, e5]) e.close();
    expect(p.a.ports.size).toBe(0);
    expect(p.a.endpointCount()).toBe(0);
  });

  it("refuses broadcast without SO_BROADCAST (EACCES) and delivers it with", () => {
    const p = makePair();
    const server = newEp(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 67 }));
    const client = newEp(p.a, UDP_PROTOCOL);
    expect(client.write(new Uint8Array([1]), { to: { addr: Address.from("255.255.255.255"), port: 67, nic: 1 } }))
      .toBe(Err.BroadcastDisabled);
    ok(client.setSockOpt("broadcast", true));
    expect(client.write(new Uint8Array([1]), { to: { addr: Address.from("198.18.0.255"), port: 67 } })).toBe(1);
    p.pump();
    const r = ok(server.read(new Uint8Array(4), { needRemoteAddr: true }));
    expect(r.count).toBe(1);
    expect(r.from?.addr?.toString()).toBe("198.18.0.1");
  });

  it("drops datagrams past the receive buffer and counts them", () => {
    const p = makePair();
    const server = newEp(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 53 }));
    ok(server.setSockOpt("receiveBufferSize", 4096)); // doubled to 8192 like Linux
    expect(server.getSockOpt("receiveBufferSize")).toBe(8192);
    const client = newEp(p.a, UDP_PROTOCOL);
    ok(client.connect(addr("198.18.0.2", 53)));
    for (let i = 0; i < 20; i++) client.write(new Uint8Array(1000));
    p.pump();
    let n = 0;
    while (server.read(new Uint8Array(2000)) !== Err.WouldBlock) n++;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(20);
    expect(p.b.stats.udp.receiveBufferErrors).toBe(20 - n);
  });

  it("peeks without consuming and reports truncation through total", () => {
    const p = makePair();
    const server = newEp(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 99 }));
    const client = newEp(p.a, UDP_PROTOCOL);
    client.write(new Uint8Array([1, 2, 3, 4, 5]), { to: addr("198.18.0.2", 99) });
    p.pump();
    const small = new Uint8Array(2);
    const r1 = ok(server.read(small, { peek: true }));
    expect([r1.count, r1.total]).toEqual([2, 5]);
    expect(server.getSockOpt("receiveQueueSize")).toBe(5);
    const r2 = ok(server.read(small));
    expect([r2.count, r2.total]).toEqual([2, 5]);
    expect(server.read(small)).toBe(Err.WouldBlock); // the rest of a truncated datagram is gone
  });
});

describe("ARP over Ethernet links", () => {
  it("resolves the peer's MAC before the first datagram and answers requests", () => {
    const p = makePair({ ethernet: true });
    const server = newEp(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 7 }));
    const client = newEp(p.a, UDP_PROTOCOL);
    expect(client.write(new Uint8Array([42]), { to: addr("198.18.0.2", 7) })).toBe(1);
    p.pump();
    expect(p.a.stats.arp.requestsSent).toBe(1);
    expect(p.b.stats.arp.requestsReceived).toBe(1);
    expect(p.b.stats.arp.repliesSent).toBe(1);
    expect(p.a.stats.arp.repliesReceived).toBe(1);
    const r = ok(server.read(new Uint8Array(4)));
    expect(r.count).toBe(1);
    // Both learned each other: the next datagram needs no resolution.
    const e = p.a.nic(1)!.neighborCache(0x0800).get(Address.from("198.18.0.2"));
    expect(e?.linkAddress).toEqual(Uint8Array.of(2, 0, 0, 0, 0, 0x0b));
    client.write(new Uint8Array([43]), { to: addr("198.18.0.2", 7) });
    p.pump();
    expect(p.a.stats.arp.requestsSent).toBe(1);
    expect(ok(server.read(new Uint8Array(4))).count).toBe(1);
  });

  it("gives up after 3 requests in virtual time and reports host unreachable", () => {
    const p = makePair({ ethernet: true });
    const client = newEp(p.a, UDP_PROTOCOL);
    ok(client.connect(addr("198.18.0.77", 7)));
    expect(client.write(new Uint8Array([1]))).toBe(1);
    p.pump();
    expect(p.a.stats.arp.requestsSent).toBe(1);
    p.run(2500, 100);
    expect(p.a.stats.arp.requestsSent).toBe(3);
    expect(p.a.stats.arp.resolutionTimeouts).toBe(0);
    p.run(600, 100);
    expect(p.a.stats.arp.resolutionTimeouts).toBe(1);
    expect(client.read(new Uint8Array(4))).toBe(Err.HostUnreachable);
    expect(p.clock.pendingTimers()).toBe(0);
  });
});

describe("IPv4 reassembly limits", () => {
  function fragment(id: number, off: number, more: boolean, payload: Uint8Array): Uint8Array {
    const b = new Uint8Array(20 + payload.length);
    encodeIPv4(b, 0, { tos: 0, totalLength: b.length, id, flags: more ? IPV4_FLAG_MF : 0, fragmentOffset: off, ttl: 64,
      protocol: 17, src: Address.from("198.18.0.2"), dst: Address.from("198.18.0.1") });
    b.set(payload, 20);
    return b;
  }

  function channelStack() {
    const clock = new ManualClock();
    const link = new ChannelEndpoint({ mtu: 1500 });
    const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp], clock, random: new SeededRandom(3) });
    s.createNic(1, link);
    s.addAddress(1, "198.18.0.1/24");
    s.addRoute({ destination: "198.18.0.0/24", nic: 1 });
    return { clock, link, s };
  }

  it("times out an incomplete datagram after 30 s of virtual time and sends ICMP time exceeded", () => {
    const { clock, link, s } = channelStack();
    link.inject(fragment(1, 0, true, new Uint8Array(16)));
    clock.advance(29_999);
    expect(s.stats.ip.reassemblyTimeouts).toBe(0);
    clock.advance(1);
    expect(s.stats.ip.reassemblyTimeouts).toBe(1);
    const out = link.read()!;
    const ip = IPv4View.check(out, 0);
    if (isParseError(ip)) throw new Error("bad reply");
    const icmp = ICMPv4View.check(out, ip.headerLength);
    if (isParseError(icmp)) throw new Error("bad icmp");
    expect([icmp.type, icmp.code]).toEqual([11, 1]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("drops a datagram whose fragments overlap (RFC 5722 rule), ignores exact duplicates", () => {
    const { link, s } = channelStack();
    link.inject(fragment(2, 0, true, new Uint8Array(16)));
    link.inject(fragment(2, 0, true, new Uint8Array(16))); // exact duplicate: ignored
    link.inject(fragment(2, 8, true, new Uint8Array(16))); // overlaps [8,16)
    expect(s.stats.ip.reassemblyOverlaps).toBe(1);
    link.inject(fragment(2, 16, false, new Uint8Array(8)));
    expect(s.stats.ip.reassembled).toBe(0);
  });

  it("bounds the memory held by incomplete datagrams", () => {
    const clock = new ManualClock();
    const link = new ChannelEndpoint({ mtu: 1500 });
    const s = new Stack({ networkProtocols: [ipv4With({ reassemblyMemoryLimit: 64 * 1024 })],
      transportProtocols: [udp], clock, random: new SeededRandom(3) });
    s.createNic(1, link);
    s.addAddress(1, "198.18.0.1/24");
    for (let id = 0; id < 200; id++) link.inject(fragment(id, 0, true, new Uint8Array(1400)));
    const ip = s.networkProtocol(0x0800) as Ipv4Protocol;
    expect(ip.reassembler.memoryUsed).toBeLessThanOrEqual(64 * 1024);
    expect(ip.reassembler.size).toBeLessThan(200);
  });
});
