/**
 * RACK-TLP (RFC 8985): the reordering window (reordering within it is not a loss, beyond it is),
 * time-based loss marking, the RACK reordering timer, tail loss probes that recover a lost tail
 * without an RTO, the probe's loss detection (§7.4), and D-SACK widening the window. The stack
 * is the sender; the test plays the receiver with a 20 ms round trip.
 */
import { describe, expect, it } from "vitest";
import { ACK, PEER_ISS, SYN, TcpPeer, addr, bytes, newTcp, ok, type SentSegment } from "./helpers/tcp-harness.js";
import { TimerProbe, TimerRack } from "../src/transport/tcp/snd.js";
import { Rack, SEG_LOST, SEG_RETRANS, SEG_SACKED } from "../src/transport/tcp/rack.js";
import type { TcpProtocolOptions } from "../src/transport/tcp/index.js";
import { ShutdownWrite } from "../src/tcpip/endpoint.js";

const RTT = 20;
const MSS = 1000;

/**
 * The stack connects; the peer answers SYN-ACK with SACK after one RTT, then acknowledges a
 * first segment after another RTT, so SRTT = min_RTT = 20 ms and the RTO is its 200 ms floor.
 * Returns the endpoint and `base`, the sequence number of the next data byte.
 */
function connected(tcp: Partial<TcpProtocolOptions> = {}) {
  const peer = new TcpPeer({ tcp });
  const ep = newTcp(peer.stack);
  ep.connect(addr("10.0.0.2", 80));
  const syn = peer.one();
  peer.stackPort = syn.srcPort;
  peer.peerPort = 80;
  peer.advance(RTT);
  peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, window: 65535, opts: { mss: MSS, sackPermitted: true } });
  peer.one();
  const una = (syn.seq + 1) >>> 0;
  expect(ok(ep.write(bytes(MSS)))).toBe(MSS);
  peer.one();
  peer.advance(RTT);
  const seq = PEER_ISS + 1;
  const ack = (n: number, sack: number[] = []) =>
    peer.send({ seq, ack: n >>> 0, flags: ACK, window: 65535, opts: { sackBlockCount: sack.length / 2, sackBlocks: sack.map((x) => x >>> 0) } });
  ack(una + MSS);
  expect(peer.sent()).toEqual([]);
  const snd = ep.snd;
  return { peer, ep, snd, base: (una + MSS) >>> 0, ack, counters: ep.proto.counters, tcpStats: peer.stack.stats.tcp };
}

/** Sends `n` full segments now; returns them. */
function burst(c: ReturnType<typeof connected>, n: number): SentSegment[] {
  expect(ok(c.ep.write(bytes(n * MSS)))).toBe(n * MSS);
  const s = c.peer.sent();
  expect(s.length).toBe(n);
  return s;
}

