/**
 * Connection setup cost (issue #8, row 5a): the structures every new connection touches — the
 * transport demuxer, the port manager, waiter queues, the Addresses a listener's children keep and
 * the pooled segment records — keep their behaviour while allocating less per connection.
 */
import { describe, expect, it } from "vitest";
import { TransportDemuxer } from "../src/stack/demuxer.js";
import { PortManager } from "../src/stack/ports.js";
import { isPacketAddress } from "../src/stack/dualstack.js";
import type { TransportEndpointId } from "../src/stack/registration.js";
import { PacketBuffer } from "../src/buffer/packet.js";
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, TCP_PROTOCOL } from "../src/tcpip/address.js";
import { Err, isError } from "../src/tcpip/errors.js";
import { EventIn, EventOut, WaiterQueue, entryOf } from "../src/waiter/queue.js";
import { segmentPoolState, type TcpEndpoint } from "../src/transport/tcp/endpoint.js";
import { TcpState } from "../src/transport/tcp/state.js";
import { SeededRandom } from "../src/clock/random.js";
import { ManualClock } from "../src/clock/clock.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4 } from "../src/network/ipv4/index.js";
import { tcp } from "../src/transport/tcp/index.js";
import {
  ACK, B, Pattern, Reader, SYN, TcpPair, TcpPeer, Writer, addr, buildPacket, expectNull, newTcp, ok,
} from "./helpers/tcp-harness.js";
import { NO_FLAGS, addrBytes, handler } from "./helpers/demux.js";


function lookup(d: TransportDemuxer, src: Address, srcPort: number, dst: Address, dstPort: number) {
  return d.lookup(TCP_PROTOCOL, IPV4_PROTOCOL, addrBytes(src, dst), 0, 4, 4, srcPort, dstPort, 1);
}

