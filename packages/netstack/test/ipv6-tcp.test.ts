/**
 * TCP over IPv6 (the TCP items): bulk transfer with contents verified, the MSS of an
 * IPv6 path (MTU - 60), Packet Too Big lowering the MSS of an established connection (RFC 8201),
 * and dual-stack listeners (RFC 3493 §3.7).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { makePair6, icmp6Msg, ip6, type Pair6 } from "./helpers/net6.js";
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, TCP_PROTOCOL, type FullAddress } from "../src/tcpip/address.js";
import { Err, isError, type TcpipError } from "../src/tcpip/errors.js";
import type { Accepted, Endpoint, TcpInfo } from "../src/tcpip/endpoint.js";
import { EventOut, WaiterQueue } from "../src/waiter/queue.js";
import { SeededRandom } from "../src/clock/random.js";
import { PacketBuffer } from "../src/buffer/packet.js";
import type { LinkEndpoint, NetworkDispatcher } from "../src/link/link.js";
import type { Clock, Timer } from "../src/clock/clock.js";
import { tcp } from "../src/transport/tcp/index.js";
import { udp } from "../src/transport/udp/index.js";
import { icmp6 } from "../src/transport/icmp/index.js";

const at = (s: string, port: number): FullAddress => ({ addr: Address.from(s), port });

function ok<T>(v: T | TcpipError): T {
  if (isError(v)) throw new Error(`unexpected error ${v.name}`);
  return v;
}

function newTcp(p: Pair6, side: "a" | "b", netProto = IPV6_PROTOCOL): Endpoint {
  return ok(p[side].newEndpoint(TCP_PROTOCOL, netProto, new WaiterQueue()));
}

/** Jumps from timer to timer until `pred()` holds (like the TCP harness's runUntil). */
function runUntil(p: Pair6, pred: () => boolean, maxMs = 600_000): void {
  const end = p.clock.now() + maxMs;
  while (!pred()) {
    const next = p.clock.nextDeadline();
    if (next === undefined) throw new Error(`idle at t=${p.clock.now()} before the condition held`);
    if (next > end) throw new Error(`condition not met within ${maxMs} ms`);
    p.clock.step();
  }
}

/** A listener on b:80 (IPv6 unless told) and a client on a connected to `dst`; returns both ends once accepted. */
function connect(p: Pair6, dst: string, opts: { clientProto?: number; v6Only?: boolean } = {}) {
  const listener = newTcp(p, "b");
  if (opts.v6Only) ok(listener.setSockOpt("v6Only", true));
  expect(listener.bind({ port: 80 })).toBeNull();
  expect(listener.listen(16)).toBeNull();
  const client = newTcp(p, "a", opts.clientProto ?? IPV6_PROTOCOL);
  const r = client.connect(at(dst, 80));
  expect(r === Err.ConnectStarted || r === null).toBe(true);
  let server: Endpoint | null = null;
  let peer: FullAddress | null = null;
  runUntil(p, () => {
    if (!server) {
      const acc = listener.accept();
      if (!isError(acc)) {
        server = acc.endpoint;
        peer = acc.peer;
      }
    }
    return server !== null && client.readiness(EventOut) !== 0;
  }, 10_000);
  return { client, server: server! as Endpoint, listener, peer: peer! as FullAddress };
}

/** Streams `total` seeded bytes from `from` to `to`, returning the SHA-256 of what was sent and received. */
function transfer(p: Pair6, from: Endpoint, to: Endpoint, total: number, each?: () => void) {
  const block = new Uint8Array(65536 + 65521);
  new SeededRandom(total).fill(block);
  const sentHash = createHash("sha256");
  const rcvdHash = createHash("sha256");
  const buf = new Uint8Array(65536);
  let sent = 0;
  let received = 0;
  const pump = () => {
    while (sent < total) {
      const chunk = block.subarray(sent % 65521, (sent % 65521) + Math.min(65536, total - sent));
      const w = from.write(chunk);
      if (isError(w) || w === 0) break;
      sentHash.update(chunk.subarray(0, w));
      sent += w;
    }
    for (;;) {
      const r = to.read(buf);
      if (isError(r) || r.count === 0) break;
      rcvdHash.update(buf.subarray(0, r.count));
      received += r.count;
    }
    each?.();
    return received >= total;
  };
  runUntil(p, pump, 3_600_000);
  return { sent: sentHash.digest("hex"), received: rcvdHash.digest("hex"), bytes: received };
}

const transports = [tcp, udp, icmp6];

