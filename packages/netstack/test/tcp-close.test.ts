/**
 * Connection teardown (RFC 9293 §3.6, §3.10.4, §3.10.7.4): active, passive and simultaneous
 * close, TIME-WAIT, half-close with shutdown, and the abortive closes Linux performs (unread data,
 * SO_LINGER 0, abort).
 */
import { describe, expect, it } from "vitest";
import {
  ACK, FIN, RST, TcpPair, TcpPeer, addr, B, bytes, expectNull, newTcp, ok, openClient, openServer, readAll,
  recordEvents, type Scripted,
} from "./helpers/tcp-harness.js";
import { Err, isError } from "../src/tcpip/errors.js";
import { ShutdownRead, ShutdownWrite } from "../src/tcpip/endpoint.js";
import { EventHup, EventIn, EventOut, EventRdHup } from "../src/waiter/queue.js";
import { TcpState } from "../src/transport/tcp/index.js";

/** The peer ACKs everything the stack sent so far. */
function ackAll(peer: TcpPeer, c: Scripted, upTo: number): void {
  peer.send({ seq: c.peerNxt, ack: upTo, flags: ACK });
}

describe("active close (RFC 9293 §3.6 case 1)", () => {
  it("ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT, then CLOSED after 2*MSL = 60 s, leaving nothing behind", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.close();
    expect(c.ep.state).toBe(TcpState.FinWait1);
    const fin = peer.one();
    expect(fin.flags).toBe(FIN | ACK);
    expect(fin.seq).toBe(c.stackNxt);
    ackAll(peer, c, c.stackNxt + 1);
    expect(c.ep.state).toBe(TcpState.FinWait2);
    expect(peer.sent()).toEqual([]);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: FIN | ACK });
    const ack = peer.one();
    expect(ack.flags).toBe(ACK);
    expect(ack.ack).toBe(c.peerNxt + 1);
    expect(c.ep.state).toBe(TcpState.TimeWait);
    expect(peer.stack.endpointCount()).toBe(1); // TIME-WAIT still owns the 4-tuple
    peer.advance(59_999);
    expect(c.ep.state).toBe(TcpState.TimeWait);
    peer.advance(1);
    expect(c.ep.state).toBe(TcpState.Closed);
    expect(c.ep.isReleased).toBe(true);
    expect(peer.stack.endpointCount()).toBe(0);
    expect(peer.clock.pendingTimers()).toBe(0);
    expect(peer.stack.stats.tcp.currentEstablished).toBe(0);
    expect(peer.stack.stats.tcp.establishedClosed).toBe(1);
  });

  it("TIME-WAIT lasts 2*MSL with a configured MSL", () => {
    const peer = new TcpPeer({ tcp: { msl: 1000 } });
    const c = openClient(peer);
    c.ep.close();
    peer.one();
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: FIN | ACK });
    expect(c.ep.state).toBe(TcpState.TimeWait);
    peer.advance(1999);
    expect(c.ep.state).toBe(TcpState.TimeWait);
    peer.advance(1);
    expect(c.ep.state).toBe(TcpState.Closed);
  });

  it("a retransmitted FIN in TIME-WAIT is acknowledged again and restarts the 2*MSL timer", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.close();
    peer.one();
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: FIN | ACK });
    peer.one();
    peer.advance(50_000);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: FIN | ACK });
    const again = peer.one();
    expect(again.flags).toBe(ACK);
    expect(again.ack).toBe(c.peerNxt + 1);
    peer.advance(59_999);
    expect(c.ep.state).toBe(TcpState.TimeWait);
    peer.advance(1);
    expect(c.ep.state).toBe(TcpState.Closed);
  });

  it("FIN-WAIT-1 receiving a FIN that also acknowledges our FIN goes straight to TIME-WAIT", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.shutdown(ShutdownWrite);
    peer.one();
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: FIN | ACK });
    expect(c.ep.state).toBe(TcpState.TimeWait);
  });

  it("an orphaned connection leaves FIN-WAIT-2 after tcp_fin_timeout (60 s) without a RST", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.close();
    peer.one();
    ackAll(peer, c, c.stackNxt + 1);
    expect(c.ep.state).toBe(TcpState.FinWait2);
    peer.advance(60_000);
    expect(c.ep.state).toBe(TcpState.Closed);
    expect(peer.sent()).toEqual([]);
    expect(peer.stack.endpointCount()).toBe(0);
  });

  it("a half-closed connection (shutdown(write), not closed) stays in FIN-WAIT-2 and keeps receiving", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.shutdown(ShutdownWrite);
    peer.one();
    ackAll(peer, c, c.stackNxt + 1);
    peer.advance(600_000);
    expect(c.ep.state).toBe(TcpState.FinWait2);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: ACK, payload: bytes(10) });
    expect(readAll(c.ep)).toEqual(bytes(10));
  });
});

