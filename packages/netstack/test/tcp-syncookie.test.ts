/**
 * SYN cookies (RFC 4987 §3.6) with Linux's semantics (net.ipv4.tcp_syncookies): cookies when a
 * listener's SYN queue is full (1, the default), always (2) or never (0); the cookie carries the
 * MSS, and with timestamps the window scale, SACK-permitted and ECN in the SYN-ACK's TSval; a
 * forged or stale cookie is rejected and counted; no state is kept for a cookie SYN-ACK.
 */
import { describe, expect, it } from "vitest";
import {
  A, ACK, PEER_ISS, PSH, RST, SYN, TcpPair, TcpPeer, addr, bytes, expectNull, newTcp, ok, Pattern, Reader, Writer,
  type SentSegment,
} from "./helpers/tcp-harness.js";
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, TCP_PROTOCOL } from "../src/tcpip/address.js";
import { makePair6 } from "./helpers/net6.js";
import { WaiterQueue } from "../src/waiter/queue.js";
import { isError } from "../src/tcpip/errors.js";
import { SeededRandom } from "../src/clock/random.js";
import { TCP_CWR, TCP_ECE } from "../src/header/tcp.js";
import { tcpWith, type TcpEndpoint, type TcpProtocol } from "../src/transport/tcp/index.js";
import {
  COOKIE_MSS_V4, COOKIE_SLOT_MS, SynCookies, decodeCookieTs, encodeCookieTs,
} from "../src/transport/tcp/syncookie.js";
import { TcpState } from "../src/transport/tcp/state.js";

function proto(peer: TcpPeer): TcpProtocol {
  return peer.stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
}

/**
 * A listener on 10.0.0.1:80 with backlog 1 whose SYN queue is already full: one half-open
 * connection from port 9999 (its SYN-ACK is consumed).
 */
function fullListener(peer: TcpPeer, backlog = 1): TcpEndpoint {
  const l = newTcp(peer.stack);
  expectNull(l.bind(addr(A, 80)));
  expectNull(l.listen(backlog));
  for (let i = 0; i < Math.max(backlog, 1); i++) peer.send({ srcPort: 9999 - i, dstPort: 80, seq: 5, flags: SYN, mss: 1460 });
  peer.sent();
  return l;
}

/** The SYN-ACK answering a SYN from `port` with `opts`. */
function synAck(peer: TcpPeer, port: number, opts: Parameters<TcpPeer["send"]>[0]["opts"], flags = SYN): SentSegment {
  peer.send({ srcPort: port, dstPort: 80, seq: PEER_ISS, flags, window: 65535, opts });
  const s = peer.sent().filter((x) => x.dstPort === port);
  expect(s).toHaveLength(1);
  return s[0]!;
}

