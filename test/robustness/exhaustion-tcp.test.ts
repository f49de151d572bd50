/**
 * Resource exhaustion at the TCP layer, as far as TCP part 1 goes (SYN cookies and receive-memory
 * limits come with TCP part 2): a SYN flood against the listener's SYN queue, accept-queue
 * overflow, out-of-order queue flooding with tiny segments full of holes, many idle connections, a
 * peer that never reads and a peer that advertises a zero window forever. Each test checks that
 * memory stays bounded, that the counter naming the condition moves, and that legitimate traffic
 * is served during or after.
 */
import { describe, expect, it } from "vitest";
import { Err, TcpState, isError, type TcpEndpoint } from "@netstack-ts/netstack";
import {
  A, ACK, B, PEER_ISS, RST, SYN, TcpPair, TcpPeer, addr, expectNull, newTcp, ok, openClient, openServer,
} from "../../packages/netstack/test/helpers/tcp-harness.js";
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
  it("SYN flood: the SYN queue stays at the backlog, drops are counted, and a client gets in once the half-open entries expire", () => {
    const peer = new TcpPeer({ tcp: { synAckRetries: 2 } });
    const listener = newTcp(peer.stack);
    expectNull(listener.bind(addr(A, 80)));
    expectNull(listener.listen(16));
    const base = heapAfterGc();
    const FLOOD = 20_000;
    for (let i = 0; i < FLOOD; i++) {
      peer.send({ srcPort: 1024 + (i % 60_000), dstPort: 80, seq: i * 7919, flags: SYN, mss: 1460, window: 65535 });
      if ((i & 1023) === 0) peer.sent();
    }
    peer.sent();
    const st = peer.stack.stats.tcp;
    // Half-open connections are bounded by the backlog: 1 listener + 16 children at most.
    expect(peer.stack.endpointCount()).toBeLessThanOrEqual(1 + 16);
    expect(st.listenOverflowSynDrop).toBeGreaterThanOrEqual(FLOOD - 16);
    expect(heapAfterGc() - base).toBeLessThan(8 * MiB);
    // Without SYN cookies (TCP part 2) a legitimate SYN is dropped while the queue is full; once
    // the SYN-ACK retries give up, the queue drains and a real client connects and is accepted.
    peer.advance(60_000);
    peer.sent();
    expect(peer.stack.endpointCount()).toBe(1);
    expect(handshake(peer, 61_000)).not.toBeNull();
    const acc = ok(listener.accept());
    expect((acc.endpoint as TcpEndpoint).state).toBe(TcpState.Established);
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
    // 6,000 holes: the out-of-order queue inserts in O(n), so 30,000 one-byte pieces cost ~20 s of
    // CPU (reported for TCP part 2); this size keeps the test fast and still floods the queue.
    const data = new Uint8Array(12_000).map((_, i) => (i * 31 + 7) & 0xff);
    const base = heapAfterGc();
    // 1-byte segments at every other offset (6,000 holes), then 1-byte segments far beyond the
    // window (must be refused, not queued).
    for (let off = 1; off < data.length; off += 2) {
      peer.send({ seq: s.peerNxt + off, ack: s.stackNxt, flags: ACK, window: 65535, payload: data.subarray(off, off + 1) });
    }
    for (let k = 0; k < 5000; k++) {
      peer.send({ seq: (s.peerNxt + 1_000_000 + 2 * k) >>> 0, ack: s.stackNxt, flags: ACK, window: 65535, payload: Uint8Array.of(9) });
    }
    peer.sent();
    const growth = heapAfterGc() - base;
    // 6,000 one-byte pieces: bounded by the window, though not by a per-piece cost (TCP part 2's
    // memory limits).
    expect(growth).toBeLessThan(8 * MiB);
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
