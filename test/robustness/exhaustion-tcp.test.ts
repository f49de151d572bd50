/**
 * Resource exhaustion at the TCP layer: a SYN flood answered with SYN cookies, accept-queue
 * overflow, out-of-order queue flooding with tiny segments full of holes, many idle connections,
 * the per-stack connection limit, stack-wide TCP memory pressure (tcp_mem), a peer that never
 * reads and a peer that advertises a zero window forever. Each test checks that
 * memory stays bounded, that the counter naming the condition moves, and that legitimate traffic
 * is served during or after.
 */
import { describe, expect, it } from "vitest";
import { Address, Err, EventOut, TCP_PROTOCOL, TcpState, isError, type TcpEndpoint } from "@netstack-ts/netstack";
import {
  A, ACK, B, PEER_ISS, PSH, RST, SYN, TcpPair, TcpPeer, addr, buildPacket, expectNull, newTcp, ok, openClient,
  openServer, parseSent, type SentSegment,
} from "../../packages/netstack/test/helpers/tcp-harness.js";
import { SeededRandom } from "../../packages/netstack/src/clock/random.js";
import type { TcpProtocol } from "../../packages/netstack/src/transport/tcp/index.js";
import { MiB, heapAfterGc } from "./helpers.js";

/** Completes a handshake from peer port `port` to the stack's listener on 80; returns the stack's ISS. */
function handshake(peer: TcpPeer, port: number): number | null {
  peer.send({ srcPort: port, dstPort: 80, seq: PEER_ISS, flags: SYN, mss: 1460, window: 65535 });
  const synack = peer.sent().find((s) => s.dstPort === port && s.flags === (SYN | ACK));
  if (!synack) return null;
  peer.send({ srcPort: port, dstPort: 80, seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK, window: 65535 });
  return synack.seq;
}

