import { describe, expect, it } from "vitest";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { Pipe } from "../src/link/pipe.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4 } from "../src/network/ipv4/index.js";
import { ipv6 } from "../src/network/ipv6/index.js";
import {
  setTcpForwarder, tcp, tcpWith, TcpState, type TcpEndpoint, type TcpForwarderRequest, type TcpProtocol,
  type TcpProtocolOptions,
} from "../src/transport/tcp/index.js";
import { TCPI_OPT_SACK, TCPI_OPT_TIMESTAMPS, TCPI_OPT_WSCALE, tcpInfo } from "../src/transport/tcp/info.js";
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, TCP_PROTOCOL } from "../src/tcpip/address.js";
import { Err, isError } from "../src/tcpip/errors.js";
import type { Endpoint } from "../src/tcpip/endpoint.js";
import { EventIn, EventOut, WaiterQueue } from "../src/waiter/queue.js";
import { ACK, PSH, RST, SYN, buildPacket, ok, parseSent, type SegmentSpec, type SentSegment } from "./helpers/tcp-harness.js";

/**
 * A client stack routes 203.0.113.0/24 (any destination there) straight into a transparent stack
 * whose NIC is promiscuous and may spoof: the transparent stack sees every connection with its
 * original 4-tuple.
 */
function transparentPair() {
  const clock = new ManualClock();
  const pipe = new Pipe({ mtu: 1500, clock });
  const mk = (seed: number) => new Stack({ networkProtocols: [ipv4], transportProtocols: [tcp], clock,
    random: new SeededRandom(seed) });
  const client = mk(1);
  const proxy = mk(2);
  client.createNic(1, pipe.a);
  client.addAddress(1, "198.18.0.1/24");
  client.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  client.addRoute({ destination: "203.0.113.0/24", nic: 1 }); // on-link: straight into the proxy
  proxy.createNic(1, pipe.b, { promiscuous: true, spoofing: true });
  proxy.addAddress(1, "198.18.0.2/24");
  proxy.addRoute({ destination: "198.18.0.0/24", nic: 1 });
  const pump = () => {
    for (let i = 0; i < 10_000; i++) {
      clock.advance(0);
      if (pipe.queued === 0) return;
      pipe.drainAll();
    }
    throw new Error("pump did not settle");
  };
  return { clock, client, proxy, pump };
}

function newTcpEp(stack: Stack, wq = new WaiterQueue()): TcpEndpoint {
  return ok(stack.newEndpoint(TCP_PROTOCOL, IPV4_PROTOCOL, wq)) as TcpEndpoint;
}

/** Echoes everything an endpoint receives (driven by its waiter queue). */
function echo(ep: Endpoint, wq: WaiterQueue): void {
  const buf = new Uint8Array(4096);
  const serve = () => {
    for (;;) {
      const r = ep.read(buf);
      if (isError(r)) return;
      if (r.count === 0) return;
      ep.write(buf.slice(0, r.count));
    }
  };
  wq.register({ callback: serve }, EventIn);
  serve();
}

/**
 * One transparent stack on a channel link; the test plays the client 10.0.0.2 and sends SYNs to
 * any address, reading what the stack answers.
 */
function rawPeer(opts: { maxInFlight?: number; pendingTimeoutMs?: number; tcp?: Partial<TcpProtocolOptions> } = {}) {
  const clock = new ManualClock();
  const link = new ChannelEndpoint({ mtu: 1500, capabilities: 0, queueSize: 1 << 16 });
  const stack = new Stack({ networkProtocols: [ipv4], transportProtocols: [opts.tcp ? tcpWith(opts.tcp) : tcp], clock,
    random: new SeededRandom(3) });
  stack.createNic(1, link, { promiscuous: true, spoofing: true });
  stack.addAddress(1, "10.0.0.1/24");
  stack.addRoute({ destination: "10.0.0.0/24", nic: 1 });
  const peer = Address.from("10.0.0.2");
  const requests: TcpForwarderRequest[] = [];
  let decide: (r: TcpForwarderRequest) => void = (r) => void requests.push(r);
  const fwd = setTcpForwarder(stack, (r) => decide(r), { maxInFlight: opts.maxInFlight, pendingTimeoutMs: opts.pendingTimeoutMs })!;
  const send = (dst: string, dport: number, sport: number, spec: SegmentSpec, src = peer) =>
    link.inject(buildPacket(src, Address.from(dst), sport, dport, spec));
  const sent = (): SentSegment[] => {
    const out: SentSegment[] = [];
    for (let b = link.read(); b !== null; b = link.read()) out.push(parseSent(b, clock.now()));
    return out;
  };
  const proto = stack.transportProtocol(TCP_PROTOCOL) as unknown as TcpProtocol;
  return {
    clock, stack, proto, fwd, send, sent, requests,
    setHandler(f: (r: TcpForwarderRequest) => void) {
      decide = f;
    },
  };
}

