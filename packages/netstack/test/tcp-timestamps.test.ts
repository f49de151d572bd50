/**
 * Timestamps (RFC 7323 §3-5): negotiation both ways and declined, TSval / TSecr in every
 * segment, TS.Recent's update rule, PAWS rejection and the 24-day idle rule, and RTT
 * measurement from the echoed timestamps of every ACK of new data.
 */
import { describe, expect, it } from "vitest";
import {
  ACK, PEER_ISS, PSH, RST, SYN, TcpPair, TcpPeer, A, addr, bytes, expectNull, newTcp, ok, readAll, type SentSegment,
} from "./helpers/tcp-harness.js";
import type { TcpInfo } from "../src/tcpip/endpoint.js";
import { TCP_PROTOCOL } from "../src/tcpip/address.js";
import { TcpState, type TcpEndpoint, type TcpProtocol } from "../src/transport/tcp/index.js";

const DAY = 24 * 3600 * 1000;

/** The stack connects; the peer answers with timestamps (TSval `tsVal`) unless `ts` is false. */
function client(peer: TcpPeer, ts = true, tsVal = 1000) {
  const ep = newTcp(peer.stack);
  ep.connect(addr("10.0.0.2", 80));
  const syn = peer.one();
  peer.stackPort = syn.srcPort;
  peer.peerPort = 80;
  peer.send({
    seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, opts: { mss: 1460, ...(ts ? { hasTimestamp: true, tsVal, tsEcr: syn.options.tsVal } : {}) },
  });
  const ack = peer.one();
  return { ep, syn, ack, seq: PEER_ISS + 1, stackNxt: syn.seq + 1 };
}

function ts(s: SentSegment) {
  return { has: s.options.hasTimestamp, val: s.options.tsVal, ecr: s.options.tsEcr };
}

describe("timestamps negotiation (RFC 7323 §3.2)", () => {
  it("a SYN offers timestamps with TSecr 0; an accepted offer puts them in every segment after", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 777);
    expect(ts(c.syn).has).toBe(true);
    expect(ts(c.syn).ecr).toBe(0);
    expect(c.ep.tsOk).toBe(true);
    expect(ts(c.ack)).toEqual({ has: true, val: expect.any(Number), ecr: 777 });
    c.ep.write(bytes(3000));
    const segs = peer.sent();
    expect(segs.length).toBe(3);
    for (const s of segs) expect(ts(s).has && ts(s).ecr === 777).toBe(true);
    // 12 bytes of every segment are the option: 1460 - 12 of payload.
    expect(segs[0]!.payloadLength).toBe(1448);
    expect(segs[0]!.dataOffset).toBe(32);
  });

  it("the peer declines: no timestamps in any segment, full-sized payloads", () => {
    const peer = new TcpPeer();
    const c = client(peer, false);
    expect(c.ep.tsOk).toBe(false);
    expect(ts(c.ack).has).toBe(false);
    c.ep.write(bytes(3000));
    const segs = peer.sent();
    expect(segs[0]!.payloadLength).toBe(1460);
    for (const s of segs) expect(ts(s).has).toBe(false);
  });

  it("passive open: the SYN-ACK echoes the SYN's TSval; without an offer it carries none", () => {
    for (const offered of [true, false]) {
      const peer = new TcpPeer();
      const l = newTcp(peer.stack);
      expectNull(l.bind(addr(A, 80)));
      expectNull(l.listen(8));
      peer.stackPort = 80;
      peer.send({ seq: PEER_ISS, flags: SYN, opts: { mss: 1460, ...(offered ? { hasTimestamp: true, tsVal: 4242 } : {}) } });
      const synack = peer.one();
      expect(ts(synack).has).toBe(offered);
      if (offered) expect(ts(synack).ecr).toBe(4242);
    }
  });

  it("timestamps off on the stack: not offered, and a peer's offer is not taken up", () => {
    const peer = new TcpPeer({ tcp: { timestamps: false } });
    const ep = newTcp(peer.stack);
    ep.connect(addr("10.0.0.2", 80));
    expect(ts(peer.one()).has).toBe(false);
    const p2 = new TcpPeer({ tcp: { timestamps: false } });
    const l = newTcp(p2.stack);
    expectNull(l.bind(addr(A, 80)));
    expectNull(l.listen(8));
    p2.stackPort = 80;
    p2.send({ seq: PEER_ISS, flags: SYN, opts: { mss: 1460, hasTimestamp: true, tsVal: 1 } });
    expect(ts(p2.one()).has).toBe(false);
  });

  it("two stacks negotiate timestamps, window scaling and move data both ways", () => {
    const p = new TcpPair();
    const { client: cl, server } = p.connectPair();
    expect(cl.tsOk && server.tsOk).toBe(true);
    expect(cl.snd.wndScale).toBe(7);
    expect(server.snd.wndScale).toBe(7);
    cl.setSockOpt("sendBufferSize", 100_000);
    expect(cl.write(bytes(100_000))).toBe(100_000);
    p.runUntil(() => ok(server.getSockOpt("receiveQueueSize")) === 100_000, 10_000);
    expect(readAll(server)).toEqual(bytes(100_000));
  });
});

