/**
 * Invariants behind the in-memory bulk path's per-segment savings (row 1a):
 * - the delivery queue keeps its arrays from batch to batch, yet never delivers a packet twice,
 *   loses one written during a (re-entrant) drain, or keeps a delivered buffer reachable;
 * - header areas are carved from a shared slab without a view per packet: each packet writes
 *   only its own bytes, and a packet that outgrows its reserve moves to a buffer of its own;
 * - inbound packets share one frozen empty payload list;
 * - the send buffer's chunk hint and exact-size view arrays cover the same bytes as a search;
 * - RACK keeps a bulk flight's record arrays between flights, and only while more data waits;
 * - the demuxer's one-entry cache never answers differently from its table.
 */
import { describe, expect, it } from "vitest";
import { PacketBuffer } from "../src/buffer/packet.js";
import { ManualClock } from "../src/clock/clock.js";
import { createPipe } from "../src/link/index.js";
import type { NetworkDispatcher } from "../src/link/index.js";
import { DeliveryGroup, DeliveryQueue } from "../src/link/delivery.js";
import { SendBuffer } from "../src/transport/tcp/sendbuf.js";
import { Rack } from "../src/transport/tcp/rack.js";
import { TransportDemuxer } from "../src/stack/demuxer.js";
import type { TransportEndpointHandler } from "../src/stack/registration.js";
import { Address, IPV4_PROTOCOL, TCP_PROTOCOL } from "../src/tcpip/address.js";

/** A test "IPv4" packet: version nibble 4, `len` bytes, a sequence number at bytes 4..7. */
function v4(seq: number, len = 40): Uint8Array {
  const b = new Uint8Array(len);
  b[0] = 0x45;
  new DataView(b.buffer).setUint32(4, seq);
  for (let i = 8; i < len; i++) b[i] = (seq * 7 + i) & 255;
  return b;
}

/** An outbound packet built as the stack builds one: `hdr` header bytes prepended, the rest a payload view. */
function outPkt(bytes: Uint8Array, hdr = 20, reserve = hdr): PacketBuffer {
  const pkt = PacketBuffer.outbound(reserve, bytes.length > hdr ? bytes.slice(hdr) : undefined);
  const off = pkt.prepend(hdr);
  pkt.buf.set(bytes.subarray(0, hdr), off);
  return pkt;
}

function seqOf(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4);
}

class Recorder implements NetworkDispatcher {
  readonly bytes: Uint8Array[] = [];
  readonly pkts: PacketBuffer[] = [];
  batches = 0;
  onPacket: ((pkt: PacketBuffer) => void) | null = null;
  deliverNetworkPacket(_protocol: number, pkt: PacketBuffer): void {
    this.bytes.push(pkt.data().slice());
    this.pkts.push(pkt);
    this.onPacket?.(pkt);
  }
  deliverBatchEnd(): void {
    this.batches++;
  }
}

