/**
 * The send path: segmentation by MSS, the send window and buffer, Nagle / TCP_NODELAY /
 * TCP_CORK / MSG_MORE, sender-side SWS avoidance (RFC 9293 §3.8.6.2.1), retransmission timeouts
 * (RFC 6298, Karn), the retransmission limit, fast retransmit with NewReno (RFC 5681, RFC 6582),
 * the persist timer and zero-window probes (RFC 9293 §3.8.6.1), keepalive (RFC 1122 §4.2.3.6)
 * and TCP_USER_TIMEOUT.
 */
import { describe, expect, it } from "vitest";
import {
  ACK, B, PEER_ISS, Pattern, RST, Reader, SYN, TcpPair, TcpPeer, Writer, addr, bytes, newTcp, ok, openClient,
  readAll, recordEvents, type Scripted,
} from "./helpers/tcp-harness.js";
import { Err, isError } from "../src/tcpip/errors.js";
import type { TcpInfo } from "../src/tcpip/endpoint.js";
import { EventErr, EventOut, WaiterQueue } from "../src/waiter/queue.js";
import { TcpState, type TcpEndpoint } from "../src/transport/tcp/index.js";
import type { PacketBuffer } from "../src/buffer/packet.js";

function info(ep: TcpEndpoint): TcpInfo {
  return ok(ep.getSockOpt("tcpInfo"));
}

/** The peer acknowledges the stack's byte stream up to offset `off` (window `window`). */
function ackTo(peer: TcpPeer, c: Scripted, off: number, window = 65535): void {
  peer.send({ seq: c.peerNxt, ack: c.stackNxt + off, flags: ACK, window });
}

/** Stream offsets and lengths of the data segments in `segs`. */
function spans(c: Scripted, segs: { seq: number; payloadLength: number }[]): [number, number][] {
  return segs.filter((s) => s.payloadLength > 0).map((s) => [((s.seq - c.stackNxt) >>> 0), s.payloadLength]);
}

describe("segmentation and windows", () => {
  it("cuts writes into segments of the effective MSS (the peer's MSS option)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000 });
    expect(c.ep.write(bytes(3500))).toBe(3500);
    expect(spans(c, peer.sent())).toEqual([[0, 1000], [1000, 1000], [2000, 1000], [3000, 500]]);
  });

  it("bounds the MSS by the route MTU (MTU - 40) and by TCP_MAXSEG", () => {
    const peer = new TcpPeer({ mtu: 600 });
    const c = openClient(peer, { mss: 1460 });
    expect(c.ep.getSockOpt("maxSegment")).toBe(560);
    const peer2 = new TcpPeer();
    const c2 = openClient(peer2, { mss: 1460, setup: (ep) => ep.setSockOpt("maxSegment", 700) });
    expect(c2.ep.getSockOpt("maxSegment")).toBe(700);
    c2.ep.write(bytes(1000));
    expect(spans(c2, peer2.sent())).toEqual([[0, 700], [700, 300]]);
  });

  it("never sends beyond the peer's window, and sends more as ACKs open it", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000, window: 2500 });
    c.ep.write(bytes(6000));
    // 2500 allowed: two full segments; the 500-byte remainder is a window-limited partial
    // segment, held back because it is less than half the largest window seen (SWS avoidance).
    expect(spans(c, peer.sent())).toEqual([[0, 1000], [1000, 1000]]);
    ackTo(peer, c, 2000, 2500);
    expect(spans(c, peer.sent())).toEqual([[2000, 1000], [3000, 1000]]);
  });

  it("sender SWS avoidance: a window-limited partial segment waits unless it is at least half the largest window (RFC 9293 §3.8.6.2.1)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000, window: 3000 });
    c.ep.write(bytes(5000));
    expect(spans(c, peer.sent())).toEqual([[0, 1000], [1000, 1000], [2000, 1000]]);
    ackTo(peer, c, 3000, 1600);
    // 1600 usable: one full segment; then 600 < 3000 / 2 waits.
    expect(spans(c, peer.sent())).toEqual([[3000, 1000]]);
    ackTo(peer, c, 4000, 1500);
    // 1000 left, 1500 usable: all the remaining data fits, so it goes.
    expect(spans(c, peer.sent())).toEqual([[4000, 1000]]);
  });

  it("a full send buffer refuses writes (would-block) and signals Out once ACKs free enough of it", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000 });
    expect(c.ep.setSockOpt("sendBufferSize", 1)).toBeNull();
    expect(c.ep.getSockOpt("sendBufferSize")).toBe(4608); // Linux's minimum
    const seen = recordEvents(c.wq);
    expect(c.ep.write(bytes(10000))).toBe(4608);
    expect(c.ep.write(bytes(10))).toBe(Err.WouldBlock);
    expect(c.ep.readiness(EventOut)).toBe(0);
    expect(c.ep.getSockOpt("sendQueueSize")).toBe(4608);
    peer.sent();
    ackTo(peer, c, 500);
    expect(seen.some((e) => e & EventOut)).toBe(false);
    ackTo(peer, c, 2000);
    expect(seen.some((e) => e & EventOut)).toBe(true);
    expect(c.ep.readiness(EventOut)).toBe(EventOut);
    expect(c.ep.write(bytes(5000))).toBe(2000);
  });
});