describe("PAWS (RFC 7323 §5)", () => {
  it("drops a segment whose TSval is older than TS.Recent, answering with an ACK", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 1000);
    peer.send({ seq: c.seq, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10), opts: { hasTimestamp: true, tsVal: 1005, tsEcr: 0 } });
    expect(peer.one().ack).toBe(c.seq + 10);
    // The next 10 bytes, but stamped before TS.Recent (1005): an old duplicate from a previous wrap.
    peer.send({ seq: c.seq + 10, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10, 10), opts: { hasTimestamp: true, tsVal: 1001, tsEcr: 0 } });
    const a = peer.one();
    expect(a.ack).toBe(c.seq + 10);
    expect(ts(a).ecr).toBe(1005);
    expect((peer.stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol).counters.pawsRejected).toBe(1);
    expect(readAll(c.ep)).toEqual(bytes(10));
    // Stamped correctly, the same bytes are taken.
    peer.send({ seq: c.seq + 10, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10, 10), opts: { hasTimestamp: true, tsVal: 1006, tsEcr: 0 } });
    expect(peer.one().ack).toBe(c.seq + 20);
  });

  it("TSval comparison wraps at 2^32: 5 is newer than 2^32 - 5", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 0xfffffffb);
    peer.send({ seq: c.seq, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10), opts: { hasTimestamp: true, tsVal: 5, tsEcr: 0 } });
    expect(peer.one().ack).toBe(c.seq + 10);
  });

  it("a RST is not subject to PAWS (RFC 7323 §5.3)", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 1000);
    peer.send({ seq: c.seq, flags: RST, opts: { hasTimestamp: true, tsVal: 1, tsEcr: 0 } });
    expect(c.ep.state).toBe(TcpState.Closed);
  });

  it("after 24 days of idleness TS.Recent is no longer trusted: an old TSval is accepted (RFC 7323 §5.5)", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 1_000_000);
    peer.advance(24 * DAY + 1000);
    peer.send({ seq: c.seq, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10), opts: { hasTimestamp: true, tsVal: 5, tsEcr: 0 } });
    expect(peer.one().ack).toBe(c.seq + 10);
    // ...and TS.Recent is now 5: a later segment stamped 4 is rejected.
    peer.send({ seq: c.seq + 10, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10), opts: { hasTimestamp: true, tsVal: 4, tsEcr: 0 } });
    expect(peer.one().ack).toBe(c.seq + 10);
  });

  it("within 24 days the same old TSval is rejected", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 1_000_000);
    peer.advance(23 * DAY);
    peer.send({ seq: c.seq, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10), opts: { hasTimestamp: true, tsVal: 5, tsEcr: 0 } });
    expect(peer.one().ack).toBe(c.seq);
  });

  it("TS.Recent only follows segments at or before the last ACK sent, not out-of-order ones (RFC 7323 §4.3)", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 1000);
    // Out of order (beyond a 10-byte hole), stamped far ahead.
    peer.send({ seq: c.seq + 10, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10, 10), opts: { hasTimestamp: true, tsVal: 9000, tsEcr: 0 } });
    expect(ts(peer.one()).ecr).toBe(1000);
    // The hole, stamped 2000: not rejected (TS.Recent is still 1000), and echoed.
    peer.send({ seq: c.seq, ack: c.stackNxt, flags: ACK | PSH, payload: bytes(10), opts: { hasTimestamp: true, tsVal: 2000, tsEcr: 0 } });
    const a = peer.one();
    expect(a.ack).toBe(c.seq + 20);
    expect(ts(a).ecr).toBe(2000);
    expect(readAll(c.ep)).toEqual(bytes(20));
  });
});

describe("RTT measurement (RFC 7323 §4)", () => {
  it("every ACK of new data gives a sample from its echoed TSval, retransmissions included", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 1000);
    const info = () => ok(c.ep.getSockOpt("tcpInfo")) as TcpInfo;
    c.ep.write(bytes(100));
    const s1 = peer.one();
    peer.advance(80);
    peer.send({ seq: c.seq, ack: c.stackNxt + 100, flags: ACK, opts: { hasTimestamp: true, tsVal: 1001, tsEcr: s1.options.tsVal } });
    // RFC 6298 §2.3 averaging after the handshake's sample of 0: SRTT = 7/8 * 0 + 1/8 * 80.
    expect(info().rtt).toBe(10);
    // A segment retransmitted after the RTO: its echo still measures (Karn's rule is not needed).
    c.ep.write(bytes(100));
    peer.one();
    peer.advance(info().rto);
    const rtx = peer.sent();
    expect(rtx.length).toBe(1);
    peer.advance(40);
    peer.send({ seq: c.seq, ack: c.stackNxt + 200, flags: ACK, opts: { hasTimestamp: true, tsVal: 1002, tsEcr: rtx[0]!.options.tsVal } });
    expect(info().rtt).toBe(10 * 0.875 + 40 * 0.125);
  });

  it("the TSval clock ticks in milliseconds from a per-connection offset", () => {
    const peer = new TcpPeer();
    const c = client(peer, true, 1000);
    c.ep.write(bytes(10));
    const a = ts(peer.one()).val;
    peer.advance(150);
    peer.send({ seq: c.seq, ack: c.stackNxt + 10, flags: ACK, opts: { hasTimestamp: true, tsVal: 1001, tsEcr: a } });
    c.ep.write(bytes(10));
    const b = ts(peer.one()).val;
    expect((b - a) >>> 0).toBe(150);
    const other = client(new TcpPeer({ seed: 99 }), true, 1000);
    expect(ts(other.syn).val).not.toBe(ts(c.syn).val);
  });
});

// Keep the type import used when the file is type-checked alone.
export type { TcpEndpoint };