describe("listener queues (RFC 9293 §3.10.7.2; Linux's SYN and accept backlogs)", () => {
  it("SYN flood: 100,000 SYNs from random sources at backlog 128 are answered with SYN cookies; memory stays bounded and a client connecting during the flood completes and echoes data (RFC 4987 §3.6)", () => {
    const peer = new TcpPeer();
    const stack = peer.stack;
    // Replies to the spoofed sources leave through the one link.
    stack.addRoute({ destination: "0.0.0.0/0", nic: 1 });
    const listener = newTcp(stack);
    expectNull(listener.bind(addr(A, 80)));
    expectNull(listener.listen(128));
    const proto = stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
    const LEGIT = 61_000;
    // What the stack writes is counted without parsing, except the legitimate client's segments.
    let synAcks = 0;
    const legit: SentSegment[] = [];
    const link = peer.link;
    link.onWrite = () => {
      for (let b = link.read(); b !== null; b = link.read()) {
        // IPv4 without options: destination address at 16 (10.0.0.2 is the legitimate client;
        // the flood comes from 198.18.0.0/15), TCP flags at 33.
        if (b[16] === 10) legit.push(parseSent(b, peer.clock.now()));
        else if ((b[33]! & (SYN | ACK)) === (SYN | ACK)) synAcks++;
      }
    };
    const legitOpts = { mss: 1460, wscale: 7, sackPermitted: true, hasTimestamp: true, tsEcr: 0 };
    const rnd = new SeededRandom(2024);
    const local = Address.from(A);
    const FLOOD = 100_000;
    const base = heapAfterGc();
    const t0 = performance.now();
    let server: TcpEndpoint | null = null;
    let synAck: SentSegment | undefined;
    for (let i = 0; i < FLOOD; i++) {
      // Spoofed SYNs from 198.18.0.0/15 with random ports and ISNs, options like a Linux client's.
      const src = Address.fromUint32((0xc6120000 | (rnd.uint32() & 0x1ffff)) >>> 0);
      link.inject(buildPacket(src, local, 1024 + (rnd.uint32() % 64_000), 80, {
        seq: rnd.uint32(), flags: SYN, window: 64240, opts: { ...legitOpts, tsVal: rnd.uint32() },
      }));
      if (i % 100 === 99) peer.advance(1);
      // The legitimate client, in the middle of the flood: SYN, then ACK, then data.
      if (i === 30_000) {
        peer.send({ srcPort: LEGIT, dstPort: 80, seq: PEER_ISS, flags: SYN, window: 64240, opts: { ...legitOpts, tsVal: 100 } });
        synAck = legit.find((s) => s.flags === (SYN | ACK));
      }
      if (i === 50_000) {
        expect(synAck).toBeDefined();
        peer.send({
          srcPort: LEGIT, dstPort: 80, seq: PEER_ISS + 1, ack: synAck!.seq + 1, flags: ACK, window: 502,
          opts: { hasTimestamp: true, tsVal: 200, tsEcr: synAck!.options.tsVal },
        });
        server = ok(listener.accept()).endpoint as TcpEndpoint;
      }
      if (i === 70_000) {
        peer.send({
          srcPort: LEGIT, dstPort: 80, seq: PEER_ISS + 1, ack: synAck!.seq + 1, flags: ACK | PSH, window: 502,
          opts: { hasTimestamp: true, tsVal: 300, tsEcr: synAck!.options.tsVal }, payload: new TextEncoder().encode("during the flood"),
        });
        // The server echoes what it read.
        const buf = new Uint8Array(64);
        const r = ok(server!.read(buf));
        ok(server!.write(buf.subarray(0, r.count)));
      }
    }
    const wall = performance.now() - t0;
    const growth = heapAfterGc() - base;
    const st = stack.stats.tcp;
    console.log(`SYN flood: ${FLOOD} SYNs in ${wall.toFixed(0)} ms wall, heap growth ${(growth / MiB).toFixed(2)} MiB, ` +
      `cookies sent ${proto.counters.syncookiesSent}, SYN-ACKs out ${synAcks}, endpoints ${stack.endpointCount()}`);
    // Bounded: the listener, its 128 half-open connections and the legitimate connection.
    expect(stack.endpointCount()).toBeLessThanOrEqual(1 + 128 + 1);
    expect(growth).toBeLessThan(16 * MiB);
    // The stack kept answering: every SYN beyond the SYN queue got a cookie, none was dropped.
    expect(proto.counters.syncookiesSent).toBe(FLOOD + 1 - 128);
    expect(synAcks).toBeGreaterThanOrEqual(FLOOD - 128);
    expect(st.listenOverflowSynDrop).toBe(0);
    expect(proto.counters.syncookiesRecv).toBe(1);
    // The legitimate connection came from a cookie with its options, and its data was echoed.
    expect(server!.state).toBe(TcpState.Established);
    expect(server!.snd.wndScale).toBe(7);
    expect(server!.snd.sackOk).toBe(true);
    const echo = legit.find((s) => s.payloadLength > 0);
    expect(echo).toBeDefined();
    expect(new TextDecoder().decode(echo!.payload)).toBe("during the flood");
    expect(echo!.ack).toBe(PEER_ISS + 1 + 16);
  });

  it("accept-queue overflow: completed connections beyond the backlog are refused and counted; accepted ones work", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    expectNull(listener.bind(addr(A, 80)));
    expectNull(listener.listen(4));
    for (let i = 0; i < 200; i++) handshake(peer, 20_000 + i);
    peer.sent();
    const st = peer.stack.stats.tcp;
    expect(st.listenOverflowSynDrop + st.listenOverflowAckDrop).toBeGreaterThan(0);
    expect(peer.stack.endpointCount()).toBeLessThanOrEqual(1 + 2 * 5);
    const accepted: TcpEndpoint[] = [];
    for (;;) {
      const a = listener.accept();
      if (isError(a)) break;
      accepted.push(a.endpoint as TcpEndpoint);
    }
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThanOrEqual(5);
    // The queue has room again: a new client connects, and its data is delivered.
    const iss = handshake(peer, 30_000);
    expect(iss).not.toBeNull();
    const c = ok(listener.accept()).endpoint as TcpEndpoint;
    peer.send({ srcPort: 30_000, dstPort: 80, seq: PEER_ISS + 1, ack: iss! + 1, flags: ACK, window: 65535, payload: Uint8Array.of(1, 2, 3) });
    const r = ok(c.read(new Uint8Array(8)));
    expect(r.count).toBe(3);
  });
});