describe("TCP forwarder (transparent mode)", () => {
  it("hands connections to 100 destinations to the handler with their original 4-tuples, and they echo data", () => {
    const t = transparentPair();
    const seen: string[] = [];
    const accepted: Endpoint[] = [];
    const fwd = setTcpForwarder(t.proxy, (req) => {
      seen.push(`${req.source.addr}:${req.source.port}->${req.destination.addr}:${req.destination.port}`);
      expect(req.nic).toBe(1);
      expect(req.netProto).toBe(IPV4_PROTOCOL);
      const r = ok(req.accept());
      // The endpoint answers as the destination the client asked for.
      const local = ok(r.endpoint.getLocalAddress());
      expect(`${local.addr}:${local.port}`).toBe(`${req.destination.addr}:${req.destination.port}`);
      accepted.push(r.endpoint);
      echo(r.endpoint, r.waiterQueue);
    })!;
    const clients: TcpEndpoint[] = [];
    for (let i = 0; i < 100; i++) {
      const c = newTcpEp(t.client);
      const e = c.connect({ addr: Address.from(`203.0.113.${1 + i}`), port: 1000 + 7 * i });
      expect(e).toBe(Err.ConnectStarted);
      clients.push(c);
    }
    t.pump();
    expect(fwd.stats.requests).toBe(100);
    expect(fwd.stats.accepted).toBe(100);
    expect(fwd.stats.established).toBe(100);
    expect(fwd.inFlight).toBe(0);
    expect(t.proxy.stats.tcp.passiveConnectionOpenings).toBe(100);
    for (let i = 0; i < 100; i++) {
      const c = clients[i]!;
      expect(c.state).toBe(TcpState.Established);
      const me = ok(c.getLocalAddress());
      expect(seen[i]).toBe(`198.18.0.1:${me.port}->203.0.113.${1 + i}:${1000 + 7 * i}`);
      expect(c.write(Uint8Array.of(i, 0xaa, i))).toBe(3);
    }
    t.pump();
    const buf = new Uint8Array(16);
    for (let i = 0; i < 100; i++) {
      const r = ok(clients[i]!.read(buf));
      expect([...buf.subarray(0, r.count)]).toEqual([i, 0xaa, i]);
    }
    // They close like any connection: the client closes first and ends in TIME-WAIT, the
    // forwarded side (closing after reading EOF) passes through LAST-ACK to CLOSED.
    for (const c of clients) c.close();
    t.pump();
    for (const e of accepted) e.close();
    t.pump();
    for (const c of clients) expect(c.state).toBe(TcpState.TimeWait);
    for (const e of accepted) expect((e as TcpEndpoint).state).toBe(TcpState.Closed);
  });

  it("accept() answers with a SYN-ACK from the original destination, negotiating the SYN's options (RFC 9293 §3.10.7.2)", () => {
    const p = rawPeer();
    p.send("192.0.2.77", 443, 5555, { seq: 1000, flags: SYN, mss: 1200, opts: { wscale: 7, sackPermitted: true, hasTimestamp: true, tsVal: 42, tsEcr: 0 } });
    expect(p.sent()).toEqual([]); // nothing until the handler decides
    expect(p.requests.length).toBe(1);
    const req = p.requests[0]!;
    expect(`${req.source.addr}:${req.source.port}`).toBe("10.0.0.2:5555");
    expect(`${req.destination.addr}:${req.destination.port}`).toBe("192.0.2.77:443");
    expect(req.pending).toBe(true);
    // Decided later (after the packet's buffer was long released).
    p.clock.advance(500);
    const wq = new WaiterQueue();
    const events: number[] = [];
    wq.register({ callback: (ev) => events.push(ev) }, EventOut);
    const r = ok(req.accept(wq));
    expect(req.pending).toBe(false);
    const ep = r.endpoint as TcpEndpoint;
    expect(ep.state).toBe(TcpState.SynReceived);
    const out = p.sent();
    expect(out.length).toBe(1);
    const sa = out[0]!;
    expect(sa.flags).toBe(SYN | ACK);
    expect(sa.src).toBe("192.0.2.77");
    expect(sa.dst).toBe("10.0.0.2");
    expect(sa.srcPort).toBe(443);
    expect(sa.dstPort).toBe(5555);
    expect(sa.ack).toBe(1001);
    expect(sa.options.mss).toBeGreaterThan(0);
    expect(sa.options.wscale).toBeGreaterThanOrEqual(0);
    expect(sa.options.sackPermitted).toBe(true);
    expect(sa.options.tsEcr).toBe(42);
    expect(events).toEqual([]);
    // The peer's ACK completes the handshake: the endpoint is connected and says so (EventOut).
    p.send("192.0.2.77", 443, 5555, { seq: 1001, ack: sa.seq + 1, flags: ACK, opts: { hasTimestamp: true, tsVal: 43, tsEcr: sa.options.tsVal } });
    expect(ep.state).toBe(TcpState.Established);
    expect(events.length).toBe(1);
    expect(p.fwd.stats.established).toBe(1);
    expect(p.fwd.inFlight).toBe(0);
    // A second accept is refused.
    expect(req.accept()).toBe(Err.InvalidEndpointState);
  });

  it("an accepted handshake the peer never completes gives up after tcp_synack_retries SYN-ACK retransmissions", () => {
    const p = rawPeer();
    p.send("192.0.2.9", 80, 4100, { seq: 77, flags: SYN, mss: 1460 });
    const ep = ok(p.requests[0]!.accept()).endpoint as TcpEndpoint;
    for (let i = 0; i < 200; i++) p.clock.advance(1000);
    const synacks = p.sent().filter((s) => s.flags === (SYN | ACK));
    expect(synacks.length).toBe(1 + 5); // DEFAULT_TCP_OPTIONS.synAckRetries = 5, as Linux
    expect(ep.state).toBe(TcpState.Closed);
    expect(ep.read(new Uint8Array(1))).toBe(Err.Timeout);
    expect(p.fwd.stats.handshakeFailed).toBe(1);
    expect(p.fwd.inFlight).toBe(0);
    ep.close();
  });

  it("a retransmitted SYN while a request is pending is absorbed, not a new request", () => {
    const p = rawPeer();
    p.send("192.0.2.1", 80, 4000, { seq: 7, flags: SYN, mss: 1460 });
    p.clock.advance(1000);
    p.send("192.0.2.1", 80, 4000, { seq: 7, flags: SYN, mss: 1460 });
    p.send("192.0.2.1", 80, 4000, { seq: 7, flags: SYN, mss: 1460 });
    expect(p.requests.length).toBe(1);
    expect(p.fwd.stats.duplicateSyns).toBe(2);
    expect(p.sent()).toEqual([]);
    // Another source port is another connection.
    p.send("192.0.2.1", 80, 4001, { seq: 7, flags: SYN, mss: 1460 });
    expect(p.requests.length).toBe(2);
    // After accept, a retransmitted SYN reaches the endpoint, which sends its SYN-ACK again.
    ok(p.requests[0]!.accept());
    const first = p.sent();
    expect(first.map((s) => s.flags)).toEqual([SYN | ACK]);
    p.send("192.0.2.1", 80, 4000, { seq: 7, flags: SYN, mss: 1460 });
    const again = p.sent();
    expect(again.map((s) => s.flags)).toEqual([SYN | ACK]);
    expect(again[0]!.seq).toBe(first[0]!.seq);
    expect(p.requests.length).toBe(2);
  });

  it("reject() answers RST,ACK from the original destination (RFC 9293 §3.10.7.1); the client sees connection refused", () => {
    const p = rawPeer();
    p.setHandler((r) => r.reject());
    p.send("198.51.100.9", 22, 6000, { seq: 0xfffffff0, flags: SYN, mss: 1460 });
    const out = p.sent();
    expect(out.length).toBe(1);
    expect(out[0]!.flags).toBe(RST | ACK);
    expect(out[0]!.src).toBe("198.51.100.9");
    expect(out[0]!.srcPort).toBe(22);
    expect(out[0]!.seq).toBe(0);
    expect(out[0]!.ack).toBe(0xfffffff1);
    expect(p.fwd.stats.rejected).toBe(1);

    const t = transparentPair();
    setTcpForwarder(t.proxy, (r) => r.reject());
    const c = newTcpEp(t.client);
    expect(c.connect({ addr: Address.from("203.0.113.5"), port: 99 })).toBe(Err.ConnectStarted);
    t.pump();
    expect(c.state).toBe(TcpState.Closed);
    expect(c.read(new Uint8Array(4))).toBe(Err.ConnectionRefused);
  });

  it("drop() sends nothing; the client's retransmitted SYN becomes a new request that may be accepted", () => {
    const t = transparentPair();
    let n = 0;
    const fwd = setTcpForwarder(t.proxy, (r) => {
      n++;
      if (n === 1) r.drop();
      else {
        const a = ok(r.accept());
        echo(a.endpoint, a.waiterQueue);
      }
    })!;
    const c = newTcpEp(t.client);
    expect(c.connect({ addr: Address.from("203.0.113.50"), port: 8080 })).toBe(Err.ConnectStarted);
    t.pump();
    expect(c.state).toBe(TcpState.SynSent);
    expect(fwd.stats.dropped).toBe(1);
    expect(fwd.inFlight).toBe(0);
    t.clock.advance(1000); // the client's SYN retransmission (RFC 6298 initial RTO)
    t.pump();
    expect(n).toBe(2);
    expect(c.state).toBe(TcpState.Established);
  });

  it("a request left undecided is dropped after pendingTimeoutMs; accept() then fails", () => {
    const p = rawPeer({ pendingTimeoutMs: 5000 });
    p.send("192.0.2.3", 80, 4000, { seq: 1, flags: SYN });
    p.clock.advance(2000);
    p.send("192.0.2.3", 80, 4001, { seq: 1, flags: SYN });
    expect(p.fwd.pendingCount).toBe(2);
    p.clock.advance(3000);
    expect(p.fwd.pendingCount).toBe(1);
    expect(p.fwd.stats.timedOut).toBe(1);
    expect(p.requests[0]!.pending).toBe(false);
    expect(p.requests[0]!.accept()).toBe(Err.InvalidEndpointState);
    p.clock.advance(2000);
    expect(p.fwd.pendingCount).toBe(0);
    expect(p.fwd.stats.timedOut).toBe(2);
    expect(p.sent()).toEqual([]);
  });

  it("with syncookies = 0, holds the in-flight bound under a SYN flood by dropping the excess (counted, nothing sent), and still serves a legitimate client afterwards", () => {
    const max = 64;
    const p = rawPeer({ maxInFlight: max, pendingTimeoutMs: 10_000, tcp: { syncookies: 0 } });
    // A handler that accepts every second request (those handshakes never complete: the
    // flooder does not answer) and leaves the others undecided.
    let k = 0;
    const half: Endpoint[] = [];
    p.setHandler((r) => {
      p.requests.push(r);
      if (k++ % 2 === 0) half.push(ok(r.accept()).endpoint);
    });
    const rnd = new SeededRandom(99);
    const flood = 20_000;
    const proto = p.stack.transportProtocol(TCP_PROTOCOL) as unknown as { endpointCount: number };
    let maxEndpoints = 0;
    for (let i = 0; i < flood; i++) {
      const src = Address.from(`10.0.0.${3 + (rnd.uint32() % 250)}`);
      p.send(`192.0.2.${1 + (i % 200)}`, 80, 1024 + (rnd.uint32() % 60000), { seq: rnd.uint32(), flags: SYN }, src);
      if (i % 1000 === 0) {
        // Past the bound nothing answers: the only segments are the accepted half's SYN-ACKs.
        expect(p.sent().every((x) => x.flags === (SYN | ACK))).toBe(true);
        maxEndpoints = Math.max(maxEndpoints, proto.endpointCount);
        expect(p.fwd.inFlight).toBeLessThanOrEqual(max);
      }
    }
    p.sent();
    expect(p.fwd.inFlight).toBe(max);
    expect(p.fwd.stats.requests).toBe(max);
    expect(p.fwd.stats.overflow + p.fwd.stats.duplicateSyns).toBe(flood - max);
    expect(p.fwd.stats.overflow).toBeGreaterThan(flood - 2 * max);
    expect(p.fwd.stats.cookiesSent).toBe(0);
    expect(p.stack.stats.tcp.synCookiesSent).toBe(0);
    expect(maxEndpoints).toBeLessThanOrEqual(max);
    // Pending requests time out and half-open handshakes give up: the bound frees up.
    p.clock.advance(200_000);
    p.sent();
    expect(p.fwd.inFlight).toBe(0);
    expect(p.fwd.stats.handshakeFailed).toBe(max / 2);
    // The accepted endpoints belong to the application: failed like a connect, until closed.
    for (const e of half) {
      expect((e as TcpEndpoint).state).toBe(TcpState.Closed);
      expect(e.read(new Uint8Array(1))).toBe(Err.Timeout);
      e.close();
    }
    expect(proto.endpointCount).toBe(0);
    // A legitimate client now gets its request and completes.
    let legit: TcpForwarderRequest | null = null;
    p.setHandler((r) => {
      legit = r;
    });
    p.send("192.0.2.200", 443, 50000, { seq: 500, flags: SYN, mss: 1460 });
    expect(legit).not.toBeNull();
    const ep = ok(legit!.accept()).endpoint as TcpEndpoint;
    const sa = p.sent().find((s) => s.flags === (SYN | ACK))!;
    p.send("192.0.2.200", 443, 50000, { seq: 501, ack: sa.seq + 1, flags: ACK });
    expect(ep.state).toBe(TcpState.Established);
  });

  it("works the same over IPv6: the SYN-ACK comes from the original IPv6 destination", () => {
    const clock = new ManualClock();
    const pipe = new Pipe({ mtu: 1500, clock });
    const mk = (seed: number) => new Stack({ networkProtocols: [ipv4, ipv6], transportProtocols: [tcp], clock,
      random: new SeededRandom(seed) });
    const client = mk(1);
    const proxy = mk(2);
    client.createNic(1, pipe.a);
    client.addAddress(1, "fd00:198:18::1/64");
    client.addRoute({ destination: "fd00:198:18::/64", nic: 1 });
    client.addRoute({ destination: "2001:db8::/32", nic: 1 });
    proxy.createNic(1, pipe.b, { promiscuous: true, spoofing: true });
    proxy.addAddress(1, "fd00:198:18::2/64");
    proxy.addRoute({ destination: "fd00:198:18::/64", nic: 1 });
    const seen: string[] = [];
    const fwd = setTcpForwarder(proxy, (req) => {
      seen.push(`${req.source.addr}->[${req.destination.addr}]:${req.destination.port}`);
      expect(req.netProto).toBe(IPV6_PROTOCOL);
      const a = ok(req.accept());
      echo(a.endpoint, a.waiterQueue);
    })!;
    const c = ok(client.newEndpoint(TCP_PROTOCOL, IPV6_PROTOCOL, new WaiterQueue())) as TcpEndpoint;
    expect(c.connect({ addr: Address.from("2001:db8::7"), port: 443 })).toBe(Err.ConnectStarted);
    for (let i = 0; i < 100 && (pipe.queued > 0 || i === 0); i++) {
      clock.advance(0);
      pipe.drainAll();
    }
    expect(c.state).toBe(TcpState.Established);
    expect(seen).toEqual(["fd00:198:18::1->[2001:db8::7]:443"]);
    expect(c.write(Uint8Array.of(6, 6, 6))).toBe(3);
    for (let i = 0; i < 100 && (pipe.queued > 0 || i === 0); i++) {
      clock.advance(0);
      pipe.drainAll();
    }
    const buf = new Uint8Array(8);
    const r = ok(c.read(buf));
    expect([...buf.subarray(0, r.count)]).toEqual([6, 6, 6]);
    expect(fwd.stats.established).toBe(1);
  });

  it("setTcpForwarder(stack, null) restores the RST for unknown destinations", () => {
    const p = rawPeer();
    setTcpForwarder(p.stack, null);
    p.send("10.0.0.1", 81, 4000, { seq: 9, flags: SYN });
    const out = p.sent();
    expect(out.map((s) => s.flags)).toEqual([RST | ACK]);
    expect(p.requests.length).toBe(0);
  });
});