describe("Nagle, TCP_NODELAY, TCP_CORK and MSG_MORE", () => {
  it("Nagle holds a small segment while an earlier small one is unacknowledged (RFC 896)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.write(bytes(1));
    expect(spans(c, peer.sent())).toEqual([[0, 1]]);
    c.ep.write(bytes(1));
    expect(peer.sent()).toEqual([]);
    c.ep.write(bytes(2000)); // a full segment may go; the 541-byte tail waits
    expect(spans(c, peer.sent())).toEqual([[1, 1460]]);
    ackTo(peer, c, 1);
    expect(spans(c, peer.sent())).toEqual([[1461, 541]]);
  });

  it("TCP_NODELAY sends small segments at once", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("noDelay", true) });
    c.ep.write(bytes(1));
    c.ep.write(bytes(1));
    c.ep.write(bytes(1));
    expect(spans(c, peer.sent())).toEqual([[0, 1], [1, 1], [2, 1]]);
  });

  it("setting TCP_NODELAY pushes what Nagle held", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.write(bytes(1));
    c.ep.write(bytes(1));
    expect(peer.sent().length).toBe(1);
    c.ep.setSockOpt("noDelay", true);
    expect(spans(c, peer.sent())).toEqual([[1, 1]]);
  });

  it("TCP_CORK holds partial segments until uncorked, sending full ones", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("cork", true) });
    c.ep.write(bytes(100));
    expect(peer.sent()).toEqual([]);
    c.ep.write(bytes(1400));
    expect(spans(c, peer.sent())).toEqual([[0, 1460]]);
    c.ep.setSockOpt("cork", false);
    expect(spans(c, peer.sent())).toEqual([[1460, 40]]);
  });

  it("shutdown(write) pushes corked or Nagle-held data out with the FIN", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("cork", true) });
    c.ep.write(bytes(100));
    expect(peer.sent()).toEqual([]);
    c.ep.shutdown(2);
    const s = peer.one();
    expect(s.payloadLength).toBe(100);
    expect(s.flags & 0x01).toBe(0x01);
  });

  it("corked data goes out anyway when the persist timer fires (Linux's cork ceiling)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("cork", true) });
    c.ep.write(bytes(100));
    peer.advance(199);
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    expect(spans(c, peer.sent())).toEqual([[0, 100]]);
  });

  it("MSG_MORE holds a partial segment until a write without it", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.write(bytes(100), { more: true });
    c.ep.write(bytes(100), { more: true });
    expect(peer.sent()).toEqual([]);
    c.ep.write(bytes(100));
    expect(spans(c, peer.sent())).toEqual([[0, 300]]);
  });
});

