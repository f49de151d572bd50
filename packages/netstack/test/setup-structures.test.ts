/**
 * Structures that connection setup touches for every connection (issue #8, row 5a), made cheaper:
 * the transport demuxer's own chained hash table (grows and shrinks with the registrations), the
 * protocol's intrusive endpoint list, and per-connection state shared until first written (the
 * sender's SACK scoreboard, the receiver's recent out-of-order list, a listener's cookie stamp).
 * Each test fails if the invariant that makes the sharing or the table safe is broken.
 */
import { describe, expect, it } from "vitest";
import { TransportDemuxer } from "../src/stack/demuxer.js";
import type { TransportEndpointId } from "../src/stack/registration.js";
import { Address, IPV4_PROTOCOL, TCP_PROTOCOL, UDP_PROTOCOL } from "../src/tcpip/address.js";
import { SeededRandom } from "../src/clock/random.js";
import { EndpointList, type Listed } from "../src/transport/tcp/eplist.js";
import { NO_SACKED } from "../src/transport/tcp/snd.js";
import { NO_RECENT } from "../src/transport/tcp/rcv.js";
import { TcpState } from "../src/transport/tcp/state.js";
import { HyStartCss, HyStartPlusPlus, HyStartSlowStart } from "../src/transport/tcp/congestion.js";
import { IsnGenerator } from "../src/transport/tcp/isn.js";
import { ManualClock } from "../src/clock/clock.js";
import {
  ACK, PEER_ISS, PSH, TcpPair, TcpPeer, addr, bytes, expectNull, newTcp, ok, openClient,
} from "./helpers/tcp-harness.js";
import { NO_FLAGS, addrBytes, handler } from "./helpers/demux.js";


function lookup(d: TransportDemuxer, src: Address, srcPort: number, dst: Address, dstPort: number, proto = TCP_PROTOCOL) {
  return d.lookup(proto, IPV4_PROTOCOL, addrBytes(src, dst), 0, 4, 4, srcPort, dstPort, 1);
}

function lookupAll(d: TransportDemuxer, src: Address, srcPort: number, dst: Address, dstPort: number) {
  return d.lookupAll(UDP_PROTOCOL, IPV4_PROTOCOL, addrBytes(src, dst), 0, 4, 4, srcPort, dstPort, 1);
}

/** The demuxer's slot count (private): to check that the table really grew and shrank. */
function slotCount(d: TransportDemuxer): number {
  return (d as unknown as { slots: unknown[] }).slots.length;
}