describe("RACK reordering window (RFC 8985 §6.2)", () => {
  it("starts from a measured min_RTT: reo_wnd = min_RTT / 4 (bounded by SRTT)", () => {
    const c = connected();
    expect(c.snd.rackOn).toBe(true);
    expect(c.snd.rack.minRtt).toBe(RTT);
    expect(c.snd.rack.reoWnd(false, c.snd.rtt.srtt)).toBe(RTT / 4);
  });

  it("reordering within reo_wnd does not trigger a retransmission, and is remembered as reordering", () => {
    const c = connected();
    burst(c, 10);
    c.peer.advance(RTT);
    // Segment 1 arrives, segment 0 is late: RACK waits reo_wnd (5 ms) on its timer.
    c.ack(c.base, [c.base + MSS, c.base + 2 * MSS]);
    expect(c.peer.sent()).toEqual([]);
    expect(c.snd.timerMode).toBe(TimerRack);
    c.peer.advance(4);
    expect(c.peer.sent()).toEqual([]);
    // Segment 0 arrives 4 ms late: no loss.
    c.ack(c.base + 2 * MSS);
    c.peer.advance(3);
    expect(c.peer.sent()).toEqual([]);
    expect(c.tcpStats.retransmits).toBe(0);
    expect(c.counters.rackLossMarked).toBe(0);
    expect(c.snd.rack.reorderingSeen).toBe(true);
  });

  it("reordering beyond reo_wnd: the RACK timer marks the segment lost and it is retransmitted, no RTO", () => {
    const c = connected();
    burst(c, 10);
    c.peer.advance(RTT);
    const t0 = c.peer.clock.now();
    c.ack(c.base, [c.base + MSS, c.base + 2 * MSS]);
    expect(c.peer.sent()).toEqual([]);
    c.peer.advance(10);
    const rtx = c.peer.sent();
    expect(rtx.map((s) => s.seq)).toEqual([c.base]);
    expect(rtx[0]!.payloadLength).toBe(MSS);
    // RFC 8985 §6.2 step 5: due at xmit_ts + RACK.rtt + reo_wnd = t0 + 5 ms.
    expect(rtx[0]!.at).toBe(t0 + RTT / 4);
    expect(c.counters.rackLossMarked).toBe(1);
    expect(c.tcpStats.fastRecovery).toBe(1);
    expect(c.tcpStats.timeouts).toBe(0);
  });

  it("a D-SACK of a spurious retransmission widens reo_wnd (reo_wnd_mult), so the same delay is then tolerated", () => {
    const c = connected();
    burst(c, 10);
    c.peer.advance(RTT);
    c.ack(c.base, [c.base + MSS, c.base + 2 * MSS]);
    c.peer.advance(10);
    expect(c.peer.sent().length).toBe(1);
    // The original arrives after all, then the retransmission: the receiver reports a D-SACK.
    c.ack(c.base + 2 * MSS);
    c.peer.advance(1);
    c.ack(c.base + 2 * MSS, [c.base, c.base + MSS]);
    expect(c.tcpStats.segmentsAckedWithDSACK).toBe(1);
    expect(c.snd.rack.reoWndMult).toBe(2);
    expect(c.snd.rack.reoWnd(false, c.snd.rtt.srtt)).toBe(Math.min((2 * RTT) / 4, c.snd.rtt.srtt));
    // Finish the episode, then reorder a segment by 8 ms (more than the old 5 ms window).
    c.ack(c.base + 10 * MSS);
    expect(c.peer.sent()).toEqual([]);
    const b2 = (c.base + 10 * MSS) >>> 0;
    // (cwnd is small after the recovery: two segments.)
    burst(c, 2);
    c.peer.advance(RTT);
    c.ack(b2, [b2 + MSS, b2 + 2 * MSS]);
    c.peer.advance(8);
    expect(c.peer.sent()).toEqual([]);
    c.ack(b2 + 2 * MSS);
    expect(c.counters.rackLossMarked).toBe(1);
  });

  it("with rack off, the same late segment waits for three duplicate ACKs or the RTO (RFC 6675 only)", () => {
    const c = connected({ rack: false });
    expect(c.snd.rackOn).toBe(false);
    burst(c, 10);
    c.peer.advance(RTT);
    c.ack(c.base, [c.base + MSS, c.base + 2 * MSS]);
    c.peer.advance(10);
    expect(c.peer.sent()).toEqual([]);
  });
});

describe("RACK time-based loss marking (RFC 8985 §6.2 step 5)", () => {
  it("a segment sent more than RACK.rtt + reo_wnd before a delivered one is lost after a single SACK, later ones are not", () => {
    const c = connected();
    burst(c, 1); // A at t
    c.peer.advance(10);
    burst(c, 1); // B at t + 10
    c.peer.advance(5);
    burst(c, 1); // C at t + 15
    c.peer.advance(RTT - 5);
    // B is SACKed one RTT after it left; A went out 10 ms before it (> reo_wnd of 5 ms).
    c.ack(c.base, [c.base + MSS, c.base + 2 * MSS]);
    const out = c.peer.sent();
    expect(out.map((s) => s.seq)).toEqual([c.base]);
    expect(c.counters.rackLossMarked).toBe(1);
    expect(c.snd.rack.record(0)!.flags & SEG_RETRANS).toBe(SEG_RETRANS); // A: retransmitted
    expect(c.snd.rack.record(1)!.flags & SEG_SACKED).toBe(SEG_SACKED); // B
    expect(c.snd.rack.record(2)!.flags).toBe(0); // C: sent after B, not judged
    // Nothing more: C's fate is unknown, so no timer retransmits it.
    c.peer.advance(6);
    expect(c.peer.sent()).toEqual([]);
  });

  it("a lost retransmission is detected by time too, when a later-sent segment is delivered", () => {
    const c = connected();
    burst(c, 6);
    c.peer.advance(RTT);
    c.ack(c.base, [c.base + MSS, c.base + 6 * MSS]);
    // Segment 0 is marked lost at once (5 SACKed: reo_wnd = 0) and retransmitted.
    expect(c.peer.sent().map((s) => s.seq)).toEqual([c.base]);
    // New data goes out after the retransmission; its ACK arrives while segment 0 is still missing.
    expect(ok(c.ep.write(bytes(MSS)))).toBe(MSS);
    c.peer.sent();
    c.peer.advance(RTT + 1);
    c.ack(c.base, [c.base + MSS, c.base + 7 * MSS]);
    const again = c.peer.sent();
    expect(again.map((s) => s.seq)).toContain(c.base);
    expect(c.tcpStats.timeouts).toBe(0);
  });
});