describe("retransmission timeout (RFC 6298)", () => {
  /** Handshake by hand so the SYN's round trip is `rtt` ms. */
  function connectWithRtt(peer: TcpPeer, rtt: number): Scripted {
    const wq = new WaiterQueue();
    const ep = newTcp(peer.stack, wq);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.advance(rtt);
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, mss: 1000 });
    peer.one();
    return { ep, wq, iss: syn.seq, irs: PEER_ISS, peerNxt: PEER_ISS + 1, stackNxt: (syn.seq + 1) >>> 0 };
  }

  it("computes SRTT, RTTVAR and RTO from measurements (RTO = SRTT + 4 RTTVAR, at least 200 ms)", () => {
    const peer = new TcpPeer();
    const c = connectWithRtt(peer, 100);
    expect(info(c.ep)).toMatchObject({ rtt: 100, rttvar: 50, rto: 300 });
    c.ep.write(bytes(100));
    peer.sent();
    peer.advance(200);
    ackTo(peer, c, 100);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
    expect(info(c.ep)).toMatchObject({ rtt: 112.5, rttvar: 62.5, rto: 362.5 });
  });

  it("retransmits the oldest segment when the RTO expires, doubling the RTO each time", () => {
    const peer = new TcpPeer();
    const c = openClient(peer); // zero RTT: RTO = 200 ms
    c.ep.write(bytes(3000));
    const first = peer.sent();
    expect(first.length).toBe(3);
    const times: number[] = [];
    for (let t = 0; t < 13_000; t += 100) {
      peer.advance(100);
      for (const s of peer.sent()) {
        expect(s.seq).toBe(c.stackNxt); // always the oldest segment
        expect(s.payloadLength).toBe(1460);
        times.push(s.at);
      }
    }
    expect(times).toEqual([200, 600, 1400, 3000, 6200, 12600]);
    expect(info(c.ep).retransmits).toBe(6);
    expect(peer.stack.stats.tcp.timeouts).toBe(6);
    // The loss window (RFC 5681 §3.1): one segment in flight after a timeout.
    expect(info(c.ep).sndCwnd).toBe(1);
    ackTo(peer, c, 1460);
    // Slow start again from there: the rest goes out.
    expect(spans(c, peer.sent())).toEqual([[1460, 1460], [2920, 80]]);
  });

  it("Karn's rule: the ACK of a retransmitted segment gives no measurement, and the backed-off RTO stays", () => {
    const peer = new TcpPeer();
    const c = connectWithRtt(peer, 100);
    c.ep.write(bytes(100));
    peer.sent();
    peer.advance(300); // RTO
    expect(peer.sent().length).toBe(1);
    peer.advance(50);
    ackTo(peer, c, 100);
    expect(info(c.ep)).toMatchObject({ rtt: 100, rttvar: 50, rto: 600 });
    // A fresh segment measured normally resets the backoff.
    c.ep.write(bytes(100));
    peer.sent();
    peer.advance(100);
    ackTo(peer, c, 200);
    // RTTVAR = 3/4 * 50 + 1/4 * 0 = 37.5; RTO = 100 + 4 * 37.5.
    expect(info(c.ep)).toMatchObject({ rtt: 100, rttvar: 37.5, rto: 250 });
  });

  it("gives up after 15 retransmissions (tcp_retries2) with timed-out, without a RST", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    const seen = recordEvents(c.wq);
    c.ep.write(bytes(10));
    peer.sent();
    let retrans = 0;
    for (let i = 0; i < 3000 && c.ep.state !== TcpState.Closed; i++) {
      peer.advance(1000);
      for (const s of peer.sent()) {
        expect(s.flags & RST).toBe(0);
        retrans++;
      }
    }
    expect(retrans).toBe(15);
    expect(c.ep.state).toBe(TcpState.Closed);
    expect(seen.some((e) => e & EventErr)).toBe(true);
    expect(c.ep.read(new Uint8Array(1))).toBe(Err.Timeout);
    expect(peer.stack.stats.tcp.establishedTimeout).toBe(1);
    // 200 ms doubling up to 120 s: 0.2 + ... + 102.4 s, then 6 x 120 s.
    expect(peer.clock.now()).toBeGreaterThan(900_000);
    expect(peer.clock.now()).toBeLessThan(950_000);
  });

  it("TCP_USER_TIMEOUT ends retransmissions after that many ms of unacknowledged data", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("userTimeout", 5000) });
    c.ep.write(bytes(10));
    peer.sent();
    let t = 0;
    while (c.ep.state !== TcpState.Closed && t < 100_000) {
      peer.advance(100);
      t += 100;
    }
    expect(t).toBe(5000);
    expect(c.ep.getSockOpt("error")).toBe(Err.Timeout);
  });
});

