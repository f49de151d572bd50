/**
 * HyStart++ (RFC 9406) in CUBIC's slow start: rounds counted by SND.NXT, the exit into
 * Conservative Slow Start when a round's minimum RTT rises by the threshold, the return to slow
 * start when the rise was spurious, the end of CSS after CSS_ROUNDS, and on a link whose delay
 * grows with its queue, leaving slow start before the first loss (and not, with it off).
 */
import { describe, expect, it } from "vitest";
import { TcpPair, bytes, expectNull, type Connection } from "./helpers/tcp-harness.js";
import { isError } from "../src/tcpip/errors.js";
import {
  Cubic, HYSTART_CSS_ROUNDS, HYSTART_N_RTT_SAMPLE, HyStartCss, HyStartDone, HyStartPlusPlus, HyStartSlowStart,
  INFINITE_SSTHRESH, type CongestionEnv,
} from "../src/transport/tcp/congestion.js";

/** Round `r` of an ACK clock: ten ACKs, each with RTT sample `rtt`; SND.NXT = (r + 1) * 100. */
function round(ack: (rtt: number, ack: number, sndNxt: number) => unknown, r: number, rtt: number): void {
  for (let i = 0; i < 10; i++) ack(rtt, r * 100 + 10 * i, (r + 1) * 100);
}

describe("HyStart++ rounds and thresholds (RFC 9406 §4.2)", () => {
  it("exits to CSS when a round's min RTT grows by max(4 ms, min(lastRoundMinRTT / 8, 16 ms))", () => {
    const h = new HyStartPlusPlus();
    const ack = (rtt: number, a: number, n: number) => h.onAck(rtt, a, n);
    round(ack, 0, 20);
    round(ack, 1, 20);
    expect(h.phase).toBe(HyStartSlowStart);
    // +3 ms: below the 4 ms floor (20 / 8 = 2.5 ms).
    round(ack, 2, 23);
    expect(h.phase).toBe(HyStartSlowStart);
    // +4 ms over the previous round's 23: exits once N_RTT_SAMPLE samples are in.
    for (let i = 0; i < HYSTART_N_RTT_SAMPLE - 1; i++) h.onAck(27, 300 + 10 * i, 400);
    expect(h.phase).toBe(HyStartSlowStart);
    h.onAck(27, 370, 400);
    expect(h.phase).toBe(HyStartCss);
    expect(h.cssBaselineMinRtt).toBe(27);
  });

  it("caps the threshold at 16 ms for long paths", () => {
    const h = new HyStartPlusPlus();
    const ack = (rtt: number, a: number, n: number) => h.onAck(rtt, a, n);
    round(ack, 0, 400);
    round(ack, 1, 415); // +15 ms < 16 ms (400 / 8 = 50 is capped)
    expect(h.phase).toBe(HyStartSlowStart);
    round(ack, 2, 431);
    expect(h.phase).toBe(HyStartCss);
  });

  it("returns to slow start when an RTT under the CSS baseline shows the rise was spurious", () => {
    const h = new HyStartPlusPlus();
    const ack = (rtt: number, a: number, n: number) => h.onAck(rtt, a, n);
    round(ack, 0, 20);
    round(ack, 1, 30);
    expect(h.phase).toBe(HyStartCss);
    round(ack, 2, 25);
    expect(h.phase).toBe(HyStartSlowStart);
  });

  it("ends after CSS_ROUNDS rounds in CSS (the caller then sets ssthresh = cwnd)", () => {
    const h = new HyStartPlusPlus();
    const ends: boolean[] = [];
    const ack = (rtt: number, a: number, n: number) => ends.push(h.onAck(rtt, a, n));
    round(ack, 0, 20);
    round(ack, 1, 30);
    expect(h.phase).toBe(HyStartCss);
    for (let r = 2; r < 2 + HYSTART_CSS_ROUNDS; r++) round(ack, r, 30);
    expect(ends.filter((x) => x).length).toBe(1);
    expect(h.phase).toBe(HyStartDone);
  });
});

