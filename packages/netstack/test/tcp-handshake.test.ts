/**
 * TCP connection establishment (RFC 9293 §3.5, §3.10.7.2-3): active and passive open, the SYN
 * and accept queues, simultaneous open, SYN / SYN-ACK retransmission with Linux's defaults, and
 * the ISN (RFC 6528).
 */
import { describe, expect, it } from "vitest";
import {
  A, ACK, B, PEER_ISS, RST, SYN, TcpPair, TcpPeer, addr, describe as desc, expectNull, newTcp, ok, openClient,
  openServer, recordEvents,
} from "./helpers/tcp-harness.js";
import { Err, isError } from "../src/tcpip/errors.js";
import { EventErr, EventIn, EventOut, WaiterQueue } from "../src/waiter/queue.js";
import { TcpState, type TcpEndpoint } from "../src/transport/tcp/index.js";
import { IsnGenerator } from "../src/transport/tcp/isn.js";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { Address } from "../src/tcpip/address.js";

describe("active open (RFC 9293 §3.5, §3.10.7.3)", () => {
  it("connect returns connect-started and sends a SYN with our MSS (route MTU - 40) and window", () => {
    const peer = new TcpPeer({ mtu: 1500 });
    const ep = newTcp(peer.stack);
    expect(ep.connect(addr(B, 80))).toBe(Err.ConnectStarted);
    expect(ep.state).toBe(TcpState.SynSent);
    const syn = peer.one();
    expect(syn.flags).toBe(SYN);
    expect(syn.options.mss).toBe(1460);
    expect(syn.window).toBe(65535);
    expect(syn.dst).toBe(B);
    expect(syn.dstPort).toBe(80);
    expect(syn.srcPort).toBeGreaterThanOrEqual(32768);
    expect(syn.srcPort).toBeLessThanOrEqual(60999);
    expect(syn.payloadLength).toBe(0);
    expect(peer.stack.stats.tcp.activeConnectionOpenings).toBe(1);
  });

  it("a SYN-ACK acknowledging the SYN establishes the connection: ACK sent, Out signalled", () => {
    const peer = new TcpPeer();
    const wq = new WaiterQueue();
    const ep = newTcp(peer.stack, wq);
    const seen = recordEvents(wq);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    expect(ep.readiness(EventOut)).toBe(0);
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, mss: 1000, window: 30000 });
    const ack = peer.one();
    expect(ack.flags).toBe(ACK);
    expect(ack.seq).toBe((syn.seq + 1) >>> 0);
    expect(ack.ack).toBe(PEER_ISS + 1);
    expect(ep.state).toBe(TcpState.Established);
    expect(seen.some((e) => e & EventOut)).toBe(true);
    expect(ep.readiness(EventOut)).toBe(EventOut);
    expect(ep.getSockOpt("maxSegment")).toBe(1000); // the peer's MSS bounds ours
    expect(ep.getSockOpt("error")).toBeNull();
    expect(peer.stack.stats.tcp.currentEstablished).toBe(1);
    const remote = ok(ep.getRemoteAddress());
    expect(remote.addr!.toString()).toBe(B);
    expect(remote.port).toBe(80);
  });

  it("assumes an MSS of 536 when the SYN-ACK carries none (RFC 9293 §3.7.1)", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK });
    peer.one();
    expect(ep.getSockOpt("maxSegment")).toBe(536);
    expect(ep.write(new Uint8Array(2000))).toBe(2000);
    const segs = peer.sent();
    expect(segs.map((s) => s.payloadLength)).toEqual([536, 536, 536, 392]);
  });

  it("answers a SYN-ACK whose ACK does not cover our SYN with <SEQ=SEG.ACK><CTL=RST> and stays in SYN-SENT", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.send({ seq: PEER_ISS, ack: syn.seq + 7, flags: SYN | ACK });
    const rst = peer.one();
    expect(rst.flags).toBe(RST);
    expect(rst.seq).toBe((syn.seq + 7) >>> 0);
    expect(ep.state).toBe(TcpState.SynSent);
  });

  it("retransmits the SYN 6 times at 1, 3, 7, 15, 31, 63 s and fails with timed-out at 127 s (Linux defaults)", () => {
    const peer = new TcpPeer();
    const wq = new WaiterQueue();
    const ep = newTcp(peer.stack, wq);
    const seen = recordEvents(wq);
    ep.connect(addr(B, 80));
    const times: number[] = [];
    let first: number | null = null;
    for (let t = 0; t < 200; t++) {
      for (const s of peer.sent()) {
        expect(s.flags).toBe(SYN);
        if (first === null) first = s.seq;
        expect(s.seq).toBe(first); // the same ISS each time
        times.push(s.at);
      }
      if (ep.state !== TcpState.SynSent) break;
      peer.advance(1000);
    }
    expect(times).toEqual([0, 1000, 3000, 7000, 15000, 31000, 63000]);
    expect(ep.state).toBe(TcpState.Closed);
    expect(peer.clock.now()).toBe(127000);
    expect(seen.some((e) => e & EventErr)).toBe(true);
    expect(ep.readiness(EventErr)).toBe(EventErr);
    // SO_ERROR reports it once, then it is cleared.
    expect(ep.getSockOpt("error")).toBe(Err.Timeout);
    expect(ep.getSockOpt("error")).toBeNull();
    expect(peer.stack.stats.tcp.failedConnectionAttempts).toBe(1);
    expect(peer.stack.endpointCount()).toBe(0);
    expect(peer.clock.pendingTimers()).toBe(0);
  });

  it("connect to a closed port ends in connection-refused (the peer's RST|ACK, RFC 9293 §3.10.7.3)", () => {
    const p = new TcpPair();
    const wq = new WaiterQueue();
    const ep = newTcp(p.a, wq);
    const seen = recordEvents(wq);
    expect(ep.connect(addr(B, 81))).toBe(Err.ConnectStarted);
    p.settle();
    expect(ep.state).toBe(TcpState.Closed);
    expect(seen.some((e) => e & EventErr)).toBe(true);
    expect(p.b.stats.tcp.resetsSent).toBe(1);
    expect(p.a.stats.tcp.resetsReceived).toBe(1);
    expect(p.a.stats.tcp.failedConnectionAttempts).toBe(1);
    // The first operation reports the error once, like SO_ERROR.
    expect(ep.read(new Uint8Array(10))).toBe(Err.ConnectionRefused);
    expect(ep.write(new Uint8Array(10))).toBe(Err.ClosedForSend);
    expect(p.a.endpointCount()).toBe(0);
  });

  it("ignores a RST without ACK in SYN-SENT, and a RST whose ACK is unacceptable", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.send({ seq: 0, flags: RST });
    peer.send({ seq: 0, ack: syn.seq + 100, flags: RST | ACK });
    expect(ep.state).toBe(TcpState.SynSent);
    expect(peer.sent()).toEqual([]);
    peer.send({ seq: 0, ack: syn.seq + 1, flags: RST | ACK });
    expect(ep.state).toBe(TcpState.Closed);
    expect(ep.getSockOpt("error")).toBe(Err.ConnectionRefused);
  });

  it("a second connect while connecting says already-connecting, after establishment already-connected", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    expect(ep.connect(addr(B, 80))).toBe(Err.AlreadyConnecting);
    const syn = peer.one();
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK });
    expect(ep.connect(addr(B, 80))).toBe(Err.AlreadyConnected);
  });

  it("connect without a route fails at once", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.connect(addr("192.168.9.9", 80))).toBe(Err.NoRoute);
    expect(peer.sent()).toEqual([]);
  });
});