describe("delivery queue reuse (link/delivery.ts)", () => {
  it("delivers every packet exactly once, in order, over batches of changing size with reused arrays", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    const rec = new Recorder();
    b.attach(rec);
    a.attach(new Recorder());
    let seq = 0;
    const expected: number[] = [];
    for (const size of [5, 1, 9, 0, 3, 9, 2]) {
      const pkts: PacketBuffer[] = [];
      for (let i = 0; i < size; i++) {
        expected.push(seq);
        pkts.push(outPkt(v4(seq++, 40 + (seq % 13))));
      }
      if (size > 0) expect(a.writePackets(pkts)).toBe(size);
      clock.advance(0);
    }
    expect(rec.bytes.map(seqOf)).toEqual(expected);
    expect(a.pipe.aToB.packets).toBe(expected.length);
    expect(a.pipe.queued).toBe(0);
  });

  it("a packet written by a dispatcher during a drain, and a re-entrant drain, lose and repeat nothing", () => {
    const group = new DeliveryGroup();
    const q = new DeliveryQueue(group, "microtask", undefined, 64, true, false);
    const rec = new Recorder();
    q.dispatcher = rec;
    let answered = false;
    rec.onPacket = (pkt) => {
      if (seqOf(pkt.data()) === 1 && !answered) {
        answered = true;
        // Written mid-batch: waits for the next drain ...
        q.push(outPkt(v4(100)));
        q.push(outPkt(v4(101)));
        // ... which a re-entrant caller may run right now (the spare arrays are in use above).
        expect(q.drain()).toBe(2);
        q.push(outPkt(v4(102)));
      }
    };
    for (let i = 0; i < 3; i++) q.push(outPkt(v4(i)));
    expect(q.drain()).toBe(3);
    expect(q.length).toBe(1);
    expect(q.drain()).toBe(1);
    expect(rec.bytes.map(seqOf)).toEqual([0, 1, 100, 101, 2, 102]);
    for (let i = 0; i < 4; i++) q.push(outPkt(v4(200 + i)));
    expect(q.drain()).toBe(4);
    expect(rec.bytes.map(seqOf).slice(6)).toEqual([200, 201, 202, 203]);
    expect(q.length).toBe(0);
  });

  it("keeps no reference to a delivered buffer in its reused arrays", () => {
    const group = new DeliveryGroup();
    const q = new DeliveryQueue(group, "microtask", undefined, 64, true, false);
    const rec = new Recorder();
    q.dispatcher = rec;
    // A large packet gets a buffer of its own: after delivery the queue must not hold it.
    q.push(outPkt(v4(1, 70_000)));
    q.push(outPkt(v4(2)));
    q.drain();
    const big = rec.pkts[0]!.buf;
    const held = (q as unknown as { q: unknown[]; spareQ: unknown[] | null });
    const all = [...held.q, ...(held.spareQ ?? [])];
    expect(all.includes(big)).toBe(false);
    expect(all.every((x) => x === null)).toBe(true);
  });

  it("copies word-aligned and unaligned header areas exactly (the word copy and the byte copy)", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    const rec = new Recorder();
    b.attach(rec);
    a.attach(new Recorder());
    const sent: Uint8Array[] = [];
    // Header lengths and reserves that put the header start on every alignment, odd lengths too.
    for (const [hdr, reserve] of [[20, 20], [52, 80], [21, 23], [22, 25], [40, 41], [3, 3], [7, 8]] as const) {
      const bytes = v4(sent.length, 100);
      sent.push(bytes);
      expect(a.writePackets([outPkt(bytes, hdr, reserve)])).toBe(1);
    }
    // A contiguous inbound-style packet at an odd offset of a buffer.
    const raw = new Uint8Array(200);
    const odd = v4(99, 60);
    raw.set(odd, 5);
    sent.push(odd);
    expect(a.writePackets([PacketBuffer.inbound(raw, 5, 60)])).toBe(1);
    clock.advance(0);
    expect(rec.bytes).toEqual(sent);
  });
});