describe("passive close (RFC 9293 §3.6 case 2)", () => {
  it("peer FIN: CLOSE-WAIT with In|RdHup; reads drain the data then return end of stream; close -> LAST-ACK -> CLOSED", () => {
    const peer = new TcpPeer();
    const c = openServer(peer);
    const seen = recordEvents(c.wq);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: FIN | ACK, payload: bytes(5) });
    const ack = peer.one();
    expect(ack.ack).toBe(c.peerNxt + 6);
    expect(c.ep.state).toBe(TcpState.CloseWait);
    expect(seen.reduce((m, e) => m | e, 0) & (EventIn | EventRdHup)).toBe(EventIn | EventRdHup);
    expect(c.ep.readiness(EventRdHup | EventHup)).toBe(EventRdHup);
    expect(readAll(c.ep)).toEqual(bytes(5));
    expect(c.ep.read(new Uint8Array(10))).toBe(Err.ClosedForReceive);
    expect(c.ep.read(new Uint8Array(10))).toBe(Err.ClosedForReceive);
    // Still writable in CLOSE-WAIT.
    expect(c.ep.write(bytes(3))).toBe(3);
    const d = peer.one();
    expect(d.payloadLength).toBe(3);
    c.ep.close();
    const fin = peer.one();
    expect(fin.flags).toBe(FIN | ACK);
    expect(fin.seq).toBe(c.stackNxt + 3);
    expect(c.ep.state).toBe(TcpState.LastAck);
    peer.send({ seq: c.peerNxt + 6, ack: c.stackNxt + 4, flags: ACK });
    expect(c.ep.state).toBe(TcpState.Closed);
    expect(peer.stack.endpointCount()).toBe(1); // the listener
  });
});

describe("simultaneous close (RFC 9293 §3.6 case 3)", () => {
  it("FIN-WAIT-1 + peer FIN -> CLOSING (ACK sent); our FIN acknowledged -> TIME-WAIT", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.close();
    const fin = peer.one();
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: FIN | ACK });
    expect(c.ep.state).toBe(TcpState.Closing);
    const ack = peer.one();
    expect(ack.flags & ACK).toBe(ACK);
    expect(ack.ack).toBe(c.peerNxt + 1);
    peer.send({ seq: c.peerNxt + 1, ack: fin.seq + 1, flags: ACK });
    expect(c.ep.state).toBe(TcpState.TimeWait);
  });

  it("two stacks closing at the same moment both pass through CLOSING to TIME-WAIT and are released", () => {
    const p = new TcpPair();
    const { client, server, listener } = p.connectPair();
    listener.close();
    client.close();
    server.close();
    p.settle();
    expect(client.state).toBe(TcpState.TimeWait);
    expect(server.state).toBe(TcpState.TimeWait);
    p.runUntilIdle();
    expect(p.a.endpointCount()).toBe(0);
    expect(p.b.endpointCount()).toBe(0);
    expect(p.clock.now()).toBe(60_000);
  });
});

describe("shutdown (RFC 9293 §3.10.4, POSIX shutdown)", () => {
  it("shutdown(write) sends the FIN after the queued data, and later writes fail with closed-for-send", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { window: 100 });
    expect(c.ep.write(bytes(300))).toBe(300);
    expectNull(c.ep.shutdown(ShutdownWrite));
    expect(c.ep.write(bytes(1))).toBe(Err.ClosedForSend);
    expect(c.ep.readiness(EventOut)).toBe(EventOut); // a write would not block (it fails)
    let got = 0;
    let finSeq = -1;
    for (let i = 0; i < 10 && finSeq < 0; i++) {
      for (const s of peer.sent()) {
        got += s.payloadLength;
        if (s.flags & FIN) finSeq = s.seq + s.payloadLength;
      }
      peer.send({ seq: c.peerNxt, ack: c.stackNxt + got, flags: ACK, window: 100 });
    }
    expect(got).toBe(300);
    expect(finSeq).toBe(c.stackNxt + 300);
  });

  it("shutdown(read): reads return end of stream at once; In and RdHup are ready", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    expectNull(c.ep.shutdown(ShutdownRead));
    expect(c.ep.read(new Uint8Array(4))).toBe(Err.ClosedForReceive);
    expect(c.ep.readiness(EventIn | EventRdHup)).toBe(EventIn | EventRdHup);
    expect(peer.sent()).toEqual([]); // nothing goes on the wire
    expect(c.ep.state).toBe(TcpState.Established);
  });

  it("shutdown of both directions signals Hup; shutdown on an unconnected endpoint is not-connected", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    const seen = recordEvents(c.wq);
    expectNull(c.ep.shutdown(ShutdownRead | ShutdownWrite));
    expect(seen.some((e) => e & EventHup)).toBe(true);
    const fresh = newTcp(peer.stack);
    expect(fresh.shutdown(ShutdownWrite)).toBe(Err.NotConnected);
  });
});

