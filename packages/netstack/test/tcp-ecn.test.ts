/**
 * ECN for TCP (RFC 3168 §6.1) with Linux's tcp_ecn policies: negotiation on SYN / SYN-ACK both
 * ways for every policy pair, ECT(0) on new data only (visible in the IP header), the receiver's
 * CE → ECE echo until CWR, the sender's response (one window reduction per window of data, CWR
 * on the next new data, no retransmission), and transfers over links that CE-mark instead of
 * dropping (the fault link's `ceMark`), over IPv4 and IPv6.
 */
import { describe, expect, it } from "vitest";
import {
  ACK, B, FIN, PEER_ISS, Pattern, Reader, SYN, TcpPair, TcpPeer, Writer, addr, buildPacket, bytes, newTcp, ok,
  openClient, readAll, type Scripted, type SentSegment,
} from "./helpers/tcp-harness.js";
import { makePair6 } from "./helpers/net6.js";
import { IPv4View, encodeIPv4 } from "../src/header/ipv4.js";
import { encodeIPv6 } from "../src/header/ipv6.js";
import { isParseError } from "../src/header/parse.js";
import { PacketBuffer } from "../src/buffer/packet.js";
import { ChannelEndpoint } from "../src/link/channel.js";
import { FaultEndpoint } from "../src/link/fault.js";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import { Address, IPV6_PROTOCOL, TCP_PROTOCOL } from "../src/tcpip/address.js";
import { isError } from "../src/tcpip/errors.js";
import type { TcpInfo } from "../src/tcpip/endpoint.js";
import { WaiterQueue } from "../src/waiter/queue.js";
import { tcpWith, type TcpEndpoint } from "../src/transport/tcp/index.js";
import { ECN_CE, ECN_ECT0, ECN_ECT1, ECN_NOT_ECT, packetEcn, type EcnPolicy } from "../src/transport/tcp/ecn.js";
import { TCPI_OPT_ECN, TCPI_OPT_ECN_SEEN } from "../src/transport/tcp/info.js";

const ECE = 0x40;
const CWR = 0x80;

const ecnField = (s: SentSegment): number => s.tos & 3;
const counters = (peer: TcpPeer) => (peer.stack.transportProtocol(TCP_PROTOCOL) as unknown as { counters: Record<string, number> }).counters;

function info(ep: TcpEndpoint): TcpInfo {
  return ok(ep.getSockOpt("tcpInfo"));
}

/** A packet from the peer with the IP TOS byte set to `tos` (checksum refreshed). */
function withTos(pkt: Uint8Array, tos: number): Uint8Array {
  const v = IPv4View.check(pkt);
  if (isParseError(v)) throw new Error(`bad packet: ${v}`);
  v.tos = tos;
  v.fillChecksum();
  return pkt;
}

/** Injects a data / ACK segment from the peer with the given ECN field. */
function sendWithEcn(peer: TcpPeer, ecn: number, spec: Parameters<TcpPeer["send"]>[0]): void {
  peer.link.inject(withTos(buildPacket(peer.remote, peer.local, peer.peerPort, peer.stackPort, spec), ecn));
}

/** Client side of a scripted handshake where the SYN-ACK carries `synAckFlags`. */
function openEcnClient(peer: TcpPeer, policy: EcnPolicy, synAckFlags: number, opts: { mss?: number; window?: number } = {}): { c: Scripted; syn: SentSegment } {
  const wq = new WaiterQueue();
  const ep = newTcp(peer.stack, wq);
  ep.ecn.policy = policy;
  ep.connect(addr(B, 80));
  const syn = peer.one();
  peer.peerPort = 80;
  peer.stackPort = syn.srcPort;
  peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK | synAckFlags, mss: opts.mss ?? 1460, window: opts.window ?? 65535 });
  const ack = peer.one();
  expect(ack.flags & (SYN | ACK)).toBe(ACK);
  return { c: { ep, wq, iss: syn.seq, irs: PEER_ISS, peerNxt: PEER_ISS + 1, stackNxt: (syn.seq + 1) >>> 0 }, syn };
}

