import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import pcapp from "pcap-parser";
import { PacketBuffer } from "../src/buffer/packet.js";
import { ManualClock } from "../src/clock/clock.js";
import { SeededRandom } from "../src/clock/random.js";
import {
  CapLoopback,
  CapRxChecksumOffload,
  CapTxChecksumOffload,
  CapTxNoRetain,
  ChannelEndpoint,
  FaultEndpoint,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  LoopbackEndpoint,
  SnifferEndpoint,
  createPipe,
} from "../src/link/index.js";
import type { Faults, LinkEndpoint, NetworkDispatcher } from "../src/link/index.js";

// ---------------------------------------------------------------------------------------------
// Helpers

/** A fake NIC that records what it is given, and the batch boundaries. */
class Recorder implements NetworkDispatcher {
  readonly protos: number[] = [];
  readonly bytes: Uint8Array[] = [];
  readonly pkts: PacketBuffer[] = [];
  readonly events: string[] = [];
  batches = 0;
  deliverNetworkPacket(protocol: number, pkt: PacketBuffer): void {
    this.protos.push(protocol);
    this.bytes.push(pkt.data().slice());
    this.pkts.push(pkt);
    this.events.push("pkt");
  }
  deliverBatchEnd(): void {
    this.batches++;
    this.events.push("end");
  }
  /** Sequence numbers of the received test packets, in arrival order. */
  seqs(): number[] {
    return this.bytes.map(seqOf);
  }
}

/** A test "IPv4" packet: version nibble 4, `len` bytes, sequence number at bytes 4..7. */
function v4(seq: number, len = 40): Uint8Array {
  const b = new Uint8Array(len);
  b[0] = 0x45;
  b[2] = len >> 8;
  b[3] = len & 255;
  new DataView(b.buffer).setUint32(4, seq);
  for (let i = 8; i < len; i++) b[i] = (seq + i) & 255;
  return b;
}

function seqOf(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4);
}

/**
 * An outbound packet the way a stack builds one: a 20-byte header written in front of a
 * separate payload view, so links must flatten header area + payload pieces.
 */
function outPkt(bytes: Uint8Array): PacketBuffer {
  const hdr = Math.min(20, bytes.length);
  const pkt = PacketBuffer.outbound(hdr, bytes.length > hdr ? bytes.slice(hdr) : undefined);
  const off = pkt.prepend(hdr);
  pkt.buf.set(bytes.subarray(0, hdr), off);
  return pkt;
}