describe("SYN cookie arithmetic (syncookie.ts)", () => {
  const la = Address.from("10.0.0.1");
  const ra = Address.from("10.0.0.2");

  it("a cookie checks for its own 4-tuple and peer ISN, carries the MSS rounded down to the table, and nothing else passes", () => {
    const c = new SynCookies(new SeededRandom(3));
    for (const [peerMss, want] of [[1460, 1460], [1500, 1460], [1448, 1440], [1400, 1300], [1000, 536], [200, 536]] as const) {
      const isn = c.make(la, 80, ra, 4000, 12345, peerMss, 1000);
      expect(c.check(la, 80, ra, 4000, 12345, isn, 1000)).toBe(want);
      // Another port, another peer ISN, a flipped bit: rejected.
      expect(c.check(la, 80, ra, 4001, 12345, isn, 1000)).toBe(0);
      expect(c.check(la, 80, ra, 4000, 12346, isn, 1000)).toBe(0);
      expect(c.check(la, 80, ra, 4000, 12345, (isn ^ 1) >>> 0, 1000)).toBe(0);
      // The MSS index is covered by the hash: changing it does not pass.
      expect(c.check(la, 80, ra, 4000, 12345, (isn ^ (1 << 28)) >>> 0, 1000)).toBe(0);
    }
    expect(COOKIE_MSS_V4).toEqual([536, 1300, 1440, 1460]);
    // A different secret (another stack) does not accept it.
    const other = new SynCookies(new SeededRandom(4));
    expect(other.check(la, 80, ra, 4000, 12345, c.make(la, 80, ra, 4000, 12345, 1460, 0), 0)).toBe(0);
  });

  it("a cookie is valid in its 64 s slot and the next one, not after (Linux's MAX_SYNCOOKIE_AGE = 2)", () => {
    const c = new SynCookies(new SeededRandom(5));
    const t0 = 10 * COOKIE_SLOT_MS + 63_000; // late in a slot
    const isn = c.make(la, 80, ra, 4000, 7, 1460, t0);
    expect(c.check(la, 80, ra, 4000, 7, isn, t0 + 2000)).toBe(1460); // next slot
    expect(c.check(la, 80, ra, 4000, 7, isn, 12 * COOKIE_SLOT_MS - 1)).toBe(1460);
    expect(c.check(la, 80, ra, 4000, 7, isn, 12 * COOKIE_SLOT_MS)).toBe(0); // two slots later
    expect(c.check(la, 80, ra, 4000, 7, isn, 14 * COOKIE_SLOT_MS + 63_000)).toBe(0); // slot bits wrap: still old
  });

  it("TSval carries wscale, SACK and ECN in its low 6 bits, never ahead of the clock (Linux's cookie_init_timestamp)", () => {
    const out = { wscale: -1, sackOk: false, ecn: false };
    for (const [ws, sack, ecn] of [[7, true, false], [-1, false, true], [14, true, true], [0, false, false]] as const) {
      for (const now of [1_000_000, 1_000_063, 0xffffffc0, 5]) {
        const ts = encodeCookieTs(now, ws, sack, ecn);
        expect(((now - ts) | 0) >= 0 && ((now - ts) | 0) < 64).toBe(true);
        const d = decodeCookieTs(ts, now, out);
        expect(d).toEqual({ wscale: ws, sackOk: sack, ecn });
      }
    }
    // An echo from the future is not one we sent.
    expect(decodeCookieTs(2000, 1000, out)).toBeNull();
  });
});

