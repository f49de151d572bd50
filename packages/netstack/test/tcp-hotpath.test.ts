/**
 * Invariants of the TCP send/receive hot path that its optimisations rely on:
 * - each outbound data segment owns its payload array (buildSegment takes the sender's array
 *   over instead of copying it), so a link holding packets sees them unchanged;
 * - the endpoint reads the clock once per operation (and once per inbound batch), and that
 *   reading never outlives the operation or the batch.
 */
import { describe, expect, it } from "vitest";
import type { PacketBuffer } from "../src/buffer/packet.js";
import { NestedLink } from "../src/link/nested.js";
import { EventIn } from "../src/waiter/queue.js";
import type { LinkEndpoint } from "../src/link/link.js";
import { TCP_MIN_HEADER } from "../src/header/tcp.js";
import {
  ACK, B, PEER_ISS, PSH, Pattern, SYN, TcpPair, TcpPeer, Writer, addr, bytes, concatViews, newTcp, ok, outboundSeq,
} from "./helpers/tcp-harness.js";

/** Keeps every PacketBuffer written through it (as a queueing link may) and passes it on. */
class Holder extends NestedLink {
  readonly held: PacketBuffer[] = [];
  constructor(inner: LinkEndpoint) {
    super(inner);
  }
  override writePackets(pkts: readonly PacketBuffer[]): number {
    for (const p of pkts) this.held.push(p);
    return this.inner.writePackets(pkts);
  }
}

describe("TCP hot path invariants", () => {
  it("every data segment a link holds keeps its own payload after later segments are sent (PacketBuffer outbound ownership)", () => {
    let holder: Holder | null = null;
    const p = new TcpPair({ mtu: 1500, wrapA: (l) => (holder = new Holder(l)) });
    const { client, server, listener } = p.connectPair();
    listener.close();
    const pattern = new Pattern(11);
    const total = 200_000;
    const w = new Writer(client, total, pattern);
    let got = 0;
    const rbuf = new Uint8Array(65536);
    p.runUntil(() => got >= total, 600_000, () => {
      w.pump();
      for (;;) {
        const r = server.read(rbuf);
        if ("count" in r && r.count > 0) got += r.count;
        else break;
      }
    });
    expect(got).toBe(total);
    // Sequence number of the client's first data byte: the SYN's plus one.
    const h = holder as unknown as Holder;
    const iss = outboundSeq(h.held[0]!);
    let dataSegs = 0;
    for (const pkt of h.held) {
      if (pkt.payloadSize === 0) continue;
      dataSegs++;
      const t = pkt.transportHeader;
      const b = pkt.buf;
      const off = (outboundSeq(pkt) - iss - 1) >>> 0;
      const payload = concatViews(pkt.payload);
      expect(payload.length).toBe(pkt.payloadSize);
      expect(Buffer.compare(payload, pattern.at(off, payload.length))).toBe(0);
      expect((b[t + 12]! >>> 4) * 4).toBeGreaterThanOrEqual(TCP_MIN_HEADER);
    }
    expect(dataSegs).toBeGreaterThan(100);
    p.close();
  });

  it("TSval follows the clock across operations and after an inbound batch (RFC 7323 §5.4: one reading per operation or batch, never kept longer)", () => {
    const peer = new TcpPeer();
    const ep = newTcp(peer.stack);
    ep.setSockOpt("noDelay", true); // small writes leave at once (no Nagle hold)
    ep.connect(addr(B, 80));
    const syn = peer.one();
    peer.stackPort = syn.srcPort;
    peer.peerPort = 80;
    peer.send({ seq: PEER_ISS, ack: syn.seq + 1, flags: SYN | ACK, opts: { mss: 1460, hasTimestamp: true, tsVal: 1, tsEcr: syn.options.tsVal } });
    const hs = peer.one();
    expect(hs.options.hasTimestamp).toBe(true);
    const t0 = hs.options.tsVal;
    // Two application writes 50 ms apart: each is its own operation with its own reading.
    ok(ep.write(bytes(10)));
    const w1 = peer.one();
    peer.advance(50);
    ok(ep.write(bytes(10, 10)));
    const w2 = peer.one();
    expect(w1.options.tsVal).toBe(t0);
    expect(w2.options.tsVal).toBe((t0 + 50) >>> 0);
    // An inbound batch of two data segments (ACKing our 20 bytes): answered at the batch's end
    // with the batch's reading.
    peer.advance(20);
    const ackNo = (syn.seq + 1 + 20) >>> 0;
    peer.sendBatch([
      { seq: PEER_ISS + 1, ack: ackNo, flags: ACK | PSH, payload: bytes(100), opts: { hasTimestamp: true, tsVal: 2, tsEcr: w2.options.tsVal } },
      { seq: PEER_ISS + 101, ack: ackNo, flags: ACK | PSH, payload: bytes(100, 100), opts: { hasTimestamp: true, tsVal: 2, tsEcr: w2.options.tsVal } },
    ]);
    const answers = peer.sent();
    expect(answers.length).toBeGreaterThan(0);
    for (const a of answers) expect(a.options.tsVal).toBe((t0 + 70) >>> 0);
    // After the batch the reading is gone: the next operation sees the clock again.
    peer.advance(30);
    ok(ep.write(bytes(10, 20)));
    const w3 = peer.one();
    expect(w3.options.tsVal).toBe((t0 + 100) >>> 0);
  });

  it("an application callback that throws during a batch's flush does not strand the other endpoints' flushes (their ACKs and wakeups still come)", () => {
    const p = new TcpPair({ mtu: 1500 });
    const c1 = p.connectPair(81);
    const c2 = p.connectPair(82);
    let throwOnce = true;
    c1.server.waiterQueue.register({ callback: () => {
      if (throwOnce) {
        throwOnce = false;
        throw new Error("application bug");
      }
    } }, EventIn);
    let woken2 = 0;
    c2.server.waiterQueue.register({ callback: () => woken2++ }, EventIn);
    // Both arrive in one inbound batch at b; the first flush (c1's) throws out of the drain.
    ok(c1.client.write(bytes(100)));
    ok(c2.client.write(bytes(100)));
    expect(() => p.settle()).toThrow("application bug");
    // Later traffic on c2 alone: its endpoint still gets flushed at batch ends, so it is woken
    // and acknowledges everything.
    ok(c2.client.write(bytes(100, 100)));
    p.runUntil(() => c2.client.snd.sndUna === c2.client.snd.sndNxt, 10_000);
    expect(woken2).toBeGreaterThan(0);
    const buf = new Uint8Array(1000);
    const r = ok(c2.server.read(buf));
    expect(r.count).toBe(200);
    p.close();
  });
});