describe("Tail loss probe (RFC 8985 §7)", () => {
  it("recovers lost last segments with a probe 2*SRTT after the last ACK, before the RTO, with no timeout", () => {
    const c = connected();
    burst(c, 5);
    c.peer.advance(RTT);
    const tAck = c.peer.clock.now();
    c.ack(c.base + 3 * MSS); // segments 3 and 4 are lost
    expect(c.snd.timerMode).toBe(TimerProbe);
    const rto = c.snd.rtt.rto;
    c.peer.advance(2 * RTT);
    const probe = c.peer.sent();
    // §7.3: no new data to send, so the last segment goes again.
    expect(probe.map((s) => s.seq)).toEqual([c.base + 4 * MSS]);
    expect(probe[0]!.at).toBe(tAck + 2 * c.snd.rtt.srtt);
    expect(probe[0]!.at - tAck).toBeLessThan(rto);
    expect(c.counters.tlpProbes).toBe(1);
    // The probe's SACK lets RACK find segment 3 lost.
    c.peer.advance(RTT);
    c.ack(c.base + 3 * MSS, [c.base + 4 * MSS, c.base + 5 * MSS]);
    expect(c.peer.sent().map((s) => s.seq)).toEqual([c.base + 3 * MSS]);
    c.peer.advance(RTT);
    c.ack(c.base + 5 * MSS);
    expect(c.snd.outstanding()).toBe(0);
    expect(c.tcpStats.timeouts).toBe(0);
    expect(c.peer.clock.now() - tAck).toBeLessThan(rto);
  });

  it("a lost FIN-carrying tail is probed with its FIN (§7.3 retransmits the last segment)", () => {
    const c = connected();
    burst(c, 3);
    expect(c.ep.shutdown(ShutdownWrite)).toBeNull();
    const fin = c.peer.sent();
    expect(fin.length).toBe(1);
    expect(fin[0]!.flags & 1).toBe(1);
    c.peer.advance(RTT);
    c.ack(c.base + 3 * MSS); // the FIN is lost
    // One "segment" (the FIN) in flight: 2*SRTT + WCDelAckT, capped by the RTO it replaces.
    c.peer.advance(c.snd.rtt.rto);
    const probe = c.peer.sent();
    expect(probe.length).toBe(1);
    expect(probe[0]!.seq).toBe((c.base + 3 * MSS) >>> 0);
    expect(probe[0]!.flags & 1).toBe(1);
    expect(c.counters.tlpProbes).toBe(1);
    c.ack(c.base + 3 * MSS + 1);
    expect(c.snd.finAcked()).toBe(true);
    expect(c.tcpStats.timeouts).toBe(0);
  });

  it("probes with new data when the window allows (§7.3)", () => {
    const c = connected();
    // A small receive window would hold data back; here cwnd does: fill it, then the probe
    // sends the next new segment regardless of cwnd.
    const n = Math.floor(c.snd.cc.cwnd / MSS);
    expect(ok(c.ep.write(bytes((n + 2) * MSS)))).toBe((n + 2) * MSS);
    expect(c.peer.sent().length).toBe(n);
    c.peer.advance(2 * RTT + 1);
    const probe = c.peer.sent();
    expect(probe.map((s) => s.seq)).toEqual([c.base + n * MSS]);
    expect(c.snd.tlpIsRetrans).toBe(false);
    expect(c.counters.tlpProbes).toBe(1);
  });

  it("a one-segment flight adds WCDelAckT, capped by the RTO: the probe then replaces the RTO", () => {
    const c = connected();
    burst(c, 1);
    c.peer.advance(c.snd.rtt.rto - 1);
    expect(c.peer.sent()).toEqual([]);
    c.peer.advance(1);
    expect(c.peer.sent().map((s) => s.seq)).toEqual([c.base]);
    expect(c.counters.tlpProbes).toBe(1);
    expect(c.tcpStats.timeouts).toBe(0);
  });

  it("an ACK beyond a retransmitted probe means it repaired a loss: counted, cwnd reduced (§7.4.2)", () => {
    const c = connected();
    burst(c, 5);
    c.peer.advance(RTT);
    c.ack(c.base + 4 * MSS);
    c.peer.advance(c.snd.rtt.rto);
    expect(c.counters.tlpProbes).toBe(1);
    expect(c.peer.sent().map((s) => s.seq)).toEqual([c.base + 4 * MSS]);
    const cwnd = c.snd.cc.cwnd;
    c.peer.advance(RTT);
    c.ack(c.base + 5 * MSS);
    expect(c.counters.tlpRecoveries).toBe(0); // ambiguous until later (a D-SACK may still come)
    burst(c, 1);
    c.peer.advance(RTT);
    c.ack(c.base + 6 * MSS);
    expect(c.counters.tlpRecoveries).toBe(1);
    expect(c.snd.cc.cwnd).toBeLessThan(cwnd);
  });

  it("a D-SACK for the probe means the original had arrived: no loss, no reduction (§7.4.1)", () => {
    const c = connected();
    burst(c, 5);
    c.peer.advance(RTT);
    c.ack(c.base + 4 * MSS);
    c.peer.advance(c.snd.rtt.rto);
    expect(c.counters.tlpProbes).toBe(1);
    c.peer.sent();
    c.ack(c.base + 5 * MSS);
    c.ack(c.base + 5 * MSS, [c.base + 4 * MSS, c.base + 5 * MSS]);
    expect(c.snd.tlpActive).toBe(false);
    const cwnd = c.snd.cc.cwnd;
    burst(c, 1);
    c.peer.advance(RTT);
    c.ack(c.base + 6 * MSS);
    expect(c.counters.tlpRecoveries).toBe(0);
    expect(c.snd.cc.cwnd).toBeGreaterThanOrEqual(cwnd);
  });

  it("no probe while a recovery runs or SACKed data shows the tail is not lost", () => {
    const c = connected();
    burst(c, 5);
    c.peer.advance(RTT);
    c.ack(c.base, [c.base + MSS, c.base + 2 * MSS]);
    expect(c.snd.timerMode).not.toBe(TimerProbe);
  });
});