describe("fast retransmit and NewReno (RFC 5681 §3.2, RFC 6582)", () => {
  it("retransmits after three duplicate ACKs, deflates cwnd, handles a partial ACK, and leaves recovery on the full ACK", () => {
    const peer = new TcpPeer({ tcp: { congestionControl: "reno" } });
    const c = openClient(peer, { mss: 1000 });
    c.ep.write(bytes(10000));
    expect(spans(c, peer.sent()).length).toBe(10); // IW = 10 segments
    expect(info(c.ep).sndCwnd).toBe(10);
    ackTo(peer, c, 1000); // segment 1 arrives; 2 and 5 are lost
    // In slow start the ACK grew cwnd: 11 segments, 1 more to send.
    expect(spans(c, peer.sent())).toEqual([]); // no more data written yet
    ackTo(peer, c, 1000);
    ackTo(peer, c, 1000);
    expect(peer.sent()).toEqual([]);
    ackTo(peer, c, 1000); // third duplicate
    const rexmit = peer.sent();
    expect(spans(c, rexmit)).toEqual([[1000, 1000]]);
    const i1 = info(c.ep);
    // ssthresh = FlightSize / 2 = 9000 / 2; cwnd = ssthresh + 3 SMSS.
    expect(i1.sndSsthresh).toBe(4);
    expect(i1.sndCwnd).toBe(7);
    expect(peer.stack.stats.tcp.fastRetransmit).toBe(1);
    // Partial ACK: up to the next hole (segment 5 at 4000) -> immediate retransmission of it.
    ackTo(peer, c, 4000);
    expect(spans(c, peer.sent())).toEqual([[4000, 1000]]);
    // Full ACK: everything up to `recover` (10000) -> recovery ends with
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(4500, 0 + 1000 + 1000).
    ackTo(peer, c, 10000);
    const i2 = info(c.ep);
    expect(i2.sndCwnd).toBe(2);
    expect(i2.sndSsthresh).toBe(4);
    expect(peer.stack.stats.tcp.timeouts).toBe(0);
    expect(i2.totalRetrans).toBe(2);
  });

  it("an ACK that changes the window, or carries data, is not a duplicate ACK", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000 });
    c.ep.write(bytes(5000));
    peer.sent();
    ackTo(peer, c, 1000, 60000);
    ackTo(peer, c, 1000, 50000);
    ackTo(peer, c, 1000, 40000);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1000, flags: ACK, window: 40000, payload: bytes(10) });
    expect(spans(c, peer.sent())).toEqual([]);
    expect(peer.stack.stats.tcp.fastRetransmit).toBe(0);
  });
});