class Env implements CongestionEnv {
  on = true;
  now(): number {
    return 0;
  }
  srtt(): number {
    return 20;
  }
  hystart(): boolean {
    return this.on;
  }
}

describe("CUBIC with HyStart++", () => {
  it("grows cwnd by a quarter of slow start's increase in CSS, and enters congestion avoidance after it", () => {
    const cc = new Cubic(1000, 10, new Env());
    const sample = (rtt: number, a: number, n: number) => cc.onRttSample(rtt, a, n);
    round(sample, 0, 20);
    round(sample, 1, 30);
    expect(cc.hystart!.phase).toBe(HyStartCss);
    const w = cc.cwnd;
    cc.onAck(1000, 1000);
    expect(cc.cwnd).toBe(w + 250);
    for (let r = 2; r < 2 + HYSTART_CSS_ROUNDS; r++) round(sample, r, 30);
    expect(cc.ssthresh).toBe(Math.floor(cc.cwnd));
  });

  it("is off when the option is off, and a congestion event ends it", () => {
    const env = new Env();
    env.on = false;
    expect(new Cubic(1000, 10, env).hystart).toBeNull();
    const cc = new Cubic(1000, 10, new Env());
    cc.onEnterRecovery(cc.cwnd, 1000);
    expect(cc.hystart!.phase).toBe(HyStartDone);
  });
});

/**
 * A bulk transfer a → b over a 20 Mbit/s bottleneck with a 256 KiB queue and 10 ms each way:
 * the queue's delay grows as slow start overfills it. Runs until slow start ends (ssthresh
 * set) and reports whether any packet had been lost by then.
 */
function slowStartExit(hystart: boolean) {
  const p = new TcpPair({
    tcp: { hystart }, seed: 5, faultsA: { delayMs: 10, bandwidthBps: 20_000_000, queueBytes: 256 * 1024 }, faultsB: { delayMs: 10 },
  });
  const c: Connection = p.connectPair(80, (cl, l) => {
    expectNull(l.setSockOpt("receiveBufferSize", 4 << 20));
    expectNull(cl.setSockOpt("sendBufferSize", 4 << 20));
  });
  const chunk = bytes(1 << 16);
  const buf = new Uint8Array(1 << 20);
  const cc = c.client.snd.cc as Cubic;
  let lostBefore = -1;
  let retransmitsBefore = -1;
  let maxCwnd = 0;
  p.runUntil(() => {
    if (cc.cwnd > maxCwnd) maxCwnd = cc.cwnd;
    for (;;) {
      const w = c.client.write(chunk);
      if (isError(w) || w === 0) break;
    }
    for (;;) {
      const r = c.server.read(buf);
      if (isError(r) || r.count === 0) break;
    }
    if (cc.ssthresh !== INFINITE_SSTHRESH || (hystart && cc.hystart!.phase !== HyStartSlowStart)) {
      lostBefore = p.faultA!.stats.queueDrops;
      retransmitsBefore = p.a.stats.tcp.retransmits;
      return true;
    }
    return false;
  }, 120_000);
  return { lostBefore, retransmitsBefore, maxCwnd, phase: cc.hystart?.phase };
}

describe("HyStart++ on a link whose delay grows with its queue", () => {
  it("leaves slow start on the RTT rise, before the queue overflows; without it, slow start ends in loss", () => {
    const on = slowStartExit(true);
    expect(on.phase).toBe(HyStartCss);
    expect(on.lostBefore).toBe(0);
    expect(on.retransmitsBefore).toBe(0);
    const off = slowStartExit(false);
    expect(off.lostBefore + off.retransmitsBefore).toBeGreaterThan(0);
    // The early exit came at a smaller window than the one that overflowed the queue.
    expect(on.maxCwnd).toBeLessThan(off.maxCwnd);
  });
});