describe("RACK record storage (slots reused after every record is acknowledged)", () => {
  /** Sends [a, b) as new data at `now`; SND.MAX is `a`. */
  const send = (r: Rack, a: number, b: number, now: number) => r.onTransmit(a >>> 0, b >>> 0, now, a >>> 0);

  for (const flight of [3, 100]) {
    it(`after a flight of ${flight} records is acknowledged, only the new records are visible (count, record, last, loss marking)`, () => {
      const r = new Rack();
      const base = 0xfffff000; // sequence numbers wrap inside the test
      for (let i = 0; i < flight; i++) send(r, base + i * 100, base + (i + 1) * 100, i);
      const end = (base + flight * 100) >>> 0;
      r.onCumulativeAck(end, flight + 10);
      expect(r.count).toBe(0);
      expect(r.record(0)).toBeNull();
      // Two new records land in the reused slots; the stale ones behind them stay invisible.
      send(r, end, end + 50, 1000);
      send(r, end + 50, end + 100, 1001);
      expect(r.count).toBe(2);
      expect(r.record(0)).toMatchObject({ start: end, end: (end + 50) >>> 0, flags: 0, xmitTs: 1000 });
      expect(r.record(1)).toMatchObject({ start: (end + 50) >>> 0, end: (end + 100) >>> 0, flags: 0, xmitTs: 1001 });
      expect(r.record(2)).toBeNull();
      expect(r.lastStart()).toBe((end + 50) >>> 0);
      expect(r.lastEnd()).toBe((end + 100) >>> 0);
      // RFC 8985 §6.2: the second is SACKed, so the first (sent 1 ms earlier, RACK.rtt 9 ms, no
      // reordering window) is lost 10 ms later — and nothing else is: the old records are gone.
      r.onSacked((end + 50) >>> 0, (end + 100) >>> 0, (end + 50) >>> 0, (end + 100) >>> 0, 1010);
      expect(r.detectLoss(1100, 0)).toBe(0);
      expect(r.marked).toBe(1);
      expect(r.lostBytes).toBe(50);
      expect(r.record(0)!.flags).toBe(SEG_LOST);
      expect(r.record(1)!.flags).toBe(SEG_SACKED);
      const lost = r.nextLostIndex(0);
      expect(r.startAt(lost)).toBe(end);
      expect(r.nextLostIndex(lost + 1)).toBe(-1);
      // A retransmission of part of the lost record splits it inside the live range only.
      r.onTransmit(end, (end + 20) >>> 0, 1200, (end + 100) >>> 0);
      expect(r.count).toBe(3);
      expect(r.record(0)).toMatchObject({ start: end, end: (end + 20) >>> 0, flags: SEG_RETRANS, xmitTs: 1200 });
      expect(r.record(1)).toMatchObject({ start: (end + 20) >>> 0, end: (end + 50) >>> 0, flags: SEG_LOST });
      expect(r.record(3)).toBeNull();
      r.onCumulativeAck((end + 100) >>> 0, 1300);
      expect(r.count).toBe(0);
      expect(r.lostBytes).toBe(0);
    });
  }
});