describe("transport demuxer with colliding keys (entries chained per key)", () => {
  // A 2-bit key: 4 slots for hundreds of registrations, so nearly every lookup walks a chain.
  const LOCAL = Address.from("10.0.0.1");
  const peerOf = (i: number) => Address.from(`10.1.${i >> 8}.${i & 255}`);

  it("finds every connected endpoint by its 4-tuple, then the listener, then the wildcard listener, as endpoints come and go", () => {
    const d = new TransportDemuxer(0x3);
    const listener = handler("listener");
    const wildcard = handler("wildcard");
    expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], { localPort: 80, localAddress: LOCAL, remotePort: 0, remoteAddress: null }, listener, NO_FLAGS, 0));
    expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], { localPort: 80, localAddress: null, remotePort: 0, remoteAddress: null }, wildcard, NO_FLAGS, 0));
    const conns: { id: TransportEndpointId; ep: ReturnType<typeof handler> }[] = [];
    for (let i = 0; i < 300; i++) {
      const id = { localPort: 80, localAddress: LOCAL, remotePort: 40000 + (i % 7), remoteAddress: peerOf(i) };
      const ep = handler(`c${i}`);
      expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], id, ep, NO_FLAGS, 0));
      conns.push({ id, ep });
    }
    expect(d.size).toBe(302);
    for (const c of conns) expect(lookup(d, c.id.remoteAddress!, c.id.remotePort, LOCAL, 80)).toEqual([c.ep]);
    // Removing entries from the middle, the head and the tail of chains, in a shuffled order.
    const rnd = new SeededRandom(5);
    const order = conns.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rnd.uint32() % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const gone = new Set(order.slice(0, 150));
    for (const i of gone) d.unregister(TCP_PROTOCOL, [IPV4_PROTOCOL], conns[i]!.id, conns[i]!.ep);
    expect(d.size).toBe(152);
    conns.forEach((c, i) => {
      const want = gone.has(i) ? listener : c.ep;
      expect(lookup(d, c.id.remoteAddress!, c.id.remotePort, LOCAL, 80)).toEqual([want]);
    });
    // Another local address reaches only the wildcard listener; an unregistered port nothing.
    expect(lookup(d, peerOf(1), 40001, Address.from("10.0.0.9"), 80)).toEqual([wildcard]);
    expect(lookup(d, peerOf(1), 40001, LOCAL, 81)).toBeNull();
    // Registering an id again after its removal works; the same id twice without sharing flags does not.
    const again = conns[order[0]!]!;
    expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], again.id, again.ep, NO_FLAGS, 0));
    expect(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], again.id, handler("dup"), NO_FLAGS, 0)).toBe(Err.PortInUse);
    expect(lookup(d, again.id.remoteAddress!, again.id.remotePort, LOCAL, 80)).toEqual([again.ep]);
  });

  it("SO_REUSEPORT endpoints share one entry; the entry goes when its last endpoint does", () => {
    const d = new TransportDemuxer(0x1);
    const id = { localPort: 53, localAddress: null, remotePort: 0, remoteAddress: null };
    const a = handler("a");
    const b = handler("b");
    const flags = { reuseAddr: false, reusePort: true };
    expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], id, a, flags, 0));
    expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], id, b, flags, 0));
    expect(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], id, handler("c"), NO_FLAGS, 0)).toBe(Err.PortInUse);
    const src = Address.from("10.9.9.9");
    const dst = Address.from("10.0.0.1");
    expect(lookup(d, src, 1000, dst, 53)).toEqual([a, b]);
    d.unregister(TCP_PROTOCOL, [IPV4_PROTOCOL], id, a);
    expect(lookup(d, src, 1000, dst, 53)).toEqual([b]);
    d.unregister(TCP_PROTOCOL, [IPV4_PROTOCOL], id, b);
    expect(lookup(d, src, 1000, dst, 53)).toBeNull();
    expect(d.size).toBe(0);
  });

  it("a dual-stack registration that conflicts under one protocol registers under neither", () => {
    const d = new TransportDemuxer(0x1);
    const v4 = handler("v4");
    const dual = handler("dual");
    expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], { localPort: 80, localAddress: null, remotePort: 0, remoteAddress: null }, v4, NO_FLAGS, 0));
    const id = { localPort: 80, localAddress: null, remotePort: 0, remoteAddress: null };
    expect(d.register(TCP_PROTOCOL, [IPV6_PROTOCOL, IPV4_PROTOCOL], id, dual, NO_FLAGS, 0)).toBe(Err.PortInUse);
    expect(d.size).toBe(1);
    const b6 = new Uint8Array(32);
    expect(d.lookup(TCP_PROTOCOL, IPV6_PROTOCOL, b6, 0, 16, 16, 1000, 80, 1)).toBeNull();
  });
});

describe("IPv4 routes shared between connections to one peer (Stack.findRoute)", () => {
  const V4 = IPV4_PROTOCOL;
  function twoNics(): Stack {
    const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [tcp], clock: new ManualClock(), random: new SeededRandom(1) });
    s.createNic(1, new ChannelEndpoint({ mtu: 1500 }));
    s.createNic(2, new ChannelEndpoint({ mtu: 9000 }));
    s.addAddress(1, "198.18.0.1/24");
    s.addAddress(2, "198.19.0.1/16");
    s.addRoute({ destination: "0.0.0.0/0", gateway: "198.18.0.254", nic: 1 });
    return s;
  }
  const route = (s: Stack, remote: string, local: string | null = null, nic = 0) => {
    const r = s.findRoute(nic, local === null ? null : Address.from(local), Address.from(remote), V4);
    if (isError(r)) throw new Error(`no route: ${r.name}`);
    return r;
  };

  it("the same request gets the same route; another peer, NIC or source its own", () => {
    const s = twoNics();
    const r = route(s, "203.0.113.4");
    expect(route(s, "203.0.113.4")).toBe(r);
    expect(route(s, "203.0.113.5")).not.toBe(r);
    expect(route(s, "203.0.113.4", null, 1)).not.toBe(r);
    const withSrc = route(s, "203.0.113.4", "198.18.0.1");
    expect(withSrc).not.toBe(r);
    expect(route(s, "203.0.113.4", "198.18.0.1")).toBe(withSrc);
    // A source the route's NIC does not own (weak host model) is answered afresh every time.
    const weak = route(s, "203.0.113.4", "198.19.0.1");
    expect(weak.localAddress.toString()).toBe("198.19.0.1");
    expect(route(s, "203.0.113.4", "198.19.0.1")).not.toBe(weak);
  });

  it("route, address and NIC changes are seen by the next lookup (no stale route)", () => {
    const s = twoNics();
    expect(route(s, "203.0.113.4").nicId).toBe(1);
    s.addRoute({ destination: "203.0.113.0/24", nic: 2 });
    expect(route(s, "203.0.113.4").nicId).toBe(2);
    expect(route(s, "203.0.113.4").localAddress.toString()).toBe("198.19.0.1");
    s.addAddress(2, "203.0.113.1/24");
    expect(route(s, "203.0.113.4").localAddress.toString()).toBe("203.0.113.1");
    expectNull(s.removeAddress(2, "203.0.113.1"));
    expect(route(s, "203.0.113.4").localAddress.toString()).toBe("198.19.0.1");
    expectNull(s.enableNic(2, false));
    expect(route(s, "203.0.113.4").nicId).toBe(1);
    expectNull(s.enableNic(2, true));
    expect(route(s, "203.0.113.4").nicId).toBe(2);
    expect(s.removeRoute("203.0.113.0/24")).toBe(1);
    expect(route(s, "203.0.113.4").nicId).toBe(1);
    expectNull(s.removeNic(1));
    expect(s.findRoute(0, null, Address.from("203.0.113.4"), V4)).toBe(Err.NoRoute);
  });

  it("connections from one client to one server share a route on each side", () => {
    const p = new TcpPair();
    const a = p.connectPair(80);
    const b = p.connectPair(81);
    expect(b.client.route).toBe(a.client.route);
    expect(b.server.route).toBe(a.server.route);
    expect(a.client.route!.remoteAddress.toString()).toBe(B);
    p.close();
  });
});

