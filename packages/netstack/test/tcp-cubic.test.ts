/**
 * CUBIC (RFC 9438): the window function and K at sample points, the multiplicative decrease
 * with fast convergence, cwnd growth in congestion avoidance against W_cubic(t), the
 * Reno-friendly region, and CUBIC as the stack's default with NewReno selectable.
 */
import { describe, expect, it } from "vitest";
import { TcpPair, TcpPeer, bytes, openClient } from "./helpers/tcp-harness.js";
import {
  CUBIC_BETA, CUBIC_C, Cubic, cubicK, cubicWindow, type CongestionEnv,
} from "../src/transport/tcp/index.js";

const MSS = 1000;

class FakeEnv implements CongestionEnv {
  t = 0;
  rtt = 100;
  now(): number {
    return this.t;
  }
  srtt(): number {
    return this.rtt;
  }
}

/** A CUBIC instance in congestion avoidance right after a loss at `wMax` segments. */
function afterLoss(wMaxSegs: number, env: FakeEnv): Cubic {
  const cc = new Cubic(MSS, 10, env);
  cc.cwnd = wMaxSegs * MSS;
  cc.ssthresh = 1; // congestion avoidance
  cc.onEnterRecovery(cc.cwnd, MSS);
  cc.onExitRecovery(10 * wMaxSegs * MSS, MSS);
  return cc;
}

/** Acknowledges one window's worth of segments per RTT until `untilMs`. */
function run(cc: Cubic, env: FakeEnv, untilMs: number): void {
  while (env.t < untilMs) {
    const segs = Math.floor(cc.cwnd / MSS);
    for (let i = 0; i < segs; i++) cc.onAck(MSS, MSS);
    env.t += env.rtt;
  }
}

describe("CUBIC window function (RFC 9438 §4.2)", () => {
  it("W_cubic(t) = C (t - K)^3 + W_max and K = cbrt((W_max - cwnd) / C) at sample points", () => {
    expect(CUBIC_C).toBe(0.4);
    expect(CUBIC_BETA).toBe(0.7);
    const k = cubicK(100, 70);
    expect(k).toBeCloseTo(Math.cbrt(75), 12);
    expect(cubicWindow(0, k, 100)).toBeCloseTo(70, 9);
    expect(cubicWindow(k, k, 100)).toBeCloseTo(100, 9);
    expect(cubicWindow(2 * k, k, 100)).toBeCloseTo(130, 9);
    expect(cubicWindow(k + 1, k, 100)).toBeCloseTo(100.4, 9);
    expect(cubicK(50, 60)).toBe(0);
  });

  it("a congestion event sets ssthresh = 0.7 cwnd and W_max = cwnd; a second one below W_max converges fast (§4.6, §4.7)", () => {
    const env = new FakeEnv();
    const cc = afterLoss(100, env);
    expect(cc.ssthresh).toBe(70 * MSS);
    expect(cc.wMax).toBe(100);
    expect(cc.cwnd).toBe(70 * MSS);
    cc.onEnterRecovery(cc.cwnd, MSS);
    // 70 < W_max = 100: W_max = 70 * (1 + 0.7) / 2 = 59.5.
    expect(cc.wMax).toBeCloseTo(59.5, 9);
    expect(cc.ssthresh).toBe(49 * MSS);
  });

  it("in congestion avoidance cwnd tracks W_cubic(t): concave up to W_max at t = K, convex beyond", () => {
    const env = new FakeEnv();
    const cc = afterLoss(100, env);
    const k = cubicK(100, 70);
    for (const t of [1, 2, 3, k, 5, 6]) {
      run(cc, env, t * 1000);
      const want = cubicWindow(env.t / 1000, k, 100);
      expect(Math.abs(cc.cwnd / MSS - want)).toBeLessThan(3);
    }
    expect(cc.cwnd / MSS).toBeGreaterThan(100);
  });

  it("with a small W_max and a short RTT, the Reno-friendly estimate W_est governs at first (§4.3)", () => {
    const env = new FakeEnv();
    env.rtt = 100;
    const cc = afterLoss(10, env);
    // W_cubic's slope at t = 0 is 3 C K^2 = 4.6 segments/s; W_est grows by alpha = 0.53 per 100 ms RTT.
    run(cc, env, 500);
    const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
    expect(cubicWindow(env.t / 1000 - 0.1, cc.k, 10)).toBeLessThan(cc.wEst);
    expect(cc.wEst).toBeCloseTo(7 + 5 * alpha, 0);
    expect(cc.cwnd / MSS).toBeCloseTo(cc.wEst, 9);
  });

  it("a timeout leaves one segment and starts a new epoch", () => {
    const env = new FakeEnv();
    const cc = afterLoss(100, env);
    run(cc, env, 2000);
    cc.onRetransmitTimeout(0, MSS);
    expect(cc.cwnd).toBe(MSS);
    expect(cc.epochStart).toBe(-1);
  });
});

describe("CUBIC in the stack", () => {
  it("a fractional cwnd (CUBIC grows it by fractions of a byte) still sends whole segments within it", () => {
    const peer = new TcpPeer();
    // A 1200-byte peer window lets a window-limited 700-byte segment go (at least half the
    // largest window); the congestion window's fraction of a byte must not make it 700.5 bytes.
    const c = openClient(peer, { mss: 1000, window: 1200 });
    c.ep.snd.cc.cwnd = 700.5;
    c.ep.write(bytes(10_000));
    const segs = peer.sent();
    expect(segs.map((x) => x.payloadLength)).toEqual([700]);
    expect(c.ep.snd.sndNxt).toBe((c.stackNxt + 700) >>> 0);
  });

  it("is the default TCP_CONGESTION and moves data; reno can be chosen per connection", () => {
    const p = new TcpPair();
    const { client, server } = p.connectPair(80, (cl) => {
      expect(cl.getSockOpt("congestionControl")).toBe("cubic");
    });
    expect(client.snd.cc.name).toBe("cubic");
    expect(server.snd.cc.name).toBe("cubic");
    client.setSockOpt("congestionControl", "reno");
    expect(client.snd.cc.name).toBe("reno");
  });
});