describe("RACK records hold sequence numbers as int32 (no boxed numbers) and hand them out as uint32", () => {
  /** One scenario across 2^31 and 2^32; `rep` gives each sequence number to the Rack as uint32 or as int32. */
  function scenario(rep: (x: number) => number): { recs: unknown[]; last: number[]; lost: number[]; fack: number; endSeq: number } {
    const r = new Rack();
    const recs: unknown[] = [];
    const last: number[] = [];
    const lost: number[] = [];
    for (const base of [0x7fffff00, 0xffffff00]) {
      for (let i = 0; i < 6; i++) {
        const a = (base + i * 100) >>> 0;
        r.onTransmit(rep(a), rep((a + 100) >>> 0), 10 * i, rep(a));
      }
      // Records 3..5 SACKed: 0..2 lost after the reordering window (RFC 8985 §6.2 step 5).
      r.onSacked((base + 300) >>> 0, (base + 600) >>> 0, (base + 300) >>> 0, (base + 600) >>> 0, 100);
      r.detectLoss(1000, 0);
      for (let i = r.nextLostIndex(0); i !== -1; i = r.nextLostIndex(i + 1)) lost.push(r.startAt(i), r.endAt(i));
      // Part of the first lost record again (a split), then everything acknowledged in two steps.
      r.onTransmit(rep(base), rep((base + 40) >>> 0), 1000, rep((base + 600) >>> 0));
      for (let i = 0; i < r.count; i++) recs.push(r.record(i));
      last.push(r.lastStart(), r.lastEnd());
      r.onCumulativeAck((base + 150) >>> 0, 1100);
      for (let i = 0; i < r.count; i++) recs.push(r.record(i));
      r.onCumulativeAck((base + 600) >>> 0, 1200);
    }
    return { recs, last, lost, fack: r.fack, endSeq: r.endSeq };
  }

  it("gives the same records, in uint32, whichever way the numbers come in (RFC 9293 §3.4: modulo 2^32)", () => {
    const asU32 = scenario((x) => x >>> 0);
    const asI32 = scenario((x) => x | 0);
    expect(asI32).toEqual(asU32);
    const u32 = (x: number) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
    for (const rec of asI32.recs as { start: number; end: number }[]) expect(u32(rec.start) && u32(rec.end)).toBe(true);
    for (const x of [...asI32.last, ...asI32.lost, asI32.fack, asI32.endSeq]) expect(u32(x)).toBe(true);
    expect(asI32.lost).toContain(0xffffff00);
    expect(asI32.recs).toContainEqual(expect.objectContaining({ start: 0x8000002c, end: 0x80000090 }));
  });
});