describe("zero window and the persist timer (RFC 9293 §3.8.6.1)", () => {
  it("probes a zero window with backed-off intervals and sends the data once it opens", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000 });
    c.ep.write(bytes(3000));
    peer.sent();
    ackTo(peer, c, 3000, 0);
    c.ep.write(bytes(500));
    expect(peer.sent()).toEqual([]);
    const probes: number[] = [];
    for (let i = 0; i < 100; i++) {
      peer.advance(100);
      for (const s of peer.sent()) {
        expect(s.payloadLength).toBe(0);
        expect(s.seq).toBe((c.stackNxt + 2999) >>> 0); // SND.UNA - 1: an old sequence number
        probes.push(s.at);
        ackTo(peer, c, 3000, 0); // the receiver answers, window still zero
      }
    }
    expect(probes).toEqual([200, 600, 1400, 3000, 6200]);
    expect(peer.stack.stats.tcp.zeroWindowProbes).toBe(5);
    ackTo(peer, c, 3000, 1000); // the window opens
    expect(spans(c, peer.sent())).toEqual([[3000, 500]]);
    expect(c.ep.state).toBe(TcpState.Established);
  });

  it("a receiver that stops reading for 10 virtual minutes then resumes loses nothing; probes seen on the wire back off to 120 s", () => {
    const p = new TcpPair();
    const probeTimes: number[] = [];
    const link = p.pipe.a as unknown as { writePackets(pkts: readonly PacketBuffer[]): number };
    const orig = link.writePackets.bind(link);
    link.writePackets = (pkts) => {
      for (const pkt of pkts) {
        const b = pkt.toBytes();
        const hl = (b[32]! >> 4) * 4;
        if (b.length - 20 - hl === 0 && b[33] === ACK) probeTimes.push(p.clock.now());
      }
      return orig(pkts);
    };
    const { client, server } = p.connectPair();
    client.setSockOpt("sendBufferSize", 65536); // 131072 after Linux's doubling, and no autotuning
    const total = 1 << 20;
    const w = new Writer(client, total, new Pattern(3));
    const r = new Reader(server);
    probeTimes.length = 0;
    // Fill the receiver's buffer and window without reading.
    p.runUntil(() => server.receiveWindow === 0 && client.getSockOpt("sendQueueSize") === 131072, 10_000, () => w.pump());
    const start = p.clock.now();
    p.advance(600_000);
    const probes = probeTimes.filter((t) => t > start);
    expect(probes.length).toBeGreaterThan(8);
    expect(p.a.stats.tcp.zeroWindowProbes).toBe(probes.length);
    const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBe(Math.min(2 * gaps[i - 1]!, 120_000));
    expect(gaps[gaps.length - 1]).toBe(120_000);
    expect(client.state).toBe(TcpState.Established);
    // Resume reading: everything arrives, intact.
    p.runUntil(() => r.received === total, 600_000, () => {
      w.pump();
      r.pump();
    });
    expect(r.hash.digest("hex")).toBe(w.hash.digest("hex"));
  });
});

describe("keepalive (RFC 1122 §4.2.3.6) and TCP_USER_TIMEOUT", () => {
  it("defaults to Linux's 7200 s / 75 s / 9 probes, in seconds", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.getSockOpt("keepAlive")).toBe(false);
    expect(ep.getSockOpt("keepIdle")).toBe(7200);
    expect(ep.getSockOpt("keepInterval")).toBe(75);
    expect(ep.getSockOpt("keepCount")).toBe(9);
    expect(ep.setSockOpt("keepIdle", 0)).toBe(Err.InvalidOptionValue);
  });

  it("sends probes after the idle time, every interval, and resets the connection after the count", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, {
      setup: (ep) => {
        ep.setSockOpt("keepAlive", true);
        ep.setSockOpt("keepIdle", 10);
        ep.setSockOpt("keepInterval", 2);
        ep.setSockOpt("keepCount", 3);
      },
    });
    const seen: [number, number, number][] = [];
    for (let i = 0; i < 200 && c.ep.state !== TcpState.Closed; i++) {
      peer.advance(100);
      for (const s of peer.sent()) seen.push([s.at, s.flags, (s.seq - c.stackNxt) | 0]);
    }
    expect(seen).toEqual([
      [10_000, ACK, -1],
      [12_000, ACK, -1],
      [14_000, ACK, -1],
      [16_000, RST | ACK, 0],
    ]);
    expect(c.ep.getSockOpt("error")).toBe(Err.Timeout);
    expect(peer.stack.stats.tcp.keepAliveProbes).toBe(3);
  });

  it("an answered probe keeps the connection, and the next probe waits for the idle time again", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, {
      setup: (ep) => {
        ep.setSockOpt("keepAlive", true);
        ep.setSockOpt("keepIdle", 10);
        ep.setSockOpt("keepInterval", 2);
      },
    });
    peer.advance(10_000);
    expect(peer.one().at).toBe(10_000);
    ackTo(peer, c, 0);
    peer.advance(9_999);
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    expect(peer.one().at).toBe(20_000);
  });

  it("with TCP_USER_TIMEOUT, keepalive gives up once the connection was silent that long (Linux)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, {
      setup: (ep) => {
        ep.setSockOpt("keepAlive", true);
        ep.setSockOpt("keepIdle", 10);
        ep.setSockOpt("keepInterval", 2);
        ep.setSockOpt("keepCount", 100);
        ep.setSockOpt("userTimeout", 15_000);
      },
    });
    for (let i = 0; i < 300 && c.ep.state !== TcpState.Closed; i++) peer.advance(100);
    expect(peer.clock.now()).toBe(16_000);
    expect(c.ep.getSockOpt("error")).toBe(Err.Timeout);
  });
});

