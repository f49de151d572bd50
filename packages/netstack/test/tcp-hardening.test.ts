/**
 * Hardening (TCP part 2): RFC 5961's challenge ACKs with their rate limit and the ACK
 * acceptability check, and the issue's robustness list — SYN with data, data offsets out of
 * range, FIN without ACK, urgent data, option lengths overrunning the header, repeated
 * SYN-ACKs, ACKs for data never sent, and sequence numbers wrapping at 2^32.
 */
import { describe, expect, it, vi } from "vitest";
import {
  ACK, FIN, PEER_ISS, PSH, RST, SYN, TcpPeer, A, addr, bytes, expectNull, newTcp, ok, openClient, openServer, readAll,
} from "./helpers/tcp-harness.js";
import { TCP_PROTOCOL } from "../src/tcpip/address.js";
import { isError } from "../src/tcpip/errors.js";
import type { TcpInfo } from "../src/tcpip/endpoint.js";
import { TcpState, type TcpProtocol } from "../src/transport/tcp/index.js";

const URG = 0x20;

function proto(peer: TcpPeer): TcpProtocol {
  return peer.stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
}

describe("RFC 5961 challenge ACKs", () => {
  it("sends at most 1000 challenge ACKs per second stack-wide (RFC 5961 §7, Linux's tcp_challenge_ack_limit), then resumes", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    for (let i = 0; i < 1100; i++) peer.send({ seq: c.peerNxt + 10 + i, flags: RST });
    const acks = peer.sent();
    expect(acks.length).toBe(1000);
    for (const a of acks) expect(a.ack).toBe(c.peerNxt);
    expect(peer.stack.stats.tcp.challengeAcksSent).toBe(1000);
    expect(proto(peer).counters.challengeAcksSuppressed).toBe(100);
    expect(c.ep.state).toBe(TcpState.Established);
    // Still within the same second: suppressed.
    peer.advance(999);
    peer.send({ seq: c.peerNxt + 5, flags: SYN });
    expect(peer.sent()).toEqual([]);
    // A new second: allowed again.
    peer.advance(1);
    peer.send({ seq: c.peerNxt + 5, flags: SYN });
    expect(peer.one().ack).toBe(c.peerNxt);
  });

  it("the limit is configurable (challengeAckLimit)", () => {
    const peer = new TcpPeer({ tcp: { challengeAckLimit: 3 } });
    const c = openClient(peer);
    for (let i = 0; i < 10; i++) peer.send({ seq: c.peerNxt + 10, flags: RST });
    expect(peer.sent().length).toBe(3);
  });

  it("an ACK older than SND.UNA - MAX.SND.WND is unacceptable: challenge ACK, its data dropped (RFC 5961 §5.2)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { window: 65535 });
    peer.send({ seq: c.peerNxt, ack: c.stackNxt - 70_000, flags: ACK, payload: bytes(10) });
    const a = peer.one();
    expect(a.flags).toBe(ACK);
    expect(a.ack).toBe(c.peerNxt);
    expect(peer.stack.stats.tcp.challengeAcksSent).toBe(1);
    expect(c.ep.rcv.queue.size).toBe(0);
  });

  it("an ACK within MAX.SND.WND below SND.UNA is acceptable: its data is taken (RFC 5961 §5.2)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { window: 65535 });
    peer.send({ seq: c.peerNxt, ack: c.stackNxt - 1000, flags: ACK, payload: bytes(10) });
    expect(peer.one().ack).toBe(c.peerNxt + 10);
    expect(readAll(c.ep)).toEqual(bytes(10));
    expect(peer.stack.stats.tcp.challengeAcksSent).toBe(0);
  });

  it("an ACK for data never sent is dropped with an ACK (RFC 9293 §3.10.7.4, RFC 5961 §5.2)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 1, flags: ACK | FIN });
    const a = peer.one();
    expect(a.ack).toBe(c.peerNxt); // neither the FIN nor the ACK was taken
    expect(c.ep.state).toBe(TcpState.Established);
  });
});

