/**
 * Window scaling (RFC 7323 §2): negotiation on SYN / SYN-ACK both ways and with either side
 * declining, the shift chosen from the receive buffer, SYN windows never scaled, scaled windows
 * in both directions, and receive buffers of 4 MiB and more actually used.
 */
import { describe, expect, it } from "vitest";
import {
  ACK, PEER_ISS, PSH, SYN, TcpPair, TcpPeer, A, addr, bytes, expectNull, newTcp, ok, openClient, readAll,
} from "./helpers/tcp-harness.js";
import { isError } from "../src/tcpip/errors.js";
import type { TcpEndpoint } from "../src/transport/tcp/index.js";

/** The stack connects; returns its SYN. */
function synOf(peer: TcpPeer, setup?: (ep: TcpEndpoint) => void) {
  const ep = newTcp(peer.stack);
  setup?.(ep);
  ep.connect(addr("10.0.0.2", 80));
  return { ep, syn: peer.one() };
}

/** A listener on :80 answers a SYN carrying `wscale` (undefined: none); returns the SYN-ACK. */
function synAckFor(peer: TcpPeer, wscale: number | undefined, setup?: (l: TcpEndpoint) => void) {
  const l = newTcp(peer.stack);
  setup?.(l);
  expectNull(l.bind(addr(A, 80)));
  expectNull(l.listen(8));
  peer.stackPort = 80;
  peer.send({ seq: PEER_ISS, flags: SYN, window: 5000, opts: { mss: 1460, ...(wscale === undefined ? {} : { wscale }) } });
  return { l, synack: peer.one() };
}

