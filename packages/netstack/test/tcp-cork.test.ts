/**
 * MSG_MORE as a per-write cork (send(2): "the same effect as the TCP_CORK socket option, with
 * the difference that this flag can be set on a per-call basis"): a partial segment written with
 * MSG_MORE waits for a later write without it, for a full segment, or for the cork ceiling
 * (tcp(7): "a 200 millisecond ceiling on the time for which output is corked by TCP_CORK"),
 * whatever TCP_NODELAY says. Also the delayed-ACK timer (RFC 9293 §3.8.6.3, RFC 5681 §4.2).
 */
import { describe, expect, it } from "vitest";
import {
  ACK, B, PEER_ISS, SYN, TcpPeer, addr, bytes, newTcp, openClient, readAll, type Scripted,
} from "./helpers/tcp-harness.js";
import { Err } from "../src/tcpip/errors.js";
import { WaiterQueue } from "../src/waiter/queue.js";

/** Stream offsets and lengths of the data segments in `segs`. */
function spans(c: Scripted, segs: { seq: number; payloadLength: number }[]): [number, number][] {
  return segs.filter((s) => s.payloadLength > 0).map((s) => [((s.seq - c.stackNxt) >>> 0), s.payloadLength]);
}

/** A client whose handshake took `rtt` ms (so its RTO is well above the cork ceiling). */
function clientWithRtt(peer: TcpPeer, rtt: number, mss = 1460): Scripted {
  const wq = new WaiterQueue();
  const ep = newTcp(peer.stack, wq);
  ep.connect(addr(B, 80));
  const syn = peer.one();
  peer.peerPort = 80;
  peer.stackPort = syn.srcPort;
  peer.advance(rtt);
  peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, mss });
  peer.one();
  return { ep, wq, iss: syn.seq, irs: PEER_ISS, peerNxt: PEER_ISS + 1, stackNxt: (syn.seq + 1) >>> 0 };
}