describe("SYN cookies at a listener (RFC 4987 §3.6; Linux tcp_syncookies = 1)", () => {
  it("with the SYN queue full a SYN gets a cookie SYN-ACK and no state; the ACK creates the connection with MSS, window scale, SACK and timestamps restored", () => {
    const peer = new TcpPeer();
    const l = fullListener(peer);
    const before = peer.stack.endpointCount();
    const sa = synAck(peer, 5000, { mss: 1460, wscale: 5, sackPermitted: true, hasTimestamp: true, tsVal: 777, tsEcr: 0 });
    expect(sa.flags).toBe(SYN | ACK);
    expect(sa.ack).toBe(PEER_ISS + 1);
    expect(peer.stack.endpointCount()).toBe(before); // stateless
    expect(sa.options.mss).toBe(1460);
    expect(sa.options.wscale).toBe(7);
    expect(sa.options.sackPermitted).toBe(true);
    expect(sa.options.hasTimestamp).toBe(true);
    expect(sa.options.tsEcr).toBe(777);
    expect(sa.options.tsVal & 0x3f).toBe(5 | 0x10); // peer's wscale 5, SACK bit
    const p = proto(peer);
    expect(p.counters.syncookiesSent).toBe(1);
    expect(peer.stack.stats.tcp.synCookiesSent).toBe(1);
    // The ACK comes back (with data), echoing TSval.
    peer.send({
      srcPort: 5000, dstPort: 80, seq: PEER_ISS + 1, ack: sa.seq + 1, flags: ACK | PSH, window: 1000,
      opts: { hasTimestamp: true, tsVal: 778, tsEcr: sa.options.tsVal }, payload: bytes(10),
    });
    expect(p.counters.syncookiesRecv).toBe(1);
    expect(peer.stack.stats.tcp.synCookiesValidated).toBe(1);
    const acc = ok(l.accept());
    expect(acc.peer.port).toBe(5000);
    const c = acc.endpoint as TcpEndpoint;
    expect(c.state).toBe(TcpState.Established);
    expect(c.snd.peerMss).toBe(1460);
    expect(c.snd.wndScale).toBe(5);
    expect(c.rcv.wndScale).toBe(7);
    expect(c.snd.sndWnd).toBe(1000 << 5);
    expect(c.snd.sackOk).toBe(true);
    expect(c.rcv.sackOk).toBe(true);
    expect(c.tsOk).toBe(true);
    expect(c.snd.iss).toBe(sa.seq);
    // The data in the ACK was taken; the reply continues our sequence and timestamp clock.
    const buf = new Uint8Array(32);
    expect(ok(c.read(buf)).count).toBe(10);
    ok(c.write(bytes(3)));
    const out = peer.sent().filter((s) => s.dstPort === 5000 && s.payloadLength > 0);
    expect(out).toHaveLength(1);
    expect(out[0]!.seq).toBe(sa.seq + 1);
    expect(out[0]!.ack).toBe(PEER_ISS + 11);
    expect(out[0]!.options.tsEcr).toBe(778);
    expect(((out[0]!.options.tsVal - sa.options.tsVal) | 0) >= 0).toBe(true);
  });

  it("without timestamps only the MSS survives: the SYN-ACK offers no window scale or SACK (as Linux)", () => {
    const peer = new TcpPeer();
    const l = fullListener(peer);
    const sa = synAck(peer, 5001, { mss: 1400, wscale: 6, sackPermitted: true });
    expect(sa.options.mss).toBe(1460);
    expect(sa.options.wscale).toBe(-1);
    expect(sa.options.sackPermitted).toBe(false);
    expect(sa.options.hasTimestamp).toBe(false);
    peer.send({ srcPort: 5001, dstPort: 80, seq: PEER_ISS + 1, ack: sa.seq + 1, flags: ACK, window: 4000 });
    const c = ok(l.accept()).endpoint as TcpEndpoint;
    expect(c.snd.peerMss).toBe(1300); // 1400 rounded down to the cookie table
    expect(c.snd.wndScale).toBe(0);
    expect(c.rcv.wndScale).toBe(0);
    expect(c.snd.sackOk).toBe(false);
    expect(c.tsOk).toBe(false);
    expect(c.snd.sndWnd).toBe(4000);
  });

  it("a forged cookie is rejected with a RST and counted; no connection is created", () => {
    const peer = new TcpPeer();
    const l = fullListener(peer);
    const sa = synAck(peer, 5002, { mss: 1460 });
    const p = proto(peer);
    const n = peer.stack.endpointCount();
    peer.send({ srcPort: 5002, dstPort: 80, seq: PEER_ISS + 1, ack: sa.seq + 2, flags: ACK });
    const rst = peer.sent();
    expect(rst).toHaveLength(1);
    expect(rst[0]!.flags).toBe(RST);
    expect(rst[0]!.seq).toBe(sa.seq + 2);
    // A cookie for another peer ISN (blind guess of the sequence number) fails too.
    peer.send({ srcPort: 5002, dstPort: 80, seq: PEER_ISS + 100, ack: sa.seq + 1, flags: ACK });
    expect(p.counters.syncookiesFailed).toBe(2);
    expect(peer.stack.stats.tcp.synCookiesFailed).toBe(2);
    expect(p.counters.syncookiesRecv).toBe(0);
    expect(peer.stack.endpointCount()).toBe(n);
    expect(l.accept()).toSatisfy(isError);
  });

  it("a stale cookie (two 64 s slots old) is rejected and counted; a fresh one from the same client works", () => {
    const peer = new TcpPeer();
    const l = fullListener(peer, 1);
    const old = synAck(peer, 5003, { mss: 1460 });
    // The SYN queue stays full (the half-open entry's retries run for 63 s; keep one there).
    peer.advance(100_000);
    peer.send({ srcPort: 9000, dstPort: 80, seq: 5, flags: SYN, mss: 1460 });
    peer.advance(30_000);
    peer.sent();
    peer.send({ srcPort: 9001, dstPort: 80, seq: 5, flags: SYN, mss: 1460 }); // keeps cookies in use
    peer.sent();
    const p = proto(peer);
    const failed = p.counters.syncookiesFailed;
    peer.send({ srcPort: 5003, dstPort: 80, seq: PEER_ISS + 1, ack: old.seq + 1, flags: ACK });
    expect(peer.sent().map((s) => s.flags)).toEqual([RST]);
    expect(p.counters.syncookiesFailed).toBe(failed + 1);
    const fresh = synAck(peer, 5003, { mss: 1460 });
    peer.send({ srcPort: 5003, dstPort: 80, seq: PEER_ISS + 1, ack: fresh.seq + 1, flags: ACK });
    expect(ok(l.accept()).peer.port).toBe(5003);
  });

  it("syncookies = 0 restores the drop: a SYN finding the SYN queue full gets nothing, and an ACK gets a RST", () => {
    const peer = new TcpPeer({ tcp: { syncookies: 0 } });
    fullListener(peer);
    const st = peer.stack.stats.tcp;
    const drops = st.listenOverflowSynDrop;
    peer.send({ srcPort: 5004, dstPort: 80, seq: PEER_ISS, flags: SYN, mss: 1460 });
    expect(peer.sent()).toEqual([]);
    expect(st.listenOverflowSynDrop).toBe(drops + 1);
    peer.send({ srcPort: 5004, dstPort: 80, seq: PEER_ISS + 1, ack: 12345, flags: ACK });
    expect(peer.sent().map((s) => s.flags)).toEqual([RST]);
    expect(proto(peer).counters.syncookiesSent).toBe(0);
    expect(proto(peer).counters.syncookiesFailed).toBe(0);
  });

  it("syncookies = 1 uses no cookie while the SYN queue has room, and does not check ACKs as cookies then", () => {
    const peer = new TcpPeer();
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr(A, 80)));
    expectNull(l.listen(8));
    peer.send({ srcPort: 5005, dstPort: 80, seq: PEER_ISS, flags: SYN, mss: 1460 });
    peer.sent();
    expect(peer.stack.endpointCount()).toBe(2); // a real SYN-RECEIVED child
    peer.send({ srcPort: 5006, dstPort: 80, seq: PEER_ISS + 1, ack: 12345, flags: ACK });
    expect(peer.sent().map((s) => s.flags)).toEqual([RST]);
    const c = proto(peer).counters;
    expect([c.syncookiesSent, c.syncookiesFailed]).toEqual([0, 0]);
  });

  it("syncookies = 2 answers every SYN with a cookie, keeping no SYN-RECEIVED state at all", () => {
    const peer = new TcpPeer({ tcp: { syncookies: 2 } });
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr(A, 80)));
    expectNull(l.listen(8));
    const sa = synAck(peer, 5007, { mss: 1460, wscale: 2, sackPermitted: true, hasTimestamp: true, tsVal: 1, tsEcr: 0 });
    expect(peer.stack.endpointCount()).toBe(1);
    expect(proto(peer).counters.syncookiesSent).toBe(1);
    peer.send({ srcPort: 5007, dstPort: 80, seq: PEER_ISS + 1, ack: sa.seq + 1, flags: ACK, opts: { hasTimestamp: true, tsVal: 2, tsEcr: sa.options.tsVal } });
    const c = ok(l.accept()).endpoint as TcpEndpoint;
    expect(c.snd.wndScale).toBe(2);
    expect(c.snd.sackOk).toBe(true);
  });

  it("a valid cookie ACK while the accept queue is full is dropped silently and counted (Linux); the peer's retransmission gets in once there is room", () => {
    const peer = new TcpPeer({ tcp: { syncookies: 2 } });
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr(A, 80)));
    expectNull(l.listen(0)); // one connection may wait
    const a1 = synAck(peer, 5010, { mss: 1460 });
    const a2 = synAck(peer, 5011, { mss: 1460 });
    peer.send({ srcPort: 5010, dstPort: 80, seq: PEER_ISS + 1, ack: a1.seq + 1, flags: ACK });
    const st = peer.stack.stats.tcp;
    const drops = st.listenOverflowAckDrop;
    peer.send({ srcPort: 5011, dstPort: 80, seq: PEER_ISS + 1, ack: a2.seq + 1, flags: ACK, payload: bytes(5) });
    expect(peer.sent()).toEqual([]);
    expect(st.listenOverflowAckDrop).toBe(drops + 1);
    expect(ok(l.accept()).peer.port).toBe(5010);
    peer.send({ srcPort: 5011, dstPort: 80, seq: PEER_ISS + 1, ack: a2.seq + 1, flags: ACK, payload: bytes(5) });
    const c = ok(l.accept());
    expect(c.peer.port).toBe(5011);
    expect(ok((c.endpoint as TcpEndpoint).read(new Uint8Array(8))).count).toBe(5);
  });

  it("an ECN-setup SYN (RFC 3168 §6.1.1) gets an ECE SYN-ACK from a cookie, and ECN survives through TSval", () => {
    const peer = new TcpPeer({ tcp: { syncookies: 2 } });
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr(A, 80)));
    expectNull(l.listen(8));
    const sa = synAck(peer, 5012, { mss: 1460, hasTimestamp: true, tsVal: 9, tsEcr: 0 }, SYN | TCP_ECE | TCP_CWR);
    expect(sa.flags).toBe(SYN | ACK | TCP_ECE);
    expect(sa.options.tsVal & 0x20).toBe(0x20);
    peer.send({ srcPort: 5012, dstPort: 80, seq: PEER_ISS + 1, ack: sa.seq + 1, flags: ACK, opts: { hasTimestamp: true, tsVal: 10, tsEcr: sa.options.tsVal } });
    const c = ok(l.accept()).endpoint as TcpEndpoint;
    expect(c.ecn.ok).toBe(true);
    // Without timestamps ECN could not survive the cookie: the SYN-ACK does not accept it.
    const plain = synAck(peer, 5013, { mss: 1460 }, SYN | TCP_ECE | TCP_CWR);
    expect(plain.flags).toBe(SYN | ACK);
    peer.send({ srcPort: 5013, dstPort: 80, seq: PEER_ISS + 1, ack: plain.seq + 1, flags: ACK });
    expect((ok(l.accept()).endpoint as TcpEndpoint).ecn.ok).toBe(false);
  });
});

