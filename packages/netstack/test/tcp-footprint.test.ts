/**
 * What a TCP endpoint allocates up front (issue #8: heap per idle endpoint): timers, the SYN and
 * accept queues and congestion control's view of the connection are created when first needed,
 * and a connection that needs them still gets working ones.
 */
import { describe, expect, it } from "vitest";
import type { Timer, TimerTarget } from "../src/clock/clock.js";
import { Cubic, HyStartDone, type CongestionEnv } from "../src/transport/tcp/congestion.js";
import { TcpState } from "../src/transport/tcp/state.js";
import { isError } from "../src/tcpip/errors.js";
import { EventIn } from "../src/waiter/queue.js";
import type { TcpEndpoint } from "../src/transport/tcp/endpoint.js";
import { B, TcpPair, addr, bytes, expectNull, newTcp, ok } from "./helpers/tcp-harness.js";

/** Counts the timers the pair's stacks create from now on. */
function countTimers(pair: TcpPair): { created: number } {
  const c = { created: 0 };
  const clock = pair.clock;
  const orig = clock.createTimer.bind(clock);
  clock.createTimer = (fn: () => void): Timer => {
    c.created++;
    return orig(fn);
  };
  const origFor = clock.createTimerFor.bind(clock);
  clock.createTimerFor = (target: TimerTarget, id: number): Timer => {
    c.created++;
    return origFor(target, id);
  };
  return c;
}