describe("robustness (TCP part 2)", () => {
  it("a SYN carrying data: the handshake completes, the data is not acknowledged until it is sent again", () => {
    const peer = new TcpPeer();
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr(A, 80)));
    expectNull(l.listen(8));
    peer.send({ seq: PEER_ISS, flags: SYN, mss: 1460, payload: bytes(100) });
    const synack = peer.one();
    expect(synack.flags).toBe(SYN | ACK);
    expect(synack.ack).toBe(PEER_ISS + 1);
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK });
    const c = ok(l.accept()).endpoint as typeof l;
    expect(c.state).toBe(TcpState.Established);
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK | PSH, payload: bytes(100) });
    expect(peer.one().ack).toBe(PEER_ISS + 101);
    expect(readAll(c)).toEqual(bytes(100));
  });

  it("segments with a data offset below 5 or beyond the segment are dropped and counted, never answered", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    const before = peer.stack.stats.tcp.invalidSegmentsReceived;
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK, payload: bytes(8), dataOffsetWords: 4 });
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK, payload: bytes(8), dataOffsetWords: 15 });
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK, dataOffsetWords: 6 });
    expect(peer.sent()).toEqual([]);
    expect(peer.stack.stats.tcp.invalidSegmentsReceived).toBe(before + 3);
    expect(c.ep.state).toBe(TcpState.Established);
    expect(c.ep.rcv.queue.size).toBe(0);
  });

  it("a FIN without ACK is dropped in ESTABLISHED and ignored by a listener (RFC 9293 §3.10.7.2, fifth check)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send({ seq: c.peerNxt, flags: FIN });
    expect(peer.sent()).toEqual([]);
    expect(c.ep.state).toBe(TcpState.Established);
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr(A, 81)));
    expectNull(l.listen(8));
    peer.send({ seq: 5, flags: FIN, dstPort: 81 });
    expect(peer.sent()).toEqual([]);
    expect(peer.stack.endpointCount()).toBe(2);
  });

  it("urgent data (URG with an urgent pointer) is delivered inline, in order, in the normal stream", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK | URG | PSH, urgent: 3, payload: bytes(10) });
    peer.send({ seq: c.peerNxt + 10, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10, 10) });
    expect(readAll(c.ep)).toEqual(bytes(20));
  });

  it("an option whose length overruns the header: the options parsed before it count, the segment is processed", () => {
    const peer = new TcpPeer();
    const l = newTcp(peer.stack);
    expectNull(l.bind(addr(A, 80)));
    expectNull(l.listen(8));
    // MSS 1000, then a window-scale option claiming 10 bytes in a 4-byte remainder.
    peer.send({ seq: PEER_ISS, flags: SYN, rawOptions: Uint8Array.of(2, 4, 0x03, 0xe8, 3, 10, 7, 0) });
    const synack = peer.one();
    expect(synack.flags).toBe(SYN | ACK);
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK, rawOptions: Uint8Array.of(8, 40) });
    const c = ok(l.accept()).endpoint as typeof l;
    expect((ok(c.getSockOpt("tcpInfo")) as TcpInfo).sndMss).toBe(1000);
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK | PSH, rawOptions: Uint8Array.of(5, 200), payload: bytes(50) });
    expect(readAll(c)).toEqual(bytes(50));
  });

  it("repeated SYN-ACKs in ESTABLISHED are each answered with an ACK and change nothing", () => {
    const peer = new TcpPeer();
    const c = openClient(peer);
    for (let i = 0; i < 3; i++) {
      peer.send({ seq: PEER_ISS, ack: c.stackNxt, flags: SYN | ACK, mss: 1460 });
      const a = peer.one();
      expect(a.flags).toBe(ACK);
      expect(a.ack).toBe(c.peerNxt);
    }
    expect(c.ep.state).toBe(TcpState.Established);
    expect(peer.stack.stats.tcp.resetsSent).toBe(0);
  });

  it("receives data across the 2^32 wrap of the peer's sequence numbers", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr("10.0.0.2", 80));
    const syn = peer.one();
    peer.stackPort = syn.srcPort;
    peer.peerPort = 80;
    const irs = 0xffffff00;
    peer.send({ seq: irs, ack: syn.seq + 1, flags: SYN | ACK, mss: 1460 });
    expect(peer.one().ack).toBe(irs + 1);
    let seq = irs + 1;
    for (let i = 0; i < 4; i++) {
      peer.send({ seq, ack: syn.seq + 1, flags: ACK | PSH, payload: bytes(100, i * 100) });
      seq = (seq + 100) >>> 0;
      expect(peer.one().ack).toBe(seq);
    }
    expect(seq).toBe(0x00000091);
    expect(readAll(ep)).toEqual(bytes(400));
  });

  it("sends data across the 2^32 wrap of its own sequence numbers, and every byte is acknowledged", () => {
    const peer = new TcpPeer();
    vi.spyOn(proto(peer).isn, "generate").mockReturnValue(0xfffffe00);
    const c = openClient(peer);
    expect(c.iss).toBe(0xfffffe00);
    expect(ok(c.ep.write(bytes(3000)))).toBe(3000);
    const segs = peer.sent();
    expect(segs.map((s) => s.payloadLength).reduce((x, y) => x + y, 0)).toBe(3000);
    const end = (c.stackNxt + 3000) >>> 0;
    expect(segs[segs.length - 1]!.seq + segs[segs.length - 1]!.payloadLength >>> 0).toBe(end);
    peer.send({ seq: c.peerNxt, ack: end, flags: ACK });
    expect(c.ep.snd.outstanding()).toBe(0);
    expect(peer.clock.pendingTimers()).toBeLessThanOrEqual(1); // no retransmission timer left
    const info = ok(c.ep.getSockOpt("tcpInfo")) as TcpInfo;
    expect(info.totalRetrans).toBe(0);
    expect(isError(c.ep.write(bytes(10)))).toBe(false);
  });

  it("a server connection survives repeated final ACKs and retransmitted SYNs (challenge ACK, RFC 5961 §4.2)", () => {
    const peer = new TcpPeer();
    const c = openServer(peer);
    peer.send({ seq: PEER_ISS, flags: SYN, mss: 1460 });
    const a = peer.one();
    expect(a.flags).toBe(ACK);
    expect(a.ack).toBe(c.peerNxt);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt, flags: ACK });
    expect(peer.sent()).toEqual([]);
    expect(c.ep.state).toBe(TcpState.Established);
  });
});
