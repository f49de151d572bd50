/**
 * TCP socket options as the Endpoint contract exposes them, with Linux's semantics: buffer sizes
 * doubled on set and clamped, keepalive times in seconds, TCP_MAXSEG, IP_TTL / IP_TOS on the
 * wire, SO_ERROR read once, read-only and foreign options refused, and the addresses.
 */
import { describe, expect, it } from "vitest";
import { A, B, TcpPeer, addr, expectNull, newTcp, ok, openClient } from "./helpers/tcp-harness.js";
import { Err } from "../src/tcpip/errors.js";
import type { TcpInfo } from "../src/tcpip/endpoint.js";
import { TcpState } from "../src/transport/tcp/index.js";

describe("socket options", () => {
  it("SO_RCVBUF / SO_SNDBUF: defaults, doubled on set, Linux's minimums and rmem_max/wmem_max (4 MiB) caps", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.getSockOpt("receiveBufferSize")).toBe(131072);
    expect(ep.getSockOpt("sendBufferSize")).toBe(16384);
    expectNull(ep.setSockOpt("receiveBufferSize", 50_000));
    expect(ep.getSockOpt("receiveBufferSize")).toBe(100_000);
    expectNull(ep.setSockOpt("receiveBufferSize", 10));
    expect(ep.getSockOpt("receiveBufferSize")).toBe(2304);
    expectNull(ep.setSockOpt("receiveBufferSize", 10_000_000));
    expect(ep.getSockOpt("receiveBufferSize")).toBe(2 * 4194304); // rmem_max 4 MiB, doubled
    expectNull(ep.setSockOpt("sendBufferSize", 10));
    expect(ep.getSockOpt("sendBufferSize")).toBe(4608);
    expect(ep.setSockOpt("sendBufferSize", 1.5)).toBe(Err.InvalidOptionValue);
  });

  it("a connection's buffers come from its listener", () => {
    const peer = new TcpPeer();
    const l = newTcp(peer.stack);
    l.setSockOpt("receiveBufferSize", 5000);
    l.setSockOpt("noDelay", true);
    l.bind(addr(A, 80));
    l.listen(4);
    peer.send({ seq: 1, flags: 0x02 });
    const sa = peer.one();
    expect(sa.window).toBe(10_000);
    peer.send({ seq: 2, ack: sa.seq + 1, flags: 0x10 });
    const ep = ok(l.accept()).endpoint;
    expect(ep.getSockOpt("receiveBufferSize")).toBe(10_000);
    expect(ep.getSockOpt("noDelay")).toBe(true);
  });

  it("IP_TTL and IP_TOS apply to the segments sent; TCP sets DF (path MTU discovery, like Linux)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, {
      setup: (ep) => {
        expect(ep.getSockOpt("ttl")).toBe(64);
        expectNull(ep.setSockOpt("ttl", 9));
        expectNull(ep.setSockOpt("tos", 0x10));
      },
    });
    c.ep.write(new Uint8Array(10));
    const s = peer.one();
    expect(s.ttl).toBe(9);
    expect(s.tos).toBe(0x10);
    expect(s.ipFlags & 2).toBe(2);
    expect(c.ep.setSockOpt("ttl", 256)).toBe(Err.InvalidOptionValue);
    expectNull(c.ep.setSockOpt("ttl", -1));
    expect(c.ep.getSockOpt("ttl")).toBe(64);
  });

  it("TCP_MAXSEG: 536 before a connection, the set value, or the connection's MSS; values below 88 are refused", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.getSockOpt("maxSegment")).toBe(536);
    expect(ep.setSockOpt("maxSegment", 50)).toBe(Err.InvalidOptionValue);
    expectNull(ep.setSockOpt("maxSegment", 1200));
    expect(ep.getSockOpt("maxSegment")).toBe(1200);
    const c = openClient(peer, { mss: 1460, setup: (e) => e.setSockOpt("maxSegment", 1000) });
    expect(c.ep.getSockOpt("maxSegment")).toBe(1000);
  });

  it("TCP_CONGESTION is \"cubic\" by default (as Linux), \"reno\" selectable; unknown algorithms are refused", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.getSockOpt("congestionControl")).toBe("cubic");
    expect(ep.setSockOpt("congestionControl", "vegas")).toBe(Err.InvalidOptionValue);
    expectNull(ep.setSockOpt("congestionControl", "reno"));
    expect(ep.getSockOpt("congestionControl")).toBe("reno");
  });

  it("keepalive options are seconds and validated like Linux (1..32767, count 1..127)", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expectNull(ep.setSockOpt("keepIdle", 30));
    expectNull(ep.setSockOpt("keepInterval", 5));
    expectNull(ep.setSockOpt("keepCount", 4));
    expect([ep.getSockOpt("keepIdle"), ep.getSockOpt("keepInterval"), ep.getSockOpt("keepCount")]).toEqual([30, 5, 4]);
    expect(ep.setSockOpt("keepInterval", 40000)).toBe(Err.InvalidOptionValue);
    expect(ep.setSockOpt("keepCount", 0)).toBe(Err.InvalidOptionValue);
    expect(ep.setSockOpt("userTimeout", -1)).toBe(Err.InvalidOptionValue);
  });

  it("SO_LINGER, TCP_NODELAY, TCP_CORK, TCP_QUICKACK and SO_KEEPALIVE round-trip", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.getSockOpt("linger")).toEqual({ enabled: false, timeout: 0 });
    expectNull(ep.setSockOpt("linger", { enabled: true, timeout: 5 }));
    expect(ep.getSockOpt("linger")).toEqual({ enabled: true, timeout: 5 });
    for (const o of ["noDelay", "cork", "quickAck", "keepAlive", "reuseAddress", "reusePort"] as const) {
      expect(ep.getSockOpt(o)).toBe(false);
      expectNull(ep.setSockOpt(o, true));
      expect(ep.getSockOpt(o)).toBe(true);
    }
  });

  it("read-only options cannot be set; IPv6-only options do not apply to an IPv4 endpoint", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.setSockOpt("error", null)).toBe(Err.UnknownProtocolOption);
    expect(ep.setSockOpt("receiveQueueSize", 1)).toBe(Err.UnknownProtocolOption);
    expect(ep.setSockOpt("tcpInfo", {} as TcpInfo)).toBe(Err.UnknownProtocolOption);
    expect(ep.getSockOpt("v6Only")).toBe(Err.UnknownProtocolOption);
    expect((ep.getSockOpt("tcpInfo") as TcpInfo).state).toBe("CLOSED");
  });
});