describe("out-of-order queue flooding (RFC 9293 §3.10.7.4: data beyond RCV.NXT is queued only inside the window)", () => {
  it("tiny segments full of holes stay inside the receive window, and the stream still reassembles exactly", () => {
    const peer = new TcpPeer();
    const s = openServer(peer, { window: 65535 });
    // 30,000 holes: the out-of-order queue keeps sorted pieces (binary search, O(1) append) and
    // at most max(64, buffer/256) of them; the rest are counted drops (Linux's prune).
    const data = new Uint8Array(60_000).map((_, i) => (i * 31 + 7) & 0xff);
    const base = heapAfterGc();
    // 1-byte segments at every other offset (30,000 holes), then 1-byte segments far beyond the
    // window (must be refused, not queued).
    for (let off = 1; off < data.length; off += 2) {
      peer.send({ seq: s.peerNxt + off, ack: s.stackNxt, flags: ACK, window: 65535, payload: data.subarray(off, off + 1) });
    }
    for (let k = 0; k < 5000; k++) {
      peer.send({ seq: (s.peerNxt + 1_000_000 + 2 * k) >>> 0, ack: s.stackNxt, flags: ACK, window: 65535, payload: Uint8Array.of(9) });
    }
    peer.sent();
    const growth = heapAfterGc() - base;
    // Bounded by the window and by the piece cap; the excess is counted.
    expect(growth).toBeLessThan(8 * MiB);
    const counters = (peer.stack.transportProtocol(6) as unknown as { counters: { ofoDrops: number } }).counters;
    expect(counters.ofoDrops).toBeGreaterThan(20_000);
    expect(s.ep.state).toBe(TcpState.Established);
    // Fill the holes with full segments carrying the same bytes: the reader gets the exact stream.
    for (let off = 0; off < data.length; off += 1460) {
      peer.send({ seq: s.peerNxt + off, ack: s.stackNxt, flags: ACK, window: 65535, payload: data.subarray(off, Math.min(off + 1460, data.length)) });
    }
    const got = new Uint8Array(data.length);
    let n = 0;
    for (;;) {
      const r = s.ep.read(got.subarray(n));
      if (isError(r) || r.count === 0) break;
      n += r.count;
    }
    expect(n).toBe(data.length);
    expect(Buffer.compare(got, data)).toBe(0);
  });
});

describe("many idle connections", () => {
  it("1,000 idle connections stay under a per-connection memory bound and each still moves data", () => {
    const p = new TcpPair();
    const listener = newTcp(p.b);
    expectNull(listener.bind(addr(B, 80)));
    expectNull(listener.listen(4096));
    const clients: TcpEndpoint[] = [];
    const base = heapAfterGc();
    for (let i = 0; i < 1000; i++) {
      const c = newTcp(p.a);
      c.connect(addr(B, 80));
      clients.push(c);
    }
    p.advance(100);
    const servers: TcpEndpoint[] = [];
    for (;;) {
      const a = listener.accept();
      if (isError(a)) break;
      servers.push(a.endpoint as TcpEndpoint);
    }
    expect(servers.length).toBe(1000);
    p.advance(10_000);
    const perConn = (heapAfterGc() - base) / 1000;
    // A connection with default 128 KiB buffers must not preallocate them.
    expect(perConn).toBeLessThan(32 * 1024);
    expect(p.a.stats.tcp.currentEstablished + p.b.stats.tcp.currentEstablished).toBe(2000);
    // Every connection still works: each client sends 16 bytes, each server sees them.
    for (let i = 0; i < clients.length; i++) ok(clients[i]!.write(Uint8Array.of(i & 0xff, ...new Uint8Array(15))));
    p.advance(1000);
    const buf = new Uint8Array(32);
    let total = 0;
    for (const s of servers) {
      const r = s.read(buf);
      if (!isError(r)) total += r.count;
    }
    expect(total).toBe(16 * 1000);
  });
});