describe("passive open (RFC 9293 §3.10.7.2)", () => {
  it("answers a SYN with SYN-ACK (MSS, window) and accepts the connection after the ACK", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    const lwq = listener.waiterQueue;
    const seen = recordEvents(lwq);
    expectNull(listener.bind(addr(A, 80)));
    expectNull(listener.listen(8));
    expect(listener.state).toBe(TcpState.Listen);
    expect(listener.accept()).toBe(Err.WouldBlock);
    peer.send({ seq: PEER_ISS, flags: SYN, mss: 1200, window: 20000 });
    const sa = peer.one();
    expect(sa.flags).toBe(SYN | ACK);
    expect(sa.ack).toBe(PEER_ISS + 1);
    expect(sa.options.mss).toBe(1460);
    expect(sa.window).toBe(65535);
    expect(listener.readiness(EventIn)).toBe(0);
    peer.send({ seq: PEER_ISS + 1, ack: sa.seq + 1, flags: ACK, window: 20000 });
    expect(peer.sent()).toEqual([]);
    expect(seen.some((e) => e & EventIn)).toBe(true);
    expect(listener.readiness(EventIn)).toBe(EventIn);
    const acc = ok(listener.accept());
    const ep = acc.endpoint as TcpEndpoint;
    expect(ep.state).toBe(TcpState.Established);
    expect(acc.peer.addr!.toString()).toBe(B);
    expect(acc.peer.port).toBe(40000);
    expect(ep.getSockOpt("maxSegment")).toBe(1200);
    expect(ok(ep.getLocalAddress()).port).toBe(80);
    expect(peer.stack.stats.tcp.passiveConnectionOpenings).toBe(1);
    expect(listener.accept()).toBe(Err.WouldBlock);
  });

  it("a duplicate SYN in SYN-RECEIVED gets the SYN-ACK again at once", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(8);
    peer.send({ seq: PEER_ISS, flags: SYN });
    const sa = peer.one();
    peer.send({ seq: PEER_ISS, flags: SYN });
    const again = peer.one();
    expect(again.flags).toBe(SYN | ACK);
    expect(again.seq).toBe(sa.seq);
    expect(again.ack).toBe(PEER_ISS + 1);
  });

  it("retransmits the SYN-ACK 5 times (1, 3, 7, 15, 31 s) then drops the half-open connection (tcp_synack_retries)", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(8);
    peer.send({ seq: PEER_ISS, flags: SYN });
    expect(peer.stack.endpointCount()).toBe(2);
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      for (const s of peer.sent()) {
        expect(s.flags).toBe(SYN | ACK);
        times.push(s.at);
      }
      peer.advance(1000);
    }
    expect(times).toEqual([0, 1000, 3000, 7000, 15000, 31000]);
    expect(peer.stack.endpointCount()).toBe(1); // only the listener
    expect(listener.accept()).toBe(Err.WouldBlock);
  });

  it("bounds the accept queue by the backlog like Linux (backlog + 1 waiting), dropping further SYNs", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(2);
    const handshake = (port: number): boolean => {
      peer.send({ srcPort: port, seq: PEER_ISS, flags: SYN });
      const s = peer.sent();
      if (s.length === 0) return false;
      peer.send({ srcPort: port, seq: PEER_ISS + 1, ack: s[0]!.seq + 1, flags: ACK });
      return true;
    };
    expect(handshake(5001)).toBe(true);
    expect(handshake(5002)).toBe(true);
    expect(handshake(5003)).toBe(true);
    expect(handshake(5004)).toBe(false); // SYN dropped: accept queue full
    expect(peer.stack.stats.tcp.listenOverflowSynDrop).toBe(1);
    ok(listener.accept());
    expect(handshake(5005)).toBe(true);
    const ports: number[] = [];
    for (let r = listener.accept(); !isError(r); r = listener.accept()) ports.push(r.peer.port);
    expect(ports).toEqual([5002, 5003, 5005]);
  });

  it("bounds the SYN queue by the backlog (half-open connections) when SYN cookies are off", () => {
    // tcp_syncookies = 0: a full SYN queue drops (with cookies on, see syncookie.test.ts).
    const peer = new TcpPeer({ tcp: { syncookies: 0 } });
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(2);
    for (const port of [6001, 6002, 6003]) peer.send({ srcPort: port, seq: PEER_ISS, flags: SYN });
    const sent = peer.sent();
    expect(sent.map((s) => s.dstPort)).toEqual([6001, 6002]);
    expect(peer.stack.stats.tcp.listenOverflowSynDrop).toBe(1);
  });

  it("drops the final ACK while the accept queue is full, and completes on the SYN-ACK retransmission's ACK", () => {
    // tcp_syncookies = 0, so that the second SYN finds the one-entry SYN queue full and is dropped.
    const peer = new TcpPeer({ tcp: { syncookies: 0 } });
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(0); // Linux: one connection may wait
    peer.send({ srcPort: 7001, seq: PEER_ISS, flags: SYN });
    peer.send({ srcPort: 7002, seq: PEER_ISS, flags: SYN });
    const [s1, s2] = peer.sent();
    expect(s2).toBeUndefined(); // SYN queue bound is max(backlog, 1)
    peer.send({ srcPort: 7001, seq: PEER_ISS + 1, ack: s1!.seq + 1, flags: ACK });
    peer.send({ srcPort: 7002, seq: PEER_ISS, flags: SYN });
    expect(peer.sent()).toEqual([]); // accept queue full: SYN dropped
    const acc = ok(listener.accept());
    expect(acc.peer.port).toBe(7001);
  });

  it("a RST in SYN-RECEIVED (passive) silently removes the half-open connection (back to LISTEN)", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(8);
    peer.send({ seq: PEER_ISS, flags: SYN });
    peer.one();
    peer.send({ seq: PEER_ISS + 1, flags: RST });
    expect(peer.sent()).toEqual([]);
    expect(peer.stack.endpointCount()).toBe(1);
    expect(listener.state).toBe(TcpState.Listen);
    expect(peer.clock.pendingTimers()).toBe(0);
  });

  it("an ACK arriving at a listener gets <SEQ=SEG.ACK><CTL=RST>; a RST is ignored", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(8);
    peer.send({ seq: 5, ack: 777, flags: ACK });
    const rst = peer.one();
    expect(rst.flags).toBe(RST);
    expect(rst.seq).toBe(777);
    peer.send({ seq: 5, flags: RST });
    expect(peer.sent()).toEqual([]);
  });

  it("an unacceptable ACK in SYN-RECEIVED gets <SEQ=SEG.ACK><CTL=RST>", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    listener.bind(addr(A, 80));
    listener.listen(8);
    peer.send({ seq: PEER_ISS, flags: SYN });
    const sa = peer.one();
    peer.send({ seq: PEER_ISS + 1, ack: sa.seq + 50, flags: ACK });
    const rst = peer.one();
    expect(rst.flags).toBe(RST);
    expect(rst.seq).toBe((sa.seq + 50) >>> 0);
    expect(listener.accept()).toBe(Err.WouldBlock);
  });

  it("listen without bind picks an ephemeral port; accept on a non-listener is invalid", () => {
    const peer = new TcpPeer();
    const l = newTcp(peer.stack);
    expectNull(l.listen(4));
    const port = ok(l.getLocalAddress()).port;
    expect(port).toBeGreaterThanOrEqual(32768);
    const other = newTcp(peer.stack);
    expect(other.accept()).toBe(Err.InvalidEndpointState);
    expect(other.bind(addr(A, port))).toBe(Err.PortInUse);
  });
});