function shuffled(n: number, seed: number): number[] {
  const rnd = new SeededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rnd.uint32() % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

describe("transport demuxer table (chained slots of its own, resized with the registrations)", () => {
  const LOCAL = Address.from("10.0.0.1");
  const peerOf = (i: number) => Address.from(`10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);

  it("finds every one of 5,000 connections by its 4-tuple while the table grows, and after it shrinks again", () => {
    const d = new TransportDemuxer();
    const listener = handler("listener");
    expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], { localPort: 80, localAddress: null, remotePort: 0, remoteAddress: null }, listener, NO_FLAGS, 0));
    const small = slotCount(d);
    const conns: { id: TransportEndpointId; ep: ReturnType<typeof handler> }[] = [];
    for (let i = 0; i < 5000; i++) {
      const id = { localPort: 80, localAddress: LOCAL, remotePort: 1024 + (i % 50_000), remoteAddress: peerOf(i) };
      const ep = handler(`c${i}`);
      expectNull(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], id, ep, NO_FLAGS, 0));
      conns.push({ id, ep });
      // Spot checks while resizes happen: the newest and the oldest are found.
      if ((i & 511) === 0) {
        expect(lookup(d, id.remoteAddress, id.remotePort, LOCAL, 80)).toEqual([ep]);
        expect(lookup(d, conns[0]!.id.remoteAddress!, conns[0]!.id.remotePort, LOCAL, 80)).toEqual([conns[0]!.ep]);
      }
    }
    expect(d.size).toBe(5001);
    expect(slotCount(d)).toBeGreaterThanOrEqual(5001);
    for (const c of conns) expect(lookup(d, c.id.remoteAddress!, c.id.remotePort, LOCAL, 80)).toEqual([c.ep]);
    // Remove 4,950 in a shuffled order: the table shrinks and the rest are still found.
    const order = shuffled(conns.length, 11);
    const gone = new Set(order.slice(0, 4950));
    for (const i of gone) d.unregister(TCP_PROTOCOL, [IPV4_PROTOCOL], conns[i]!.id, conns[i]!.ep);
    expect(d.size).toBe(51);
    expect(slotCount(d)).toBeLessThan(1024);
    expect(slotCount(d)).toBeGreaterThanOrEqual(small);
    conns.forEach((c, i) => {
      expect(lookup(d, c.id.remoteAddress!, c.id.remotePort, LOCAL, 80)).toEqual([gone.has(i) ? listener : c.ep]);
    });
    // Everything out: only the listener's entry is left, then nothing.
    conns.forEach((c, i) => { if (!gone.has(i)) d.unregister(TCP_PROTOCOL, [IPV4_PROTOCOL], c.id, c.ep); });
    expect(d.size).toBe(1);
    expect(slotCount(d)).toBe(small);
    d.unregister(TCP_PROTOCOL, [IPV4_PROTOCOL], { localPort: 80, localAddress: null, remotePort: 0, remoteAddress: null }, listener);
    expect(lookup(d, peerOf(3), 1027, LOCAL, 80)).toBeNull();
  });

  for (const keyMask of [0x3fffffff, 0x1]) {
    it(`lookupAll lists the receivers in registration order, across resizes and re-registration (key mask ${keyMask.toString(16)})`, () => {
      const d = new TransportDemuxer(keyMask);
      const dst = Address.from("10.0.0.255");
      const src = Address.from("10.0.0.7");
      // The four kinds of receiver of a datagram src:7 -> dst:53, registered between 1,000 others
      // (other ports, or port 53 connected elsewhere) that make the table grow several times.
      const ids: TransportEndpointId[] = [
        { localPort: 53, localAddress: dst, remotePort: 7, remoteAddress: src },
        { localPort: 53, localAddress: null, remotePort: 0, remoteAddress: null },
        { localPort: 53, localAddress: dst, remotePort: 0, remoteAddress: null },
        { localPort: 53, localAddress: null, remotePort: 7, remoteAddress: src },
      ];
      const rx = ids.map((_, i) => handler(`rx${i}`));
      let noise = 0;
      const addNoise = (n: number) => {
        for (let k = 0; k < n; k++, noise++) {
          const id = noise % 2
            ? { localPort: 1000 + noise, localAddress: null, remotePort: 0, remoteAddress: null }
            : { localPort: 53, localAddress: dst, remotePort: 8 + noise, remoteAddress: src };
          expectNull(d.register(UDP_PROTOCOL, [IPV4_PROTOCOL], id, handler(`n${noise}`), NO_FLAGS, 0));
        }
      };
      ids.forEach((id, i) => {
        addNoise(250);
        expectNull(d.register(UDP_PROTOCOL, [IPV4_PROTOCOL], id, rx[i]!, NO_FLAGS, 0));
      });
      const names = () => lookupAll(d, src, 7, dst, 53).map((e) => (e as unknown as { name: string }).name);
      expect(names()).toEqual(["rx0", "rx1", "rx2", "rx3"]);
      // The first receiver leaves and comes back: it is now the last.
      d.unregister(UDP_PROTOCOL, [IPV4_PROTOCOL], ids[0]!, rx[0]!);
      expect(names()).toEqual(["rx1", "rx2", "rx3"]);
      expectNull(d.register(UDP_PROTOCOL, [IPV4_PROTOCOL], ids[0]!, rx[0]!, NO_FLAGS, 0));
      expect(names()).toEqual(["rx1", "rx2", "rx3", "rx0"]);
      expect(d.size).toBe(1004);
    });
  }
});

describe("the protocol's endpoint list (intrusive, in insertion order)", () => {
  interface Item extends Listed<Item> { n: number }
  const item = (n: number): Item => ({ n, listPrev: null, listNext: null });

  it("adds, deletes (head, middle, tail, twice), iterates in order and clears like a Set", () => {
    const l = new EndpointList<Item>();
    const xs = Array.from({ length: 6 }, (_, i) => item(i));
    for (const x of xs) l.add(x);
    l.add(xs[2]!); // already listed: no change
    expect(l.size).toBe(6);
    expect([...l].map((x) => x.n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(l.delete(xs[0]!)).toBe(true);
    expect(l.delete(xs[3]!)).toBe(true);
    expect(l.delete(xs[5]!)).toBe(true);
    expect(l.delete(xs[3]!)).toBe(false);
    expect(l.has(xs[3]!)).toBe(false);
    expect(l.has(xs[1]!)).toBe(true);
    expect([...l].map((x) => x.n)).toEqual([1, 2, 4]);
    // Deleting the member just returned while iterating (what destroy() does).
    const seen: number[] = [];
    for (const x of l) {
      seen.push(x.n);
      l.delete(x);
    }
    expect(seen).toEqual([1, 2, 4]);
    expect(l.size).toBe(0);
    // The only member of a list is listed (it has no neighbours).
    l.add(xs[3]!);
    expect(l.has(xs[3]!)).toBe(true);
    l.add(xs[0]!);
    l.clear();
    expect([...l]).toEqual([]);
    expect(l.has(xs[3]!) || l.has(xs[0]!)).toBe(false);
    expect(xs.every((x) => x.listPrev === null && x.listNext === null)).toBe(true);
  });

  it("holds a stack's endpoints from creation to release, connections included, and is empty after the stack closes", () => {
    const pair = new TcpPair();
    const probe = newTcp(pair.a);
    const eps = probe.proto.endpoints;
    probe.close();
    expect(eps.has(probe)).toBe(false);
    const base = eps.size;
    const a = newTcp(pair.a);
    const b = newTcp(pair.a);
    expect(eps.size).toBe(base + 2);
    expect(eps.has(a) && eps.has(b)).toBe(true);
    expect([...eps].slice(-2)).toEqual([a, b]);
    a.close();
    expect(eps.has(a)).toBe(false);
    expect(eps.size).toBe(base + 1);
    b.close();
    expect(eps.size).toBe(base);
    const { client } = pair.connectPair(80);
    expect(eps.has(client)).toBe(true);
    // The listener and its accepted child are on the other stack's list.
    expect(eps.size).toBe(base + 1);
    pair.close();
    expect(eps.size).toBe(0);
    expect([...eps]).toEqual([]);
  });
});

describe("per-connection lists shared until first written (heap per endpoint, #8)", () => {
  it("the sender's scoreboard is the shared empty list until a SACK block, then its own; the shared one stays empty (RFC 2018)", () => {
    const peer = new TcpPeer();
    const { ep, iss } = openClient(peer, { mss: 1000, synAckOpts: { sackPermitted: true } });
    expect(ep.state).toBe(TcpState.Established);
    const other = newTcp(peer.stack);
    expect(ep.snd.sacked).toBe(NO_SACKED);
    expect(other.snd.sacked).toBe(NO_SACKED);
    expect(ok(ep.write(bytes(5000)))).toBe(5000);
    peer.sent();
    const u = iss + 1;
    peer.send({ seq: PEER_ISS + 1, ack: u, flags: ACK, opts: { sackBlockCount: 1, sackBlocks: [u + 2000, u + 3000] } });
    expect(ep.snd.sacked).not.toBe(NO_SACKED);
    expect(ep.snd.sacked).toEqual([u + 2000, u + 3000]);
    expect(NO_SACKED).toEqual([]);
    expect(other.snd.sacked).toBe(NO_SACKED);
    // Acknowledged: the sender's own list empties; the shared one was never touched.
    peer.send({ seq: PEER_ISS + 1, ack: u + 5000, flags: ACK });
    expect(ep.snd.sacked).toEqual([]);
    expect(NO_SACKED).toEqual([]);
  });

  it("the receiver's recent out-of-order list is shared until out-of-order data, and the SACK blocks stay right (RFC 2018 §4)", () => {
    const peer = new TcpPeer();
    const { ep, iss } = openClient(peer, { mss: 1000, synAckOpts: { sackPermitted: true } });
    const recentOf = (e: typeof ep) => (e.rcv as unknown as { recent: number[] }).recent;
    const other = newTcp(peer.stack);
    expect(recentOf(ep)).toBe(NO_RECENT);
    const s = PEER_ISS + 1;
    peer.send({ seq: s + 100, ack: iss + 1, flags: ACK | PSH, payload: bytes(100) });
    const a1 = peer.one();
    expect([a1.options.sackBlocks[0], a1.options.sackBlocks[1]]).toEqual([s + 100, s + 200]);
    expect(recentOf(ep)).not.toBe(NO_RECENT);
    peer.send({ seq: s + 300, ack: iss + 1, flags: ACK | PSH, payload: bytes(100) });
    const a2 = peer.one();
    expect(a2.options.sackBlockCount).toBe(2);
    expect([a2.options.sackBlocks[0], a2.options.sackBlocks[1]]).toEqual([s + 300, s + 400]);
    expect(NO_RECENT).toEqual([]);
    expect(recentOf(other)).toBe(NO_RECENT);
    // The hole fills: everything is in order, no blocks; abort clears only the endpoint's own list.
    peer.send({ seq: s, ack: iss + 1, flags: ACK | PSH, payload: bytes(100) });
    peer.send({ seq: s + 200, ack: iss + 1, flags: ACK | PSH, payload: bytes(100) });
    const last = peer.sent().at(-1)!;
    expect(last.ack).toBe(s + 400);
    expect(last.options.sackBlockCount).toBe(0);
    other.abort();
    ep.abort();
    expect(NO_RECENT).toEqual([]);
  });

  it("a listener that never sent a SYN cookie has no stamp, and checks no ACK as a cookie with syncookies = 1 (Linux tcp_synq_no_recent_overflow)", () => {
    const peer = new TcpPeer({ tcp: { syncookies: 1 } });
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr("10.0.0.1", 80)));
    expectNull(l.listen(8));
    expect(l.lastCookieAt).toBeNull();
    peer.stackPort = 80;
    // A bare ACK to the listener is not taken for a cookie: it is answered with a RST.
    peer.send({ seq: PEER_ISS + 1, ack: 12345, flags: ACK });
    const rst = peer.one();
    expect(rst.flags & 0x04).toBe(0x04);
    expect(peer.stack.stats.tcp.synCookiesFailed).toBe(0);
    expect(l.lastCookieAt).toBeNull();
  });
});

describe("HyStart++ round boundaries kept as int32 (no boxed number per connection, #8)", () => {
  /** Phases after each of 4 rounds of 10 ACKs (min RTT 20, 20, 23, 27 ms) with sequence numbers from `base`. */
  function phases(base: number): { phases: number[]; windowEnds: number[] } {
    const h = new HyStartPlusPlus();
    const out: number[] = [];
    const ends: number[] = [];
    [20, 20, 23, 27].forEach((rtt, r) => {
      for (let i = 0; i < 10; i++) h.onAck(rtt, (base + r * 100 + 10 * i) >>> 0, (base + (r + 1) * 100) >>> 0);
      out.push(h.phase);
      ends.push((h as unknown as { windowEnd: number }).windowEnd);
    });
    return { phases: out, windowEnds: ends };
  }

  it("rounds end at SND.NXT the same way below 2^31, above it and across the 2^32 wrap (RFC 9406 §4.2)", () => {
    const low = phases(0);
    expect(low.phases).toEqual([HyStartSlowStart, HyStartSlowStart, HyStartSlowStart, HyStartCss]);
    for (const base of [0x80000000 - 150, 0xc0000000, 0xffffffff - 250]) {
      const r = phases(base);
      expect(r.phases).toEqual(low.phases);
      // Stored as int32: a small integer to V8 whatever the sequence space.
      for (const w of r.windowEnds) expect(w).toBe(w | 0);
    }
  });
});

describe("ISN from the caller's clock reading (RFC 6528 §3)", () => {
  it("an ISN for a given instant is the same whether the generator reads the clock or is handed the reading", () => {
    const clock = new ManualClock(1234.5);
    const g = new IsnGenerator(clock, new SeededRandom(3));
    const a = Address.from("10.0.0.1");
    const b = Address.from("10.0.0.2");
    const own = g.generate(a, 40000, b, 80);
    expect(g.generate(a, 40000, b, 80, clock.now())).toBe(own);
    // M ticks every 4 µs: 1 ms later is 250 ticks on, mod 2^32.
    expect(g.generate(a, 40000, b, 80, clock.now() + 1)).toBe((own + 250) >>> 0);
    clock.advance(1);
    expect(g.generate(a, 40000, b, 80)).toBe((own + 250) >>> 0);
  });
});

describe("boolean fields packed into flag words (heap per endpoint, #8)", () => {
  /** The accessors backed by a flag word (their getter reads `flagBits`). */
  function flagNames(proto: object): string[] {
    return Object.entries(Object.getOwnPropertyDescriptors(proto))
      .filter(([, d]) => d.get && d.set && /flagBits/.test(d.get.toString()))
      .map(([k]) => k);
  }

  it("every flag of an endpoint, its sender, receiver and ECN state reads back what was written and leaves all the others alone", () => {
    const pair = new TcpPair();
    const { client } = pair.connectPair(80);
    const targets: [string, Record<string, boolean>, string[]][] = [
      ["TcpEndpoint", client as unknown as Record<string, boolean>, flagNames(Object.getPrototypeOf(client))],
      ["Sender", client.snd as unknown as Record<string, boolean>, flagNames(Object.getPrototypeOf(client.snd))],
      ["Receiver", client.rcv as unknown as Record<string, boolean>, flagNames(Object.getPrototypeOf(client.rcv))],
      ["TcpEcn", client.ecn as unknown as Record<string, boolean>, flagNames(Object.getPrototypeOf(client.ecn))],
    ];
    for (const [what, obj, names] of targets) {
      expect(names.length, what).toBeGreaterThanOrEqual(5);
      const before = names.map((n) => obj[n]);
      for (const n of names) {
        for (const v of [!obj[n], obj[n]]) {
          const others = names.filter((m) => m !== n).map((m) => obj[m]);
          obj[n] = v;
          expect(obj[n], `${what}.${n}`).toBe(v);
          expect(names.filter((m) => m !== n).map((m) => obj[m]), `${what}.${n} = ${v}`).toEqual(others);
        }
      }
      expect(names.map((n) => obj[n])).toEqual(before);
    }
    pair.close();
  });
});
