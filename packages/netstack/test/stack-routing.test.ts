import { describe, expect, it } from "vitest";
import { makePair, newEp, ok, addr } from "./helpers/net.js";
import { Address, UDP_PROTOCOL } from "../src/tcpip/address.js";
import { Err } from "../src/tcpip/errors.js";
import { SeededRandom } from "../src/clock/random.js";
import { ManualClock } from "../src/clock/clock.js";
import { LoopbackEndpoint } from "../src/link/loopback.js";
import { Pipe } from "../src/link/pipe.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { EthernetEndpoint } from "../src/link/ethernet.js";
import { Stack } from "../src/stack/stack.js";
import { ipv4 } from "../src/network/ipv4/index.js";
import { arp } from "../src/network/arp/index.js";
import { udp } from "../src/transport/udp/index.js";
import { ARPView } from "../src/header/arp.js";
import { EthernetView } from "../src/header/ethernet.js";
import { isParseError } from "../src/header/parse.js";
import { isError } from "../src/tcpip/errors.js";

describe("routes", () => {
  it("chooses the longest matching prefix and falls back to the default route", () => {
    const clock = new ManualClock();
    const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp], clock, random: new SeededRandom(1) });
    s.createNic(1, new ChannelEndpoint({ mtu: 1500 }));
    s.createNic(2, new ChannelEndpoint({ mtu: 9000 }));
    s.addAddress(1, "198.18.0.1/24");
    s.addAddress(2, "198.19.0.1/16");
    s.addRoute({ destination: "0.0.0.0/0", gateway: "198.18.0.254", nic: 1 });
    s.addRoute({ destination: "198.19.0.0/16", nic: 2 });
    s.addRoute({ destination: "198.18.0.0/24", nic: 1 });
    const r1 = s.findRoute(0, null, Address.from("198.19.2.3"), 0x0800);
    const r2 = s.findRoute(0, null, Address.from("203.0.113.4"), 0x0800);
    const r3 = s.findRoute(0, null, Address.from("198.18.0.9"), 0x0800);
    if (isError(r1) || isError(r2) || isError(r3)) throw new Error("no route");
    expect([r1.nicId, r1.localAddress.toString(), r1.nextHop]).toEqual([2, "198.19.0.1", null]);
    expect(r1.mtu()).toBe(9000 - 20);
    expect([r2.nicId, r2.nextHop?.toString()]).toEqual([1, "198.18.0.254"]);
    expect([r3.nicId, r3.nextHop]).toEqual([1, null]);
    s.removeRoute("0.0.0.0/0");
    expect(s.findRoute(0, null, Address.from("203.0.113.4"), 0x0800)).toBe(Err.NoRoute);
    expect(s.findRoute(0, Address.from("198.51.100.9"), Address.from("198.18.0.9"), 0x0800)).toBe(Err.BadLocalAddress);
  });

  it("resolves the gateway's MAC (not the destination's) for off-link destinations", () => {
    const clock = new ManualClock();
    const wire = new ChannelEndpoint({ mtu: 1500, maxHeaderLength: 14 });
    const s = new Stack({ networkProtocols: [ipv4, arp], transportProtocols: [udp], clock, random: new SeededRandom(1) });
    s.createNic(1, new EthernetEndpoint(wire, { mac: "02:00:00:00:00:01" }));
    s.addAddress(1, "198.18.0.1/24");
    s.addRoute({ destination: "0.0.0.0/0", gateway: "198.18.0.254", nic: 1 });
    const ep = newEp(s, UDP_PROTOCOL);
    expect(ep.write(new Uint8Array(4), { to: addr("192.0.2.7", 53) })).toBe(4);
    const frame = wire.read()!;
    const eth = EthernetView.check(frame);
    if (isParseError(eth)) throw new Error("bad frame");
    expect(eth.type).toBe(0x0806);
    const a = ARPView.check(frame, 14);
    if (isParseError(a)) throw new Error("bad arp");
    expect(a.tpa().toString()).toBe("198.18.0.254");
    expect(a.spa().toString()).toBe("198.18.0.1");
  });
});

describe("loopback", () => {
  it("delivers datagrams to the stack's own addresses through a loopback NIC", async () => {
    const s = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp], random: new SeededRandom(1) });
    s.createNic(1, new LoopbackEndpoint());
    s.addAddress(1, "127.0.0.1/8");
    s.addRoute({ destination: "127.0.0.0/8", nic: 1 });
    const server = newEp(s, UDP_PROTOCOL);
    ok(server.bind({ addr: Address.from("127.0.0.1"), port: 5353 }));
    const client = newEp(s, UDP_PROTOCOL);
    expect(client.write(new Uint8Array([9, 8, 7]), { to: addr("127.0.0.1", 5353) })).toBe(3);
    for (let i = 0; i < 10 && server.readiness(1) === 0; i++) await new Promise((r) => setImmediate(r));
    const r = ok(server.read(new Uint8Array(8), { needRemoteAddr: true }));
    expect(r.count).toBe(3);
    expect(r.from?.addr?.toString()).toBe("127.0.0.1");
    s.close();
  });
});

