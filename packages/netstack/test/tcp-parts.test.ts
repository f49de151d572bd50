/**
 * The TCP endpoint's building blocks on their own: sequence arithmetic (RFC 9293 §3.4), the
 * RTO estimator (RFC 6298), NewReno's window arithmetic (RFC 5681, RFC 6582, RFC 3465), the send
 * buffer, and the receive and reassembly queues.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { seqAdd, seqDiff, seqGEQ, seqGT, seqInWindow, seqLEQ, seqLT, seqMax, seqMin } from "../src/transport/tcp/seqnum.js";
import { RttEstimator } from "../src/transport/tcp/rtt.js";
import { NewReno, INFINITE_SSTHRESH, createCongestionControl, congestionControlNames } from "../src/transport/tcp/congestion.js";
import { SendBuffer } from "../src/transport/tcp/sendbuf.js";
import { OutOfOrderQueue, ReceiveQueue } from "../src/transport/tcp/rcvqueue.js";
import { bytes } from "./helpers/tcp-harness.js";

describe("sequence numbers (RFC 9293 §3.4: arithmetic modulo 2^32)", () => {
  it("compares across the wrap", () => {
    const a = 0xfffffff0;
    const b = seqAdd(a, 0x20);
    expect(b).toBe(0x10);
    expect(seqLT(a, b)).toBe(true);
    expect(seqGT(b, a)).toBe(true);
    expect(seqLEQ(a, a) && seqGEQ(a, a)).toBe(true);
    expect(seqDiff(b, a)).toBe(0x20);
    expect(seqDiff(a, b)).toBe(-0x20);
    expect(seqMax(a, b)).toBe(b);
    expect(seqMin(a, b)).toBe(a);
    expect(seqInWindow(0x5, a, 0x20)).toBe(true);
    expect(seqInWindow(0x10, a, 0x20)).toBe(false);
    expect(seqInWindow(a, a, 0)).toBe(false);
  });

  it("agrees with plain arithmetic for any base and distance below 2^31 (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (base, d) => {
        const x = seqAdd(base, d);
        expect(seqDiff(x, base)).toBe(d);
        expect(seqLT(base, x)).toBe(d > 0);
        expect(seqGT(base, x)).toBe(d < 0);
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});

describe("RTO estimation (RFC 6298)", () => {
  it("starts at 1 s, takes the first measurement as SRTT with RTTVAR = R/2 (§2.2)", () => {
    const r = new RttEstimator();
    expect(r.rto).toBe(1000);
    r.sample(400);
    expect(r.srtt).toBe(400);
    expect(r.rttvar).toBe(200);
    expect(r.rto).toBe(1200);
  });

  it("updates with alpha 1/8, beta 1/4 (RTTVAR first, from the old SRTT: §2.3)", () => {
    const r = new RttEstimator();
    r.sample(400);
    r.sample(200);
    expect(r.rttvar).toBe(0.75 * 200 + 0.25 * 200);
    expect(r.srtt).toBe(0.875 * 400 + 0.125 * 200);
    expect(r.rto).toBe(375 + 4 * 200);
  });

  it("clamps to Linux's 200 ms minimum and 120 s maximum; backoff doubles (§5.5) until a new measurement", () => {
    const r = new RttEstimator();
    r.sample(1);
    expect(r.rto).toBe(200);
    for (let i = 0; i < 12; i++) r.backoff();
    expect(r.rto).toBe(120_000);
    expect(r.backoffs).toBe(12);
    r.sample(1);
    expect(r.rto).toBe(200);
    expect(r.backoffs).toBe(0);
  });
});

describe("NewReno congestion control", () => {
  it("starts with 10 segments (RFC 6928) and an infinite ssthresh", () => {
    const cc = new NewReno(1000);
    expect(cc.cwnd).toBe(10_000);
    expect(cc.ssthresh).toBe(INFINITE_SSTHRESH);
  });

  it("slow start grows by every byte acknowledged, a stretch ACK in full, never past ssthresh (RFC 3465 §2.2 byte counting; Linux has no L limit)", () => {
    const cc = new NewReno(1000);
    cc.onAck(1000, 1000);
    expect(cc.cwnd).toBe(11_000);
    cc.onAck(5000, 1000);
    expect(cc.cwnd).toBe(16_000);
    cc.ssthresh = 18_000;
    cc.onAck(5000, 1000);
    expect(cc.cwnd).toBe(18_000);
  });

  it("congestion avoidance grows by one SMSS per window of acknowledged bytes (RFC 5681 §3.1)", () => {
    const cc = new NewReno(1000);
    cc.ssthresh = 5000;
    cc.cwnd = 5000;
    for (let i = 0; i < 4; i++) cc.onAck(1000, 1000);
    expect(cc.cwnd).toBe(5000);
    cc.onAck(1000, 1000);
    expect(cc.cwnd).toBe(6000);
  });

  it("fast recovery: ssthresh = max(FlightSize/2, 2 SMSS), cwnd = ssthresh + 3 SMSS, inflation, partial-ACK deflation, exit", () => {
    const cc = new NewReno(1000);
    cc.onEnterRecovery(9000, 1000);
    expect(cc.ssthresh).toBe(4500);
    expect(cc.cwnd).toBe(7500);
    cc.onDupAckInRecovery(1000);
    expect(cc.cwnd).toBe(8500);
    cc.onPartialAck(3000, 1000);
    expect(cc.cwnd).toBe(6500);
    cc.onPartialAck(500, 1000);
    expect(cc.cwnd).toBe(6000);
    cc.onExitRecovery(2000, 1000);
    expect(cc.cwnd).toBe(3000);
    cc.onEnterRecovery(1000, 1000);
    expect(cc.ssthresh).toBe(2000);
  });

  it("a timeout sets the loss window of one segment (RFC 5681 §3.1)", () => {
    const cc = new NewReno(1000);
    cc.onRetransmitTimeout(20_000, 1000);
    expect(cc.cwnd).toBe(1000);
    expect(cc.ssthresh).toBe(10_000);
  });

  it("is available by name as \"reno\"", () => {
    expect(congestionControlNames()).toContain("reno");
    expect(createCongestionControl("reno", 1000)?.name).toBe("reno");
    expect(createCongestionControl("nope", 1000)).toBeNull();
  });
});

describe("send buffer", () => {
  it("copies writes once, hands out views across chunk boundaries, and releases acknowledged bytes", () => {
    const sb = new SendBuffer();
    const data = bytes(100_000);
    sb.append(data, 0, 10_000);
    sb.append(data, 10_000, 90_000);
    expect(sb.size).toBe(100_000);
    const v: Uint8Array[] = [];
    sb.views(15_000, 5000, v);
    expect(v.length).toBeGreaterThan(1); // spans two chunks
    const flat = new Uint8Array(5000);
    let o = 0;
    for (const x of v) {
      flat.set(x, o);
      o += x.length;
    }
    expect(flat).toEqual(data.subarray(15_000, 20_000));
    const held = v[0]!.slice();
    sb.release(60_000);
    expect(sb.size).toBe(40_000);
    expect(sb.headOffset).toBe(60_000);
    expect(v[0]).toEqual(held); // released memory is never rewritten
    const out = new Uint8Array(40_000);
    sb.copyOut(60_000, 40_000, out);
    expect(out).toEqual(data.subarray(60_000));
    sb.append(data, 0, 10);
    sb.release(40_010);
    expect(sb.size).toBe(0);
  });

  it("keeps any view identical to the bytes written, through random appends and releases (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 0, max: 50_000 })), { maxLength: 30 }), (ops) => {
        const sb = new SendBuffer();
        for (const [w, r] of ops) {
          // Byte k of the stream is k & 0xff, so the expected content follows from the offset.
          sb.append(bytes(w, sb.tailOffset), 0, w);
          sb.release(Math.min(r, sb.size));
          const len = Math.min(sb.size, 3000);
          const v: Uint8Array[] = [];
          sb.views(sb.tailOffset - len, len, v);
          const got = new Uint8Array(len);
          let o = 0;
          for (const x of v) {
            got.set(x, o);
            o += x.length;
          }
          expect(o).toBe(len);
          expect(got).toEqual(bytes(len, sb.tailOffset - len));
          expect(sb.size).toBe(sb.tailOffset - sb.headOffset);
        }
      }),
      { seed: 7, numRuns: 100 },
    );
  });
});

describe("receive queue", () => {
  it("reads across views, peeks without consuming, and discards", () => {
    const q = new ReceiveQueue();
    q.push(bytes(10, 0));
    q.push(bytes(10, 10));
    q.push(new Uint8Array(0));
    q.push(bytes(5, 20));
    expect(q.size).toBe(25);
    const a = new Uint8Array(15);
    expect(q.read(a, true)).toBe(15);
    expect(q.size).toBe(25);
    expect(q.read(a, false)).toBe(15);
    expect(a).toEqual(bytes(15));
    q.discard(3);
    const b = new Uint8Array(100);
    expect(q.read(b, false)).toBe(7);
    expect(b.subarray(0, 7)).toEqual(bytes(7, 18));
    expect(q.size).toBe(0);
  });
});

describe("empty send, receive and out-of-order queues share arrays that are never written (heap per endpoint, #8)", () => {
  it("a queue emptied and refilled never shows its bytes to another empty queue", () => {
    const q1 = new ReceiveQueue();
    const q2 = new ReceiveQueue();
    const buf = new Uint8Array(64);
    // Both fill from empty at once: each reads only its own bytes.
    q1.push(bytes(9, 50));
    q2.push(bytes(11, 70));
    expect(q2.read(buf, false)).toBe(11);
    expect(buf.subarray(0, 11)).toEqual(bytes(11, 70));
    expect(q1.read(buf, false)).toBe(9);
    expect(buf.subarray(0, 9)).toEqual(bytes(9, 50));
    for (let round = 0; round < 3; round++) {
      q1.push(bytes(20, round));
      expect(q2.size).toBe(0);
      expect(q2.read(buf, false)).toBe(0);
      expect(q1.read(buf, false)).toBe(20);
      expect(buf.subarray(0, 20)).toEqual(bytes(20, round));
      expect(q1.size).toBe(0);
      // q1 is empty again (shared array); q2 now fills its own.
      q2.push(bytes(7, 100 + round));
      expect(q1.read(buf, false)).toBe(0);
      expect(q2.read(buf, false)).toBe(7);
      expect(buf.subarray(0, 7)).toEqual(bytes(7, 100 + round));
    }
    const o1 = new OutOfOrderQueue();
    const o2 = new OutOfOrderQueue();
    for (let round = 0; round < 2; round++) {
      expect(o1.insert(1000, bytes(10), 0, 64)).toBe(10);
      expect(o2.insert(5000, bytes(20), 0, 64)).toBe(20);
      const b1: number[] = [];
      const b2: number[] = [];
      o1.blocks(b1);
      o2.blocks(b2);
      expect(b1).toEqual([1000, 1010]);
      expect(b2).toEqual([5000, 5020]);
      expect([o1.length, o2.length]).toEqual([1, 1]);
      // Both emptied (back to the shared arrays), then refilled in the other order.
      expect(o1.takeAt(1000)!.length).toBe(10);
      expect(o1.takeAt(1010)).toBeNull();
      o2.clear();
      expect([o1.length, o2.length, o1.bytes, o2.bytes]).toEqual([0, 0, 0, 0]);
      expect(o2.insert(7000, bytes(5), 0, 64)).toBe(5);
      const c1: number[] = [];
      o1.blocks(c1);
      expect(c1).toEqual([]);
      o2.clear();
    }
    const s1 = new SendBuffer();
    const s2 = new SendBuffer();
    s1.append(bytes(40, 1), 0, 40);
    s2.append(bytes(60, 2), 0, 60);
    const both: Uint8Array[] = [];
    s2.views(0, 60, both);
    expect(both.length).toBe(1);
    expect(both[0]).toEqual(bytes(60, 2));
    s1.release(40);
    s2.release(60);
    for (let round = 0; round < 3; round++) {
      s1.append(bytes(100, round), 0, 100);
      const v: Uint8Array[] = [];
      s2.views(0, 0, v);
      expect(v.length).toBe(0);
      s1.release(100);
      expect(s1.size).toBe(0);
      s2.append(bytes(50, round), 0, 50);
      const w: Uint8Array[] = [];
      s2.views(s2.headOffset, 50, w);
      expect(w.length).toBe(1);
      expect(w[0]).toEqual(bytes(50, round));
      s2.release(50);
      // s1 starts again from the shared empty arrays: its new bytes are its own.
      s1.append(bytes(30, 200 + round), 0, 30);
      const x: Uint8Array[] = [];
      s1.views(s1.headOffset, 30, x);
      expect(x[0]).toEqual(bytes(30, 200 + round));
      s1.release(30);
    }
  });
});

describe("out-of-order queue (RFC 9293 §3.10.7.4: overlapping data processed once)", () => {
  it("keeps existing bytes, fills the gaps around them, and returns data continuing RCV.NXT", () => {
    const o = new OutOfOrderQueue();
    const base = 0xfffffff0; // across the wrap
    const seg = (off: number, len: number) => bytes(len, off);
    expect(o.insert(seqAdd(base, 100), seg(100, 50), base)).toBe(50);
    expect(o.insert(seqAdd(base, 200), seg(200, 50), base)).toBe(50);
    expect(o.insert(seqAdd(base, 80), seg(80, 200), base)).toBe(100); // gaps 80-100, 150-200, 250-280
    expect(o.insert(seqAdd(base, 120), seg(120, 10), base)).toBe(0);
    expect(o.bytes).toBe(200);
    expect(o.takeAt(base)).toBeNull();
    const out: number[] = [];
    let nxt = seqAdd(base, 90);
    for (let v = o.takeAt(nxt); v !== null; v = o.takeAt(nxt)) {
      for (const x of v) out.push(x);
      nxt = seqAdd(nxt, v.length);
    }
    expect(out).toEqual(Array.from(bytes(190, 90)));
    expect(o.bytes).toBe(0);
    expect(o.length).toBe(0);
  });

  it("reassembles any arrival order of overlapping pieces into the original stream (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 300 })), { minLength: 1, maxLength: 40 }), (pieces) => {
        const rcvNxt = 0xffffff00;
        const o = new OutOfOrderQueue();
        const covered = new Uint8Array(1000);
        for (const [off, len] of pieces) {
          o.insert(seqAdd(rcvNxt, off), bytes(len, off), rcvNxt);
          covered.fill(1, off, off + len);
        }
        let held = 0;
        for (const c of covered) held += c;
        expect(o.bytes).toBe(held);
        // Fill the front hole and drain.
        const firstHole = covered.indexOf(1);
        let nxt = seqAdd(rcvNxt, firstHole);
        let at = firstHole;
        for (let v = o.takeAt(nxt); v !== null; v = o.takeAt(nxt)) {
          expect(v).toEqual(bytes(v.length, at));
          at += v.length;
          nxt = seqAdd(nxt, v.length);
        }
        expect(covered[at] ?? 0).toBe(0);
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});