/** Server side: the peer's SYN carries `synFlags`; returns the SYN-ACK and the accepted connection. */
function openEcnServer(peer: TcpPeer, policy: EcnPolicy, synFlags: number): { c: Scripted; synAck: SentSegment } {
  const listener = newTcp(peer.stack);
  listener.ecn.policy = policy;
  expect(listener.bind(addr("10.0.0.1", 80))).toBeNull();
  expect(listener.listen(8)).toBeNull();
  peer.stackPort = 80;
  peer.send({ seq: PEER_ISS, flags: SYN | synFlags, mss: 1460, window: 65535 });
  const synAck = peer.one();
  expect(synAck.flags & (SYN | ACK)).toBe(SYN | ACK);
  peer.send({ seq: PEER_ISS + 1, ack: synAck.seq + 1, flags: ACK, window: 65535 });
  const acc = ok(listener.accept());
  const ep = acc.endpoint as TcpEndpoint;
  return {
    c: { ep, wq: acc.waiterQueue, iss: synAck.seq, irs: PEER_ISS, peerNxt: PEER_ISS + 1, stackNxt: (synAck.seq + 1) >>> 0, listener },
    synAck,
  };
}

describe("negotiation (RFC 3168 §6.1.1) with Linux's tcp_ecn policies", () => {
  it("by default (tcp_ecn = 2) an outgoing SYN does not ask for ECN", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    expect(ep.ecn.policy).toBe(2);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    expect(syn.flags & (ECE | CWR)).toBe(0);
  });

  it("with tcp_ecn = 1 the SYN carries ECE and CWR (an ECN-setup SYN) and is not ECT", () => {
    const peer = new TcpPeer({ tcp: { ecn: 1 } });
    const ep = newTcp(peer.stack);
    expect(ep.ecn.policy).toBe(1);
    ep.connect(addr(B, 80));
    const syn = peer.one();
    expect(syn.flags).toBe(SYN | ECE | CWR);
    expect(ecnField(syn)).toBe(ECN_NOT_ECT);
  });

  it("an ECN-setup SYN-ACK (ECE without CWR) answering our ECN-setup SYN turns ECN on", () => {
    const peer = new TcpPeer();
    const { c } = openEcnClient(peer, 1, ECE);
    expect(c.ep.ecn.ok).toBe(true);
    expect(counters(peer).ecnNegotiated).toBe(1);
    expect(info(c.ep).options! & TCPI_OPT_ECN).toBe(TCPI_OPT_ECN);
  });

  it("a SYN-ACK with ECE is ignored when our SYN did not ask (a non-ECN-setup SYN-ACK for us)", () => {
    const peer = new TcpPeer();
    const { c } = openEcnClient(peer, 2, ECE);
    expect(c.ep.ecn.ok).toBe(false);
    c.ep.write(bytes(100));
    const d = peer.one();
    expect(d.flags & (ECE | CWR)).toBe(0);
    expect(ecnField(d)).toBe(ECN_NOT_ECT);
    expect(info(c.ep).options! & TCPI_OPT_ECN).toBe(0);
  });

  it("a SYN-ACK with both ECE and CWR, or with neither, is not an ECN-setup SYN-ACK", () => {
    for (const f of [ECE | CWR, 0, CWR]) {
      const peer = new TcpPeer();
      const { c } = openEcnClient(peer, 1, f);
      expect(c.ep.ecn.ok).toBe(false);
      c.ep.write(bytes(10));
      expect(ecnField(peer.one())).toBe(ECN_NOT_ECT);
    }
  });

  it("a listener with tcp_ecn = 2 or 1 accepts an ECN-setup SYN with a SYN-ACK carrying ECE only", () => {
    for (const policy of [2, 1] as const) {
      const peer = new TcpPeer();
      const { c, synAck } = openEcnServer(peer, policy, ECE | CWR);
      expect(synAck.flags).toBe(SYN | ACK | ECE);
      expect(ecnField(synAck)).toBe(ECN_NOT_ECT);
      expect(c.ep.ecn.ok).toBe(true);
    }
  });

  it("a SYN with only ECE (no CWR) is not an ECN request; tcp_ecn = 0 never accepts", () => {
    const peer = new TcpPeer();
    const r = openEcnServer(peer, 2, ECE);
    expect(r.synAck.flags).toBe(SYN | ACK);
    expect(r.c.ep.ecn.ok).toBe(false);
    const peer2 = new TcpPeer();
    const r2 = openEcnServer(peer2, 0, ECE | CWR);
    expect(r2.synAck.flags).toBe(SYN | ACK);
    expect(r2.c.ep.ecn.ok).toBe(false);
    const peer3 = new TcpPeer();
    const r3 = openEcnServer(peer3, 2, 0);
    expect(r3.synAck.flags).toBe(SYN | ACK);
  });

  it("a retransmitted SYN drops the ECN request (RFC 3168 §6.1.1.1, Linux's tcp_ecn_fallback)", () => {
    const peer = new TcpPeer({ tcp: { ecn: 1 } });
    const ep = newTcp(peer.stack);
    ep.connect(addr(B, 80));
    expect(peer.one().flags).toBe(SYN | ECE | CWR);
    peer.advance(1000);
    const again = peer.one();
    expect(again.flags).toBe(SYN);
    peer.peerPort = 80;
    peer.stackPort = again.srcPort;
    // A late ECN-setup SYN-ACK answering the first SYN no longer turns ECN on.
    peer.send({ seq: PEER_ISS, ack: again.seq + 1, flags: SYN | ACK | ECE, mss: 1460 });
    expect(peer.one().flags).toBe(ACK);
    expect(ep.ecn.ok).toBe(false);
  });

  it("every client/server policy pair: ECN is on exactly when the client asks (1) and the server accepts (1 or 2)", () => {
    for (const cp of [0, 1, 2] as const) {
      for (const sp of [0, 1, 2] as const) {
        const pair = new TcpPair();
        const conn = pair.connectPair(80, (client, listener) => {
          client.ecn.policy = cp;
          listener.ecn.policy = sp;
        });
        const want = cp === 1 && sp !== 0;
        expect([cp, sp, conn.client.ecn.ok]).toEqual([cp, sp, want]);
        expect([cp, sp, conn.server.ecn.ok]).toEqual([cp, sp, want]);
        // Both directions: data either way is ECT(0) exactly when ECN is on.
        const seen: number[] = [];
        const sniff = (p: PacketBuffer) => {
          const b = p.toBytes();
          if (b.length > 52 || (b[33]! & 1) === 0) seen.push(b[1]! & 3);
        };
        for (const end of [pair.pipe.a, pair.pipe.b]) {
          const w = end.writePackets.bind(end);
          end.writePackets = (pkts: readonly PacketBuffer[]) => {
            for (const p of pkts) if (p.size > 52) sniff(p);
            return w(pkts);
          };
        }
        conn.client.write(bytes(1000));
        conn.server.write(bytes(1000));
        pair.settle();
        pair.advance(50);
        expect(readAll(conn.server)).toEqual(bytes(1000));
        expect(readAll(conn.client)).toEqual(bytes(1000));
        expect(seen.length).toBe(2);
        expect(seen).toEqual(want ? [ECN_ECT0, ECN_ECT0] : [ECN_NOT_ECT, ECN_NOT_ECT]);
        pair.close();
      }
    }
  });

  it("children inherit the listener's per-socket policy; the stack-wide option sets the default", () => {
    const pair = new TcpPair({ tcp: { ecn: 1 } });
    const conn = pair.connectPair(80);
    expect(conn.client.ecn.ok && conn.server.ecn.ok).toBe(true);
    expect(conn.server.ecn.policy).toBe(1);
    // TCP_INFO's tcpi_options: timestamps, SACK, window scaling and ECN.
    expect(info(conn.client).options).toBe(1 | 2 | 4 | TCPI_OPT_ECN);
    expect(info(conn.server).options).toBe(1 | 2 | 4 | TCPI_OPT_ECN);
    pair.close();
  });
});