describe("maximum connections per stack (TcpProtocolOptions.maxConnections)", () => {
  it("past the limit passive opens are dropped and counted and connect() fails with no-buffer-space; established connections keep working and a closed one makes room", () => {
    const peer = new TcpPeer({ tcp: { maxConnections: 8 } });
    const proto = peer.stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
    const listener = newTcp(peer.stack);
    expectNull(listener.bind(addr(A, 80)));
    expectNull(listener.listen(16));
    // The listener counts: 7 connections fit, the 8th SYN gets no answer.
    const iss: number[] = [];
    for (let i = 0; i < 7; i++) iss.push(handshake(peer, 21_000 + i)!);
    expect(iss.every((x) => typeof x === "number")).toBe(true);
    expect(handshake(peer, 21_100)).toBeNull();
    expect(proto.counters.maxConnectionsDrops).toBe(1);
    expect(peer.stack.endpointCount()).toBe(8);
    const conns: TcpEndpoint[] = [];
    for (let a = listener.accept(); !isError(a); a = listener.accept()) conns.push(a.endpoint as TcpEndpoint);
    expect(conns).toHaveLength(7);
    // An outgoing connection is refused too, as Linux's connect when it cannot allocate (ENOBUFS).
    const c = newTcp(peer.stack);
    expect(c.connect(addr(B, 443))).toBe(Err.NoBufferSpace);
    c.close();
    // The connections that exist still move data.
    peer.send({ srcPort: 21_000, dstPort: 80, seq: PEER_ISS + 1, ack: iss[0]! + 1, flags: ACK | PSH, window: 65535, payload: Uint8Array.of(1, 2, 3) });
    const buf = new Uint8Array(8);
    expect(ok(conns[0]!.read(buf)).count).toBe(3);
    ok(conns[0]!.write(buf.subarray(0, 3)));
    expect(peer.sent().some((x) => x.dstPort === 21_000 && x.payloadLength === 3)).toBe(true);
    // One connection goes away (reset): the next SYN is served again.
    conns[1]!.abort();
    peer.sent();
    expect(handshake(peer, 21_101)).not.toBeNull();
    expect(proto.counters.maxConnectionsDrops).toBe(1);
  });
});

