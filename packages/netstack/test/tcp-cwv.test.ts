/**
 * Congestion window validation (RFC 7661 §3's principle that only a used window is validated;
 * RFC 2861 §3's decay, which Linux's tcp_slow_start_after_idle = 1 keeps): after an idle period
 * longer than an RTO cwnd is halved per RTO down to the restart window min(IW, cwnd) (RFC 5681
 * §4.1) and ssthresh keeps 3/4 of it; an application-limited sender does not grow cwnd, and one
 * that stays application-limited for an RTO decays it halfway toward what it used. With the
 * option off, the window is kept.
 */
import { describe, expect, it } from "vitest";
import { ACK, PEER_ISS, SYN, TcpPeer, addr, bytes, newTcp, ok } from "./helpers/tcp-harness.js";
import type { TcpProtocolOptions } from "../src/transport/tcp/index.js";
import { INFINITE_SSTHRESH } from "../src/transport/tcp/congestion.js";

const MSS = 1000;
const RTT = 20;

/** The scripted receiver acknowledges everything sent so far after one RTT. */
function ackAll(peer: TcpPeer, sndMax: number): void {
  peer.advance(RTT);
  peer.send({ seq: PEER_ISS + 1, ack: sndMax, flags: ACK, window: 65535 });
}

/** A connection whose cwnd grew to 40 segments in two slow-start rounds, then fully acknowledged. */
function grown(tcp: Partial<TcpProtocolOptions> = {}) {
  const peer = new TcpPeer({ tcp });
  const ep = newTcp(peer.stack);
  expect(ep.setSockOpt("sendBufferSize", 1 << 20)).toBeNull();
  ep.connect(addr("10.0.0.2", 80));
  const syn = peer.one();
  peer.stackPort = syn.srcPort;
  peer.peerPort = 80;
  peer.advance(RTT);
  peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, window: 65535, opts: { mss: MSS } });
  peer.one();
  expect(ok(ep.write(bytes(60 * MSS)))).toBe(60 * MSS);
  for (let r = 0; r < 2; r++) {
    const segs = peer.sent();
    peer.advance(RTT);
    // One ACK per segment: slow start adds one MSS for each.
    for (const s of segs) peer.send({ seq: PEER_ISS + 1, ack: (s.seq + s.payloadLength) >>> 0, flags: ACK, window: 65535 });
  }
  peer.sent();
  const snd = ep.snd;
  // Acknowledge what is still outstanding; then the connection is idle.
  peer.advance(RTT);
  peer.send({ seq: PEER_ISS + 1, ack: snd.sndMax, flags: ACK, window: 65535 });
  expect(snd.outstanding()).toBe(0);
  expect(snd.unsent()).toBe(0);
  return { peer, ep, snd };
}

describe("congestion window after idle (RFC 5681 §4.1, RFC 2861 §3 as Linux)", () => {
  it("halves cwnd once for an idle period between one and two RTOs, keeping 3/4 of it in ssthresh", () => {
    const { peer, ep, snd } = grown();
    const w = snd.cc.cwnd;
    expect(w).toBeGreaterThanOrEqual(40 * MSS);
    expect(snd.cc.ssthresh).toBe(INFINITE_SSTHRESH);
    peer.advance(snd.rtt.rto * 1.5);
    ok(ep.write(bytes(MSS)));
    expect(snd.cc.cwnd).toBe(Math.floor(w / 2));
    expect(snd.cc.ssthresh).toBe(INFINITE_SSTHRESH); // max(ssthresh, 3/4 cwnd)
  });

  it("after a long idle, restarts from the restart window min(IW, cwnd) (RFC 5681 §4.1)", () => {
    const { peer, ep, snd } = grown();
    snd.cc.ssthresh = 30 * MSS; // as after an earlier loss
    const w = snd.cc.cwnd;
    peer.advance(60_000);
    ok(ep.write(bytes(MSS)));
    expect(snd.cc.cwnd).toBe(10 * MSS);
    expect(snd.cc.ssthresh).toBe(Math.floor((w * 3) / 4));
  });

  it("does not touch cwnd after an idle period shorter than the RTO", () => {
    const { peer, ep, snd } = grown();
    const w = snd.cc.cwnd;
    peer.advance(snd.rtt.rto / 2);
    ok(ep.write(bytes(MSS)));
    expect(snd.cc.cwnd).toBe(w);
  });

  it("keeps cwnd with slowStartAfterIdle off (Linux tcp_slow_start_after_idle = 0)", () => {
    const { peer, ep, snd } = grown({ slowStartAfterIdle: false });
    const w = snd.cc.cwnd;
    peer.advance(60_000);
    ok(ep.write(bytes(MSS)));
    expect(snd.cc.cwnd).toBe(w);
  });

  it("an application-limited sender does not grow cwnd (RFC 7661 §3; Linux grows only a cwnd-limited window)", () => {
    const { peer, ep, snd } = grown();
    snd.cc.cwnd = 10 * MSS; // back to the initial window, still in slow start
    for (let i = 0; i < 10; i++) {
      ok(ep.write(bytes(2 * MSS)));
      expect(peer.sent().length).toBe(2);
      ackAll(peer, snd.sndMax);
    }
    expect(snd.isCwndLimited()).toBe(false);
    expect(snd.cc.cwnd).toBe(10 * MSS);
  });

  it("a window left unused for an RTO while application-limited decays halfway toward the used one (RFC 2861 §3)", () => {
    const { peer, ep, snd } = grown();
    const w = snd.cc.cwnd;
    const rounds = Math.ceil(snd.rtt.rto / RTT) + 1;
    for (let i = 0; i < rounds; i++) {
      ok(ep.write(bytes(MSS)));
      ackAll(peer, snd.sndMax);
    }
    // Used: one segment, so the floor is the initial window.
    expect(snd.cc.cwnd).toBe(Math.floor((w + 10 * MSS) / 2));
    expect(snd.cc.ssthresh).toBe(INFINITE_SSTHRESH);
  });

  it("keeps the unused window with slowStartAfterIdle off", () => {
    const { peer, ep, snd } = grown({ slowStartAfterIdle: false });
    const w = snd.cc.cwnd;
    for (let i = 0; i < 20; i++) {
      ok(ep.write(bytes(MSS)));
      ackAll(peer, snd.sndMax);
    }
    expect(snd.cc.cwnd).toBe(w);
  });
});
