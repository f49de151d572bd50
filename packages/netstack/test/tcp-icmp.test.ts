/**
 * ICMP errors about a connection's segments (RFC 1122 §4.2.3.9, RFC 5927, RFC 1191), and the
 * two state transitions on close before the connection is established.
 */
import { describe, expect, it } from "vitest";
import { ACK, B, PEER_ISS, SYN, TcpPeer, addr, bytes, newTcp, openClient } from "./helpers/tcp-harness.js";
import { Err } from "../src/tcpip/errors.js";
import { TcpState } from "../src/transport/tcp/index.js";

describe("ICMP errors", () => {
  it("port unreachable in SYN-SENT refuses the connection (Linux aborts connection attempts on ICMP errors)", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.sendIcmpError(syn, 3, 3);
    expect(ep.state).toBe(TcpState.Closed);
    expect(ep.getSockOpt("error")).toBe(Err.ConnectionRefused);
    expect(peer.stack.stats.tcp.failedConnectionAttempts).toBe(1);
  });

  it("host unreachable on an established connection is soft: kept, and reported if the connection then times out", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { setup: (ep) => ep.setSockOpt("userTimeout", 3000) });
    c.ep.write(bytes(100));
    const d = peer.one();
    peer.sendIcmpError(d, 3, 1);
    expect(c.ep.state).toBe(TcpState.Established);
    expect(c.ep.getSockOpt("error")).toBeNull();
    peer.advance(3000);
    expect(c.ep.state).toBe(TcpState.Closed);
    expect(c.ep.getSockOpt("error")).toBe(Err.HostUnreachable);
  });

  it("ignores an error quoting a sequence number that is not outstanding (RFC 5927 §4.1)", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    const forged = { ...syn, raw: syn.raw.slice() };
    forged.raw[24] ^= 0x40; // a different sequence number in the quoted TCP header
    peer.sendIcmpError(forged, 3, 3);
    expect(ep.state).toBe(TcpState.SynSent);
  });

  it("fragmentation needed lowers the MSS to the path MTU and resends the outstanding data in smaller segments (RFC 1191)", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { mss: 1460 });
    c.ep.write(bytes(2920));
    const [s1] = peer.sent();
    expect(s1!.payloadLength).toBe(1460);
    peer.sendIcmpError(s1!, 3, 4, 1000);
    expect(c.ep.getSockOpt("maxSegment")).toBe(960);
    const again = peer.sent();
    expect(again.length).toBeGreaterThan(0);
    expect(Math.max(...again.map((s) => s.payloadLength))).toBe(960);
    expect(again[0]!.seq).toBe(c.stackNxt);
  });
});

describe("path MTU shared between connections", () => {
  it("a connection that was not told about a smaller path MTU resegments when the network layer refuses its segment (found by the stack fuzzer)", () => {
    const peer = new TcpPeer();
    const c1 = openClient(peer, { mss: 1460 });
    c1.ep.write(bytes(1460));
    const s1 = peer.one();
    const c2 = openClient(peer, { port: 81, mss: 1460 });
    // The ICMP error quotes c1's segment, but the path MTU it carries applies to the host.
    peer.sendIcmpError(s1, 3, 4, 1000);
    c2.ep.write(bytes(2920));
    const segs = peer.sent().filter((s) => s.srcPort === peer.stackPort);
    expect(segs.map((s) => [((s.seq - c2.stackNxt) >>> 0), s.payloadLength])).toEqual([[0, 960], [960, 960], [1920, 960], [2880, 40]]);
    expect(c2.ep.getSockOpt("maxSegment")).toBe(960);
    expect(peer.stack.stats.tcp.segmentSendErrors).toBe(1); // the one 1460-byte attempt
  });
});

describe("close before the connection is established", () => {
  it("SYN-SENT -> CLOSED on close: the attempt is forgotten without a RST (Linux)", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    peer.one();
    ep.close();
    expect(ep.state).toBe(TcpState.Closed);
    expect(peer.sent()).toEqual([]);
    expect(peer.stack.endpointCount()).toBe(0);
    expect(peer.clock.pendingTimers()).toBe(0);
  });

  it("SYN-RECEIVED -> FIN-WAIT-1 on close (simultaneous open): the FIN follows once the SYN is acknowledged (RFC 9293 §3.10.4)", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.bind(addr("10.0.0.1", 5000));
    ep.connect(addr(B, 6000));
    const syn = peer.one();
    peer.peerPort = 6000;
    peer.stackPort = 5000;
    peer.send({ seq: PEER_ISS, flags: SYN });
    peer.one(); // our SYN-ACK
    ep.close();
    expect(peer.sent()).toEqual([]);
    peer.send({ seq: PEER_ISS + 1, ack: syn.seq + 1, flags: ACK });
    expect(ep.state).toBe(TcpState.FinWait1);
    const fin = peer.one();
    expect(fin.flags & 0x01).toBe(0x01);
    expect(fin.seq).toBe((syn.seq + 1) >>> 0);
  });
});