describe("ECT marking (RFC 3168 §6.1.2, §6.1.4, §6.1.5)", () => {
  it("new data is ECT(0); pure ACKs, a bare FIN and retransmissions are not", () => {
    const peer = new TcpPeer();
    const { c } = openEcnClient(peer, 1, ECE, { mss: 1000 });
    c.ep.write(bytes(2500));
    const segs = peer.sent();
    expect(segs.map((s) => [s.payloadLength, ecnField(s)])).toEqual([[1000, ECN_ECT0], [1000, ECN_ECT0], [500, ECN_ECT0]]);
    expect(counters(peer).ectSent).toBe(3);
    // A pure ACK of peer data.
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 2500, flags: ACK, payload: bytes(10) });
    const ack = peer.one();
    expect(ack.payloadLength).toBe(0);
    expect(ecnField(ack)).toBe(ECN_NOT_ECT);
    // A retransmission after the RTO.
    c.ep.write(bytes(300));
    expect(ecnField(peer.one())).toBe(ECN_ECT0);
    peer.advance(1000);
    const rtx = peer.sent();
    expect(rtx.length).toBeGreaterThan(0);
    expect(rtx[0]!.payloadLength).toBe(300);
    expect(ecnField(rtx[0]!)).toBe(ECN_NOT_ECT);
    // A bare FIN.
    peer.send({ seq: c.peerNxt + 10, ack: c.stackNxt + 2800, flags: ACK });
    peer.sent();
    c.ep.shutdown(2);
    const fin = peer.one();
    expect(fin.flags & FIN).toBe(FIN);
    expect(ecnField(fin)).toBe(ECN_NOT_ECT);
  });

  it("the socket's IP_TOS keeps its DSCP bits next to ECT(0); its own ECN bits are not used", () => {
    const peer = new TcpPeer();
    const { c } = openEcnClient(peer, 1, ECE);
    expect(c.ep.setSockOpt("tos", 0x11)).toBeNull();
    c.ep.write(bytes(10));
    expect(peer.one().tos).toBe(0x12);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 10, flags: ACK, payload: bytes(5) });
    expect(peer.one().tos).toBe(0x10);
  });
});