describe("stack-wide TCP memory (Linux tcp_mem: low / pressure / high, in bytes)", () => {
  it("under pressure windows stop growing and out-of-order data is dropped; above the limit in-order data needing memory is dropped; no accepted data is lost, and a connection with nothing queued still works", () => {
    const peer = new TcpPeer({ tcp: { tcpMem: [40_000, 60_000, 100_000] } });
    const proto = peer.stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
    const c = proto.counters;
    const listener = newTcp(peer.stack);
    expectNull(listener.bind(addr(A, 80)));
    expectNull(listener.listen(16));
    const ports = [31_001, 31_002, 31_003, 31_004];
    const iss = new Map<number, number>();
    const conn = new Map<number, TcpEndpoint>();
    const nxt = new Map<number, number>(); // the peer's next sequence number per port
    const sentBytes = new Map<number, number[]>();
    for (const port of ports) {
      iss.set(port, handshake(peer, port)!);
      nxt.set(port, PEER_ISS + 1);
      sentBytes.set(port, []);
      conn.set(port, ok(listener.accept()).endpoint as TcpEndpoint);
      // TCP_QUICKACK: every segment is acknowledged at once (the test reads the windows).
      expectNull(conn.get(port)!.setSockOpt("quickAck", true));
    }
    /** Sends `n` bytes in order on `port` (1000-byte segments); returns the ACKs the stack sent. */
    const send = (port: number, n: number): SentSegment[] => {
      const out: SentSegment[] = [];
      for (let off = 0; off < n; off += 1000) {
        const len = Math.min(1000, n - off);
        const seq = nxt.get(port)!;
        const data = new Uint8Array(len).map((_, k) => (seq + k) & 0xff);
        peer.send({ srcPort: port, dstPort: 80, seq, ack: iss.get(port)! + 1, flags: ACK | PSH, window: 65535, payload: data });
        out.push(...peer.sent().filter((x) => x.dstPort === port));
        // The sender moves on only past what the stack took (dropped data is sent again later).
        const ack = conn.get(port)!.rcv.rcvNxt;
        if (ack > seq) {
          for (let k = seq; k < ack; k++) sentBytes.get(port)!.push(k & 0xff);
          nxt.set(port, ack);
        }
      }
      return out;
    };
    const mem = () => proto.tcpMemory();

    send(31_001, 50_000);
    expect(mem().bytes).toBe(50_000);
    expect(mem().pressure).toBe(false);
    // Crossing tcp_mem[1]: pressure.
    send(31_002, 20_000);
    expect(mem().bytes).toBe(70_000);
    expect(mem().pressure).toBe(true);
    expect(c.memPressureEntered).toBe(1);
    // Out-of-order data (beyond a hole) is refused under pressure and counted.
    const ofo = c.memPressureOfoDrops;
    peer.send({ srcPort: 31_003, dstPort: 80, seq: PEER_ISS + 1 + 1000, ack: iss.get(31_003)! + 1, flags: ACK, window: 65535, payload: new Uint8Array(500) });
    peer.sent();
    expect(c.memPressureOfoDrops).toBe(ofo + 1);
    expect(conn.get(31_003)!.rcv.ooo.bytes).toBe(0);
    expect(mem().bytes).toBe(70_000);
    // In-order data is still taken, but the right edge stops moving: the window shrinks by what
    // arrives (65535 without pressure) and does not reopen after the application reads.
    const w0 = send(31_003, 10_000).at(-1)!.window;
    expect(w0).toBeLessThanOrEqual(65_535 - 10_000);
    expect(conn.get(31_003)!.read(new Uint8Array(10_000))).not.toSatisfy(isError);
    const w1 = send(31_003, 1000).at(-1)!.window;
    expect(w1).toBeLessThanOrEqual(w0 - 1000);
    // Beyond tcp_mem[2]: new in-order data on a connection with data queued is dropped (counted).
    send(31_002, 30_000);
    expect(mem().overLimit).toBe(true);
    const high = c.memHighDrops;
    const before = conn.get(31_001)!.rcv.queue.size;
    const acks = send(31_001, 1000);
    expect(c.memHighDrops).toBe(high + 1);
    expect(conn.get(31_001)!.rcv.queue.size).toBe(before);
    expect(acks.at(-1)!.ack).toBe(nxt.get(31_001)); // not acknowledged: the sender keeps it
    // A connection with nothing queued still makes progress, and echoes.
    send(31_004, 100);
    const e = conn.get(31_004)!;
    const got = ok(e.read(new Uint8Array(200)));
    expect(got.count).toBe(100);
    ok(e.write(new Uint8Array(100).fill(7)));
    expect(peer.sent().some((x) => x.dstPort === 31_004 && x.payloadLength === 100)).toBe(true);
    // Nothing accepted was lost: every connection reads exactly the bytes acknowledged.
    for (const port of ports.slice(0, 3)) {
      const ep = conn.get(port)!;
      const all: number[] = [];
      const buf = new Uint8Array(65_536);
      for (let r = ep.read(buf); !isError(r) && r.count > 0; r = ep.read(buf)) all.push(...buf.subarray(0, r.count));
      const want = sentBytes.get(port)!;
      const skip = port === 31_003 ? 10_000 : 0; // read above
      expect(all.length).toBe(want.length - skip);
      expect(Buffer.from(all).equals(Buffer.from(want.slice(skip)))).toBe(true);
    }
    // All read: only the echo's 100 unacknowledged bytes remain; pressure is over (below tcp_mem[0]).
    expect(mem().bytes).toBe(100);
    expect(mem().pressure).toBe(false);
    // The data dropped above the limit is taken when the sender retransmits it.
    send(31_001, 1000);
    expect(ok(conn.get(31_001)!.read(new Uint8Array(2000))).count).toBe(1000);
  });
});