describe("TCP_INFO and counters", () => {
  it("reports state, MSS, RTT, windows and byte and segment counts", () => {
    const p = new TcpPair();
    const { client, server } = p.connectPair();
    client.write(bytes(50_000));
    p.runUntil(() => ok(server.getSockOpt("receiveQueueSize")) === 50_000, 10_000);
    readAll(server);
    p.settle();
    const ci = info(client);
    expect(ci.state).toBe("ESTABLISHED");
    expect(ci.sndMss).toBe(1448); // 1460 less the timestamps option, as Linux reports it
    expect(ci.rcvMss).toBe(536); // nothing received: Linux's initial estimate
    expect(ci.bytesAcked).toBe(50_000);
    expect(ci.rto).toBe(200);
    expect(ci.sndCwnd).toBeGreaterThan(10);
    expect(ci.sndSsthresh).toBe(0x7fffffff);
    expect(ci.unacked).toBe(0);
    expect(ci.totalRetrans).toBe(0);
    expect(ci.segsOut).toBe(p.a.stats.tcp.segmentsSent);
    expect(ci.segsIn).toBe(p.a.stats.tcp.validSegmentsReceived);
    const si = info(server);
    expect(si.bytesReceived).toBe(50_000);
    expect(si.rcvMss).toBe(1448); // the payload of the full-sized segments received (Linux rcv_mss)
    expect(si.sndWnd).toBe(131072); // the client's whole receive buffer (window scaling, RFC 7323 §2)
  });

  it("counts opens, segments, resets and connection states stack-wide", () => {
    const p = new TcpPair();
    const { client, server, listener } = p.connectPair();
    const a = p.a.stats.tcp;
    const b = p.b.stats.tcp;
    expect(a.activeConnectionOpenings).toBe(1);
    expect(b.passiveConnectionOpenings).toBe(1);
    expect(a.currentEstablished).toBe(1);
    expect(b.currentEstablished).toBe(1);
    client.write(bytes(10_000));
    p.settle();
    expect(a.segmentsSent).toBe(b.validSegmentsReceived);
    expect(b.segmentsSent).toBe(a.validSegmentsReceived);
    // A connection to a closed port: one reset each way counted.
    const stray = newTcp(p.a);
    stray.connect(addr(B, 9));
    p.settle();
    expect(b.resetsSent).toBe(1);
    expect(a.resetsReceived).toBe(1);
    expect(a.failedConnectionAttempts).toBe(1);
    server.abort();
    p.settle();
    expect(a.establishedResets).toBe(1);
    expect(a.currentEstablished).toBe(0);
    expect(b.currentEstablished).toBe(0);
    listener.close();
    void isError;
  });
});