describe("receiver: CE → ECE until CWR (RFC 3168 §6.1.3)", () => {
  it("acknowledges a CE-marked segment at once with ECE, sets ECE on every ACK until a CWR arrives", () => {
    const peer = new TcpPeer();
    const { c } = openEcnServer(peer, 2, ECE | CWR);
    const srv = c.ep;
    // Leave quick-ACK mode, so that the immediate ACK below is the CE rule's doing.
    let off = 0;
    for (let i = 0; i < 16; i++) {
      sendWithEcn(peer, ECN_ECT0, { seq: c.peerNxt + off, ack: c.stackNxt, flags: ACK, payload: bytes(1460) });
      off += 1460;
      expect(peer.one().flags & ECE).toBe(0);
      readAll(srv);
    }
    sendWithEcn(peer, ECN_CE, { seq: c.peerNxt + off, ack: c.stackNxt, flags: ACK, payload: bytes(100) });
    off += 100;
    const a1 = peer.one();
    expect(a1.ack).toBe(c.peerNxt + off);
    expect(a1.flags & ECE).toBe(ECE);
    expect(counters(peer).ceReceived).toBe(1);
    expect(info(srv).options! & TCPI_OPT_ECN_SEEN).toBe(TCPI_OPT_ECN_SEEN);
    // Unmarked data: still echoed (on the delayed ACK too), and on our data segments.
    sendWithEcn(peer, ECN_ECT0, { seq: c.peerNxt + off, ack: c.stackNxt, flags: ACK, payload: bytes(100) });
    off += 100;
    peer.advance(40);
    expect(peer.one().flags & ECE).toBe(ECE);
    srv.write(bytes(50));
    const d = peer.one();
    expect(d.payloadLength).toBe(50);
    expect(d.flags & ECE).toBe(ECE);
    // CWR ends the echo.
    sendWithEcn(peer, ECN_ECT0, { seq: c.peerNxt + off, ack: c.stackNxt + 50, flags: ACK | CWR, payload: bytes(100) });
    off += 100;
    expect(counters(peer).cwrReceived).toBe(1);
    peer.advance(40);
    const a3 = peer.one();
    expect(a3.ack).toBe(c.peerNxt + off);
    expect(a3.flags & ECE).toBe(0);
    sendWithEcn(peer, ECN_ECT0, { seq: c.peerNxt + off, ack: c.stackNxt + 50, flags: ACK, payload: bytes(1460) });
    off += 1460;
    sendWithEcn(peer, ECN_ECT0, { seq: c.peerNxt + off, ack: c.stackNxt + 50, flags: ACK, payload: bytes(1460) });
    off += 1460;
    expect(peer.one().flags & ECE).toBe(0);
  });

  it("a CWR segment that is itself CE-marked starts a new echo", () => {
    const peer = new TcpPeer();
    const { c } = openEcnServer(peer, 2, ECE | CWR);
    sendWithEcn(peer, ECN_CE, { seq: c.peerNxt, ack: c.stackNxt, flags: ACK, payload: bytes(100) });
    expect(peer.one().flags & ECE).toBe(ECE);
    sendWithEcn(peer, ECN_CE, { seq: c.peerNxt + 100, ack: c.stackNxt, flags: ACK | CWR, payload: bytes(100) });
    expect(peer.one().flags & ECE).toBe(ECE);
    expect(counters(peer).ceReceived).toBe(2);
  });

  it("CE on a connection without ECN is not echoed", () => {
    const peer = new TcpPeer();
    const { c } = openEcnServer(peer, 2, 0);
    sendWithEcn(peer, ECN_CE, { seq: c.peerNxt, ack: c.stackNxt, flags: ACK, payload: bytes(100) });
    expect(peer.one().flags & ECE).toBe(0);
    expect(counters(peer).ceReceived).toBe(0);
  });
});