describe("stack-wide TCP memory: the send side", () => {
  it("above tcp_mem[2] a writer with data still queued gets would-block until its data is acknowledged, then may write again", () => {
    const peer = new TcpPeer({ tcp: { tcpMem: [2000, 3000, 4000] } });
    const proto = peer.stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
    const s = openServer(peer, { window: 65535 });
    const w = s.ep.write(new Uint8Array(6000).fill(1));
    expect(w).toBe(6000);
    const out = peer.sent();
    expect(proto.tcpMemory()).toMatchObject({ bytes: 6000, overLimit: true });
    expect(s.ep.write(new Uint8Array(100))).toBe(Err.WouldBlock);
    expect(s.ep.readiness(EventOut)).toBe(0); // not writable
    // The peer acknowledges everything: memory is back, the writer is told and may write.
    const end = Math.max(...out.map((x) => x.seq + x.payloadLength));
    peer.send({ seq: s.peerNxt, ack: end, flags: ACK, window: 65535 });
    expect(proto.tcpMemory()).toMatchObject({ bytes: 0, pressure: false });
    expect(s.ep.readiness(EventOut)).toBe(EventOut);
    expect(s.ep.write(new Uint8Array(100))).toBe(100);
  });
});

describe("a peer that never reads (RFC 9293 §3.8.6.1: zero window, persist timer)", () => {
  it("the sender's buffer stays bounded, writes would-block, probes continue, and the data arrives intact once read", () => {
    const p = new TcpPair();
    const { client, server } = p.connectPair(80);
    const sndbuf = client.getSockOpt("sendBufferSize");
    expect(typeof sndbuf).toBe("number");
    const chunk = new Uint8Array(16_384);
    let written = 0;
    let blocked = 0;
    const base = heapAfterGc();
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < chunk.length; i++) chunk[i] = ((written + i) * 7) & 0xff;
      const w = client.write(chunk);
      if (isError(w)) {
        expect(w).toBe(Err.WouldBlock);
        blocked++;
        p.advance(1000);
        continue;
      }
      written += w;
      p.advance(10);
    }
    // Bounded: the client holds at most its send buffer (autotuned with cwnd, never past
    // tcp_wmem[2] = 4 MiB), the server at most its receive buffer.
    const grown = client.getSockOpt("sendBufferSize") as number;
    expect(grown).toBeGreaterThanOrEqual(sndbuf as number);
    expect(grown).toBeLessThanOrEqual(4 * MiB);
    expect(written).toBeLessThanOrEqual(grown + (server.getSockOpt("receiveBufferSize") as number) + 65_536);
    expect(blocked).toBeGreaterThan(300);
    expect(heapAfterGc() - base).toBeLessThan(8 * MiB);
    const probes = p.a.stats.tcp.zeroWindowProbes;
    p.advance(120_000);
    expect(p.a.stats.tcp.zeroWindowProbes).toBeGreaterThan(probes);
    expect(client.state).toBe(TcpState.Established);
    // The reader wakes up: every byte written arrives in order.
    const buf = new Uint8Array(65_536);
    let got = 0;
    for (let t = 0; t < 2000 && got < written; t++) {
      for (;;) {
        const r = server.read(buf);
        if (isError(r)) break;
        for (let i = 0; i < r.count; i++) if (buf[i] !== ((got + i) * 7 & 0xff)) throw new Error(`byte ${got + i} differs`);
        got += r.count;
      }
      p.advance(50);
    }
    expect(got).toBe(written);
  });

  it("a zero window advertised forever: persist probes go on; with TCP_USER_TIMEOUT the connection is closed", () => {
    for (const userTimeout of [0, 30_000]) {
      const peer = new TcpPeer();
      const c = openClient(peer, { window: 0, setup: (ep) => { if (userTimeout) expectNull(ep.setSockOpt("userTimeout", userTimeout)); } });
      ok(c.ep.write(new Uint8Array(1000).fill(5)));
      let probes = 0;
      for (let t = 0; t < 600; t++) {
        peer.advance(1000);
        for (const s of peer.sent()) {
          if (s.flags & RST) continue;
          probes++;
          // The peer answers every probe, still with a zero window.
          peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK, window: 0 });
        }
      }
      if (userTimeout === 0) {
        expect(probes).toBeGreaterThan(5);
        expect(c.ep.state).toBe(TcpState.Established);
      } else {
        expect(c.ep.state).toBe(TcpState.Closed);
        expect(c.ep.read(new Uint8Array(1))).toBe(Err.Timeout);
      }
    }
  });
});