describe("TCP endpoint footprint (issue #8)", () => {
  it("an idle established connection has created only its retransmission timers, not cork, keepalive or TIME-WAIT ones", () => {
    const pair = new TcpPair();
    const timers = countTimers(pair);
    const { client, server } = pair.connectPair(80);
    expect(client.state).toBe(TcpState.Established);
    expect(server.state).toBe(TcpState.Established);
    // One retransmission timer per side (SYN, SYN-ACK); a listener needs none.
    expect(timers.created).toBe(2);
    pair.settle();
    expect(timers.created).toBe(2);
    pair.close();
  });

  it("timers created on first use still run: data is delayed-ACKed, both sides close and TIME-WAIT expires (RFC 9293 §3.10.8)", () => {
    const pair = new TcpPair();
    const timers = countTimers(pair);
    const { client, server } = pair.connectPair(81);
    expect(ok(client.write(bytes(100)))).toBe(100);
    pair.runUntil(() => server.readiness(1) !== 0, 10_000);
    const buf = new Uint8Array(200);
    expect(ok(server.read(buf)).count).toBe(100);
    client.close();
    server.close();
    pair.runUntil(() => client.state === TcpState.TimeWait || client.state === TcpState.Closed, 10_000);
    expect(client.state).toBe(TcpState.TimeWait);
    const created = timers.created;
    expect(created).toBeGreaterThan(2);
    pair.runUntilIdle();
    expect(client.state).toBe(TcpState.Closed);
    expect(pair.clock.pendingTimers()).toBe(0);
    pair.close();
  });

  it("SO_KEEPALIVE set after the handshake creates the keepalive timer and probes an idle peer (RFC 1122 §4.2.3.6)", () => {
    const pair = new TcpPair();
    const { client } = pair.connectPair(82);
    const timers = countTimers(pair);
    expectNull(client.setSockOpt("keepIdle", 10));
    expectNull(client.setSockOpt("keepAlive", true));
    expect(timers.created).toBe(1);
    const probes0 = pair.a.stats.tcp.keepAliveProbes;
    pair.advance(10_500);
    expect(pair.a.stats.tcp.keepAliveProbes).toBe(probes0 + 1);
    pair.close();
  });

  it("a listener's accept queue, created on first use, holds a completed connection until accept() (RFC 9293 §3.10.7.2)", () => {
    const pair = new TcpPair();
    const { listener } = pair.connectPair(83);
    expect(listener.readiness(EventIn)).toBe(0);
    const c2 = newTcp(pair.a);
    const r = c2.connect(addr(B, 83));
    expect(isError(r) && r.name).toBe("connect-started");
    pair.runUntil(() => c2.state === TcpState.Established && listener.readiness(EventIn) !== 0, 10_000);
    const acc = ok(listener.accept());
    expect((acc.endpoint as TcpEndpoint).state).toBe(TcpState.Established);
    expect(listener.readiness(EventIn)).toBe(0);
    expect(isError(listener.accept())).toBe(true);
    pair.close();
  });

  it("congestion control reads the connection's current SRTT, clock and HyStart++ setting from the endpoint itself (no env object per connection)", () => {
    const pair = new TcpPair({ tcp: { hystart: false } });
    const { client } = pair.connectPair(84);
    const env: CongestionEnv = client;
    expect(env.srtt()).toBe(client.snd.rtt.srtt);
    client.snd.rtt.sample(40);
    expect(env.srtt()).toBe(client.snd.rtt.srtt);
    expect(env.now()).toBe(pair.clock.now());
    pair.advance(7);
    expect(env.now()).toBe(pair.clock.now());
    expect(env.hystart!()).toBe(false);
    // The algorithm reads the endpoint: HyStart++ is off, and stays off after an RTT sample.
    const cc = client.snd.cc as Cubic;
    cc.onRttSample(5, 1, 2);
    expect(cc.hystart).toBeNull();
    pair.close();
  });

  it("endpoint timers are target timers (no closure each) on a clock that has them, closures on one that has not", () => {
    const pair = new TcpPair();
    const viaFor = { n: 0 };
    const viaFn = { n: 0 };
    const clock = pair.clock;
    const origFor = clock.createTimerFor.bind(clock);
    clock.createTimerFor = (target: TimerTarget, id: number): Timer => {
      viaFor.n++;
      return origFor(target, id);
    };
    const origFn = clock.createTimer.bind(clock);
    clock.createTimer = (fn: () => void): Timer => {
      viaFn.n++;
      return origFn(fn);
    };
    const { client } = pair.connectPair(86);
    expect([viaFor.n, viaFn.n]).toEqual([2, 0]);
    // Without createTimerFor (a Clock that predates it) the endpoint falls back to closures,
    // and its timers still run: the keepalive probe goes out (RFC 1122 §4.2.3.6).
    (clock as { createTimerFor?: unknown }).createTimerFor = undefined;
    expectNull(client.setSockOpt("keepIdle", 10));
    expectNull(client.setSockOpt("keepAlive", true));
    expect(viaFn.n).toBe(1);
    const probes0 = pair.a.stats.tcp.keepAliveProbes;
    pair.advance(10_500);
    expect(pair.a.stats.tcp.keepAliveProbes).toBe(probes0 + 1);
    pair.close();
  });

  it("RACK's records and HyStart++'s state are created at the first data, not by the handshake; the transfer then uses them (RFC 8985, RFC 9406)", () => {
    const pair = new TcpPair();
    const { client, server } = pair.connectPair(85);
    pair.settle();
    for (const ep of [client, server]) {
      expect(ep.snd.rackOn).toBe(true);
      expect(ep.snd.rackCreated).toBe(false);
    }
    // The client's SYN was acknowledged before CUBIC started; the server's SYN-ACK, after (its
    // ACK is an RTT sample that starts HyStart++'s first round).
    expect((client.snd.cc as Cubic).hystartCreated).toBe(false);
    expect((server.snd.cc as Cubic).hystartCreated).toBe(true);
    const n = 100_000;
    let sent = 0;
    let got = 0;
    const buf = new Uint8Array(65536);
    pair.runUntil(() => {
      if (sent < n) {
        const w = client.write(bytes(Math.min(16384, n - sent)));
        if (!isError(w)) sent += w;
      }
      const r = server.read(buf);
      if (!isError(r)) got += r.count;
      return got === n;
    }, 60_000);
    expect(got).toBe(n);
    expect(client.snd.rackCreated).toBe(true);
    const cc = client.snd.cc as Cubic;
    expect(cc.hystartCreated).toBe(true);
    expect(cc.hystart).not.toBeNull();
    // The receiver sent only ACKs: nothing for RACK to track.
    expect(server.snd.rackCreated).toBe(false);
    pair.close();
  });

  it("a congestion event before any RTT sample still ends HyStart++ (RFC 9406 §4.2), and it stays off when disabled", () => {
    const cc = new Cubic(1000, 10, { now: () => 0, srtt: () => 0, hystart: () => true });
    expect(cc.hystartCreated).toBe(false);
    cc.onRetransmitTimeout(10_000, 1000);
    expect(cc.hystart!.phase).toBe(HyStartDone);
    const off = new Cubic(1000, 10, { now: () => 0, srtt: () => 0, hystart: () => false });
    off.onRttSample(5, 1, 2);
    expect(off.hystartCreated).toBe(false);
    expect(off.hystart).toBeNull();
  });
});