describe("header areas carved from a shared slab (buffer/packet.ts)", () => {
  it("packets built one after another write only their own header bytes", () => {
    const pkts: PacketBuffer[] = [];
    for (let i = 0; i < 50; i++) {
      const p = PacketBuffer.outbound(60);
      const off = p.prepend(40);
      p.buf.fill(i + 1, off, off + 40);
      pkts.push(p);
    }
    pkts.forEach((p, i) => {
      expect(p.headerSize).toBe(40);
      expect(p.data().every((x) => x === i + 1)).toBe(true);
    });
  });

  it("a packet that outgrows its reserve moves to its own buffer and keeps its headers and layer offsets", () => {
    const before = PacketBuffer.outbound(16);
    const bo = before.prepend(16);
    before.buf.fill(0xaa, bo, bo + 16);
    const p = PacketBuffer.outbound(20, new Uint8Array([9, 9]));
    const after = PacketBuffer.outbound(16);
    const ao = after.prepend(16);
    after.buf.fill(0xbb, ao, ao + 16);
    const t = p.prepend(20);
    p.buf.fill(1, t, t + 20);
    p.transportHeader = t;
    const n = p.prepend(20);
    p.buf.fill(2, n, n + 20);
    p.networkHeader = n;
    // Room exhausted: this prepend grows into a buffer of its own.
    const l = p.prepend(14);
    p.buf.fill(3, l, l + 14);
    expect(p.buf.buffer).not.toBe(before.buf.buffer);
    expect(Array.from(p.data())).toEqual([...new Array(14).fill(3), ...new Array(20).fill(2), ...new Array(20).fill(1)]);
    expect(p.buf[p.networkHeader]).toBe(2);
    expect(p.buf[p.transportHeader]).toBe(1);
    expect(Array.from(p.toBytes().subarray(54))).toEqual([9, 9]);
    // The neighbours' bytes are untouched.
    expect(before.data().every((x) => x === 0xaa)).toBe(true);
    expect(after.data().every((x) => x === 0xbb)).toBe(true);
  });

  it("inbound packets share one frozen, empty payload list", () => {
    const x = PacketBuffer.inbound(new Uint8Array(10));
    const y = PacketBuffer.inbound(new Uint8Array(20), 4, 8);
    expect(x.payload.length).toBe(0);
    expect(Object.isFrozen(y.payload)).toBe(true);
    expect(() => (y.payload as Uint8Array[]).push(new Uint8Array(1))).toThrow(TypeError);
    expect(y.size).toBe(8);
  });
});

describe("send buffer lookups (transport/tcp/sendbuf.ts)", () => {
  it("viewArray and views cover the same bytes for ranges in stream order, out of order, and across chunks", () => {
    const sb = new SendBuffer();
    const total = 700_000;
    const src = new Uint8Array(total);
    for (let i = 0; i < total; i++) src[i] = (i * 13 + 7) & 255;
    // Writes of varied sizes make chunks of varied sizes.
    for (let off = 0, k = 0; off < total; k++) {
      const n = Math.min(total - off, [1000, 70_000, 300_000, 5][k % 4]!);
      sb.append(src, off, n);
      off += n;
    }
    const check = (offset: number, len: number) => {
      const a = sb.viewArray(offset, len);
      const b: Uint8Array[] = [];
      sb.views(offset, len, b);
      const flat = new Uint8Array(len);
      let o = 0;
      for (const v of a) {
        flat.set(v, o);
        o += v.length;
      }
      expect(o).toBe(len);
      expect(a.length).toBe(b.length);
      expect(flat).toEqual(src.subarray(offset, offset + len));
    };
    for (let off = 0; off + 1448 <= total; off += 1448) check(off, 1448);
    for (const off of [650_000, 3, 299_000, 70_999, 0, 371_000, 699_000]) check(off, Math.min(1448, total - off));
    check(1000, 400_000);
    // After a release that drops chunks, the hint must not point at a stale index.
    sb.release(380_000);
    for (let off = 380_000; off + 1448 <= total; off += 7 * 1448) check(off, 1448);
    check(380_000, total - 380_000);
  });
});