describe("window scale negotiation (RFC 7323 §2.2)", () => {
  it("a SYN offers shift 7 by default: the smallest covering tcp_rmem[2] = 6 MiB (Linux's choice)", () => {
    const { syn } = synOf(new TcpPeer());
    expect(syn.options.wscale).toBe(7);
    expect(syn.window).toBe(65535); // a SYN's window is never scaled
  });

  it("with SO_RCVBUF set the shift covers that buffer instead (1 MiB set, 2 MiB doubled: shift 6)", () => {
    const { syn } = synOf(new TcpPeer(), (ep) => expectNull(ep.setSockOpt("receiveBufferSize", 1 << 20)));
    expect(syn.options.wscale).toBe(6);
    const small = synOf(new TcpPeer(), (ep) => expectNull(ep.setSockOpt("receiveBufferSize", 16384)));
    expect(small.syn.options.wscale).toBe(0); // offered, with no shift needed
  });

  it("windowScaling off: no option in the SYN, and a peer's offer is not taken up in the SYN-ACK", () => {
    const peer = new TcpPeer({ tcp: { windowScaling: false } });
    const { syn } = synOf(peer);
    expect(syn.options.wscale).toBe(-1);
    const p2 = new TcpPeer({ tcp: { windowScaling: false } });
    const { synack } = synAckFor(p2, 5);
    expect(synack.options.wscale).toBe(-1);
  });

  it("active open, both offer: the peer's windows are scaled by its shift, ours by our shift", () => {
    const peer = new TcpPeer();
    const c = openClient(peer, { window: 1000, setup: () => {} });
    // openClient's SYN-ACK offered nothing: no scaling either way.
    expect(c.ep.snd.wndScale).toBe(0);
    expect(c.ep.rcv.wndScale).toBe(0);

    const p2 = new TcpPeer();
    const { ep, syn } = synOf(p2);
    p2.stackPort = syn.srcPort;
    p2.peerPort = 80;
    p2.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, window: 1000, opts: { mss: 1460, wscale: 3 } });
    const ack = p2.one();
    expect(ep.snd.wndScale).toBe(3);
    expect(ep.rcv.wndScale).toBe(7);
    expect(ep.snd.sndWnd).toBe(1000); // RFC 7323 §2.2: the SYN-ACK's window is not scaled
    // Our window field is now scaled: 131072 bytes >> 7 = 1024.
    expect(ack.window).toBe(131072 >>> 7);
    // The next window update from the peer is scaled by 3.
    p2.send({ seq: PEER_ISS + 1, ack: syn.seq + 1, flags: ACK, window: 1000 });
    expect(ep.snd.sndWnd).toBe(8000);
  });

  it("active open, the peer declines: neither direction scales (RFC 7323 §2.2)", () => {
    const peer = new TcpPeer();
    const { ep, syn } = synOf(peer);
    peer.stackPort = syn.srcPort;
    peer.peerPort = 80;
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, window: 1000, mss: 1460 });
    const ack = peer.one();
    expect(ep.snd.wndScale).toBe(0);
    expect(ep.rcv.wndScale).toBe(0);
    expect(ack.window).toBe(65535); // the field can say no more
    peer.send({ seq: PEER_ISS + 1, ack: syn.seq + 1, flags: ACK, window: 1000 });
    expect(ep.snd.sndWnd).toBe(1000);
  });

  it("passive open: a SYN offering a shift gets ours back; one without gets none, and nothing is scaled", () => {
    const peer = new TcpPeer();
    const { synack } = synAckFor(peer, 2);
    expect(synack.options.wscale).toBe(7);
    expect(synack.window).toBe(65535);
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK, window: 300 });
    const p2 = new TcpPeer();
    const r2 = synAckFor(p2, undefined);
    expect(r2.synack.options.wscale).toBe(-1);
    p2.send({ seq: PEER_ISS + 1, ack: r2.synack.seq + 1, flags: ACK, window: 300 });
    const c2 = ok(r2.l.accept()).endpoint as TcpEndpoint;
    expect(c2.snd.sndWnd).toBe(300);
  });

  it("passive open with scaling: the completing ACK's window is scaled by the peer's shift", () => {
    const peer = new TcpPeer();
    const { l, synack } = synAckFor(peer, 2);
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK, window: 300 });
    const c = ok(l.accept()).endpoint as TcpEndpoint;
    expect(c.snd.sndWnd).toBe(1200);
    expect(c.rcv.wndScale).toBe(7);
    // Data is acknowledged with a scaled window field.
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK | PSH, window: 300, payload: bytes(100) });
    const a = peer.one();
    expect(a.ack).toBe(PEER_ISS + 101);
    expect(a.window).toBe(Math.ceil((131072 - 100) / 128));
  });

  it("the shift in a SYN is clamped to 14 (RFC 7323 §2.3)", () => {
    const peer = new TcpPeer();
    const { l, synack } = synAckFor(peer, 20);
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK, window: 1 });
    const c = ok(l.accept()).endpoint as TcpEndpoint;
    expect(c.snd.wndScale).toBe(14);
    expect(c.snd.sndWnd).toBe(1 << 14);
  });

  it("the right edge the peer computes from a scaled field never moves left as data arrives (RFC 7323 §2.4)", () => {
    const peer = new TcpPeer();
    const { l, synack } = synAckFor(peer, 2, (x) => expectNull(x.setSockOpt("receiveBufferSize", 32768)));
    peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK });
    const c = ok(l.accept()).endpoint as TcpEndpoint;
    const shift = c.rcv.wndScale;
    let seq = PEER_ISS + 1;
    let edge = 0;
    for (let i = 0; i < 40; i++) {
      const n = 37 + i * 13;
      peer.send({ seq, ack: synack.seq + 1, flags: ACK | PSH, payload: bytes(n) });
      seq += n;
      for (const a of peer.sent()) {
        const e = a.ack + a.window * 2 ** shift;
        expect(e).toBeGreaterThanOrEqual(edge);
        edge = e;
      }
      if (i % 3 === 0) readAll(c);
    }
  });
});

describe("large receive buffers", () => {
  it("fills a 4 MiB receive buffer the application is not reading (window scaling makes it usable)", () => {
    const p = new TcpPair({ capabilities: 0 });
    const { client, server } = p.connectPair(80, (cl, l) => {
      expectNull(l.setSockOpt("receiveBufferSize", 2 << 20)); // doubled: 4 MiB
      expectNull(cl.setSockOpt("sendBufferSize", 4 << 20));
    });
    expect(server.getSockOpt("receiveBufferSize")).toBe(4 << 20);
    const chunk = bytes(1 << 16);
    let written = 0;
    p.runUntil(() => {
      for (;;) {
        const w = client.write(chunk);
        if (isError(w) || w === 0) break;
        written += w;
      }
      return ok(server.getSockOpt("receiveQueueSize")) >= (4 << 20) - 65536 && server.receiveWindow < 65536;
    }, 60_000);
    expect(ok(server.getSockOpt("receiveQueueSize"))).toBeGreaterThan(4_000_000);
    expect(written).toBeGreaterThan(4_000_000);
  });
});