describe("port manager", () => {
  it("ephemeral ports come from the range without a repeat while earlier ones are held, and a released one is free again", () => {
    const pm = new PortManager(40000, 40009);
    const owners = Array.from({ length: 10 }, () => ({}));
    const got = owners.map((o) => pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 0, NO_FLAGS, 0, o) as number);
    expect(new Set(got).size).toBe(10);
    for (const p of got) expect(p >= 40000 && p <= 40009).toBe(true);
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 0, NO_FLAGS, 0, {})).toBe(Err.PortInUse);
    pm.release(TCP_PROTOCOL, null, got[3]!, owners[3]!);
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 0, NO_FLAGS, 0, {})).toBe(got[3]);
  });

  it("counts reserved (protocol, port) pairs; protocols and odd port numbers (not in 0..65535) are kept apart", () => {
    const pm = new PortManager();
    const a = {};
    const b = {};
    const c = {};
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 80, NO_FLAGS, 0, a)).toBe(80);
    expect(pm.reserve(17, [IPV4_PROTOCOL], null, 80, NO_FLAGS, 0, b)).toBe(80);
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 80.5, NO_FLAGS, 0, c)).toBe(80.5);
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 65535, NO_FLAGS, 0, {})).toBe(65535);
    expect(pm.size).toBe(4);
    expect(pm.isAvailable(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 80, NO_FLAGS, 0)).toBe(false);
    pm.release(TCP_PROTOCOL, null, 80.5, c);
    pm.release(17, null, 80, b);
    expect(pm.size).toBe(2);
    expect(pm.isAvailable(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 80, NO_FLAGS, 0)).toBe(false);
    expect(pm.isAvailable(17, [IPV4_PROTOCOL], null, 80, NO_FLAGS, 0)).toBe(true);
    pm.release(TCP_PROTOCOL, null, 80, a);
    expect(pm.isAvailable(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 80, NO_FLAGS, 0)).toBe(true);
    expect(pm.size).toBe(1);
  });

  it("SO_REUSEADDR shares a port until one of the sharers listens; SO_REUSEPORT shares it regardless (Linux)", () => {
    const pm = new PortManager();
    const ra = { reuseAddr: true, reusePort: false };
    const a = {};
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 8080, ra, 0, a)).toBe(8080);
    const b = {};
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 8080, ra, 0, b)).toBe(8080);
    expect(pm.setListening(TCP_PROTOCOL, 8080, a, true)).toBe(Err.PortInUse);
    pm.release(TCP_PROTOCOL, null, 8080, b);
    expectNull(pm.setListening(TCP_PROTOCOL, 8080, a, true));
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 8080, ra, 0, {})).toBe(Err.PortInUse);
    const rp = { reuseAddr: false, reusePort: true };
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 9090, rp, 0, {})).toBe(9090);
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 9090, rp, 0, {})).toBe(9090);
    expect(pm.reserve(TCP_PROTOCOL, [IPV4_PROTOCOL], null, 9090, NO_FLAGS, 0, {})).toBe(Err.PortInUse);
  });
});