const text = (s: string) => new TextEncoder().encode(s);
const TS_ON = { wscale: 7, sackPermitted: true, hasTimestamp: true, tsVal: 100, tsEcr: 0 };

describe("TCP forwarder with SYN cookies (RFC 4987 §3.6, issue #11: \"SYN cookies still apply\")", () => {
  it("past maxInFlight a random-source SYN flood gets cookie SYN-ACKs and no state; a client's cookie ACK then becomes an established viaCookie request that is accepted, keeps its data, echoes, with its options restored from the timestamp", () => {
    const max = 32;
    const p = rawPeer({ maxInFlight: max, pendingTimeoutMs: 60_000 }); // syncookies = 1, the default
    const rnd = new SeededRandom(7);
    const flood = 5000;
    let synAcks = 0;
    for (let i = 0; i < flood; i++) {
      const src = Address.from(`10.0.0.${3 + (rnd.uint32() % 250)}`);
      p.send(`192.0.2.${1 + (i % 200)}`, 80, 1024 + (rnd.uint32() % 60000), { seq: rnd.uint32(), flags: SYN, mss: 1460 }, src);
      if (i % 500 === 0) {
        for (const x of p.sent()) {
          expect(x.flags).toBe(SYN | ACK);
          synAcks++;
        }
        expect(p.fwd.inFlight).toBeLessThanOrEqual(max);
        expect(p.proto.endpointCount).toBe(0); // requests and cookies keep no endpoint
      }
    }
    synAcks += p.sent().length;
    expect(p.fwd.stats.requests).toBe(max);
    expect(p.fwd.inFlight).toBe(max);
    expect(p.fwd.stats.overflow).toBe(0);
    expect(p.fwd.stats.cookiesSent + p.fwd.stats.duplicateSyns).toBe(flood - max);
    expect(p.fwd.stats.cookiesSent).toBeGreaterThan(flood - 2 * max);
    expect(synAcks).toBe(p.fwd.stats.cookiesSent);
    expect(p.stack.stats.tcp.synCookiesSent).toBe(p.fwd.stats.cookiesSent);
    expect(p.proto.endpointCount).toBe(0);

    // A legitimate client while the bound is full: its SYN is answered from the original
    // destination with a cookie, and no request is made for it yet.
    let legit: TcpForwarderRequest | null = null;
    p.setHandler((r) => {
      legit = r;
    });
    p.clock.advance(1000);
    p.send("192.0.2.250", 443, 40000, { seq: 7000, flags: SYN, mss: 1460, opts: TS_ON });
    const sas = p.sent();
    expect(sas.length).toBe(1);
    const sa = sas[0]!;
    expect(sa.flags).toBe(SYN | ACK);
    expect(`${sa.src}:${sa.srcPort} -> ${sa.dst}:${sa.dstPort}`).toBe("192.0.2.250:443 -> 10.0.0.2:40000");
    expect(sa.ack).toBe(7001);
    expect(sa.options.mss).toBeGreaterThan(0);
    expect(sa.options.wscale).toBeGreaterThanOrEqual(0);
    expect(sa.options.sackPermitted).toBe(true);
    expect(sa.options.tsEcr).toBe(100);
    expect(legit).toBeNull();
    expect(p.proto.endpointCount).toBe(0);

    // Its ACK returns the cookie and carries data (window 1000, scaled by the peer's shift 7).
    p.clock.advance(20);
    const msg = "hello through a cookie";
    p.send("192.0.2.250", 443, 40000, {
      seq: 7001, ack: sa.seq + 1, flags: ACK | PSH, window: 1000, payload: text(msg),
      opts: { hasTimestamp: true, tsVal: 120, tsEcr: sa.options.tsVal },
    });
    expect(legit).not.toBeNull();
    const req = legit! as TcpForwarderRequest;
    expect(req.viaCookie).toBe(true);
    expect(req.pending).toBe(true);
    expect(`${req.source.addr}:${req.source.port} -> ${req.destination.addr}:${req.destination.port}`)
      .toBe("10.0.0.2:40000 -> 192.0.2.250:443");
    expect(p.fwd.stats.cookieRequests).toBe(1);
    expect(p.stack.stats.tcp.synCookiesValidated).toBe(1);
    // The bound still holds: the oldest undecided SYN request made room for the proven peer.
    expect(p.fwd.inFlight).toBe(max);
    expect(p.fwd.stats.evicted).toBe(1);
    expect(p.requests[0]!.pending).toBe(false);
    expect(p.requests[0]!.accept()).toBe(Err.InvalidEndpointState);

    const wq = new WaiterQueue();
    const events: number[] = [];
    wq.register({ callback: (ev) => events.push(ev) }, EventOut);
    const a = ok(req.accept(wq));
    expect(req.pending).toBe(false);
    expect(a.waiterQueue).toBe(wq);
    const ep = a.endpoint as TcpEndpoint;
    expect(ep.state).toBe(TcpState.Established);
    expect(events.some((e) => (e & EventOut) !== 0)).toBe(true); // connected at once
    expect(ep.readiness(EventIn | EventOut)).toBe(EventIn | EventOut); // the ACK's data waits
    expect(p.fwd.stats.accepted).toBe(1);
    expect(p.fwd.stats.established).toBe(1);
    expect(p.fwd.inFlight).toBe(max - 1);
    const info = tcpInfo(ep);
    expect((info.options ?? -1) & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE))
      .toBe(TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
    expect(info.sndMss).toBe(1460 - 12); // the cookie's MSS less the timestamp option
    expect(info.sndWnd).toBe(1000 << 7);

    echo(ep, a.waiterQueue);
    const out = p.sent().filter((x) => x.payload.length > 0);
    expect(out.length).toBe(1);
    expect(new TextDecoder().decode(out[0]!.payload)).toBe(msg);
    expect(out[0]!.src).toBe("192.0.2.250");
    expect(out[0]!.seq).toBe(sa.seq + 1);
    expect(out[0]!.ack).toBe(7001 + msg.length);
    // Timestamps continue the cookie SYN-ACK's clock and echo the peer's.
    expect(out[0]!.options.hasTimestamp).toBe(true);
    expect(out[0]!.options.tsEcr).toBe(120);
    expect((out[0]!.options.tsVal - sa.options.tsVal) | 0).toBeGreaterThanOrEqual(0);
  });

  it("without timestamps in the SYN only the MSS survives the cookie (syncookies = 2: every SYN gets one)", () => {
    const p = rawPeer({ tcp: { syncookies: 2 } });
    p.send("192.0.2.5", 80, 4500, { seq: 1, flags: SYN, mss: 1300, opts: { wscale: 7, sackPermitted: true } });
    const sa = p.sent();
    expect(sa.map((x) => x.flags)).toEqual([SYN | ACK]);
    expect(sa[0]!.options.wscale).toBe(-1);
    expect(sa[0]!.options.sackPermitted).toBe(false);
    expect(p.requests.length).toBe(0); // with syncookies = 2 a request comes only with the ACK
    expect(p.fwd.inFlight).toBe(0);
    p.send("192.0.2.5", 80, 4500, { seq: 2, ack: sa[0]!.seq + 1, flags: ACK, window: 5000 });
    expect(p.requests.length).toBe(1);
    const req = p.requests[0]!;
    expect(req.viaCookie).toBe(true);
    expect(p.fwd.inFlight).toBe(1);
    const ep = ok(req.accept()).endpoint as TcpEndpoint;
    expect(ep.state).toBe(TcpState.Established);
    const info = tcpInfo(ep);
    expect((info.options ?? -1) & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)).toBe(0);
    expect(info.sndMss).toBe(1300);
    expect(info.sndWnd).toBe(5000);
    expect(ep.write(Uint8Array.of(1, 2, 3))).toBe(3);
    const d = p.sent().filter((x) => x.payload.length > 0);
    expect(d.map((x) => [...x.payload])).toEqual([[1, 2, 3]]);
  });

  it("a forged cookie ACK is answered with the unowned-segment RST <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.1) and counted", () => {
    const p = rawPeer({ tcp: { syncookies: 2 } });
    const rnd = new SeededRandom(11);
    for (let i = 0; i < 20; i++) {
      const forged = rnd.uint32();
      p.send("192.0.2.6", 80, 5000 + i, { seq: 1000, ack: forged, flags: ACK, payload: text("x") });
      const out = p.sent();
      expect(out.length).toBe(1);
      expect(out[0]!.flags).toBe(RST);
      expect(out[0]!.seq).toBe(forged);
      expect(out[0]!.src).toBe("192.0.2.6");
    }
    // A real cookie replayed with another peer ISN (SEG.SEQ - 1) fails too.
    p.send("192.0.2.6", 80, 6000, { seq: 50, flags: SYN, mss: 1460 });
    const sa = p.sent()[0]!;
    p.send("192.0.2.6", 80, 6000, { seq: 52, ack: sa.seq + 1, flags: ACK });
    expect(p.sent().map((x) => x.flags)).toEqual([RST]);
    expect(p.requests.length).toBe(0);
    expect(p.fwd.stats.cookiesFailed).toBe(21);
    expect(p.proto.counters.syncookiesFailed).toBe(21);
    expect(p.stack.stats.tcp.synCookiesFailed).toBe(21);
    expect(p.proto.endpointCount).toBe(0);
    // The genuine one still opens.
    p.send("192.0.2.6", 80, 6000, { seq: 51, ack: sa.seq + 1, flags: ACK });
    expect(p.requests.length).toBe(1);
  });

  it("with syncookies = 1 and no cookie sent lately, an unowned ACK just gets the RST (cookies not in use, nothing counted)", () => {
    const p = rawPeer();
    p.send("192.0.2.6", 80, 5000, { seq: 1000, ack: 12345, flags: ACK });
    const out = p.sent();
    expect(out.map((x) => [x.flags, x.seq])).toEqual([[RST, 12345]]);
    expect(p.fwd.stats.cookiesFailed).toBe(0);
    expect(p.proto.counters.syncookiesFailed).toBe(0);
  });

  it("syncookies = 0: SYNs past the bound are dropped (today's behaviour) and ACKs are never taken for cookies", () => {
    const p = rawPeer({ maxInFlight: 2, tcp: { syncookies: 0 } });
    for (let i = 0; i < 5; i++) p.send("192.0.2.7", 80, 7000 + i, { seq: 1, flags: SYN, mss: 1460 });
    expect(p.sent()).toEqual([]);
    expect(p.requests.length).toBe(2);
    expect(p.fwd.stats.overflow).toBe(3);
    expect(p.fwd.stats.cookiesSent).toBe(0);
    p.send("192.0.2.7", 80, 7004, { seq: 2, ack: 999, flags: ACK });
    expect(p.sent().map((x) => [x.flags, x.seq])).toEqual([[RST, 999]]);
    expect(p.proto.counters.syncookiesFailed).toBe(0);
  });

  /** A cookie request for 192.0.2.8:80 <- 10.0.0.2:`port`, and the cookie SYN-ACK's ISN. */
  function cookieRequest(p: ReturnType<typeof rawPeer>, port: number, data?: Uint8Array): { req: TcpForwarderRequest; iss: number } {
    const before = p.requests.length;
    p.send("192.0.2.8", 80, port, { seq: 100, flags: SYN, mss: 1460 });
    const sa = p.sent().find((x) => x.flags === (SYN | ACK))!;
    p.send("192.0.2.8", 80, port, { seq: 101, ack: sa.seq + 1, flags: ACK | (data ? PSH : 0), ...(data ? { payload: data } : {}) });
    expect(p.requests.length).toBe(before + 1);
    return { req: p.requests[before]!, iss: sa.seq };
  }

  it("reject() of a cookie request sends <SEQ=SEG.ACK><CTL=RST> from the destination and frees the connection", () => {
    const p = rawPeer({ tcp: { syncookies: 2 } });
    const { req, iss } = cookieRequest(p, 8100, text("data"));
    p.sent(); // the ACK of the data
    expect(p.proto.endpointCount).toBe(1);
    req.reject();
    const out = p.sent();
    expect(out.map((x) => [x.flags, x.seq, x.src, x.srcPort])).toEqual([[RST, (iss + 1) >>> 0, "192.0.2.8", 80]]);
    expect(req.pending).toBe(false);
    expect(req.accept()).toBe(Err.InvalidEndpointState);
    expect(p.fwd.stats.rejected).toBe(1);
    expect(p.fwd.inFlight).toBe(0);
    expect(p.proto.endpointCount).toBe(0);
  });

  it("drop() of a cookie request sends nothing; the peer's next segment gets the RST of an unowned 4-tuple; an undecided one times out the same way", () => {
    const p = rawPeer({ pendingTimeoutMs: 5000, tcp: { syncookies: 2 } });
    const { req, iss } = cookieRequest(p, 8200, text("data"));
    expect(p.sent().map((x) => x.flags)).toEqual([ACK]); // its data is acknowledged on arrival
    req.drop();
    expect(p.sent()).toEqual([]);
    expect(p.fwd.stats.dropped).toBe(1);
    expect(p.proto.endpointCount).toBe(0);
    // The peer's next segment belongs to no connection (SEG.SEQ - 1 is no longer its ISN, so it
    // is no cookie either): RST, and the failed check is counted.
    p.send("192.0.2.8", 80, 8200, { seq: 105, ack: iss + 1, flags: ACK | PSH, payload: text("more") });
    expect(p.sent().map((x) => [x.flags, x.seq])).toEqual([[RST, (iss + 1) >>> 0]]);
    expect(p.fwd.stats.cookiesFailed).toBe(1);
    expect(p.requests.length).toBe(1);
    // (A retransmission of the cookie ACK itself would be a new request while the cookie is
    // valid: cookies keep no state that could remember the drop, as at a listener.)
    p.send("192.0.2.8", 80, 8200, { seq: 101, ack: iss + 1, flags: ACK | PSH, payload: text("data") });
    expect(p.requests.length).toBe(2);
    p.requests[1]!.drop();
    p.sent();

    const t = cookieRequest(p, 8300, text("abc"));
    p.sent();
    expect(p.proto.endpointCount).toBe(1);
    p.clock.advance(5000);
    expect(t.req.pending).toBe(false);
    expect(p.fwd.stats.timedOut).toBe(1);
    expect(p.proto.endpointCount).toBe(0);
    expect(p.sent()).toEqual([]);
  });

  it("respects the stack's maxConnections: SYNs, cookie ACKs and accepts past it are refused and counted, as at a listener", () => {
    const p = rawPeer({ tcp: { maxConnections: 1 } });
    p.send("192.0.2.9", 80, 9000, { seq: 1, flags: SYN, mss: 1460 });
    p.send("192.0.2.9", 80, 9001, { seq: 1, flags: SYN, mss: 1460 });
    expect(p.requests.length).toBe(2);
    const first = ok(p.requests[0]!.accept()).endpoint;
    expect(p.proto.endpointCount).toBe(1);
    // The second request stays pending: accept fails with ENOBUFS until there is room.
    expect(p.requests[1]!.accept()).toBe(Err.NoBufferSpace);
    expect(p.requests[1]!.pending).toBe(true);
    expect(p.fwd.stats.maxConnectionsDrops).toBe(1);
    // A new SYN is dropped without an answer.
    p.sent();
    p.send("192.0.2.9", 80, 9002, { seq: 1, flags: SYN, mss: 1460 });
    expect(p.sent()).toEqual([]);
    expect(p.requests.length).toBe(2);
    expect(p.fwd.stats.maxConnectionsDrops).toBe(2);
    expect(p.proto.counters.maxConnectionsDrops).toBe(2);
    first.abort();
    p.sent();
    expect(ok(p.requests[1]!.accept()).endpoint).toBeDefined();

    // A valid cookie ACK that finds the stack at the limit is dropped too (no RST: the peer
    // may retry); a SYN at the limit gets no cookie.
    const q = rawPeer({ tcp: { maxConnections: 1, syncookies: 2 } });
    q.send("192.0.2.8", 80, 9101, { seq: 100, flags: SYN, mss: 1460 });
    const sa = q.sent().find((x) => x.flags === (SYN | ACK))!;
    const one = cookieRequest(q, 9100);
    ok(one.req.accept());
    q.send("192.0.2.8", 80, 9102, { seq: 100, flags: SYN, mss: 1460 });
    expect(q.sent()).toEqual([]);
    expect(q.fwd.stats.maxConnectionsDrops).toBe(1);
    q.send("192.0.2.8", 80, 9101, { seq: 101, ack: sa.seq + 1, flags: ACK });
    expect(q.sent()).toEqual([]);
    expect(q.requests.length).toBe(1);
    expect(q.fwd.stats.maxConnectionsDrops).toBe(2);
    expect(q.proto.counters.syncookiesRecv).toBe(2);
  });

  it("a cookie ACK supersedes a SYN request pending for its own 4-tuple (the SYN retransmitted after the cookie SYN-ACK)", () => {
    const p = rawPeer({ maxInFlight: 1 });
    p.send("192.0.2.10", 80, 1111, { seq: 1, flags: SYN, mss: 1460 });
    p.send("192.0.2.10", 80, 2222, { seq: 500, flags: SYN, mss: 1460 });
    const sa = p.sent().find((x) => x.flags === (SYN | ACK))!;
    expect(p.fwd.stats.cookiesSent).toBe(1);
    p.requests[0]!.drop();
    p.send("192.0.2.10", 80, 2222, { seq: 500, flags: SYN, mss: 1460 });
    expect(p.requests.length).toBe(2);
    expect(p.requests[1]!.viaCookie).toBe(false);
    p.send("192.0.2.10", 80, 2222, { seq: 501, ack: sa.seq + 1, flags: ACK });
    expect(p.requests.length).toBe(3);
    expect(p.requests[1]!.pending).toBe(false);
    expect(p.requests[2]!.viaCookie).toBe(true);
    expect(p.fwd.stats.evicted).toBe(1);
    expect(p.fwd.inFlight).toBe(1);
    expect((ok(p.requests[2]!.accept()).endpoint as TcpEndpoint).state).toBe(TcpState.Established);
  });

  it("over IPv6 (syncookies = 2): a client connects through a cookie from the original IPv6 destination and echoes", () => {
    const clock = new ManualClock();
    const pipe = new Pipe({ mtu: 1500, clock });
    const client = new Stack({ networkProtocols: [ipv4, ipv6], transportProtocols: [tcp], clock, random: new SeededRandom(1) });
    const proxy = new Stack({ networkProtocols: [ipv4, ipv6], transportProtocols: [tcpWith({ syncookies: 2 })], clock,
      random: new SeededRandom(2) });
    client.createNic(1, pipe.a);
    client.addAddress(1, "fd00:198:18::1/64");
    client.addRoute({ destination: "fd00:198:18::/64", nic: 1 });
    client.addRoute({ destination: "2001:db8::/32", nic: 1 });
    proxy.createNic(1, pipe.b, { promiscuous: true, spoofing: true });
    proxy.addAddress(1, "fd00:198:18::2/64");
    proxy.addRoute({ destination: "fd00:198:18::/64", nic: 1 });
    const pump = () => {
      for (let i = 0; i < 100 && (pipe.queued > 0 || i === 0); i++) {
        clock.advance(0);
        pipe.drainAll();
      }
    };
    const seen: boolean[] = [];
    const fwd = setTcpForwarder(proxy, (req) => {
      seen.push(req.viaCookie);
      expect(`[${req.destination.addr}]:${req.destination.port}`).toBe("[2001:db8::7]:443");
      const a = ok(req.accept());
      echo(a.endpoint, a.waiterQueue);
    })!;
    const c = ok(client.newEndpoint(TCP_PROTOCOL, IPV6_PROTOCOL, new WaiterQueue())) as TcpEndpoint;
    expect(c.connect({ addr: Address.from("2001:db8::7"), port: 443 })).toBe(Err.ConnectStarted);
    pump();
    expect(c.state).toBe(TcpState.Established);
    expect(seen).toEqual([true]);
    expect(fwd.stats.cookiesSent).toBe(1);
    expect(c.write(Uint8Array.of(6, 6, 6))).toBe(3);
    pump();
    const buf = new Uint8Array(8);
    const r = ok(c.read(buf));
    expect([...buf.subarray(0, r.count)]).toEqual([6, 6, 6]);
  });

  it("with the bound full of cookie requests and accepted handshakes, a further cookie ACK is dropped and counted (the peer retransmits)", () => {
    const p = rawPeer({ maxInFlight: 2, tcp: { syncookies: 2 } });
    cookieRequest(p, 9200);
    cookieRequest(p, 9201);
    expect(p.fwd.inFlight).toBe(2);
    p.send("192.0.2.8", 80, 9202, { seq: 100, flags: SYN, mss: 1460 });
    const sa = p.sent().find((x) => x.flags === (SYN | ACK))!;
    p.send("192.0.2.8", 80, 9202, { seq: 101, ack: sa.seq + 1, flags: ACK | PSH, payload: text("x") });
    expect(p.sent()).toEqual([]);
    expect(p.requests.length).toBe(2);
    expect(p.fwd.stats.overflow).toBe(1);
    expect(p.proto.endpointCount).toBe(2);
    // Room again: the retransmission gets through, data and all.
    p.requests[0]!.drop();
    p.send("192.0.2.8", 80, 9202, { seq: 101, ack: sa.seq + 1, flags: ACK | PSH, payload: text("x") });
    expect(p.requests.length).toBe(3);
    const ep = ok(p.requests[2]!.accept()).endpoint;
    const buf = new Uint8Array(4);
    expect(ok(ep.read(buf)).count).toBe(1);
    expect(buf[0]).toBe("x".charCodeAt(0));
  });
});
