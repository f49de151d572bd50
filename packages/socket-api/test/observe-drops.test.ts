/**
 * The embed counter watch (src/embed/observe.ts) reports the hardening counters that live
 * outside StackStats as `netstack:drop` events: the stack's connection limit, TCP memory above
 * the hard limit, the TCP forwarder's in-flight bound; and failed SYN cookies from StackStats.
 * Real drops on two in-memory stacks (ManualClock, Pipe); the watch is run as createStack runs
 * it, once after the traffic.
 */
import dc from "node:diagnostics_channel";
import { describe, expect, it } from "vitest";
import {
  Address, Err, IPV4_PROTOCOL, ManualClock, Pipe, SeededRandom, Stack, TCP_PROTOCOL, WaiterQueue, ipv4, isError,
  setTcpForwarder, tcp, tcpWith, type Endpoint, type TcpForwarderRequest, type TcpProtocolOptions,
} from "@netstack-ts/netstack";
import { CounterWatch, channels, type DropEvent } from "../src/index.js";

/** A client stack and a transparent stack (with `opts` for its TCP) on one pipe, plus a watch on the latter. */
function setup(opts: Partial<TcpProtocolOptions>) {
  const clock = new ManualClock();
  const pipe = new Pipe({ mtu: 1500, clock });
  const client = new Stack({ networkProtocols: [ipv4], transportProtocols: [tcp], clock, random: new SeededRandom(1) });
  const proxy = new Stack({ networkProtocols: [ipv4], transportProtocols: [tcpWith(opts)], clock, random: new SeededRandom(2) });
  client.createNic(1, pipe.a);
  client.addAddress(1, "198.18.0.1/24");
  client.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  client.addRoute({ destination: "203.0.113.0/24", nic: 1 });
  proxy.createNic(1, pipe.b, { promiscuous: true, spoofing: true });
  proxy.addAddress(1, "198.18.0.2/24");
  proxy.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  const pump = () => {
    for (let i = 0; i < 1000; i++) {
      clock.advance(0);
      if (pipe.queued === 0) return;
      pipe.drainAll();
    }
  };
  const connect = (port: number): Endpoint => {
    const c = client.newEndpoint(TCP_PROTOCOL, IPV4_PROTOCOL, new WaiterQueue());
    if (isError(c)) throw new Error(c.message);
    expect(c.connect({ addr: Address.from("203.0.113.9"), port })).toBe(Err.ConnectStarted);
    return c;
  };
  const watch = new CounterWatch("proxy");
  watch.bind(proxy);
  return { clock, proxy, pump, connect, watch };
}

function collect(fn: (events: DropEvent[]) => void): DropEvent[] {
  const events: DropEvent[] = [];
  const sub = (m: unknown) => events.push(m as DropEvent);
  dc.subscribe(channels.drop, sub);
  try {
    fn(events);
  } finally {
    dc.unsubscribe(channels.drop, sub);
  }
  return events;
}

describe("the counter watch reports TCP hardening drops (netstack:drop)", () => {
  it("tcpForwarder.overflow: SYNs past the forwarder's in-flight bound (syncookies = 0)", () => {
    const t = setup({ syncookies: 0 });
    const fwd = setTcpForwarder(t.proxy, () => {}, { maxInFlight: 1 })!;
    const events = collect(() => {
      t.watch.check(); // baseline
      t.connect(80);
      t.connect(81);
      t.connect(82);
      t.pump();
      t.watch.check();
    });
    expect(fwd.stats.overflow).toBe(2);
    expect(events).toContainEqual({ stack: "proxy", reason: "tcpForwarder.overflow", count: 2 });
  });

  it("tcp.maxConnectionsDrops: a SYN that would exceed maxConnections", () => {
    const t = setup({ maxConnections: 1 });
    setTcpForwarder(t.proxy, (r) => void r.accept());
    const events = collect(() => {
      t.watch.check();
      t.connect(80);
      t.pump();
      t.connect(81);
      t.pump();
      t.watch.check();
    });
    expect(events).toEqual([{ stack: "proxy", reason: "tcp.maxConnectionsDrops", count: 1 }]);
  });

  it("tcp.memHighDrops: in-order data refused above tcp_mem's hard limit while data waits unread", () => {
    const t = setup({ tcpMem: [1, 1, 1] });
    setTcpForwarder(t.proxy, (r) => void r.accept());
    const c = t.connect(80);
    t.pump();
    const events = collect(() => {
      t.watch.check();
      expect(c.write(new Uint8Array(4000))).toBe(4000);
      t.pump();
      t.watch.check();
    });
    const ev = events.find((e) => e.reason === "tcp.memHighDrops");
    expect(ev).toBeDefined();
    expect(ev!.count).toBeGreaterThan(0);
  });

  it("tcp.synCookiesFailed: after a cookie connection is dropped, the client's next segment fails the cookie check (syncookies = 2)", () => {
    const t = setup({ syncookies: 2 });
    const reqs: TcpForwarderRequest[] = [];
    setTcpForwarder(t.proxy, (r) => void reqs.push(r));
    const c = t.connect(80);
    t.pump();
    expect(reqs.map((r) => r.viaCookie)).toEqual([true]);
    expect(c.write(Uint8Array.of(1))).toBe(1);
    t.pump();
    t.clock.advance(200);
    t.pump();
    reqs[0]!.drop();
    const events = collect(() => {
      t.watch.check();
      expect(c.write(Uint8Array.of(2))).toBe(1);
      t.pump();
      t.watch.check();
    });
    expect(events).toEqual([{ stack: "proxy", reason: "tcp.synCookiesFailed", count: 1 }]);
    expect(c.read(new Uint8Array(1))).toBe(Err.ConnectionReset);
  });
});