describe("sender: response to ECE (RFC 3168 §6.1.2)", () => {
  it("halves cwnd once per window without retransmitting, and sets CWR on the next new data segment", () => {
    const peer = new TcpPeer({ tcp: { congestionControl: "reno" } });
    const { c } = openEcnClient(peer, 1, ECE, { mss: 1000, window: 65535 });
    const ep = c.ep;
    expect(ep.snd.cc.cwnd).toBe(10_000);
    ep.write(bytes(30_000));
    const first = peer.sent();
    expect(first.length).toBe(10);
    // The peer saw CE: its ACK of the first two segments carries ECE.
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 2000, flags: ACK | ECE });
    // RFC 3168 §6.1.2 with RFC 5681 eq. 4: ssthresh = FlightSize / 2 = 4000, cwnd = ssthresh.
    expect(ep.snd.cc.ssthresh).toBe(4000);
    expect(ep.snd.cc.cwnd).toBe(4000);
    expect(counters(peer).ecnCwndReductions).toBe(1);
    // Flight is 8000 > cwnd: nothing new may go yet. More ECE for the same window: no new reduction.
    expect(peer.sent()).toEqual([]);
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 6000, flags: ACK | ECE });
    expect(counters(peer).ecnCwndReductions).toBe(1);
    expect(ep.snd.cc.ssthresh).toBe(4000);
    // cwnd 4000 (+ growth in congestion avoidance) allows new data now: the first carries CWR.
    const next = peer.sent();
    expect(next.length).toBeGreaterThan(0);
    expect(next[0]!.seq).toBe(c.stackNxt + 10_000);
    expect(next[0]!.flags & CWR).toBe(CWR);
    for (const s of next.slice(1)) expect(s.flags & CWR).toBe(0);
    expect(counters(peer).cwrSent).toBe(1);
    // The rest of the old window is acknowledged with ECE still on (the CWR has not arrived yet).
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 10_000, flags: ACK | ECE });
    expect(counters(peer).ecnCwndReductions).toBe(1);
    peer.sent();
    // ECE on an ACK for data sent after the reduction: a new window, a new reduction.
    const before = ep.snd.cc.cwnd;
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 11_000, flags: ACK | ECE });
    expect(counters(peer).ecnCwndReductions).toBe(2);
    expect(ep.snd.cc.cwnd).toBeLessThan(before);
    expect(peer.stack.stats.tcp.retransmits).toBe(0);
    expect(info(ep).totalRetrans).toBe(0);
  });

  it("ECE is ignored when ECN was not negotiated", () => {
    const peer = new TcpPeer({ tcp: { congestionControl: "reno" } });
    const c = openClient(peer, { mss: 1000 });
    c.ep.write(bytes(10_000));
    peer.sent();
    peer.send({ seq: c.peerNxt, ack: c.stackNxt + 2000, flags: ACK | ECE });
    expect(c.ep.snd.cc.cwnd).toBeGreaterThan(10_000);
    expect(counters(peer).eceReceived).toBe(0);
  });
});