describe("simultaneous open (RFC 9293 §3.5 figure 7)", () => {
  it("SYN-SENT -> SYN-RECEIVED on a bare SYN, then ESTABLISHED on the SYN-ACK", () => {
    const peer = new TcpPeer();
    const wq = new WaiterQueue();
    const ep = newTcp(peer.stack, wq);
    expectNull(ep.bind(addr(A, 5000)));
    ep.connect(addr(B, 6000));
    const syn = peer.one();
    peer.peerPort = 6000;
    peer.stackPort = 5000;
    peer.send({ seq: PEER_ISS, flags: SYN, mss: 1460 });
    expect(ep.state).toBe(TcpState.SynReceived);
    const sa = peer.one();
    expect(sa.flags).toBe(SYN | ACK);
    expect(sa.seq).toBe(syn.seq);
    expect(sa.ack).toBe(PEER_ISS + 1);
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, mss: 1460 });
    expect(ep.state).toBe(TcpState.Established);
    expect(ep.readiness(EventOut)).toBe(EventOut);
  });

  it("two stacks connecting to each other at the same time both reach ESTABLISHED and exchange data", () => {
    const p = new TcpPair();
    const ea = newTcp(p.a);
    const eb = newTcp(p.b);
    expectNull(ea.bind(addr(A, 5000)));
    expectNull(eb.bind(addr(B, 6000)));
    ea.connect(addr(B, 6000));
    eb.connect(addr(A, 5000));
    p.runUntil(() => ea.state === TcpState.Established && eb.state === TcpState.Established, 10_000);
    expect(ea.write(new Uint8Array([1, 2, 3]))).toBe(3);
    p.settle();
    const buf = new Uint8Array(10);
    const r = ok(eb.read(buf));
    expect(Array.from(buf.subarray(0, r.count))).toEqual([1, 2, 3]);
  });
});