describe("TCP over IPv6", () => {
  it("transfers 16 MiB over a pipe with contents verified, with MSS = MTU - 60 (less 12 bytes of timestamps per segment)", () => {
    const p = makePair6({ transports, queueSize: 1 << 16 });
    const { client, server, peer } = connect(p, "fd00::2");
    expect(peer.addr?.toString()).toBe("fd00::1");
    expect(ok(client.getLocalAddress()).addr?.toString()).toBe("fd00::1");
    // Like Linux's tcpi_snd_mss: the payload per segment, after the timestamps option (RFC 7323).
    expect((ok(client.getSockOpt("tcpInfo")) as TcpInfo).sndMss).toBe(1500 - 60 - 12);
    expect((ok(server.getSockOpt("tcpInfo")) as TcpInfo).sndMss).toBe(1500 - 60 - 12);
    const r = transfer(p, client, server, 16 << 20);
    expect(r.bytes).toBe(16 << 20);
    expect(r.received).toBe(r.sent);
    expect(p.a.stats.ip.fragmentsSent).toBe(0);
  });

  it("transfers 4 MiB over Ethernet with NDP resolving the peer", () => {
    const p = makePair6({ transports, ethernet: true, queueSize: 1 << 16 });
    const { client, server } = connect(p, "fd00::2");
    const r = transfer(p, server, client, 4 << 20);
    expect(r.received).toBe(r.sent);
    expect(p.a.stats.icmp.v6.received.neighborAdvert + p.b.stats.icmp.v6.received.neighborAdvert).toBeGreaterThan(0);
  });

  it("lowers the MSS of an established connection on Packet Too Big and completes the transfer (RFC 8201)", () => {
    const router = new SmallMtuRouter(1280);
    const p = makePair6({ transports, queueSize: 1 << 16, wrapA: (l) => router.wrap(l) });
    router.clock = p.clock;
    const { client, server } = connect(p, "fd00::2");
    expect((ok(client.getSockOpt("tcpInfo")) as TcpInfo).sndMss).toBe(1428); // 1440 less timestamps
    let mssSeen = 1428;
    let sentWhenClamped = 0;
    // Half a mebibyte at full size, then the path shrinks to 1280 bytes.
    const total = 4 << 20;
    const r = transfer(p, client, server, total, () => {
      if (!router.active && p.b.stats.tcp.validSegmentsReceived > 400) {
        router.active = true;
        sentWhenClamped = p.b.stats.tcp.validSegmentsReceived;
      }
      mssSeen = (ok(client.getSockOpt("tcpInfo")) as TcpInfo).sndMss;
    });
    expect(r.received).toBe(r.sent);
    expect(sentWhenClamped).toBeGreaterThan(0);
    expect(router.dropped).toBeGreaterThan(0);
    expect(p.a.stats.icmp.v6.received.packetTooBig).toBeGreaterThan(0);
    expect(mssSeen).toBe(1280 - 60 - 12);
    expect(router.largestPassedAfterClamp).toBeLessThanOrEqual(1280);
  });
});