const tmpDirs: string[] = [];
function tmpFile(name: string): string {
  const d = mkdtempSync(join(tmpdir(), "netstack-links-"));
  tmpDirs.push(d);
  return join(d, name);
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

interface ParsedPcap {
  header: pcapp.GlobalHeader;
  records: { header: pcapp.PacketHeader; data: Uint8Array }[];
}

function parsePcap(input: string | Uint8Array): Promise<ParsedPcap> {
  return new Promise((resolve, reject) => {
    const parser = pcapp.parse(typeof input === "string" ? input : Readable.from([Buffer.from(input)]));
    let header: pcapp.GlobalHeader | null = null;
    const records: ParsedPcap["records"] = [];
    parser.on("globalHeader", (h) => (header = h));
    parser.on("packet", (p) => records.push({ header: p.header, data: new Uint8Array(p.data) }));
    parser.on("error", reject);
    parser.on("end", () => (header ? resolve({ header, records }) : reject(new Error("no pcap global header"))));
  });
}

function popcount8(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------

describe("ChannelEndpoint", () => {
  it("inject delivers one inbound packet with the protocol from the IP version nibble, then ends the batch", () => {
    const ch = new ChannelEndpoint({ mtu: 1500 });
    const rec = new Recorder();
    ch.attach(rec);
    const p4 = v4(1);
    const p6 = new Uint8Array(40);
    p6[0] = 0x60;
    expect(ch.inject(p4)).toBe(true);
    expect(ch.inject(p6)).toBe(true);
    expect(ch.inject(new Uint8Array([0x45]), 0x0806)).toBe(true);
    expect(rec.protos).toEqual([0x0800, 0x86dd, 0x0806]);
    expect(rec.events).toEqual(["pkt", "end", "pkt", "end", "pkt", "end"]);
    // Inbound ownership: the packet is a view of the injected bytes, not a copy.
    expect(rec.pkts[0]!.buf).toBe(p4);
    expect(rec.pkts[0]!.payload).toEqual([]);
    expect(rec.pkts[0]!.checksumOffloaded).toBe(false);
  });

  it("injectBatch delivers many packets and ends the batch once", () => {
    const ch = new ChannelEndpoint({ mtu: 1500, capabilities: CapRxChecksumOffload });
    const rec = new Recorder();
    ch.attach(rec);
    expect(ch.injectBatch([v4(1), v4(2), v4(3)])).toBe(3);
    expect(rec.events).toEqual(["pkt", "pkt", "pkt", "end"]);
    expect(rec.seqs()).toEqual([1, 2, 3]);
    expect(rec.pkts.every((p) => p.checksumOffloaded)).toBe(true);
  });

  it("drops and counts injections while unattached, without throwing", () => {
    const ch = new ChannelEndpoint({ mtu: 1500 });
    expect(ch.isAttached).toBe(false);
    expect(ch.inject(v4(1))).toBe(false);
    expect(ch.injectBatch([v4(2), v4(3)])).toBe(0);
    expect(ch.injectDrops).toBe(3);
  });

  it("queues flattened copies of written packets for read/drain, and calls onWrite", () => {
    const ch = new ChannelEndpoint({ mtu: 1500, linkAddress: Uint8Array.of(2, 0, 0, 0, 0, 1), maxHeaderLength: 14 });
    expect(ch.linkAddress).toEqual(Uint8Array.of(2, 0, 0, 0, 0, 1));
    expect(ch.maxHeaderLength).toBe(14);
    const calls: number[] = [];
    ch.onWrite = (n) => calls.push(n);
    const a = outPkt(v4(1, 100));
    expect(ch.writePackets([a, outPkt(v4(2, 60))])).toBe(2);
    expect(ch.writePackets([outPkt(v4(3, 20))])).toBe(1);
    expect(calls).toEqual([2, 1]);
    expect(ch.pending).toBe(3);
    const first = ch.read()!;
    expect(first).toEqual(v4(1, 100));
    // A copy: later changes to the written packet do not reach the queued bytes.
    a.payload[0]![0] ^= 0xff;
    expect(first).toEqual(v4(1, 100));
    expect(ch.drain().map(seqOf)).toEqual([2, 3]);
    expect(ch.pending).toBe(0);
    expect(ch.read()).toBeNull();
  });

  it("bounds its queue: the newest packets are dropped and counted", () => {
    const ch = new ChannelEndpoint({ mtu: 1500, queueSize: 3 });
    expect(ch.writePackets([1, 2, 3, 4, 5].map((s) => outPkt(v4(s))))).toBe(3);
    expect(ch.drops).toBe(2);
    expect(ch.read()).toEqual(v4(1));
    expect(ch.writePackets([outPkt(v4(6)), outPkt(v4(7))])).toBe(1);
    expect(ch.drops).toBe(3);
    expect(ch.drain().map(seqOf)).toEqual([2, 3, 6]);
  });
});

describe("pipe", () => {
  it("delivers both ways, in order, as private copies (timer mode, ManualClock)", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    expect(a.pipe).toBe(b.pipe);
    expect(a.pipe.mode).toBe("timer");
    const ra = new Recorder();
    const rb = new Recorder();
    a.attach(ra);
    b.attach(rb);
    const sent = [outPkt(v4(1, 100)), outPkt(v4(2, 60))];
    expect(a.writePackets(sent)).toBe(2);
    expect(b.writePackets([outPkt(v4(10))])).toBe(1);
    // Nothing arrives before the clock runs the drain.
    expect(rb.bytes).toEqual([]);
    // Mutating the sender's buffers after the write does not change what arrives.
    sent[0]!.buf[sent[0]!.start + 4] = 0xee;
    sent[0]!.payload[0]![0] = 0xee;
    clock.advance(0);
    expect(rb.bytes).toEqual([v4(1, 100), v4(2, 60)]);
    expect(rb.protos).toEqual([0x0800, 0x0800]);
    expect(ra.bytes).toEqual([v4(10)]);
    // Each delivered packet owns fresh memory: its own buffer, or a part of a receive slab that
    // no other packet's bytes overlap.
    const [p0, p1] = [rb.pkts[0]!.data(), rb.pkts[1]!.data()];
    expect(p0.buffer !== p1.buffer || p0.byteOffset + p0.length <= p1.byteOffset ||
      p1.byteOffset + p1.length <= p0.byteOffset).toBe(true);
    expect(rb.pkts[0]!.buf.buffer).not.toBe(sent[0]!.buf.buffer);
    expect(a.pipe.aToB).toMatchObject({ packets: 2, bytes: 160, drops: 0 });
    expect(a.pipe.bToA).toMatchObject({ packets: 1, bytes: 40, drops: 0 });
    expect(clock.pendingTimers()).toBe(0);
  });

  it("copies contiguous packets too (a forwarded inbound buffer may be reused by its owner)", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    const rb = new Recorder();
    b.attach(rb);
    const bytes = v4(5);
    a.writePackets([PacketBuffer.inbound(bytes)]);
    bytes.fill(0);
    clock.advance(0);
    expect(rb.bytes).toEqual([v4(5)]);
    expect(rb.pkts[0]!.buf).not.toBe(bytes);
  });

  it("delivers everything queued at drain time as one batch ending with deliverBatchEnd", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    const rb = new Recorder();
    b.attach(rb);
    a.attach(new Recorder());
    a.writePackets([outPkt(v4(1)), outPkt(v4(2)), outPkt(v4(3))]);
    a.writePackets([outPkt(v4(4)), outPkt(v4(5))]);
    expect(clock.pendingTimers()).toBe(1); // one drain scheduled, not one per write
    clock.advance(0);
    expect(rb.events).toEqual(["pkt", "pkt", "pkt", "pkt", "pkt", "end"]);
    expect(rb.seqs()).toEqual([1, 2, 3, 4, 5]);
  });

  it("marks deliveries checksum-verified only when the pipe has CapRxChecksumOffload", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock, capabilities: CapRxChecksumOffload | CapTxChecksumOffload });
    const [c, d] = createPipe({ mtu: 1500, clock });
    const rb = new Recorder();
    const rd = new Recorder();
    b.attach(rb);
    d.attach(rd);
    a.writePackets([outPkt(v4(1))]);
    c.writePackets([outPkt(v4(1))]);
    clock.advance(0);
    // A pipe copies what it is written: it always adds CapTxNoRetain.
    expect(b.capabilities).toBe(CapRxChecksumOffload | CapTxChecksumOffload | CapTxNoRetain);
    expect(rb.pkts[0]!.checksumOffloaded).toBe(true);
    expect(rd.pkts[0]!.checksumOffloaded).toBe(false);
  });

  it("counts writes toward an unattached (or closed) far side as drops, without throwing", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    expect(a.writePackets([outPkt(v4(1)), outPkt(v4(2))])).toBe(0);
    expect(a.pipe.aToB.drops).toBe(2);
    expect(clock.pendingTimers()).toBe(0);
    const rb = new Recorder();
    b.attach(rb);
    a.writePackets([outPkt(v4(3))]);
    b.close();
    clock.advance(0);
    expect(rb.bytes).toEqual([]);
    expect(a.pipe.aToB.drops).toBe(3);
    expect(clock.pendingTimers()).toBe(0);
    expect(a.writePackets([outPkt(v4(4))])).toBe(0);
    expect(a.pipe.aToB.drops).toBe(4);
  });

  it("bounds each direction's queue and drops the excess", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock, queueSize: 2 });
    const rb = new Recorder();
    b.attach(rb);
    expect(a.writePackets([1, 2, 3].map((s) => outPkt(v4(s))))).toBe(2);
    clock.advance(0);
    expect(rb.seqs()).toEqual([1, 2]);
    expect(a.pipe.aToB.drops).toBe(1);
  });

  it("drainAll pumps both directions until quiet without advancing the clock, leaving no timer", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    const ra = new Recorder();
    a.attach(ra);
    // b answers every packet once with seq + 100.
    b.attach({
      deliverNetworkPacket: (_p, pkt) => {
        const s = seqOf(pkt.data());
        if (s < 100) b.writePackets([outPkt(v4(s + 100))]);
      },
      deliverBatchEnd: () => {},
    });
    a.writePackets([outPkt(v4(1)), outPkt(v4(2))]);
    expect(a.pipe.queued).toBe(2);
    expect(a.pipe.drainAll()).toBe(4);
    expect(ra.seqs()).toEqual([101, 102]);
    expect(a.pipe.queued).toBe(0);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("drainAll gives up with an error after maxRounds when the far sides answer forever", () => {
    const [a, b] = createPipe({ mtu: 1500, clock: new ManualClock() });
    const echo = (ep: LinkEndpoint): NetworkDispatcher => ({
      deliverNetworkPacket: (_p, pkt) => void ep.writePackets([pkt]),
      deliverBatchEnd: () => {},
    });
    a.attach(echo(a));
    b.attach(echo(b));
    a.writePackets([outPkt(v4(1))]);
    expect(() => a.pipe.drainAll(50)).toThrow(/still busy/);
  });

  describe("ping-pong 10,000 times with dispatchers that answer from inside the delivery", () => {
    const HOPS = 10_000;
    /** Wires both ends to echo seq+1 until HOPS; tracks delivery nesting depth. */
    function wire(a: LinkEndpoint, b: LinkEndpoint, onDone: () => void) {
      const st = { hops: 0, depth: 0, maxDepth: 0, lastSeq: -1 };
      const echo = (self: LinkEndpoint): NetworkDispatcher => ({
        deliverNetworkPacket: (_p, pkt) => {
          st.depth++;
          st.maxDepth = Math.max(st.maxDepth, st.depth);
          const s = seqOf(pkt.data());
          expect(s).toBe(st.lastSeq + 1);
          st.lastSeq = s;
          st.hops++;
          if (st.hops < HOPS) self.writePackets([outPkt(v4(s + 1))]);
          else onDone();
          st.depth--;
        },
        deliverBatchEnd: () => {},
      });
      a.attach(echo(a));
      b.attach(echo(b));
      return st;
    }

    it("timer mode: clock.advance(0) runs the whole exchange with a flat call stack", () => {
      const clock = new ManualClock();
      const [a, b] = createPipe({ mtu: 1500, clock });
      const st = wire(a, b, () => {});
      a.writePackets([outPkt(v4(0))]);
      clock.advance(0);
      expect(st.hops).toBe(HOPS);
      expect(st.maxDepth).toBe(1);
      expect(a.pipe.aToB.packets + a.pipe.bToA.packets).toBe(HOPS);
      expect(clock.pendingTimers()).toBe(0);
    });

    it("sync mode: the outermost write delivers everything, nested writes only queue", () => {
      const [a, b] = createPipe({ mtu: 1500, deliver: "sync" });
      const st = wire(a, b, () => {});
      a.writePackets([outPkt(v4(0))]);
      expect(st.hops).toBe(HOPS);
      expect(st.maxDepth).toBe(1);
    });

    it("microtask mode (the default without a clock): delivered asynchronously, no recursion", async () => {
      const [a, b] = createPipe({ mtu: 1500 });
      expect(a.pipe.mode).toBe("microtask");
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const st = wire(a, b, () => done());
      a.writePackets([outPkt(v4(0))]);
      expect(st.hops).toBe(0); // not delivered inside writePackets
      await finished;
      expect(st.hops).toBe(HOPS);
      expect(st.maxDepth).toBe(1);
    });
  });

  it('rejects "timer" delivery without a clock (programmer error)', () => {
    expect(() => createPipe({ mtu: 1500, deliver: "timer" })).toThrow(TypeError);
  });
});

