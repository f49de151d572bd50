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
