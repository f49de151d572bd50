/**
 * The receive path: in-order and out-of-order delivery, trimming of duplicate and overlapping
 * data (RFC 9293 §3.10.7.4), data outside the window, the advertised window and receiver-side
 * silly window avoidance (RFC 9293 §3.8.6.2.2), and when ACKs are sent (RFC 9293 §3.8.6.3,
 * RFC 5681 §4.2, Linux's delayed ACK of 40 ms and quick-ACK mode).
 */
import { describe, expect, it } from "vitest";
import {
  ACK, FIN, TcpPeer, bytes, openClient, readAll, recordEvents, type Scripted,
} from "./helpers/tcp-harness.js";
import { Err } from "../src/tcpip/errors.js";
import { EventIn } from "../src/waiter/queue.js";
import { TcpState } from "../src/transport/tcp/index.js";

/** Peer data: `n` bytes at stream offset `off` (byte values follow the offset). */
function data(c: Scripted, off: number, n: number, flags = ACK) {
  return { seq: c.peerNxt + off, ack: c.stackNxt, flags, payload: bytes(n, off) };
}

/** Runs the connection out of quick-ACK mode: 16 full segments, each acknowledged at once. */
function leaveQuickAck(peer: TcpPeer, c: Scripted): number {
  let off = 0;
  for (let i = 0; i < 16; i++) {
    peer.send(data(c, off, 1460));
    off += 1460;
    const a = peer.one();
    expect(a.ack).toBe(c.peerNxt + off);
    readAll(c.ep);
  }
  return off;
}

describe("in-order data", () => {
  it("queues data for reading and signals In; reads return it in order", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    const seen = recordEvents(c.wq);
    expect(c.ep.readiness(EventIn)).toBe(0);
    expect(c.ep.read(new Uint8Array(10))).toBe(Err.WouldBlock);
    peer.send(data(c, 0, 100));
    expect(seen.some((e) => e & EventIn)).toBe(true);
    expect(c.ep.readiness(EventIn)).toBe(EventIn);
    expect(c.ep.getSockOpt("receiveQueueSize")).toBe(100);
    const buf = new Uint8Array(60);
    expect(c.ep.read(buf, { peek: true })).toEqual({ count: 60, total: 60 });
    expect(c.ep.read(buf)).toEqual({ count: 60, total: 60 });
    expect(buf).toEqual(bytes(60));
    expect(readAll(c.ep)).toEqual(bytes(40, 60));
  });

  it("acknowledges every segment at once in quick-ACK mode at the start of a connection", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send(data(c, 0, 100));
    expect(peer.one().ack).toBe(c.peerNxt + 100);
    peer.send(data(c, 100, 100));
    expect(peer.one().ack).toBe(c.peerNxt + 200);
  });

  it("delays the ACK of a lone segment by 40 ms once out of quick-ACK mode (Linux TCP_DELACK_MIN)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    const off = leaveQuickAck(peer, c);
    peer.send(data(c, off, 1460));
    expect(peer.sent()).toEqual([]);
    peer.advance(39);
    expect(peer.sent()).toEqual([]);
    peer.advance(1);
    const a = peer.one();
    expect(a.ack).toBe(c.peerNxt + off + 1460);
    expect(a.at).toBe(40);
  });

  it("acknowledges at least every second full-sized segment at once (RFC 9293 §3.8.6.3)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    let off = leaveQuickAck(peer, c);
    peer.send(data(c, off, 1460));
    expect(peer.sent()).toEqual([]);
    off += 1460;
    peer.send(data(c, off, 1460));
    off += 1460;
    expect(peer.one().ack).toBe(c.peerNxt + off);
  });

  it("sends one ACK for a batch of segments (flush at the end of the link's batch)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.sendBatch([data(c, 0, 1000), data(c, 1000, 1000), data(c, 2000, 1000), data(c, 3000, 1000)]);
    const a = peer.one();
    expect(a.ack).toBe(c.peerNxt + 4000);
  });

  it("TCP_QUICKACK makes every segment acknowledged at once", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    const off = leaveQuickAck(peer, c);
    c.ep.setSockOpt("quickAck", true);
    peer.send(data(c, off, 100));
    expect(peer.one().ack).toBe(c.peerNxt + off + 100);
  });
});