describe("LoopbackEndpoint", () => {
  it("delivers what is written back to the same dispatcher on the next drain", () => {
    const clock = new ManualClock();
    const lo = new LoopbackEndpoint({ clock });
    expect(lo.mtu).toBe(65536);
    expect(lo.capabilities).toBe(CapLoopback | CapRxChecksumOffload | CapTxChecksumOffload | CapTxNoRetain);
    expect(lo.maxHeaderLength).toBe(0);
    expect(lo.linkAddress.length).toBe(0);
    const rec = new Recorder();
    lo.attach(rec);
    const p = outPkt(v4(7, 300));
    expect(lo.writePackets([p, outPkt(v4(8))])).toBe(2);
    expect(rec.bytes).toEqual([]);
    p.payload[0]![0] ^= 1; // the loopback copied at write time
    clock.advance(0);
    expect(rec.bytes).toEqual([v4(7, 300), v4(8)]);
    expect(rec.events).toEqual(["pkt", "pkt", "end"]);
    expect(rec.protos).toEqual([0x0800, 0x0800]);
    expect(rec.pkts.every((x) => x.checksumOffloaded)).toBe(true);
    expect(lo.stats).toMatchObject({ packets: 2, bytes: 340, drops: 0 });
    expect(clock.pendingTimers()).toBe(0);
  });

  it("answers written from inside a delivery arrive in a later batch, not recursively", () => {
    const clock = new ManualClock();
    const lo = new LoopbackEndpoint({ clock });
    let depth = 0;
    let maxDepth = 0;
    const seen: number[] = [];
    lo.attach({
      deliverNetworkPacket: (_p, pkt) => {
        depth++;
        maxDepth = Math.max(maxDepth, depth);
        const s = seqOf(pkt.data());
        seen.push(s);
        if (s < 1000) lo.writePackets([outPkt(v4(s + 1))]);
        depth--;
      },
      deliverBatchEnd: () => {},
    });
    lo.writePackets([outPkt(v4(0))]);
    clock.advance(0);
    expect(seen.length).toBe(1001);
    expect(maxDepth).toBe(1);
  });

  it("drops writes while unattached and after close", () => {
    const clock = new ManualClock();
    const lo = new LoopbackEndpoint({ clock, mtu: 16384 });
    expect(lo.mtu).toBe(16384);
    expect(lo.writePackets([outPkt(v4(1))])).toBe(0);
    lo.attach(new Recorder());
    lo.writePackets([outPkt(v4(2))]);
    lo.close();
    expect(clock.pendingTimers()).toBe(0);
    expect(lo.writePackets([outPkt(v4(3))])).toBe(0);
    expect(lo.stats.drops).toBe(3);
    expect(lo.isAttached).toBe(false);
  });
});