describe("transfers over a CE-marking link (the fault link's ceMark)", () => {
  function transfer(ecn: EcnPolicy, seed: number) {
    const pair = new TcpPair({
      seed, tcp: { ecn }, faultsA: { ceMark: 0.05, delayMs: 10 }, faultsB: { delayMs: 10 },
    });
    const conn = pair.connectPair(80);
    const total = 4 << 20;
    const w = new Writer(conn.client, total, new Pattern(seed));
    const r = new Reader(conn.server);
    pair.runUntil(() => {
      w.pump();
      r.pump();
      if (w.done && conn.client.state === 4) conn.client.shutdown(2);
      return r.eof;
    }, 600_000, () => {
      w.pump();
      r.pump();
    });
    const ca = (pair.a.transportProtocol(TCP_PROTOCOL) as unknown as { counters: Record<string, number> }).counters;
    const cb = (pair.b.transportProtocol(TCP_PROTOCOL) as unknown as { counters: Record<string, number> }).counters;
    const res = {
      received: r.received, same: r.hash.digest("hex") === w.hash.digest("hex"),
      retransA: pair.a.stats.tcp.retransmits, retransB: pair.b.stats.tcp.retransmits,
      ceMarked: pair.faultA!.stats.ceMarked, reductions: ca.ecnCwndReductions!, ceReceived: cb.ceReceived!,
      cwrSent: ca.cwrSent!, eceSent: cb.eceSent!, ssthresh: conn.client.snd.cc.ssthresh,
    };
    pair.close();
    return res;
  }

  it("completes with verified data, CE marks answered by window reductions and zero retransmissions", () => {
    const r = transfer(1, 11);
    expect(r.received).toBe(4 << 20);
    expect(r.same).toBe(true);
    expect(r.ceMarked).toBeGreaterThan(0);
    expect(r.ceReceived).toBe(r.ceMarked);
    expect(r.eceSent).toBeGreaterThan(0);
    expect(r.reductions).toBeGreaterThan(0);
    expect(r.cwrSent).toBeGreaterThan(0);
    expect(r.ssthresh).toBeLessThan(0x7fffffff);
    expect(r.retransA).toBe(0);
    expect(r.retransB).toBe(0);
  });

  it("without ECN nothing is ECT, so the link marks nothing and the window never shrinks", () => {
    const r = transfer(2, 11);
    expect(r.same).toBe(true);
    expect(r.ceMarked).toBe(0);
    expect(r.reductions).toBe(0);
    expect(r.ssthresh).toBe(0x7fffffff);
  });

  it("works the same over IPv6 (ECT and CE in the traffic class)", () => {
    const p = makePair6({ transports: [tcpWith({ ecn: 1 })], faults: { ceMark: 0.1, delayMs: 5 } });
    const wqL = new WaiterQueue();
    const l = ok(p.b.newEndpoint(TCP_PROTOCOL, IPV6_PROTOCOL, wqL)) as TcpEndpoint;
    expect(l.bind({ addr: p.addrB, port: 80 })).toBeNull();
    expect(l.listen(4)).toBeNull();
    const cl = ok(p.a.newEndpoint(TCP_PROTOCOL, IPV6_PROTOCOL, new WaiterQueue())) as TcpEndpoint;
    cl.connect({ addr: p.addrB, port: 80 });
    p.run(50);
    const acc = l.accept();
    if (isError(acc)) throw new Error(acc.name);
    const srv = acc.endpoint as TcpEndpoint;
    expect(cl.ecn.ok && srv.ecn.ok).toBe(true);
    const pat = new Pattern(3);
    const total = 1 << 20;
    let sent = 0;
    let got = 0;
    const buf = new Uint8Array(65536);
    const chunks: Uint8Array[] = [];
    for (let t = 0; t < 60_000 && got < total; t += 5) {
      while (sent < total) {
        const n = cl.write(pat.at(sent, Math.min(65536, total - sent)));
        if (isError(n) || n === 0) break;
        sent += n;
      }
      for (;;) {
        const r = srv.read(buf);
        if (isError(r) || r.count === 0) break;
        chunks.push(buf.slice(0, r.count));
        got += r.count;
      }
      p.run(5, 5);
    }
    expect(got).toBe(total);
    const all = Buffer.concat(chunks);
    expect(all.equals(Buffer.from(pat.at(0, total)))).toBe(true);
    const ca = (p.a.transportProtocol(TCP_PROTOCOL) as unknown as { counters: Record<string, number> }).counters;
    const cb = (p.b.transportProtocol(TCP_PROTOCOL) as unknown as { counters: Record<string, number> }).counters;
    expect(p.faultA!.stats.ceMarked).toBeGreaterThan(0);
    expect(cb.ceReceived).toBe(p.faultA!.stats.ceMarked);
    expect(ca.ecnCwndReductions).toBeGreaterThan(0);
    expect(p.a.stats.tcp.retransmits).toBe(0);
  });
});