describe("out-of-order, duplicate and overlapping data (RFC 9293 §3.10.7.4, RFC 5681 §4.2)", () => {
  it("holds out-of-order data, sends an immediate duplicate ACK, and delivers in order once the hole is filled", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send(data(c, 1000, 1000));
    const dup = peer.one();
    expect(dup.ack).toBe(c.peerNxt); // still waiting for byte 0
    expect(c.ep.read(new Uint8Array(10))).toBe(Err.WouldBlock);
    peer.send(data(c, 3000, 500));
    expect(peer.one().ack).toBe(c.peerNxt);
    peer.send(data(c, 0, 1000));
    // Filling a hole is acknowledged at once, up to the next hole.
    expect(peer.one().ack).toBe(c.peerNxt + 2000);
    peer.send(data(c, 2000, 1000));
    expect(peer.one().ack).toBe(c.peerNxt + 3500);
    expect(readAll(c.ep)).toEqual(bytes(3500));
  });

  it("trims duplicate and overlapping data so every byte is delivered once", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send(data(c, 0, 100));
    peer.send(data(c, 50, 100)); // overlaps the first
    peer.send(data(c, 400, 200)); // out of order
    peer.send(data(c, 300, 200)); // overlaps the held one at its end
    peer.send(data(c, 350, 300)); // covers both ends of held data
    peer.send(data(c, 100, 250)); // fills the hole, overlapping both sides
    peer.sent();
    expect(readAll(c.ep)).toEqual(bytes(650));
    peer.send(data(c, 0, 650)); // entirely old
    const a = peer.one(); // a duplicate gets an immediate ACK
    expect(a.ack).toBe(c.peerNxt + 650);
    expect(c.ep.read(new Uint8Array(10))).toBe(Err.WouldBlock);
  });

  it("a FIN beyond a hole takes effect when the hole is filled", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send(data(c, 100, 100, ACK | FIN));
    expect(c.ep.state).toBe(TcpState.Established);
    expect(peer.one().ack).toBe(c.peerNxt);
    peer.send(data(c, 0, 100));
    expect(peer.one().ack).toBe(c.peerNxt + 201);
    expect(c.ep.state).toBe(TcpState.CloseWait);
    expect(readAll(c.ep)).toEqual(bytes(200));
    expect(c.ep.read(new Uint8Array(1))).toBe(Err.ClosedForReceive);
  });
});

describe("the receive window (RFC 9293 §3.8.6.2.2)", () => {
  it("data beyond the window is dropped with an ACK; a straddling segment keeps its in-window part", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("receiveBufferSize", 1000) });
    expect(c.ep.getSockOpt("receiveBufferSize")).toBe(2304); // doubled, like Linux
    peer.send(data(c, 3000, 100));
    const a1 = peer.one();
    expect(a1.ack).toBe(c.peerNxt);
    peer.send(data(c, 0, 3000));
    const a2 = peer.one();
    expect(a2.ack).toBe(c.peerNxt + 2304);
    expect(a2.window).toBe(0);
    expect(readAll(c.ep)).toEqual(bytes(2304));
  });

  it("advertises what the buffer holds free, never moves the right edge back, and opens it only by at least min(buffer/2, MSS)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("receiveBufferSize", 2000) });
    expect(c.ep.getSockOpt("receiveBufferSize")).toBe(4000);
    peer.send(data(c, 0, 1000));
    let a = peer.one();
    expect(a.window).toBe(3000);
    peer.send(data(c, 1000, 3000));
    a = peer.one();
    expect(a.window).toBe(0);
    // Reading 1000 bytes frees less than min(4000 / 2, 1460) = 1460: no update (receiver SWS avoidance).
    const buf = new Uint8Array(1000);
    expect(c.ep.read(buf).valueOf()).toEqual({ count: 1000, total: 1000 });
    expect(peer.sent()).toEqual([]);
    // Reading 1000 more frees 2000: the window update goes out at once.
    c.ep.read(buf);
    a = peer.one();
    expect(a.flags).toBe(ACK);
    expect(a.window).toBe(2000);
    expect(a.ack).toBe(c.peerNxt + 4000);
  });

  it("answers a zero-window probe (an old sequence number) with its current window", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("receiveBufferSize", 1000) });
    peer.send(data(c, 0, 2304));
    expect(peer.one().window).toBe(0);
    peer.send({ seq: c.peerNxt + 2303, ack: c.stackNxt, flags: ACK });
    const a = peer.one();
    expect(a.ack).toBe(c.peerNxt + 2304);
    expect(a.window).toBe(0);
  });

  it("reports the window it offers in TCP_INFO", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("receiveBufferSize", 10000) });
    expect(c.ep.receiveWindow).toBe(20000);
    peer.send(data(c, 0, 5000));
    expect(peer.one().window).toBe(15000);
    const info = c.ep.getSockOpt("tcpInfo");
    expect(info).toMatchObject({ rcvWnd: 15000, bytesReceived: 5000 });
  });
});
