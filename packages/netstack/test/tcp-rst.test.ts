/**
 * Resets: a RST in every state (RFC 9293 §3.10.7.4 second check, RFC 5961 §3.2), RSTs for
 * segments to closed ports (RFC 9293 §3.10.7.1), and the challenge ACKs of RFC 5961.
 */
import { describe, expect, it } from "vitest";
import {
  ACK, FIN, PEER_ISS, RST, SYN, TcpPeer, addr, B, bytes, newTcp, openClient, openServer, recordEvents, type Scripted,
} from "./helpers/tcp-harness.js";
import { Err, type TcpipError } from "../src/tcpip/errors.js";
import { ShutdownWrite } from "../src/tcpip/endpoint.js";
import { EventErr, EventHup, EventIn } from "../src/waiter/queue.js";
import { TcpState, tcpStateName } from "../src/transport/tcp/index.js";

/** Brings a fresh connection (stack = client) into `state`; returns it and the peer's next seq. */
function inState(state: number): { peer: TcpPeer; c: Scripted; peerSeq: number } {
  const peer = new TcpPeer();
  const c = openClient(peer);
  let peerSeq = c.peerNxt;
  const finAck = c.stackNxt + 1;
  switch (state) {
    case TcpState.Established:
      break;
    case TcpState.FinWait1:
      c.ep.shutdown(ShutdownWrite);
      break;
    case TcpState.FinWait2:
      c.ep.shutdown(ShutdownWrite);
      peer.send({ seq: peerSeq, ack: finAck, flags: ACK });
      break;
    case TcpState.CloseWait:
      peer.send({ seq: peerSeq, ack: c.stackNxt, flags: FIN | ACK });
      peerSeq++;
      break;
    case TcpState.Closing:
      c.ep.shutdown(ShutdownWrite);
      peer.send({ seq: peerSeq, ack: c.stackNxt, flags: FIN | ACK });
      peerSeq++;
      break;
    case TcpState.LastAck:
      peer.send({ seq: peerSeq, ack: c.stackNxt, flags: FIN | ACK });
      peerSeq++;
      c.ep.shutdown(ShutdownWrite);
      break;
    case TcpState.TimeWait:
      c.ep.shutdown(ShutdownWrite);
      peer.send({ seq: peerSeq, ack: finAck, flags: FIN | ACK });
      peerSeq++;
      break;
  }
  expect(tcpStateName(c.ep.state)).toBe(tcpStateName(state));
  peer.sent();
  return { peer, c, peerSeq };
}

const cases: [number, TcpipError | null][] = [
  [TcpState.Established, Err.ConnectionReset],
  [TcpState.FinWait1, Err.ConnectionReset],
  [TcpState.FinWait2, Err.ConnectionReset],
  [TcpState.CloseWait, Err.ConnectionReset],
  [TcpState.Closing, null],
  [TcpState.LastAck, null],
  [TcpState.TimeWait, null],
];

describe("RST in each synchronized state (RFC 9293 §3.10.7.4, RFC 5961 §3.2)", () => {
  for (const [state, err] of cases) {
    it(`${tcpStateName(state)}: an exact RST closes the connection${err ? ` and reports ${err.name}` : " silently"}`, () => {
      const { peer, c, peerSeq } = inState(state);
      const seen = recordEvents(c.wq);
      peer.send({ seq: peerSeq, flags: RST });
      expect(c.ep.state).toBe(TcpState.Closed);
      expect(peer.sent()).toEqual([]); // never answer a RST
      expect(peer.stack.endpointCount()).toBe(0);
      expect(peer.clock.pendingTimers()).toBe(0);
      expect(peer.stack.stats.tcp.resetsReceived).toBe(1);
      expect(c.ep.getSockOpt("error")).toBe(err);
      if (err) expect(seen.some((e) => e & EventErr)).toBe(true);
      expect(c.ep.readiness(EventHup)).toBe(EventHup);
    });

    it(`${tcpStateName(state)}: an in-window RST that is not exact gets a challenge ACK, the connection survives`, () => {
      const { peer, c, peerSeq } = inState(state);
      peer.send({ seq: peerSeq + 10, flags: RST });
      expect(c.ep.state).toBe(state);
      const ack = peer.one();
      expect(ack.flags).toBe(ACK);
      expect(ack.ack).toBe(peerSeq);
      expect(peer.stack.stats.tcp.challengeAcksSent).toBe(1);
    });

    it(`${tcpStateName(state)}: a RST outside the window is dropped silently`, () => {
      const { peer, c, peerSeq } = inState(state);
      peer.send({ seq: peerSeq + 1_000_000, flags: RST });
      peer.send({ seq: peerSeq - 1_000_000, flags: RST });
      expect(c.ep.state).toBe(state);
      expect(peer.sent()).toEqual([]);
    });
  }

  it("ESTABLISHED: after a reset, the first read reports connection-reset, later ones end of stream; writes fail", () => {
    const { peer, c, peerSeq } = inState(TcpState.Established);
    peer.send({ seq: peerSeq, ack: c.stackNxt, flags: ACK, payload: bytes(4) });
    peer.send({ seq: peerSeq + 4, flags: RST });
    const buf = new Uint8Array(10);
    // Data that arrived before the RST is still readable first (Linux purges it; we keep it).
    const r = c.ep.read(buf);
    expect(r).toEqual({ count: 4, total: 4 });
    expect(c.ep.read(buf)).toBe(Err.ConnectionReset);
    expect(c.ep.read(buf)).toBe(Err.ClosedForReceive);
    expect(c.ep.write(buf)).toBe(Err.ClosedForSend);
    expect(c.ep.readiness(EventIn)).toBe(EventIn);
    expect(peer.stack.stats.tcp.establishedResets).toBe(1);
  });

  it("SYN-SENT: a RST acknowledging our SYN is connection-refused", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.peerPort = 80;
    peer.stackPort = syn.srcPort;
    peer.send({ seq: 0, ack: syn.seq + 1, flags: RST | ACK });
    expect(ep.state).toBe(TcpState.Closed);
    expect(ep.getSockOpt("error")).toBe(Err.ConnectionRefused);
  });

  it("SYN-RECEIVED (simultaneous open): a RST is connection-refused", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.bind(addr("10.0.0.1", 5000));
    ep.connect(addr(B, 6000));
    peer.one();
    peer.peerPort = 6000;
    peer.stackPort = 5000;
    peer.send({ seq: PEER_ISS, flags: SYN });
    peer.one();
    expect(ep.state).toBe(TcpState.SynReceived);
    peer.send({ seq: PEER_ISS + 1, flags: RST });
    expect(ep.state).toBe(TcpState.Closed);
    expect(ep.getSockOpt("error")).toBe(Err.ConnectionRefused);
  });
});

