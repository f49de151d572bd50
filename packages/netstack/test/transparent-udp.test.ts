import { describe, expect, it } from "vitest";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { Pipe } from "../src/link/pipe.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4 } from "../src/network/ipv4/index.js";
import { udp, setUdpForwarder, type UdpForwarderRequest } from "../src/transport/udp/index.js";
import { icmp } from "../src/transport/icmp/index.js";
import { Address, ICMPV4_PROTOCOL, UDP_PROTOCOL } from "../src/tcpip/address.js";
import { Err, isError } from "../src/tcpip/errors.js";
import { EventHup, EventIn } from "../src/waiter/queue.js";
import { newEp, ok } from "./helpers/net.js";

/**
 * A client stack routes 203.0.113.0/24 (any destination there) into a transparent stack whose NIC
 * is promiscuous and may spoof: the transparent stack sees every flow with its original 4-tuple.
 */
function transparentPair() {
  const clock = new ManualClock();
  const pipe = new Pipe({ mtu: 1500, clock });
  const mk = (seed: number) => new Stack({ networkProtocols: [ipv4], transportProtocols: [udp, icmp], clock,
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
    for (let i = 0; i < 1000; i++) {
      clock.advance(0);
      if (pipe.queued === 0) return;
      pipe.drainAll();
    }
  };
  return { clock, client, proxy, pump };
}

describe("UDP forwarder (transparent mode)", () => {
  it("hands every new flow to the application with its original 4-tuple, for 100 destinations", () => {
    const t = transparentPair();
    const seen: string[] = [];
    const fwd = setUdpForwarder(t.proxy, (req: UdpForwarderRequest) => {
      seen.push(`${req.source.addr}:${req.source.port}->${req.destination.addr}:${req.destination.port}`);
      const r = req.accept();
      if (isError(r)) throw new Error(r.code);
      // Echo what the flow receives, answering from the original destination.
      const buf = new Uint8Array(2048);
      const serve = () => {
        for (;;) {
          const d = r.endpoint.read(buf);
          if (isError(d)) return;
          r.endpoint.write(buf.slice(0, d.count));
        }
      };
      r.waiterQueue.register({ callback: serve }, EventIn);
      serve();
    })!;
    const c = newEp(t.client, UDP_PROTOCOL);
    ok(c.bind({ port: 40000 }));
    for (let i = 0; i < 100; i++) {
      const to = { addr: Address.from(`203.0.113.${1 + (i % 50)}`), port: 1000 + i };
      expect(c.write(Uint8Array.of(i, i + 1), { to })).toBe(2);
    }
    t.pump();
    expect(fwd.stats.requests).toBe(100);
    expect(fwd.flows).toBe(100);
    expect(seen[0]).toBe("198.18.0.1:40000->203.0.113.1:1000");
    expect(seen[99]).toBe("198.18.0.1:40000->203.0.113.50:1099");
    const buf = new Uint8Array(8);
    for (let i = 0; i < 100; i++) {
      const r = ok(c.read(buf, { needRemoteAddr: true }));
      expect([...buf.subarray(0, r.count)]).toEqual([i, i + 1]);
      expect(`${r.from!.addr}:${r.from!.port}`).toBe(`203.0.113.${1 + (i % 50)}:${1000 + i}`);
    }
    // The second datagram of a flow goes straight to its endpoint: no new request.
    c.write(Uint8Array.of(9), { to: { addr: Address.from("203.0.113.1"), port: 1000 } });
    t.pump();
    expect(fwd.stats.requests).toBe(100);
    expect(ok(c.read(buf)).count).toBe(1);
    expect(t.proxy.stats.udp.unknownPortErrors).toBe(0);
  });

  it("closes quiet flows after the idle timeout and bounds the number of live flows", () => {
    const t = transparentPair();
    let hups = 0;
    const fwd = setUdpForwarder(t.proxy, (req) => {
      const r = req.accept();
      if (isError(r)) throw new Error(r.code);
      r.waiterQueue.register({ callback: (e) => { if (e & EventHup) hups++; } }, EventHup);
    }, { idleTimeoutMs: 5000, maxFlows: 10 })!;
    const c = newEp(t.client, UDP_PROTOCOL);
    for (let i = 0; i < 15; i++) c.write(Uint8Array.of(1), { to: { addr: Address.from("203.0.113.5"), port: 2000 + i } });
    t.pump();
    expect(fwd.flows).toBe(10);
    expect(fwd.stats.overflow).toBe(5);
    t.clock.advance(4999);
    expect(fwd.flows).toBe(10);
    t.clock.advance(1);
    expect(fwd.flows).toBe(0);
    expect(fwd.stats.idleClosed).toBe(10);
    expect(hups).toBe(10);
    expect(t.proxy.endpointCount()).toBe(0);
    expect(t.clock.pendingTimers()).toBe(0);
  });

  it("drops (and counts) datagrams the handler does not accept; no ICMP error goes back", () => {
    const t = transparentPair();
    const fwd = setUdpForwarder(t.proxy, () => {})!;
    const c = newEp(t.client, UDP_PROTOCOL);
    ok(c.connect({ addr: Address.from("203.0.113.77"), port: 53 }));
    c.write(Uint8Array.of(1));
    t.pump();
    expect(fwd.stats.ignored).toBe(1);
    expect(t.proxy.stats.icmp.v4.sent.dstUnreachable).toBe(0);
    expect(c.read(new Uint8Array(4))).toBe(Err.WouldBlock);
  });
});

describe("ICMP echo in transparent mode", () => {
  it("answers pings to any address from that address, and can be turned off", () => {
    const t = transparentPair();
    const ping = newEp(t.client, ICMPV4_PROTOCOL);
    const msg = new Uint8Array(16);
    msg[0] = 8;
    ok(ping.write(msg, { to: { addr: Address.from("203.0.113.9"), port: 0 } }));
    t.pump();
    const buf = new Uint8Array(64);
    const r = ok(ping.read(buf, { needRemoteAddr: true }));
    expect(buf[0]).toBe(0);
    expect(r.from!.addr!.toString()).toBe("203.0.113.9");
    const ip = t.proxy.networkProtocol(0x0800) as unknown as { icmp: { answerTransparentEcho: boolean } };
    ip.icmp.answerTransparentEcho = false;
    ok(ping.write(msg, { to: { addr: Address.from("203.0.113.10"), port: 0 } }));
    t.pump();
    expect(ping.read(buf)).toBe(Err.WouldBlock);
    expect(t.proxy.stats.icmp.v4.received.echoRequest).toBe(2);
  });
});