describe("demuxer one-entry cache (stack/demuxer.ts)", () => {
  const fake = (): TransportEndpointHandler => ({ handlePacket() {}, handleError() {} }) as unknown as TransportEndpointHandler;
  const flags = { reuseAddr: false, reusePort: false };
  const local = Address.parse("10.0.0.1")!;
  const remote = Address.parse("10.0.0.2")!;
  // Packet bytes: the source (remote) address at 0, the destination (local) at 4.
  const b = new Uint8Array([10, 0, 0, 2, 10, 0, 0, 1]);
  const look = (d: TransportDemuxer, srcPort = 5000, dstPort = 80) =>
    d.lookup(TCP_PROTOCOL, IPV4_PROTOCOL, b, 0, 4, 4, srcPort, dstPort, 1);

  it("answers as the table does after unregister and register of the cached connection", () => {
    const d = new TransportDemuxer();
    const listener = fake();
    const conn = fake();
    expect(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], { localPort: 80, localAddress: null, remotePort: 0, remoteAddress: null },
      listener, flags, 0)).toBe(null);
    const connId = { localPort: 80, localAddress: local, remotePort: 5000, remoteAddress: remote };
    expect(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], connId, conn, flags, 0)).toBe(null);
    expect(look(d)).toEqual([conn]);
    expect(look(d)).toEqual([conn]); // cached
    expect(look(d, 5001)).toEqual([listener]); // another 4-tuple: the listener
    expect(look(d)).toEqual([conn]);
    d.unregister(TCP_PROTOCOL, [IPV4_PROTOCOL], connId, conn);
    expect(look(d)).toEqual([listener]);
    const conn2 = fake();
    expect(d.register(TCP_PROTOCOL, [IPV4_PROTOCOL], connId, conn2, flags, 0)).toBe(null);
    expect(look(d)).toEqual([conn2]);
    // A device-bound entry is not returned for another NIC even right after a hit on NIC 1.
    const d2 = new TransportDemuxer();
    const bound = fake();
    d2.register(TCP_PROTOCOL, [IPV4_PROTOCOL], connId, bound, flags, 1);
    expect(d2.lookup(TCP_PROTOCOL, IPV4_PROTOCOL, b, 0, 4, 4, 5000, 80, 1)).toEqual([bound]);
    expect(d2.lookup(TCP_PROTOCOL, IPV4_PROTOCOL, b, 0, 4, 4, 5000, 80, 2)).toBe(null);
  });
});

describe("RACK record arrays between bulk flights (transport/tcp/rack.ts)", () => {
  const slots = (r: Rack) => (r as unknown as { st: number[] }).st.length;
  const send = (r: Rack, a: number, b: number, now: number) => r.onTransmit(a >>> 0, b >>> 0, now, a >>> 0);

  it("keeps a flight's arrays while more data waits, shows only the next flight's records, and releases them when idle", () => {
    const r = new Rack();
    const base = 0xffff0000; // sequence numbers wrap inside the test
    for (let i = 0; i < 300; i++) send(r, base + i * 1000, base + (i + 1) * 1000, i);
    let end = (base + 300 * 1000) >>> 0;
    r.onCumulativeAck(end, 400, true);
    expect(r.count).toBe(0);
    expect(slots(r)).toBeGreaterThanOrEqual(300);
    // The next flight reuses the slots; the 300 stale records behind it stay invisible.
    for (let i = 0; i < 5; i++) send(r, end + i * 10, end + (i + 1) * 10, 500 + i);
    expect(r.count).toBe(5);
    expect(r.record(4)).toMatchObject({ start: (end + 40) >>> 0, end: (end + 50) >>> 0, flags: 0, xmitTs: 504 });
    expect(r.record(5)).toBeNull();
    expect(r.lastEnd()).toBe((end + 50) >>> 0);
    // RFC 8985 §6.2: the last is SACKed; the four before it (sent earlier) are lost once their
    // time is up, the stale slots are not.
    r.onSacked((end + 40) >>> 0, (end + 50) >>> 0, (end + 40) >>> 0, (end + 50) >>> 0, 600);
    r.detectLoss(10_000, 0);
    expect(r.lostBytes).toBe(40);
    end = (end + 50) >>> 0;
    // Nothing more to send: a large set of arrays is released.
    r.onCumulativeAck(end, 10_001, false);
    expect(r.count).toBe(0);
    expect(r.lostBytes).toBe(0);
    expect(slots(r)).toBe(0);
  });

  it("releases kept arrays that are more than twice the flight just acknowledged, even while more data waits", () => {
    const r = new Rack();
    for (let i = 0; i < 300; i++) send(r, i * 1000, (i + 1) * 1000, i);
    r.onCumulativeAck(300_000, 400, true);
    expect(slots(r)).toBeGreaterThanOrEqual(300);
    // A much smaller flight (the window shrank): its full ACK lets the big arrays go.
    for (let i = 0; i < 100; i++) send(r, 300_000 + i * 1000, 300_000 + (i + 1) * 1000, 500 + i);
    r.onCumulativeAck(400_000, 700, true);
    expect(slots(r)).toBe(0);
    expect(r.count).toBe(0);
  });
});