describe("waiter queue without registrations", () => {
  it("notifies nobody, reports no interests, and tolerates unregistering an unknown entry before its first register", () => {
    const q = new WaiterQueue();
    const e = entryOf(() => { throw new Error("not registered"); });
    q.unregister(e);
    q.notify(EventIn | EventOut);
    expect(q.size).toBe(0);
    expect(q.interests()).toBe(0);
    let got = 0;
    const f = entryOf((ev) => { got |= ev; });
    q.register(f, EventIn);
    q.notify(EventIn | EventOut);
    expect(got).toBe(EventIn);
    expect(q.size).toBe(1);
  });
});

describe("waiter queue emptied and refilled (its Map is dropped when empty, outside a notify)", () => {
  it("an entry that unregisters itself (the last one) and registers another mid-notify: the new one is notified in the same pass", () => {
    const q = new WaiterQueue();
    const got: string[] = [];
    const second = entryOf((ev) => got.push(`second:${ev}`));
    const first = entryOf((ev) => {
      got.push(`first:${ev}`);
      q.unregister(first);
      q.register(second, EventIn);
    });
    q.register(first, EventIn | EventOut);
    q.notify(EventIn);
    expect(got).toEqual([`first:${EventIn}`, `second:${EventIn}`]);
    expect(q.size).toBe(1);
    q.unregister(second);
    expect(q.size).toBe(0);
    q.notify(EventIn);
    expect(got.length).toBe(2);
    q.register(first, EventOut);
    expect(q.interests()).toBe(EventOut);
  });

  it("a callback that empties the queue inside a nested notify does not lose entries the outer pass still visits", () => {
    const q = new WaiterQueue();
    const got: string[] = [];
    const c = entryOf(() => got.push("c"));
    const b = entryOf(() => {
      got.push("b");
      q.unregister(b);
    });
    const a = entryOf(() => {
      got.push("a");
      q.unregister(a);
      q.notify(EventOut); // nested: b runs and unregisters itself; the queue is empty here
      q.register(c, EventIn);
    });
    q.register(a, EventIn);
    q.register(b, EventOut);
    q.notify(EventIn);
    expect(got).toEqual(["a", "b", "c"]);
    expect(q.size).toBe(1);
  });
});