/** TCP's use of the dual-stack mechanism of stack/dualstack.ts (endpointNetProtos, packetSourceAddress, v6Only). */
describe("dual-stack TCP listeners (RFC 3493 §3.7)", () => {
  it("an IPv6 listener that is not v6-only accepts an IPv4 client and reports it as ::ffff:a.b.c.d", () => {
    const p = makePair6({ transports });
    const { client, server, peer } = connect(p, "10.0.0.2", { clientProto: IPV4_PROTOCOL });
    expect(peer.addr?.toString()).toBe("::ffff:10.0.0.1");
    expect(ok(server.getRemoteAddress()).addr?.toString()).toBe("::ffff:10.0.0.1");
    expect(ok(server.getLocalAddress()).addr?.toString()).toBe("::ffff:10.0.0.2");
    const r = transfer(p, client, server, 256 << 10);
    expect(r.received).toBe(r.sent);
    expect((ok(server.getSockOpt("tcpInfo")) as TcpInfo).sndMss).toBe(1460 - 12); // an IPv4 path, timestamps
  });

  it("with v6-only set, the same IPv4 client is refused", () => {
    const p = makePair6({ transports });
    const listener = newTcp(p, "b");
    ok(listener.setSockOpt("v6Only", true));
    expect(listener.bind({ port: 80 })).toBeNull();
    expect(listener.listen(16)).toBeNull();
    const client = newTcp(p, "a", IPV4_PROTOCOL);
    client.connect(at("10.0.0.2", 80));
    runUntil(p, () => client.readiness(EventOut) !== 0, 10_000);
    expect(client.getSockOpt("error")).toBe(Err.ConnectionRefused);
    expect(listener.accept()).toBe(Err.WouldBlock);
  });

  it("IPV6_V6ONLY: false by default, settable only before bind; IPv4 endpoints do not have it", () => {
    const p = makePair6({ transports });
    const e6 = newTcp(p, "b");
    expect(e6.getSockOpt("v6Only")).toBe(false);
    expect(e6.setSockOpt("v6Only", true)).toBeNull();
    expect(e6.getSockOpt("v6Only")).toBe(true);
    expect(e6.bind({ port: 80 })).toBeNull();
    expect(e6.setSockOpt("v6Only", false)).toBe(Err.InvalidEndpointState);
    const e4 = newTcp(p, "b", IPV4_PROTOCOL);
    expect(e4.getSockOpt("v6Only")).toBe(Err.UnknownProtocolOption);
    expect(e4.setSockOpt("v6Only", true)).toBe(Err.UnknownProtocolOption);
  });

  it("a dual-stack wildcard bind reserves the port for IPv4 too; a v6-only one does not (RFC 3493 §5.3)", () => {
    const p = makePair6({ transports });
    const dual = newTcp(p, "b");
    expect(dual.bind({ port: 80 })).toBeNull();
    expect(newTcp(p, "b", IPV4_PROTOCOL).bind({ port: 80 })).toBe(Err.PortInUse);
    const only = newTcp(p, "b");
    ok(only.setSockOpt("v6Only", true));
    expect(only.bind({ port: 81 })).toBeNull();
    expect(newTcp(p, "b", IPV4_PROTOCOL).bind({ port: 81 })).toBeNull();
    // Closing the dual-stack endpoint frees the port under both protocols.
    dual.close();
    expect(newTcp(p, "b", IPV4_PROTOCOL).bind({ port: 80 })).toBeNull();
  });

  it("a v6-only endpoint cannot connect to a v4-mapped address (network unreachable, like Linux)", () => {
    const p = makePair6({ transports });
    const c = newTcp(p, "a");
    ok(c.setSockOpt("v6Only", true));
    expect(c.connect(at("::ffff:10.0.0.2", 80))).toBe(Err.NetworkUnreachable);
  });

  it("an IPv6 client connects to a v4-mapped address over IPv4", () => {
    const p = makePair6({ transports });
    const listener = newTcp(p, "b", IPV4_PROTOCOL);
    expect(listener.bind({ port: 80 })).toBeNull();
    expect(listener.listen(16)).toBeNull();
    const client = newTcp(p, "a");
    client.connect(at("::ffff:10.0.0.2", 80));
    const got: { acc: Accepted | null } = { acc: null };
    runUntil(p, () => {
      if (!got.acc) {
        const a = listener.accept();
        if (!isError(a)) got.acc = a;
      }
      return got.acc !== null && client.readiness(EventOut) !== 0;
    }, 10_000);
    expect(got.acc?.peer.addr?.toString()).toBe("10.0.0.1");
    expect(ok(client.getLocalAddress()).addr?.toString()).toBe("::ffff:10.0.0.1");
  });
});

/**
 * A router with a smaller next-hop MTU on a's outgoing path: once `active`, it drops IPv6 packets
 * longer than `mtu` and answers each with a Packet Too Big from fd00::fe (delivered to a on the
 * next clock tick, never from inside a's write).
 */
class SmallMtuRouter {
  active = false;
  dropped = 0;
  largestPassedAfterClamp = 0;
  clock: Clock | null = null;
  private dispatcher: NetworkDispatcher | null = null;
  private readonly pending: Uint8Array[] = [];
  private timer: Timer | null = null;

  constructor(readonly mtu: number) {}

  wrap(inner: LinkEndpoint): LinkEndpoint {
    const self = this;
    return {
      get mtu() { return inner.mtu; },
      get maxHeaderLength() { return inner.maxHeaderLength; },
      get linkAddress() { return inner.linkAddress; },
      get capabilities() { return inner.capabilities; },
      get isAttached() { return inner.isAttached; },
      attach(d: NetworkDispatcher | null) {
        self.dispatcher = d;
        inner.attach(d);
      },
      writePackets(pkts: readonly PacketBuffer[]): number {
        const pass: PacketBuffer[] = [];
        for (const pkt of pkts) {
          if (self.active && pkt.size > self.mtu && pkt.networkProtocol === IPV6_PROTOCOL) {
            self.dropped++;
            self.tooBig(pkt.toBytes());
            continue;
          }
          if (self.active) self.largestPassedAfterClamp = Math.max(self.largestPassedAfterClamp, pkt.size);
          pass.push(pkt);
        }
        return inner.writePackets(pass) + (pkts.length - pass.length);
      },
      close() { inner.close?.(); },
    };
  }

  private tooBig(sent: Uint8Array): void {
    const router = Address.from("fd00::fe");
    const dst = Address.from("fd00::1");
    this.pending.push(ip6(router, dst, 58, icmp6Msg(router, dst, 2, 0, this.mtu, sent.subarray(0, 1232))));
    if (!this.timer) this.timer = this.clock!.createTimer(() => this.flush());
    if (!this.timer.pending) this.timer.schedule(0);
  }

  private flush(): void {
    const d = this.dispatcher;
    const list = this.pending.splice(0);
    if (!d) return;
    for (const b of list) d.deliverNetworkPacket(IPV6_PROTOCOL, PacketBuffer.inbound(b));
    d.deliverBatchEnd();
  }
}
