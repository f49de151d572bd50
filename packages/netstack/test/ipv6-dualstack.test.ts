/**
 * Dual-stack endpoints (RFC 3493 §3.7, RFC 4038): an IPv6 endpoint that is not v6-only takes
 * IPv4 traffic and names IPv4 peers ::ffff:a.b.c.d; v6-only (IPV6_V6ONLY) refuses it; a
 * v4-mapped destination sends IPv4. The mechanism (stack/dualstack.ts) is what TCP adopts.
 */
import { describe, expect, it } from "vitest";
import { ok } from "./helpers/net.js";
import { makePair6, newEp6 } from "./helpers/net6.js";
import { Address, IPV4_PROTOCOL, IPV6_PROTOCOL, UDP_PROTOCOL, type FullAddress } from "../src/tcpip/address.js";
import { Err, isError } from "../src/tcpip/errors.js";
import { endpointNetProtos, NET_PROTOS_DUAL, NET_PROTOS_V4, NET_PROTOS_V6 } from "../src/stack/dualstack.js";

const at = (s: string, port: number): FullAddress => ({ addr: Address.from(s), port });

describe("dual-stack UDP endpoints", () => {
  it("an IPv6 endpoint that is not v6-only receives from an IPv4 client as ::ffff:a.b.c.d and answers it over IPv4", () => {
    const p = makePair6();
    const server = newEp6(p.b, UDP_PROTOCOL);
    expect(server.getSockOpt("v6Only")).toBe(false); // Linux bindv6only = 0
    ok(server.bind({ port: 7 }));
    ok(server.setSockOpt("receivePacketInfo", true));
    const client = newEp6(p.a, UDP_PROTOCOL, undefined, IPV4_PROTOCOL);
    ok(client.connect(at("10.0.0.2", 7)));
    expect(client.write(new Uint8Array([1, 2, 3]))).toBe(3);
    p.pump();
    const buf = new Uint8Array(16);
    const r = ok(server.read(buf, { needRemoteAddr: true }));
    expect(r.count).toBe(3);
    expect(r.from?.addr?.toString()).toBe("::ffff:10.0.0.1");
    expect(r.control?.localAddr?.toString()).toBe("::ffff:10.0.0.2");
    const v4Sent = p.b.stats.ip.packetsSent;
    expect(server.write(buf.subarray(0, 3), { to: r.from! })).toBe(3);
    p.pump();
    const back = ok(client.read(new Uint8Array(16), { needRemoteAddr: true }));
    expect(back.count).toBe(3);
    expect(back.from?.addr?.toString()).toBe("10.0.0.2");
    expect(p.b.stats.ip.packetsSent).toBe(v4Sent + 1);
    // IPv6 clients still reach it.
    const c6 = newEp6(p.a, UDP_PROTOCOL);
    c6.write(new Uint8Array([9]), { to: at("fd00::2", 7) });
    p.pump();
    expect(ok(server.read(buf, { needRemoteAddr: true })).from?.addr?.toString()).toBe("fd00::1");
  });

  it("with v6-only set, the same IPv4 client is refused (ICMP port unreachable → ECONNREFUSED)", () => {
    const p = makePair6();
    const server = newEp6(p.b, UDP_PROTOCOL);
    ok(server.setSockOpt("v6Only", true));
    ok(server.bind({ port: 7 }));
    expect(server.setSockOpt("v6Only", false)).toBe(Err.InvalidEndpointState); // only before bind
    const client = newEp6(p.a, UDP_PROTOCOL, undefined, IPV4_PROTOCOL);
    ok(client.connect(at("10.0.0.2", 7)));
    client.write(new Uint8Array([1]));
    p.pump();
    expect(server.read(new Uint8Array(4))).toBe(Err.WouldBlock);
    expect(p.b.stats.icmp.v4.sent.dstUnreachable).toBe(1);
    expect(client.read(new Uint8Array(4))).toBe(Err.ConnectionRefused);
    // A v6-only endpoint cannot send to a v4-mapped address either (Linux: ENETUNREACH).
    expect(server.write(new Uint8Array([1]), { to: at("::ffff:10.0.0.1", 9) })).toBe(Err.NetworkUnreachable);
    expect(server.connect(at("::ffff:10.0.0.1", 9))).toBe(Err.NetworkUnreachable);
  });

  it("sends IPv4 to a v4-mapped destination, with the IPv4 route's MTU and a v4-mapped local address", () => {
    const p = makePair6();
    const server = newEp6(p.b, UDP_PROTOCOL, undefined, IPV4_PROTOCOL);
    ok(server.bind({ port: 53 }));
    const client = newEp6(p.a, UDP_PROTOCOL);
    ok(client.connect(at("::ffff:10.0.0.2", 53)));
    expect(ok(client.getLocalAddress()).addr?.toString()).toBe("::ffff:10.0.0.1");
    expect(ok(client.getRemoteAddress()).addr?.toString()).toBe("::ffff:10.0.0.2");
    const big = new Uint8Array(3000).fill(7);
    expect(client.write(big)).toBe(3000);
    p.pump();
    const r = ok(server.read(new Uint8Array(4000), { needRemoteAddr: true }));
    expect(r.count).toBe(3000);
    expect(r.from?.addr?.toString()).toBe("10.0.0.1");
    expect(p.a.stats.ip.fragmentsSent).toBe(Math.ceil(3008 / 1480)); // IPv4 fragments of 1480 bytes
    expect(p.b.stats.ip.reassembled).toBe(1);
    ok(server.write(new Uint8Array([5]), { to: r.from! }));
    p.pump();
    expect(ok(client.read(new Uint8Array(4), { needRemoteAddr: true })).from?.addr?.toString()).toBe("::ffff:10.0.0.2");
    const route = p.a.findRoute(0, null, Address.from("::ffff:10.0.0.2"), IPV6_PROTOCOL);
    if (isError(route)) throw new Error("no route");
    expect([route.netProto, route.remoteAddress.toString(), route.localAddress.toString(), route.mtu()])
      .toEqual([IPV4_PROTOCOL, "10.0.0.2", "10.0.0.1", 1480]);
  });

  it("reports ICMPv4 errors to a dual-stack endpoint connected to a v4-mapped peer", () => {
    const p = makePair6();
    const client = newEp6(p.a, UDP_PROTOCOL);
    ok(client.connect(at("::ffff:10.0.0.2", 4444)));
    client.write(new Uint8Array([1]));
    p.pump();
    expect(p.a.stats.icmp.v4.received.dstUnreachable).toBe(1);
    expect(client.read(new Uint8Array(4))).toBe(Err.ConnectionRefused);
  });

  it("applies Linux's bind conflicts across families", () => {
    const p = makePair6();
    const v4 = newEp6(p.a, UDP_PROTOCOL, undefined, IPV4_PROTOCOL);
    ok(v4.bind({ port: 5000 }));
    const dual = newEp6(p.a, UDP_PROTOCOL);
    expect(dual.bind({ port: 5000 })).toBe(Err.PortInUse); // :: dual stack overlaps 0.0.0.0
    const only6 = newEp6(p.a, UDP_PROTOCOL);
    ok(only6.setSockOpt("v6Only", true));
    expect(only6.bind({ port: 5000 })).toBeNull();
    const v4b = newEp6(p.a, UDP_PROTOCOL, undefined, IPV4_PROTOCOL);
    ok(v4b.bind({ addr: Address.from("10.0.0.1"), port: 5001 }));
    const mapped = newEp6(p.a, UDP_PROTOCOL);
    expect(mapped.bind({ addr: Address.from("::ffff:10.0.0.1"), port: 5001 })).toBe(Err.PortInUse);
    expect(mapped.bind({ addr: Address.from("::ffff:10.0.0.1"), port: 5002 })).toBeNull();
    const mapped6only = newEp6(p.a, UDP_PROTOCOL);
    ok(mapped6only.setSockOpt("v6Only", true));
    expect(mapped6only.bind({ addr: Address.from("::ffff:10.0.0.1"), port: 5003 })).toBe(Err.InvalidArgument);
    expect(mapped6only.bind({ addr: Address.from("::ffff:10.9.9.9"), port: 5003 })).toBe(Err.InvalidArgument);
    const foreign = newEp6(p.a, UDP_PROTOCOL);
    expect(foreign.bind({ addr: Address.from("::ffff:10.9.9.9"), port: 5003 })).toBe(Err.BadLocalAddress);
    expect(newEp6(p.a, UDP_PROTOCOL, undefined, IPV4_PROTOCOL).getSockOpt("v6Only")).toBe(Err.UnknownProtocolOption);
    for (const e of [v4, dual, only6, v4b, mapped, mapped6only, foreign]) e.close();
    expect(p.a.ports.size).toBe(0);
    expect(p.a.endpointCount()).toBe(0);
  });

  it("an endpoint bound to a v4-mapped address takes IPv4 only", () => {
    const p = makePair6();
    const server = newEp6(p.b, UDP_PROTOCOL);
    ok(server.bind({ addr: Address.from("::ffff:10.0.0.2"), port: 7 }));
    expect(ok(server.getLocalAddress()).addr?.toString()).toBe("::ffff:10.0.0.2");
    const c6 = newEp6(p.a, UDP_PROTOCOL);
    c6.write(new Uint8Array([1]), { to: at("fd00::2", 7) });
    p.pump();
    expect(server.read(new Uint8Array(4))).toBe(Err.WouldBlock);
    expect(p.b.stats.icmp.v6.sent.dstUnreachable).toBe(1);
    const c4 = newEp6(p.a, UDP_PROTOCOL, undefined, IPV4_PROTOCOL);
    c4.write(new Uint8Array([1]), { to: at("10.0.0.2", 7) });
    p.pump();
    expect(ok(server.read(new Uint8Array(4), { needRemoteAddr: true })).from?.addr?.toString()).toBe("::ffff:10.0.0.1");
    // It cannot talk to IPv6 peers.
    expect(server.write(new Uint8Array([1]), { to: at("fd00::1", 9) })).toBe(Err.NetworkUnreachable);
  });

  it("chooses the network protocols an endpoint registers under like Linux", () => {
    const m = Address.from("::ffff:10.0.0.1");
    const g = Address.from("fd00::1");
    expect(endpointNetProtos(IPV4_PROTOCOL, false, null, null)).toBe(NET_PROTOS_V4);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, null, null)).toBe(NET_PROTOS_DUAL);
    expect(endpointNetProtos(IPV6_PROTOCOL, true, null, null)).toBe(NET_PROTOS_V6);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, Address.ANY6, null)).toBe(NET_PROTOS_DUAL);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, g, null)).toBe(NET_PROTOS_V6);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, m, null)).toBe(NET_PROTOS_V4);
    expect(endpointNetProtos(IPV6_PROTOCOL, true, m, null)).toBe(Err.InvalidArgument);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, null, m)).toBe(NET_PROTOS_V4);
    expect(endpointNetProtos(IPV6_PROTOCOL, true, null, m)).toBe(Err.NetworkUnreachable);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, g, m)).toBe(Err.NetworkUnreachable);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, m, g)).toBe(Err.NetworkUnreachable);
    expect(endpointNetProtos(IPV6_PROTOCOL, false, null, g)).toBe(NET_PROTOS_V6);
  });
});