describe("addresses a listener's children keep", () => {
  it("isPacketAddress matches the address at an offset in the endpoint's form (v4-mapped for IPv6 endpoints)", () => {
    const raw = new Uint8Array([1, 2, 3, 4, 10, 0, 0, 7]);
    const pkt = PacketBuffer.inbound(raw, 0);
    pkt.addrLen = 4;
    const v4 = Address.from("10.0.0.7");
    expect(isPacketAddress(v4, pkt, 4, IPV4_PROTOCOL)).toBe(true);
    expect(isPacketAddress(v4, pkt, 0, IPV4_PROTOCOL)).toBe(false);
    expect(isPacketAddress(null, pkt, 4, IPV4_PROTOCOL)).toBe(false);
    // An IPv6 endpoint names an IPv4 peer ::ffff:a.b.c.d; the plain IPv4 form is not that.
    expect(isPacketAddress(Address.from("::ffff:10.0.0.7"), pkt, 4, IPV6_PROTOCOL)).toBe(true);
    expect(isPacketAddress(Address.from("::ffff:10.0.0.8"), pkt, 4, IPV6_PROTOCOL)).toBe(false);
    expect(isPacketAddress(Address.from("::10.0.0.7"), pkt, 4, IPV6_PROTOCOL)).toBe(false);
    expect(isPacketAddress(v4, pkt, 4, IPV6_PROTOCOL)).toBe(false);
    const raw6 = new Uint8Array(16);
    raw6.set(Address.from("2001:db8::1").bytes);
    const pkt6 = PacketBuffer.inbound(raw6, 0);
    pkt6.addrLen = 16;
    expect(isPacketAddress(Address.from("2001:db8::1"), pkt6, 0, IPV6_PROTOCOL)).toBe(true);
    expect(isPacketAddress(Address.from("2001:db8::2"), pkt6, 0, IPV6_PROTOCOL)).toBe(false);
  });

  it("children of one peer share its Address; a SYN from another peer gets that peer's address, not the previous one", () => {
    const peer = new TcpPeer();
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr("10.0.0.1", 80)));
    expectNull(l.listen(16));
    const peers = ["10.0.0.2", "10.0.0.2", "10.0.0.3", "10.0.0.2"];
    peers.forEach((p, i) => {
      const src = Address.from(p);
      const port = 41000 + i;
      peer.link.inject(buildPacket(src, peer.local, port, 80, { seq: 1000, flags: SYN, mss: 1460 }));
      const synack = peer.one();
      expect(synack.dst).toBe(p);
      peer.link.inject(buildPacket(src, peer.local, port, 80, { seq: 1001, ack: synack.seq + 1, flags: ACK }));
    });
    const kids = peers.map(() => ok(l.accept()).endpoint as TcpEndpoint);
    expect(kids.map((k) => `${k.remoteAddr}:${k.remotePort}`)).toEqual(["10.0.0.2:41000", "10.0.0.2:41001", "10.0.0.3:41002", "10.0.0.2:41003"]);
    expect(kids.every((k) => k.state === TcpState.Established)).toBe(true);
    expect(kids[1]!.remoteAddr).toBe(kids[0]!.remoteAddr);
    expect(kids[3]!.remoteAddr).not.toBe(kids[2]!.remoteAddr);
    // One local Address for all of them (the NIC's).
    expect(new Set(kids.map((k) => k.localAddr)).size).toBe(1);
    expect(String(kids[0]!.localAddr)).toBe("10.0.0.1");
  });
});

describe("pooled segment records (one per packet being processed, not one per endpoint)", () => {
  for (const deliver of ["sync", "timer"] as const) {
    it(`every record taken is given back, and none is in the pool twice (${deliver} link: processing nests)`, () => {
      const before = segmentPoolState().out;
      const p = new TcpPair({ deliver });
      const l = newTcp(p.b);
      expectNull(l.bind(addr(B, 80)));
      expectNull(l.listen(16));
      const pairs: { client: TcpEndpoint; server: TcpEndpoint }[] = [];
      for (let i = 0; i < 3; i++) {
        const client = newTcp(p.a);
        const r = client.connect(addr(B, 80));
        expect(isError(r) && r === Err.ConnectStarted).toBe(true);
        p.runUntil(() => client.state === TcpState.Established && l.readiness(EventIn) !== 0, 10_000);
        pairs.push({ client, server: ok(l.accept()).endpoint as TcpEndpoint });
      }
      // Data both ways, verified: the receive path reads the payload through the record it holds.
      const pat = new Pattern(3);
      for (const { client, server } of pairs) {
        const w1 = new Writer(client, 200_000, pat);
        const r1 = new Reader(server);
        const w2 = new Writer(server, 50_000, pat);
        const r2 = new Reader(client);
        p.runUntil(() => {
          w1.pump();
          w2.pump();
          r1.pump();
          r2.pump();
          return r1.received === 200_000 && r2.received === 50_000;
        }, 60_000);
        expect(r1.hash.digest("hex")).toBe(w1.hash.digest("hex"));
        expect(r2.hash.digest("hex")).toBe(w2.hash.digest("hex"));
      }
      pairs[0]!.client.abort();
      pairs[1]!.client.close();
      pairs[1]!.server.close();
      p.runUntil(() => pairs[1]!.client.state === TcpState.TimeWait || pairs[1]!.client.state === TcpState.Closed, 60_000);
      const st = segmentPoolState();
      expect(st.out).toBe(before);
      expect(new Set(st.free).size).toBe(st.free.length);
      p.close();
    });
  }
});