describe("ICMP error rate limiting", () => {
  it("sends at most the burst (50) of port-unreachables at once, then refills at 1000/s like Linux", () => {
    const p = makePair();
    const client = newEp(p.a, UDP_PROTOCOL);
    for (let i = 0; i < 200; i++) client.write(new Uint8Array(1), { to: addr("198.18.0.2", 9) });
    p.pump();
    expect(p.b.stats.udp.unknownPortErrors).toBe(200);
    expect(p.b.stats.icmp.v4.sent.dstUnreachable).toBe(50);
    expect(p.b.stats.icmp.v4.sent.rateLimited).toBe(150);
    p.clock.advance(10); // 10 ms → 10 more tokens
    for (let i = 0; i < 20; i++) client.write(new Uint8Array(1), { to: addr("198.18.0.2", 9) });
    p.pump();
    expect(p.b.stats.icmp.v4.sent.dstUnreachable).toBe(60);
  });
});

describe("NIC state", () => {
  it("drops and counts what arrives on a disabled NIC, and refuses to send through it", () => {
    const p = makePair();
    const server = newEp(p.b, UDP_PROTOCOL);
    ok(server.bind({ port: 7 }));
    p.b.enableNic(1, false);
    const client = newEp(p.a, UDP_PROTOCOL);
    client.write(new Uint8Array(1), { to: addr("198.18.0.2", 7) });
    p.pump();
    expect(p.b.nic(1)!.stats.disabledRx).toBe(1);
    expect(server.read(new Uint8Array(4))).toBe(Err.WouldBlock);
    expect(server.write(new Uint8Array(1), { to: addr("198.18.0.1", 7) })).toBe(Err.NoRoute);
  });
});

describe("SO_REUSEPORT", () => {
  it("spreads flows over a group of endpoints bound to the same port, each flow to one endpoint", () => {
    const p = makePair();
    const servers = [0, 1, 2, 3].map(() => {
      const e = newEp(p.b, UDP_PROTOCOL);
      ok(e.setSockOpt("reusePort", true));
      ok(e.bind({ port: 8080 }));
      return e;
    });
    const counts = new Map<number, number>();
    for (let i = 0; i < 64; i++) {
      const c = newEp(p.a, UDP_PROTOCOL);
      c.write(new Uint8Array([i]), { to: addr("198.18.0.2", 8080) });
      c.write(new Uint8Array([i]), { to: addr("198.18.0.2", 8080) });
      p.pump();
      const hit = servers.findIndex((s) => s.getSockOpt("receiveQueueSize") === 1);
      expect(hit).toBeGreaterThanOrEqual(0);
      const s = servers[hit]!;
      expect(ok(s.read(new Uint8Array(2))).count).toBe(1);
      expect(ok(s.read(new Uint8Array(2))).count).toBe(1); // same flow, same endpoint
      counts.set(hit, (counts.get(hit) ?? 0) + 1);
      c.close();
    }
    expect(counts.size).toBeGreaterThan(1);
  });
});

describe("fuzzer regressions", () => {
  it("counts a broadcast or multicast datagram to a port nobody listens on (no ICMP error, RFC 1122 §3.2.2)", () => {
    const p = makePair();
    const c = newEp(p.a, UDP_PROTOCOL);
    ok(c.setSockOpt("broadcast", true));
    c.write(new Uint8Array(4), { to: addr("198.18.0.255", 1) });
    c.write(new Uint8Array(4), { to: { addr: Address.from("225.0.0.1"), port: 1, nic: 1 } });
    p.pump();
    expect(p.b.stats.udp.unknownPortErrors).toBe(2);
    expect(p.b.stats.icmp.v4.sent.dstUnreachable).toBe(0);
  });
});

describe("port sharing with listeners", () => {
  it("lets SO_REUSEADDR endpoints share a port only while none listens on it (Linux)", async () => {
    const { PortManager } = await import("../src/stack/ports.js");
    const pm = new PortManager();
    const a = {};
    const b = {};
    const c = {};
    const ra = { reuseAddr: true, reusePort: false };
    expect(pm.reserve(6, [0x800], null, 8080, ra, 0, a)).toBe(8080);
    expect(pm.reserve(6, [0x800], null, 8080, ra, 0, b)).toBe(8080);
    // b listens while a shares the port through SO_REUSEADDR alone: EADDRINUSE.
    expect(pm.setListening(6, 8080, b, true)).toBe(Err.PortInUse);
    pm.release(6, null, 8080, a);
    expect(pm.setListening(6, 8080, b, true)).toBeNull();
    // A newcomer cannot share a listening port through SO_REUSEADDR.
    expect(pm.reserve(6, [0x800], null, 8080, ra, 0, c)).toBe(Err.PortInUse);
    // SO_REUSEPORT groups still share.
    const rp = { reuseAddr: false, reusePort: true };
    expect(pm.reserve(6, [0x800], null, 9090, rp, 0, a)).toBe(9090);
    expect(pm.setListening(6, 9090, a, true)).toBeNull();
    expect(pm.reserve(6, [0x800], null, 9090, rp, 0, c)).toBe(9090);
  });
});

describe("explicit resource management", () => {
  it("closes a Stack and a Pipe at the end of a `using` scope", () => {
    const clock = new ManualClock();
    let stack: Stack;
    let pipe: Pipe;
    {
      using p = new Pipe({ mtu: 1500, clock });
      using s = new Stack({ networkProtocols: [ipv4], transportProtocols: [udp], clock, random: new SeededRandom(1) });
      s.createNic(1, p.a);
      stack = s;
      pipe = p;
      expect(p.a.isAttached).toBe(true);
    }
    expect(pipe.a.isAttached).toBe(false);
    expect(stack.nic(1)!.link.isAttached).toBe(false);
  });
});