describe("addresses", () => {
  it("an unbound endpoint is 0.0.0.0:0 and not connected; bind and connect fill in the addresses", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    const l0 = ok(ep.getLocalAddress());
    expect([l0.addr!.toString(), l0.port]).toEqual(["0.0.0.0", 0]);
    expect(ep.getRemoteAddress()).toBe(Err.NotConnected);
    expectNull(ep.bind(addr(A, 1234)));
    expect(ep.bind(addr(A, 1235))).toBe(Err.AlreadyBound);
    const l1 = ok(ep.getLocalAddress());
    expect([l1.addr!.toString(), l1.port]).toEqual([A, 1234]);
    ep.connect(addr(B, 80));
    expect(ep.getRemoteAddress()).toBe(Err.NotConnected); // not yet in SYN-SENT, like Linux
    const syn = peer.one();
    expect(syn.srcPort).toBe(1234);
    peer.peerPort = 80;
    peer.stackPort = 1234;
    peer.send({ seq: 5, ack: syn.seq + 1, flags: 0x12 });
    const r = ok(ep.getRemoteAddress());
    expect([r.addr!.toString(), r.port]).toEqual([B, 80]);
    expect(ep.state).toBe(TcpState.Established);
  });

  it("bind refuses an address that is not the stack's, and a port in use", () => {
    const peer = new TcpPeer();
    const e1 = newTcp(peer.stack);
    expect(e1.bind(addr("10.9.9.9", 80))).toBe(Err.BadLocalAddress);
    expectNull(e1.bind(addr("0.0.0.0", 80)));
    const e2 = newTcp(peer.stack);
    expect(e2.bind(addr(A, 80))).toBe(Err.PortInUse);
    e1.close();
    expectNull(e2.bind(addr(A, 80)));
  });

  it("closing an unconnected endpoint releases its port", () => {
    const peer = new TcpPeer();
    const e1 = newTcp(peer.stack);
    e1.bind(addr(A, 81));
    e1.close();
    expect(e1.bind(addr(A, 82))).toBe(Err.Closed);
    expect(peer.stack.endpointCount()).toBe(0);
  });
});

describe("send buffer autotuning (Linux tcp_sndbuf_expand)", () => {
  it("starts at tcp_wmem[1] = 16384, grows with cwnd once connected, and stays put once SO_SNDBUF is set", async () => {
    const { TcpPair } = await import("./helpers/tcp-harness.js");
    const p = new TcpPair();
    const { client, server } = p.connectPair();
    void server;
    const before = client.getSockOpt("sendBufferSize");
    expect(before).toBe(16384);
    // A write sees the buffer sized from the congestion window (initial window 10 segments).
    const n = client.write(new Uint8Array(1 << 20));
    expect(typeof n === "number" && n > 16384).toBe(true);
    const grown = client.getSockOpt("sendBufferSize") as number;
    expect(grown).toBeGreaterThan(16384);
    expect(grown).toBeLessThanOrEqual(4 * 1024 * 1024);
    const fixed = new TcpPair().connectPair().client;
    expect(fixed.setSockOpt("sendBufferSize", 8192)).toBeNull();
    expect(fixed.getSockOpt("sendBufferSize")).toBe(16384);
    expect(fixed.write(new Uint8Array(1 << 20))).toBe(16384);
  });
});
