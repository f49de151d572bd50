/**
 * What a TCP endpoint allocates up front (issue #8: heap per idle endpoint): timers, the SYN and
 * accept queues and congestion control's view of the connection are created when first needed,
 * and a connection that needs them still gets working ones.
 */
import { describe, expect, it } from "vitest";
import type { Timer } from "../src/clock/clock.js";
import { EndpointCcEnv } from "../src/transport/tcp/congestion.js";
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

  it("congestion control reads the connection's current SRTT, clock and HyStart++ setting through EndpointCcEnv", () => {
    const pair = new TcpPair({ tcp: { hystart: false } });
    const { client } = pair.connectPair(84);
    const env = new EndpointCcEnv(client);
    expect(env.srtt()).toBe(client.snd.rtt.srtt);
    client.snd.rtt.sample(40);
    expect(env.srtt()).toBe(client.snd.rtt.srtt);
    expect(env.now()).toBe(pair.clock.now());
    pair.advance(7);
    expect(env.now()).toBe(pair.clock.now());
    expect(env.hystart()).toBe(false);
    pair.close();
  });
});