describe("invalid segments in synchronized states", () => {
  it("a SYN in ESTABLISHED gets a challenge ACK and changes nothing (RFC 5961 §4.2)", () => {
    const peer = new TcpPeer();
    const c = openServer(peer);
    peer.send({ seq: c.peerNxt + 100, flags: SYN });
    const ack = peer.one();
    expect(ack.flags).toBe(ACK);
    expect(ack.ack).toBe(c.peerNxt);
    expect(c.ep.state).toBe(TcpState.Established);
    expect(peer.stack.stats.tcp.challengeAcksSent).toBe(1);
  });

  it("an ACK for data never sent gets an ACK and is otherwise ignored (RFC 9293 §3.10.7.4)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 5000, flags: ACK, payload: bytes(10) });
    const ack = peer.one();
    expect(ack.ack).toBe(c.peerNxt); // the data was not accepted
    expect(c.ep.state).toBe(TcpState.Established);
  });

  it("a segment without ACK in ESTABLISHED is dropped", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send({ seq: c.peerNxt, flags: 0, payload: bytes(10) });
    expect(peer.sent()).toEqual([]);
    expect(c.ep.receiveWindow).toBe(65535);
  });

  it("a segment with a bad checksum is dropped and counted", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK, payload: bytes(10), badChecksum: true });
    expect(peer.sent()).toEqual([]);
    expect(peer.stack.stats.tcp.checksumErrors).toBe(1);
    expect(peer.stack.stats.tcp.invalidSegmentsReceived).toBe(1);
  });
});

describe("segments to a closed port (RFC 9293 §3.10.7.1)", () => {
  it("a SYN gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>", () => {
    const peer = new TcpPeer();
    peer.send({ dstPort: 9999, seq: 4242, flags: SYN });
    const r = peer.one();
    expect(r.flags).toBe(RST | ACK);
    expect(r.seq).toBe(0);
    expect(r.ack).toBe(4243);
    expect(r.srcPort).toBe(9999);
    expect(r.dstPort).toBe(40000);
    expect(peer.stack.stats.tcp.resetsSent).toBe(1);
  });

  it("data and a FIN without ACK count in SEG.LEN", () => {
    const peer = new TcpPeer();
    peer.send({ dstPort: 9999, seq: 100, flags: FIN, payload: bytes(10) });
    const r = peer.one();
    expect(r.flags).toBe(RST | ACK);
    expect(r.ack).toBe(111);
  });

  it("a segment with ACK gets <SEQ=SEG.ACK><CTL=RST>", () => {
    const peer = new TcpPeer();
    peer.send({ dstPort: 9999, seq: 100, ack: 123456, flags: ACK, payload: bytes(3) });
    const r = peer.one();
    expect(r.flags).toBe(RST);
    expect(r.seq).toBe(123456);
  });

  it("a RST is never answered, nor a segment with a bad checksum", () => {
    const peer = new TcpPeer();
    peer.send({ dstPort: 9999, seq: 100, flags: RST });
    peer.send({ dstPort: 9999, seq: 100, flags: SYN, badChecksum: true });
    expect(peer.sent()).toEqual([]);
    expect(peer.stack.stats.tcp.checksumErrors).toBe(1);
  });
});