describe("data in the handshake", () => {
  it("queues data that arrives with the SYN-ACK after the SYN", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, payload: new Uint8Array([9, 8, 7]) });
    const ack = peer.one();
    expect(ack.ack).toBe(PEER_ISS + 4);
    const buf = new Uint8Array(8);
    expect(ok(ep.read(buf)).count).toBe(3);
  });

  it("sends data written after establishment on the accepted side too", () => {
    const peer = new TcpPeer();
    const c = openServer(peer);
    expect(c.ep.write(new Uint8Array(10))).toBe(10);
    const d = peer.one();
    expect(d.payloadLength).toBe(10);
    expect(d.seq).toBe(c.stackNxt);
    void desc;
  });
});

describe("initial sequence numbers (RFC 6528)", () => {
  it("ISN = M + F(4-tuple, secret): M ticks every 4 µs, F differs per 4-tuple and per secret", () => {
    const clock = new ManualClock();
    const g = new IsnGenerator(clock, new SeededRandom(1));
    const a = Address.from(A);
    const b = Address.from(B);
    const x0 = g.generate(a, 1000, b, 80);
    clock.advance(1000);
    const x1 = g.generate(a, 1000, b, 80);
    expect((x1 - x0) >>> 0).toBe(250_000);
    const y1 = g.generate(a, 1001, b, 80);
    expect(y1).not.toBe(x1);
    const other = new IsnGenerator(clock, new SeededRandom(2));
    expect(other.generate(a, 1000, b, 80)).not.toBe(x1);
  });

  it("the stack's SYNs to different peers start from unrelated sequence numbers", () => {
    const peer = new TcpPeer();
    const e1 = newTcp(peer.stack);
    const e2 = newTcp(peer.stack);
    e1.connect(addr(B, 80));
    e2.connect(addr(B, 81));
    const [s1, s2] = peer.sent();
    expect(Math.abs(s1!.seq - s2!.seq)).toBeGreaterThan(1000);
  });
});

describe("openClient / openServer helpers", () => {
  it("produce ESTABLISHED connections", () => {
    const p1 = new TcpPeer();
    expect(openClient(p1).ep.state).toBe(TcpState.Established);
    const p2 = new TcpPeer();
    expect(openServer(p2).ep.state).toBe(TcpState.Established);
  });
});