describe("MSG_MORE: a cork for one write", () => {
  it("holds the partial tail even with TCP_NODELAY, until a write without MSG_MORE", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("noDelay", true) });
    c.ep.write(bytes(100), { more: true });
    c.ep.write(bytes(100), { more: true });
    expect(peer.sent()).toEqual([]);
    c.ep.write(bytes(100));
    expect(spans(c, peer.sent())).toEqual([[0, 300]]);
    // The cork was for those writes only: the next plain write goes at once.
    c.ep.write(bytes(10));
    expect(spans(c, peer.sent())).toEqual([[300, 10]]);
  });

  it("sends the full segments a write with MSG_MORE completes and holds only the tail", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000, setup: (ep) => ep.setSockOpt("noDelay", true) });
    c.ep.write(bytes(2500), { more: true });
    expect(spans(c, peer.sent())).toEqual([[0, 1000], [1000, 1000]]);
    c.ep.write(bytes(300), { more: true });
    expect(peer.sent()).toEqual([]);
    c.ep.write(bytes(200), { more: true });
    // 500 + 300 + 200 = a full segment: it goes, corked or not.
    expect(spans(c, peer.sent())).toEqual([[2000, 1000]]);
  });

  it("an empty write neither pushes the held data nor changes the cork (Linux sends nothing)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("noDelay", true) });
    c.ep.write(bytes(100), { more: true });
    expect(c.ep.write(new Uint8Array(0))).toBe(0);
    expect(peer.sent()).toEqual([]);
  });

  it("a write refused for lack of buffer space does not change the cork of the write before it", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1000, window: 1000, setup: (ep) => ep.setSockOpt("noDelay", true) });
    c.ep.setSockOpt("sendBufferSize", 1);
    expect(c.ep.write(bytes(4608))).toBe(4608);
    expect(spans(c, peer.sent())).toEqual([[0, 1000]]);
    expect(c.ep.write(bytes(10), { more: true })).toBe(Err.WouldBlock);
    // The window opens: everything left (a partial tail included) goes, as the last accepted
    // write (without MSG_MORE) asked.
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1000, flags: ACK, window: 65535 });
    expect(spans(c, peer.sent())).toEqual([[1000, 1000], [2000, 1000], [3000, 1000], [4000, 608]]);
  });

  it("held data goes out when the 200 ms cork ceiling expires, counted from when the hold began", () => {
    const peer = new TcpPeer();
    const c = clientWithRtt(peer, 100);
    c.ep.write(bytes(100), { more: true });
    peer.advance(150);
    c.ep.write(bytes(100), { more: true });
    peer.advance(49);
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    const s = peer.sent();
    expect(spans(c, s)).toEqual([[0, 200]]);
    expect(s[0]!.at).toBe(100 + 200);
  });

  it("the ceiling holds while earlier data is still in flight (not only when the connection is idle)", () => {
    const peer = new TcpPeer();
    const c = clientWithRtt(peer, 100);
    c.ep.setSockOpt("noDelay", true);
    c.ep.write(bytes(500));
    expect(spans(c, peer.sent())).toEqual([[0, 500]]);
    c.ep.write(bytes(100), { more: true });
    peer.advance(199);
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    // RTO is 300 ms here: this is the cork timer, not a retransmission.
    expect(spans(c, peer.sent())).toEqual([[500, 100]]);
    expect(peer.stack.stats.tcp.retransmits).toBe(0);
  });

  it("an ACK arriving meanwhile does not release the held tail", () => {
    const peer = new TcpPeer();
    const c = clientWithRtt(peer, 100);
    c.ep.setSockOpt("noDelay", true);
    c.ep.write(bytes(500));
    peer.sent();
    c.ep.write(bytes(100), { more: true });
    peer.advance(10);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 500, flags: ACK });
    expect(peer.sent()).toEqual([]);
    peer.advance(190);
    expect(spans(c, peer.sent())).toEqual([[500, 100]]);
  });

  it("TCP_CORK and MSG_MORE share the ceiling, which the corkMs setting changes", () => {
    const peer = new TcpPeer({ tcp: { corkMs: 120 } });
    const c = clientWithRtt(peer, 100);
    c.ep.setSockOpt("cork", true);
    c.ep.write(bytes(100));
    peer.advance(119);
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    expect(spans(c, peer.sent())).toEqual([[0, 100]]);
    c.ep.setSockOpt("cork", false);
    c.ep.write(bytes(50), { more: true });
    peer.advance(119);
    // (Nagle would hold it while the corked segment is unacknowledged; acknowledge it first.)
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 100, flags: ACK });
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    expect(spans(c, peer.sent())).toEqual([[100, 50]]);
  });
});

describe("the delayed-ACK timer (RFC 9293 §3.8.6.3, RFC 5681 §4.2)", () => {
  function leaveQuickAck(peer: TcpPeer, c: Scripted): number {
    let off = 0;
    for (let i = 0; i < 16; i++) {
      peer.send({ seq: c.peerNxt + off, ack: c.stackNxt, flags: ACK, payload: bytes(1460) });
      off += 1460;
      peer.one();
      readAll(c.ep);
    }
    return off;
  }

  it("acknowledges a lone segment when delayedAckMs expires, and a second full segment at once", () => {
    const peer = new TcpPeer({ tcp: { delayedAckMs: 100 } });
    const c = openClient(peer);
    let off = leaveQuickAck(peer, c);
    const t0 = peer.clock.now();
    peer.send({ seq: c.peerNxt + off, ack: c.stackNxt, flags: ACK, payload: bytes(1460) });
    off += 1460;
    peer.advance(99);
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    const a = peer.one();
    expect(a.ack).toBe(c.peerNxt + off);
    expect(a.at - t0).toBe(100);
    peer.send({ seq: c.peerNxt + off, ack: c.stackNxt, flags: ACK, payload: bytes(1460) });
    off += 1460;
    expect(peer.sent()).toEqual([]);
    peer.send({ seq: c.peerNxt + off, ack: c.stackNxt, flags: ACK, payload: bytes(1460) });
    off += 1460;
    const b = peer.one();
    expect(b.ack).toBe(c.peerNxt + off);
    expect(b.at).toBe(peer.clock.now());
  });
});