describe("abortive close", () => {
  it("close with unread data sends RST|ACK (SEQ=SND.NXT) instead of FIN and releases the connection (Linux, RFC 2525 §2.17)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK, payload: bytes(20) });
    peer.sent();
    c.ep.close();
    const rst = peer.one();
    expect(rst.flags).toBe(RST | ACK);
    expect(rst.seq).toBe(c.stackNxt);
    expect(rst.ack).toBe(c.peerNxt + 20);
    expect(c.ep.state).toBe(TcpState.Closed);
    expect(peer.stack.endpointCount()).toBe(0);
    expect(peer.clock.pendingTimers()).toBe(0);
    expect(peer.stack.stats.tcp.resetsSent).toBe(1);
  });

  it("SO_LINGER with timeout 0 makes close send RST", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    expectNull(c.ep.setSockOpt("linger", { enabled: true, timeout: 0 }));
    c.ep.close();
    const rst = peer.one();
    expect(rst.flags).toBe(RST | ACK);
    expect(c.ep.state).toBe(TcpState.Closed);
  });

  it("abort() resets at once", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    expect(c.ep.write(bytes(10))).toBe(10);
    peer.sent();
    c.ep.abort();
    const rst = peer.one();
    expect(rst.flags).toBe(RST | ACK);
    expect(rst.seq).toBe(c.stackNxt + 10);
    expect(peer.stack.endpointCount()).toBe(0);
  });

  it("new data arriving after close (FIN-WAIT) is answered with a RST, as Linux does", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    c.ep.close();
    peer.one();
    ackAll(peer, c, c.stackNxt + 1);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: ACK, payload: bytes(10) });
    const rst = peer.one();
    expect(rst.flags & RST).toBe(RST);
    expect(c.ep.state).toBe(TcpState.Closed);
  });

  it("closing a listener resets the connections in its accept queue", () => {
    const peer = new TcpPeer();
    const listener = newTcp(peer.stack);
    listener.bind(addr("10.0.0.1", 80));
    listener.listen(8);
    const acks: number[] = [];
    for (const port of [7001, 7002]) {
      peer.send({ srcPort: port, seq: 500, flags: 0x02 });
      const sa = peer.one();
      peer.send({ srcPort: port, seq: 501, ack: sa.seq + 1, flags: ACK });
      acks.push(sa.seq + 1);
    }
    // A third connection still in SYN-RECEIVED.
    peer.send({ srcPort: 7003, seq: 500, flags: 0x02 });
    peer.one();
    expect(peer.stack.endpointCount()).toBe(4);
    listener.close();
    const rsts = peer.sent();
    expect(rsts.map((s) => [s.dstPort, s.flags, s.seq])).toEqual([
      [7001, RST | ACK, acks[0]! >>> 0],
      [7002, RST | ACK, acks[1]! >>> 0],
    ]);
    expect(peer.stack.endpointCount()).toBe(0);
    expect(peer.clock.pendingTimers()).toBe(0);
    // The listener's port is free again.
    const again = newTcp(peer.stack);
    expectNull(again.bind(addr("10.0.0.1", 80)));
  });
});

describe("graceful close over a pipe", () => {
  it("both sides exchange data, close, and nothing is left once TIME-WAIT ends", () => {
    const p = new TcpPair();
    const { client, server, listener } = p.connectPair();
    expect(client.write(bytes(1000))).toBe(1000);
    p.settle();
    expect(readAll(server)).toEqual(bytes(1000));
    client.close();
    p.settle();
    expect(client.state).toBe(TcpState.FinWait2);
    expect(server.state).toBe(TcpState.CloseWait);
    expect(server.read(new Uint8Array(1))).toBe(Err.ClosedForReceive);
    server.close();
    listener.close();
    p.settle();
    expect(server.state).toBe(TcpState.Closed);
    expect(client.state).toBe(TcpState.TimeWait);
    p.runUntilIdle();
    expect(p.a.endpointCount()).toBe(0);
    expect(p.b.endpointCount()).toBe(0);
    expect(p.clock.pendingTimers()).toBe(0);
    expect(isError(client.getRemoteAddress())).toBe(true);
    void B;
    void ok;
  });
});