describe("SYN cookies end to end (two stacks)", () => {
  it("a client connecting through a cookie moves 1 MiB both ways intact with window scaling, SACK and timestamps on", () => {
    const p = new TcpPair({ tcp: { syncookies: 2 } });
    const { client, server } = p.connectPair(80);
    const proto = p.b.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
    expect(proto.counters.syncookiesRecv).toBe(1);
    expect(server.snd.wndScale).toBe(client.rcv.wndScale);
    expect(client.snd.wndScale).toBe(server.rcv.wndScale);
    expect(server.snd.sackOk && client.snd.sackOk).toBe(true);
    expect(server.tsOk && client.tsOk).toBe(true);
    const pat = new Pattern(11);
    const total = 1 << 20;
    const w1 = new Writer(client, total, pat);
    const w2 = new Writer(server, total, pat);
    const r1 = new Reader(server);
    const r2 = new Reader(client);
    p.runUntil(() => {
      w1.pump();
      w2.pump();
      r1.pump();
      r2.pump();
      return r1.received === total && r2.received === total;
    }, 60_000);
    expect(r1.hash.digest("hex")).toBe(w1.hash.digest("hex"));
    expect(r2.hash.digest("hex")).toBe(w2.hash.digest("hex"));
    expect(proto.counters.pawsRejected).toBe(0);
    // Stack-wide TCP memory accounting follows the queues back to zero: everything was read and
    // acknowledged, then the connections close.
    const protoA = p.a.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
    p.advance(1000);
    expect(proto.tcpMemory().bytes).toBe(0);
    expect(protoA.tcpMemory().bytes).toBe(0);
    client.close();
    server.close();
    p.runUntilIdle();
    expect(proto.tcpMemory()).toMatchObject({ bytes: 0, pressure: false });
    expect(protoA.tcpMemory().bytes).toBe(0);
  });
});