describe("the fault link's ceMark and reading the ECN field", () => {
  function v4(tos: number): PacketBuffer {
    const p = PacketBuffer.outbound(20, bytes(8));
    const off = p.prepend(20);
    encodeIPv4(p.buf, off, {
      tos, totalLength: 28, id: 1, flags: 0, fragmentOffset: 0, ttl: 64, protocol: 17,
      src: Address.from("10.0.0.1"), dst: Address.from("10.0.0.2"),
    });
    p.networkHeader = off;
    return p;
  }

  function v6(tc: number): PacketBuffer {
    const p = PacketBuffer.outbound(40, bytes(8));
    const off = p.prepend(40);
    encodeIPv6(p.buf, off, {
      trafficClass: tc, flowLabel: 0x12345, payloadLength: 8, nextHeader: 17, hopLimit: 64,
      src: Address.from("fd00::1"), dst: Address.from("fd00::2"),
    });
    p.networkHeader = off;
    return p;
  }

  function through(pkts: PacketBuffer[]): Uint8Array[] {
    const ch = new ChannelEndpoint({ mtu: 1500, queueSize: 64 });
    const f = new FaultEndpoint(ch, { ceMark: 1, clock: new ManualClock(), random: new SeededRandom(1) });
    f.writePackets(pkts);
    const out: Uint8Array[] = [];
    for (let b = ch.read(); b !== null; b = ch.read()) out.push(b);
    expect(f.stats.ceMarked).toBe(pkts.filter((p) => packetEcn(p) === ECN_ECT0 || packetEcn(p) === ECN_ECT1).length);
    return out;
  }

  it("marks ECT(0) and ECT(1) IPv4 packets CE with a valid header checksum, leaves Not-ECT and CE alone, never touches the original", () => {
    const pkts = [v4(0xb8 | ECN_ECT0), v4(0xb8 | ECN_ECT1), v4(0xb8), v4(0xb8 | ECN_CE)];
    const out = through(pkts);
    expect(out.map((b) => b[1])).toEqual([0xb8 | ECN_CE, 0xb8 | ECN_CE, 0xb8, 0xb8 | ECN_CE]);
    for (const b of out) {
      const v = IPv4View.check(b);
      if (isParseError(v)) throw new Error(`bad packet: ${v}`);
      expect(v.isChecksumValid()).toBe(true);
    }
    expect(pkts[0]!.toBytes()[1]).toBe(0xb8 | ECN_ECT0);
  });

  it("marks ECT IPv6 packets CE in the traffic class, keeping DSCP and the flow label", () => {
    const out = through([v6(0xb8 | ECN_ECT0), v6(0xb8)]);
    const tc = (b: Uint8Array) => ((b[0]! & 0x0f) << 4) | (b[1]! >> 4);
    expect(out.map(tc)).toEqual([0xb8 | ECN_CE, 0xb8]);
    expect(((out[0]![1]! & 0x0f) << 16) | (out[0]![2]! << 8) | out[0]![3]!).toBe(0x12345);
  });

  it("packetEcn reads the field of IPv4 and IPv6 headers and answers Not-ECT without one", () => {
    expect(packetEcn(v4(0x10 | ECN_CE))).toBe(ECN_CE);
    expect(packetEcn(v6(0x10 | ECN_ECT1))).toBe(ECN_ECT1);
    expect(packetEcn(PacketBuffer.inbound(new Uint8Array(4)))).toBe(ECN_NOT_ECT);
  });
});