describe("FaultEndpoint", () => {
  /** A fault endpoint over a channel; `arrivals` collects what reached the channel, with times. */
  function setup(faults: Partial<Faults>, seed = 1) {
    const clock = new ManualClock();
    const ch = new ChannelEndpoint({ mtu: 1500, queueSize: 1 << 16 });
    const arrivals: { t: number; bytes: Uint8Array }[] = [];
    ch.onWrite = () => {
      for (let b = ch.read(); b !== null; b = ch.read()) arrivals.push({ t: clock.now(), bytes: b });
    };
    const f = new FaultEndpoint(ch, { ...faults, random: new SeededRandom(seed), clock });
    return { clock, ch, f, arrivals, seqs: () => arrivals.map((a) => seqOf(a.bytes)) };
  }

  it("passes inner mtu, capabilities, link address and header length through", () => {
    const ch = new ChannelEndpoint({ mtu: 9000, capabilities: CapRxChecksumOffload, linkAddress: Uint8Array.of(1, 2, 3, 4, 5, 6), maxHeaderLength: 14 });
    const f = new FaultEndpoint(ch, { random: new SeededRandom(1), clock: new ManualClock() });
    expect([f.mtu, f.capabilities, f.maxHeaderLength]).toEqual([9000, CapRxChecksumOffload, 14]);
    expect(f.linkAddress).toBe(ch.linkAddress);
  });

  it("leaves the inbound direction untouched", () => {
    const { ch, f } = setup({ loss: 1, corrupt: 1 });
    const rec = new Recorder();
    f.attach(rec);
    expect(f.isAttached).toBe(true);
    const p = v4(5);
    ch.inject(p);
    expect(rec.pkts[0]!.buf).toBe(p);
    expect(rec.bytes).toEqual([v4(5)]);
  });

  it("loses a fraction ~p of 10,000 packets (p = 0.2, within 5 sigma)", () => {
    const { f, ch, seqs } = setup({ loss: 0.2 });
    for (let i = 0; i < 10_000; i++) expect(f.writePackets([outPkt(v4(i))])).toBe(1);
    expect(f.stats.lost).toBeGreaterThan(1800);
    expect(f.stats.lost).toBeLessThan(2200);
    expect(ch.written).toBe(10_000 - f.stats.lost);
    expect(f.stats.sent).toBe(ch.written);
    // The survivors keep their order.
    const s = seqs();
    expect(s.every((v, i) => i === 0 || v > s[i - 1]!)).toBe(true);
  });

  it("loses nothing at p = 0 and everything at p = 1; setFaults changes it at run time", () => {
    const { f, seqs } = setup({ loss: 1 });
    f.writePackets([outPkt(v4(1)), outPkt(v4(2))]);
    f.setFaults({ loss: 0 });
    f.writePackets([outPkt(v4(3)), outPkt(v4(4))]);
    expect(seqs()).toEqual([3, 4]);
    expect(f.stats.lost).toBe(2);
    expect(f.faults.loss).toBe(0);
    expect(() => f.setFaults({ loss: 1.5 })).toThrow(RangeError);
  });

  it("duplicates a fraction ~p of packets, each copy right behind its original", () => {
    const { f, seqs } = setup({ duplicate: 0.1 }, 2);
    for (let i = 0; i < 10_000; i++) f.writePackets([outPkt(v4(i))]);
    const d = f.stats.duplicated;
    expect(d).toBeGreaterThan(850);
    expect(d).toBeLessThan(1150);
    const s = seqs();
    expect(s.length).toBe(10_000 + d);
    // Collapsing adjacent repeats gives back 0..9999 exactly.
    const collapsed = s.filter((v, i) => i === 0 || v !== s[i - 1]);
    expect(collapsed).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it("reorders: held packets arrive right after their successor, and with no loss all arrive", () => {
    const { f, clock, seqs } = setup({ reorder: 0.1 }, 3);
    const N = 2000;
    for (let i = 0; i < N; i++) f.writePackets([outPkt(v4(i))]);
    clock.advance(5); // releases a packet still held at the end
    const s = seqs();
    expect([...s].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
    let inversions = 0;
    for (let i = 1; i < s.length; i++) {
      if (s[i]! < s[i - 1]!) {
        inversions++;
        expect(s[i]).toBe(s[i - 1]! - 1); // an adjacent swap: held one packet back
      }
    }
    expect(f.stats.reordered).toBeGreaterThan(100);
    expect(inversions).toBeGreaterThan(100);
    expect(inversions).toBeLessThanOrEqual(f.stats.reordered);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("sends a held packet after reorderHoldMs when no successor comes", () => {
    const { f, clock, arrivals } = setup({ reorder: 1, reorderHoldMs: 3 });
    f.writePackets([outPkt(v4(1))]);
    expect(arrivals.length).toBe(0);
    clock.advance(2.9);
    expect(arrivals.length).toBe(0);
    clock.advance(0.1);
    expect(arrivals.map((a) => [seqOf(a.bytes), a.t])).toEqual([[1, 3]]);
  });

  it("corrupts a copy with exactly one bit flipped, never the caller's packet", () => {
    const { f, arrivals } = setup({ corrupt: 1 }, 4);
    const bitsSeen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const want = v4(i, 20 + (i % 50));
      const pkt = outPkt(want);
      f.writePackets([pkt]);
      expect(pkt.toBytes()).toEqual(want); // the caller's packet is unchanged
      const got = arrivals[i]!.bytes;
      expect(got.length).toBe(want.length);
      let flipped = 0;
      for (let k = 0; k < want.length; k++) {
        const x = got[k]! ^ want[k]!;
        flipped += popcount8(x);
        if (x) bitsSeen.add(k * 8 + Math.clz32(x) - 24);
      }
      expect(flipped).toBe(1);
    }
    expect(f.stats.corrupted).toBe(300);
    expect(bitsSeen.size).toBeGreaterThan(100); // the flipped bit is spread over the packet
  });

  it("holds packets for delayMs until the clock advances", () => {
    const { f, clock, arrivals } = setup({ delayMs: 50 });
    f.writePackets([outPkt(v4(1)), outPkt(v4(2))]);
    clock.advance(10);
    f.writePackets([outPkt(v4(3))]);
    clock.advance(39.5);
    expect(arrivals).toEqual([]);
    clock.advance(0.5);
    expect(arrivals.map((a) => [seqOf(a.bytes), a.t])).toEqual([
      [1, 50],
      [2, 50],
    ]);
    clock.advance(10);
    expect(arrivals.map((a) => [seqOf(a.bytes), a.t])[2]).toEqual([3, 60]);
    expect(f.stats.delayed).toBe(3);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("adds jitter in [0, jitterMs) without reordering, with a single timer", () => {
    const { f, clock, arrivals, seqs } = setup({ delayMs: 20, jitterMs: 10 }, 5);
    for (let i = 0; i < 200; i++) f.writePackets([outPkt(v4(i))]);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(100);
    expect(seqs()).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const times = arrivals.map((a) => a.t);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...times)).toBeLessThan(30);
    expect(new Set(times).size).toBeGreaterThan(1); // jitter did spread them
    expect(clock.pendingTimers()).toBe(0);
  });

  it("spaces packets by size/rate under a bandwidth limit (1 Mbit/s: 1000 bytes per 8 ms)", () => {
    const { f, clock, arrivals } = setup({ bandwidthBps: 1_000_000 });
    f.writePackets([outPkt(v4(1, 1000)), outPkt(v4(2, 1000)), outPkt(v4(3, 1000))]);
    f.writePackets([outPkt(v4(4, 500))]);
    clock.advance(100);
    expect(arrivals.map((a) => seqOf(a.bytes))).toEqual([1, 2, 3, 4]);
    const t = arrivals.map((a) => a.t);
    expect(t[0]).toBeCloseTo(8, 9);
    expect(t[1]).toBeCloseTo(16, 9);
    expect(t[2]).toBeCloseTo(24, 9);
    expect(t[3]).toBeCloseTo(28, 9);
    // An idle link starts afresh: the next packet takes just its own serialization time.
    f.writePackets([outPkt(v4(5, 1000))]);
    clock.advance(100);
    expect(arrivals[4]!.t).toBeCloseTo(108, 9);
  });

  it("adds the propagation delay after serialization", () => {
    const { f, clock, arrivals } = setup({ bandwidthBps: 1_000_000, delayMs: 5 });
    f.writePackets([outPkt(v4(1, 1000)), outPkt(v4(2, 1000))]);
    clock.advance(100);
    expect(arrivals[0]!.t).toBeCloseTo(13, 9);
    expect(arrivals[1]!.t).toBeCloseTo(21, 9);
  });

  it("tail-drops what does not fit in queueBytes", () => {
    const { f, clock, seqs } = setup({ bandwidthBps: 1_000_000, queueBytes: 2000 });
    expect(f.writePackets([1, 2, 3, 4, 5].map((s) => outPkt(v4(s, 1000))))).toBe(5);
    expect(f.stats.queueDrops).toBe(3);
    clock.advance(8); // the first has left: room for one more
    f.writePackets([outPkt(v4(6, 1000))]);
    clock.advance(100);
    expect(seqs()).toEqual([1, 2, 6]);
    expect(f.stats.queueDrops).toBe(3);
  });

  it("is deterministic for a seed", () => {
    const run = (seed: number) => {
      const { f, clock, seqs } = setup({ loss: 0.1, duplicate: 0.05, reorder: 0.05, delayMs: 1, jitterMs: 2 }, seed);
      for (let i = 0; i < 500; i++) f.writePackets([outPkt(v4(i))]);
      clock.advance(100);
      return seqs();
    };
    expect(run(9)).toEqual(run(9));
    expect(run(9)).not.toEqual(run(10));
  });

  it("close() cancels its timers and drops what was queued", () => {
    const { f, clock, ch } = setup({ delayMs: 50, reorder: 1 });
    f.writePackets([outPkt(v4(1)), outPkt(v4(2)), outPkt(v4(3))]); // 1 held then released behind 2, 3 held
    expect(clock.pendingTimers()).toBe(2);
    f.close();
    f.close();
    expect(clock.pendingTimers()).toBe(0);
    expect(f.stats.closedDrops).toBe(3);
    expect(f.writePackets([outPkt(v4(4))])).toBe(0);
    clock.advance(100);
    expect(ch.written).toBe(0);
  });

  it("passes writes straight through when no fault is set", () => {
    const { f, ch, clock } = setup({});
    expect(f.writePackets([outPkt(v4(1)), outPkt(v4(2))])).toBe(2);
    expect(ch.written).toBe(2);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("damages both directions of a pipe when both ends are wrapped", () => {
    const clock = new ManualClock();
    const [a, b] = createPipe({ mtu: 1500, clock });
    const fa = new FaultEndpoint(a, { delayMs: 10, random: new SeededRandom(1), clock });
    const fb = new FaultEndpoint(b, { delayMs: 20, random: new SeededRandom(2), clock });
    const got: [string, number][] = [];
    fa.attach({ deliverNetworkPacket: () => got.push(["a", clock.now()]), deliverBatchEnd: () => {} });
    fb.attach({ deliverNetworkPacket: () => got.push(["b", clock.now()]), deliverBatchEnd: () => {} });
    fa.writePackets([outPkt(v4(1))]);
    fb.writePackets([outPkt(v4(2))]);
    clock.advance(100);
    expect(got).toEqual([
      ["b", 10],
      ["a", 20],
    ]);
  });
});

describe("SnifferEndpoint", () => {
  const hasTshark = spawnSync("which", ["tshark"], { encoding: "utf8" }).status === 0;

  it("writes a libpcap file (LINKTYPE_RAW) holding both directions in order, readable by pcap-parser", async () => {
    const path = tmpFile("raw.pcap");
    const clock = new ManualClock(0, 1_700_000_000_000);
    const [a, b] = createPipe({ mtu: 1500, clock, capabilities: CapRxChecksumOffload });
    const sn = new SnifferEndpoint(a, { path, clock });
    expect(sn.linkType).toBe(LINKTYPE_RAW);
    expect([sn.mtu, sn.capabilities, sn.maxHeaderLength]).toEqual([1500, CapRxChecksumOffload | CapTxNoRetain, 0]);
    const ra = new Recorder();
    sn.attach(ra);
    // b answers every packet with seq + 100.
    b.attach({
      deliverNetworkPacket: (_p, pkt) => void b.writePackets([outPkt(v4(seqOf(pkt.data()) + 100, 48))]),
      deliverBatchEnd: () => {},
    });
    const expected: Uint8Array[] = [];
    const times: number[] = [];
    for (let i = 1; i <= 3; i++) {
      clock.advance(1.5); // times 1.5, 3.0, 4.5 ms past the wall base
      sn.writePackets([outPkt(v4(i, 40 + i))]);
      expected.push(v4(i, 40 + i));
      times.push(clock.wallNow());
      clock.advance(0); // b receives and answers
      clock.advance(0); // the answer comes back through the sniffer
      expected.push(v4(i + 100, 48));
      times.push(clock.wallNow());
    }
    expect(ra.seqs()).toEqual([101, 102, 103]);
    expect(sn.records).toBe(6);

    // Read right after the traffic: the writes were synchronous.
    const raw = readFileSync(path);
    expect([...raw.subarray(0, 4)]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]); // 0xa1b2c3d4, little-endian
    const cap = await parsePcap(path);
    expect(cap.header).toMatchObject({ magicNumber: 0xa1b2c3d4, majorVersion: 2, minorVersion: 4, snapshotLength: 262144, linkLayerType: 101 });
    expect(cap.records.map((r) => r.data)).toEqual(expected);
    for (let i = 0; i < 6; i++) {
      const h = cap.records[i]!.header;
      expect(h.timestampSeconds * 1000 + h.timestampMicroseconds / 1000).toBeCloseTo(times[i]!, 6);
      expect(h.capturedLength).toBe(expected[i]!.length);
      expect(h.originalLength).toBe(expected[i]!.length);
    }

    if (hasTshark) {
      const out = execFileSync("tshark", ["-r", path, "-T", "fields", "-e", "frame.number"], { encoding: "utf8" });
      expect(out.split("\n").filter((l) => l.trim() !== "").length).toBe(6);
    } else {
      console.info("tshark not on PATH: skipping the tshark cross-check of the pcap file (optional)");
    }

    sn.close();
    sn.close();
    expect(a.isAttached).toBe(false);
    sn.writePackets([outPkt(v4(9))]);
    expect(sn.records).toBe(6);
    expect(readFileSync(path).length).toBe(raw.length);
  });

  it("streams to a sink with LINKTYPE_ETHERNET and truncates records to snaplen", async () => {
    const clock = new ManualClock();
    const ch = new ChannelEndpoint({ mtu: 1500 });
    const chunks: Uint8Array[] = [];
    const sn = new SnifferEndpoint(ch, { sink: (c) => chunks.push(c), snaplen: 64, clock, linkType: "ethernet" });
    expect(sn.linkType).toBe(LINKTYPE_ETHERNET);
    expect(chunks.length).toBe(1); // the file header is written up front
    const rec = new Recorder();
    sn.attach(rec);
    const frameOut = new Uint8Array(100).fill(0xab);
    const frameIn = new Uint8Array(30).fill(0xcd);
    sn.writePackets([outPkt(frameOut)]);
    ch.inject(frameIn, 0x0800);
    expect(rec.bytes).toEqual([frameIn]);
    expect(rec.protos).toEqual([0x0800]);
    expect(ch.read()).toEqual(frameOut);
    expect(sn.truncated).toBe(1);

    const cap = await parsePcap(Buffer.concat(chunks));
    expect(cap.header.linkLayerType).toBe(1);
    expect(cap.header.snapshotLength).toBe(64);
    expect(cap.records.length).toBe(2);
    expect(cap.records[0]!.header).toMatchObject({ capturedLength: 64, originalLength: 100 });
    expect(cap.records[0]!.data).toEqual(frameOut.subarray(0, 64));
    expect(cap.records[1]!.header).toMatchObject({ capturedLength: 30, originalLength: 30 });
    expect(cap.records[1]!.data).toEqual(frameIn);
  });

  it("records nothing inbound while unattached and needs exactly one of sink or path", () => {
    const clock = new ManualClock();
    const ch = new ChannelEndpoint({ mtu: 1500 });
    const sn = new SnifferEndpoint(ch, { sink: () => {}, clock });
    expect(sn.linkType).toBe(LINKTYPE_RAW); // the default: a sniffer under a NIC sees IP packets
    expect(ch.inject(v4(1))).toBe(false); // the inner link is not attached either
    expect(sn.records).toBe(0);
    expect(() => new SnifferEndpoint(ch, { clock })).toThrow(TypeError);
    expect(() => new SnifferEndpoint(ch, { clock, sink: () => {}, path: tmpFile("x.pcap") })).toThrow(TypeError);
  });
});