describe("SYN cookies over IPv6 and at a dual-stack listener", () => {
  for (const [dst, clientProto, mss] of [["fd00::2", IPV6_PROTOCOL, 1440], ["10.0.0.2", IPV4_PROTOCOL, 1460]] as const) {
    it(`a client to ${dst} connects through a cookie, with the MSS from its family's table (${mss}), and data flows`, () => {
      const p = makePair6({ transports: [tcpWith({ syncookies: 2 })] });
      const listener = ok(p.b.newEndpoint(TCP_PROTOCOL, IPV6_PROTOCOL, new WaiterQueue())) as TcpEndpoint;
      expectNull(listener.bind({ port: 80 }));
      expectNull(listener.listen(16));
      const client = ok(p.a.newEndpoint(TCP_PROTOCOL, clientProto, new WaiterQueue())) as TcpEndpoint;
      client.connect({ addr: Address.from(dst), port: 80 });
      let server: TcpEndpoint | null = null;
      for (let i = 0; i < 1000 && !server; i++) {
        p.clock.advance(1);
        const a = listener.accept();
        if (!isError(a)) server = a.endpoint as TcpEndpoint;
      }
      expect(server).not.toBeNull();
      const proto = p.b.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
      expect(proto.counters.syncookiesRecv).toBe(1);
      expect(server!.snd.peerMss).toBe(mss);
      ok(client.write(bytes(5000)));
      p.clock.advance(100);
      const got = ok(server!.read(new Uint8Array(8000)));
      expect(got.count).toBe(5000);
    });
  }
});
