/**
 * The receive side's memory and window: the out-of-order queue's cost and caps (a flood of tiny
 * segments full of holes is cheap to process and bounded; Linux's tcp_prune_ofo_queue when it is
 * full), the receive queue never growing past the buffer (RFC 9293 §3.10.7.4: data beyond the
 * window is trimmed), and receive-buffer auto-tuning (Linux's tcp_moderate_rcvbuf = 1) growing
 * the window for a reader that keeps up on a long, fast path.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  A, ACK, PEER_ISS, PSH, SYN, TcpPair, TcpPeer, Pattern, Reader, Writer, addr, buildPacket, bytes, expectNull, newTcp, ok,
  parseSent, type SentSegment,
} from "./helpers/tcp-harness.js";
import { seqAdd, seqLEQ } from "../src/transport/tcp/seqnum.js";
import { OOO_REFUSED, OutOfOrderQueue } from "../src/transport/tcp/rcvqueue.js";
import { MIN_OOO_PIECES, OOO_PIECE_COST } from "../src/transport/tcp/rcv.js";
import { isError } from "../src/tcpip/errors.js";
import type { TcpEndpoint } from "../src/transport/tcp/index.js";

const FC_SEED = Number(process.env.FC_SEED ?? 20261123);

/** CPU milliseconds spent in `f` (user + system). */
function cpuMs(f: () => void): number {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

/** A naive model of the out-of-order queue's contents: byte offset -> held. */
function runsOf(held: Uint8Array, base: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < held.length; i++) {
    if (!held[i]) continue;
    let j = i;
    while (j < held.length && held[j]) j++;
    out.push(seqAdd(base, i), seqAdd(base, j));
    i = j;
  }
  return out;
}

describe("out-of-order queue structure (binary search, O(1) append, runs for SACK)", () => {
  it("holds 30,000 one-byte holes inserted ascending, descending or shuffled, and reassembles them", () => {
    const N = 30_000;
    const base = 0xffff0000; // across the wrap
    const orders: [string, number[]][] = [
      ["ascending", Array.from({ length: N }, (_, i) => i)],
      ["descending", Array.from({ length: N }, (_, i) => N - 1 - i)],
      ["shuffled", (() => {
        const a = Array.from({ length: N }, (_, i) => i);
        let x = 12345;
        for (let i = a.length - 1; i > 0; i--) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const j = x % (i + 1);
          [a[i], a[j]] = [a[j]!, a[i]!];
        }
        return a;
      })()],
    ];
    for (const [name, order] of orders) {
      const q = new OutOfOrderQueue();
      const ms = cpuMs(() => {
        for (const k of order) q.insert(seqAdd(base, 2 * k + 1), Uint8Array.of(k & 0xff), base);
      });
      console.log(`out-of-order queue: ${N} one-byte holes inserted ${name} in ${ms.toFixed(1)} ms CPU`);
      expect(q.length).toBe(N);
      expect(q.runCount).toBe(N);
      expect(q.bytes).toBe(N);
      // The run lookup SACK generation uses.
      expect(q.runIndexOf(seqAdd(base, 2 * 777 + 1))).toBe(777);
      expect(q.runIndexOf(seqAdd(base, 2 * 777))).toBe(-1);
      // One segment filling every hole: the runs merge into one, and the stream drains whole.
      const fill = new Uint8Array(2 * N);
      for (let k = 0; k < N; k++) fill[2 * k + 1] = k & 0xff;
      expect(q.insert(seqAdd(base, 1), fill.subarray(1), base)).toBe(N - 1);
      expect(q.runCount).toBe(1);
      expect([q.runStart(0), q.runEnd(0)]).toEqual([seqAdd(base, 1), seqAdd(base, 2 * N)]);
      const got: number[] = [];
      let nxt = seqAdd(base, 1);
      for (let v = q.takeAt(nxt); v !== null; v = q.takeAt(nxt)) {
        for (const b of v) got.push(b);
        nxt = seqAdd(nxt, v.length);
      }
      expect(got.length).toBe(2 * N - 1);
      expect(got).toEqual(Array.from(fill.subarray(1)));
      expect(q.length).toBe(0);
      expect(q.runCount).toBe(0);
    }
  });

  it("at its piece cap refuses a segment above everything held, and prunes the highest piece for a lower one", () => {
    const q = new OutOfOrderQueue();
    const nxt = 1000;
    for (let k = 0; k < 4; k++) expect(q.insert(nxt + 10 * (k + 1), bytes(2), nxt, 4)).toBe(2);
    expect(q.insert(nxt + 100, bytes(5), nxt, 4)).toBe(OOO_REFUSED);
    expect(q.length).toBe(4);
    expect(q.pruned).toBe(0);
    // A segment nearer RCV.NXT: the highest piece (at 1040) goes, never the lower data.
    expect(q.insert(nxt + 5, bytes(1), nxt, 4)).toBe(1);
    expect(q.length).toBe(4);
    expect(q.pruned).toBe(1);
    const runs: number[] = [];
    q.blocks(runs);
    expect(runs).toEqual([1005, 1006, 1010, 1012, 1020, 1022, 1030, 1032]);
    expect(q.bytes).toBe(7);
  });

  it("keeps pieces, runs and byte count equal to a naive model under any arrival order, cap and draining (property)", () => {
    const piece = fc.tuple(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 120 }));
    const step = fc.oneof(piece.map(([o, l]) => ({ kind: "ins" as const, o, l })), fc.integer({ min: 1, max: 200 }).map((n) => ({ kind: "adv" as const, n })));
    const prop = fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 12 }), (steps, cap) => {
      const q = new OutOfOrderQueue();
      let nxt = 0xfffffe00;
      // held[i]: byte nxtBase + i is held; nxtOff: RCV.NXT as an offset.
      const nxtBase = nxt;
      const held = new Uint8Array(2000);
      let nxtOff = 0;
      for (const s of steps) {
        if (s.kind === "ins") {
          const off = nxtOff + s.o;
          const before = q.pruned;
          const r = q.insert(seqAdd(nxtBase, off), bytes(s.l, off), nxt, cap);
          if (r === OOO_REFUSED) {
            // Refused only when full and entirely above what is held.
            expect(q.length).toBe(cap);
            expect(seqLEQ(q.highestEnd, seqAdd(nxtBase, off))).toBe(true);
            continue;
          }
          held.fill(1, off, off + s.l);
          if (q.pruned !== before) {
            // Pruning takes whole pieces from the top (piece boundaries are not visible in the
            // model): the queue must equal the model cut at the queue's highest end.
            const end = q.length > 0 ? (q.highestEnd - nxtBase) >>> 0 : nxtOff;
            held.fill(0, end);
          }
        } else {
          // The hole in front is filled in order: RCV.NXT moves, data continuing it is taken.
          nxtOff += s.n;
          nxt = seqAdd(nxtBase, nxtOff);
          held.fill(0, 0, nxtOff);
          for (let v = q.takeAt(nxt); v !== null; v = q.takeAt(nxt)) {
            expect(v).toEqual(bytes(v.length, nxtOff));
            held.fill(0, nxtOff, nxtOff + v.length);
            nxtOff += v.length;
            nxt = seqAdd(nxtBase, nxtOff);
          }
        }
        expect(q.length).toBeLessThanOrEqual(cap);
        const runs: number[] = [];
        q.blocks(runs);
        expect(runs).toEqual(runsOf(held, nxtBase));
        let n = 0;
        for (const b of held) n += b;
        expect(q.bytes).toBe(n);
        expect(q.runCount * 2).toBe(runs.length);
      }
    });
    try {
      fc.assert(prop, { seed: FC_SEED, numRuns: 300 });
    } catch (e) {
      console.error(`replay: FC_SEED=${FC_SEED} npx vitest run packages/netstack/test/tcp-rcvbuf.test.ts`);
      throw e;
    }
  });
});

/** A passive open from the scripted peer offering SACK (and a window scale when `wscale` >= 0). */
function sackServer(peer: TcpPeer, opts: { rcvBuf?: number; wscale?: number } = {}) {
  const l = newTcp(peer.stack);
  if (opts.rcvBuf !== undefined) expectNull(l.setSockOpt("receiveBufferSize", opts.rcvBuf));
  expectNull(l.bind(addr(A, 80)));
  expectNull(l.listen(8));
  peer.stackPort = 80;
  const ws = opts.wscale ?? -1;
  peer.send({ seq: PEER_ISS, flags: SYN, opts: { mss: 1460, sackPermitted: true, ...(ws >= 0 ? { wscale: ws } : {}) } });
  const synack = peer.one();
  peer.send({ seq: PEER_ISS + 1, ack: synack.seq + 1, flags: ACK, window: 65535 });
  const ep = ok(l.accept()).endpoint as TcpEndpoint;
  return { ep, ack: (synack.seq + 1) >>> 0, nxt: PEER_ISS + 1 };
}

/** Injects prebuilt packets without parsing the stack's answers (they queue on the channel); CPU ms. */
function inject(peer: TcpPeer, pkts: Uint8Array[]): number {
  peer.link.onWrite = null;
  const ms = cpuMs(() => {
    for (const p of pkts) peer.link.inject(p);
  });
  return ms;
}

/** Parses the last `keep` segments the stack wrote (dropping the rest). */
function lastSent(peer: TcpPeer, keep: number): SentSegment[] {
  const all: Uint8Array[] = [];
  for (let b = peer.link.read(); b !== null; b = peer.link.read()) all.push(b);
  peer.link.onWrite = null;
  return all.slice(-keep).map((b) => parseSent(b, peer.clock.now()));
}

function sackBlocksOf(s: SentSegment): number[] {
  const o = s.options;
  const r: number[] = [];
  for (let i = 0; i < o.sackBlockCount; i++) r.push(o.sackBlocks[2 * i]! >>> 0, o.sackBlocks[2 * i + 1]! >>> 0);
  return r;
}

describe("out-of-order flood at an endpoint (issue: tiny segments full of holes)", () => {
  const HOLES = 30_000;
  /** One-byte segments at every other offset: HOLES holes in front of HOLES pieces. */
  function holes(peer: TcpPeer, c: { ack: number; nxt: number }, data: Uint8Array): Uint8Array[] {
    const pkts: Uint8Array[] = [];
    for (let k = 0; k < HOLES; k++) {
      const off = 2 * k + 1;
      pkts.push(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
        seq: (c.nxt + off) >>> 0, ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(off, off + 1),
      }));
    }
    return pkts;
  }
  function fillAndRead(peer: TcpPeer, ep: TcpEndpoint, c: { ack: number; nxt: number }, data: Uint8Array): Uint8Array {
    peer.link.onWrite = null;
    for (let off = 0; off < data.length; off += 1460) {
      peer.link.inject(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
        seq: (c.nxt + off) >>> 0, ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(off, Math.min(off + 1460, data.length)),
      }));
    }
    const got = new Uint8Array(data.length + 10);
    let n = 0;
    for (;;) {
      const r = ep.read(got.subarray(n));
      if (isError(r) || r.count === 0) break;
      n += r.count;
    }
    return got.subarray(0, n);
  }

  it("default buffer: 30,000 one-byte holes cost little CPU; the queue keeps buffer/256 pieces, the rest are counted drops", () => {
    const peer = new TcpPeer();
    const c = sackServer(peer);
    const ep = c.ep;
    const data = new Uint8Array(2 * HOLES).map((_, i) => (i * 31 + 7) & 0xff);
    const pkts = holes(peer, c, data);
    const ms = inject(peer, pkts);
    const cap = Math.max(MIN_OOO_PIECES, Math.floor(131072 / OOO_PIECE_COST));
    console.log(`out-of-order flood, default buffer: ${HOLES} one-byte holes processed in ${ms.toFixed(1)} ms CPU (${ep.rcv.ooo.length} kept)`);
    expect(cap).toBe(512);
    expect(ep.rcv.ooo.length).toBe(cap);
    expect(ep.rcv.ooo.bytes).toBe(cap);
    expect(ep.rcv.ofoDrop).toBe(HOLES - cap);
    expect(ep.proto.counters.ofoDrops).toBe(HOLES - cap);
    // Every segment was answered at once (RFC 5681 §4.2), the last one still SACKing what is held.
    const last = lastSent(peer, 1)[0]!;
    expect(last.ack).toBe(c.nxt);
    const top = (c.nxt + 2 * cap) >>> 0;
    expect(sackBlocksOf(last).slice(0, 2)).toEqual([(top - 1) >>> 0, top]);
    // The holes filled: the exact stream is delivered.
    const got = fillAndRead(peer, ep, c, data);
    expect(got.length).toBe(data.length);
    expect(Buffer.compare(got, data)).toBe(0);
    expect(ep.rcv.ooo.length).toBe(0);
  });

  it("8 MiB SO_RCVBUF: all 30,000 holes are held (binary search + append), SACK blocks stay right, and reassembly is exact", () => {
    const peer = new TcpPeer();
    const c = sackServer(peer, { rcvBuf: 4 << 20 });
    const ep = c.ep;
    expect(ep.rcv.maxOooPieces()).toBe((8 << 20) / OOO_PIECE_COST);
    const data = new Uint8Array(2 * HOLES).map((_, i) => (i * 17 + 3) & 0xff);
    const ms = inject(peer, holes(peer, c, data));
    console.log(`out-of-order flood, 8 MiB buffer: ${HOLES} one-byte holes held in ${ms.toFixed(1)} ms CPU`);
    expect(ep.rcv.ooo.length).toBe(HOLES);
    expect(ep.rcv.ooo.runCount).toBe(HOLES);
    expect(ep.rcv.ofoDrop).toBe(0);
    // RFC 2018 §4: the newest segment's block first, then the most recently reported ones.
    const last = lastSent(peer, 1)[0]!;
    const at = (k: number) => (c.nxt + 2 * k + 1) >>> 0;
    expect(sackBlocksOf(last)).toEqual([
      at(HOLES - 1), at(HOLES - 1) + 1, at(HOLES - 2), at(HOLES - 2) + 1, at(HOLES - 3), at(HOLES - 3) + 1, at(HOLES - 4), at(HOLES - 4) + 1,
    ]);
    // A duplicate of held out-of-order data is reported as a D-SACK first (RFC 2883 §4.2).
    peer.link.inject(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
      seq: at(100), ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(201, 202),
    }));
    const dup = lastSent(peer, 1)[0]!;
    expect(sackBlocksOf(dup).slice(0, 4)).toEqual([at(100), at(100) + 1, at(100), at(100) + 1]);
    const got = fillAndRead(peer, ep, c, data);
    expect(got.length).toBe(data.length);
    expect(Buffer.compare(got, data)).toBe(0);
  });

  it("a stream of tiny contiguous segments behind one hole is collapsed into few pieces, not dropped (Linux's tcp_collapse_ofo_queue)", () => {
    const peer = new TcpPeer();
    const c = sackServer(peer);
    const ep = c.ep;
    const N = 20_000;
    const data = new Uint8Array(N + 1).map((_, i) => (i * 7 + 1) & 0xff);
    const pkts: Uint8Array[] = [];
    for (let off = 1; off <= N; off++) {
      pkts.push(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
        seq: c.nxt + off, ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(off, off + 1),
      }));
    }
    inject(peer, pkts);
    expect(ep.rcv.ooo.bytes).toBe(N);
    expect(ep.rcv.ooo.length).toBeLessThanOrEqual(Math.ceil(N / 512));
    expect(ep.rcv.ooo.runCount).toBe(1);
    expect(ep.rcv.ofoDrop).toBe(0);
    const last = lastSent(peer, 1)[0]!;
    expect(sackBlocksOf(last).slice(0, 2)).toEqual([(c.nxt + 1) >>> 0, (c.nxt + N + 1) >>> 0]);
    // The hole filled: one read returns the whole stream.
    peer.link.inject(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
      seq: c.nxt, ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(0, 1),
    }));
    const got = new Uint8Array(N + 10);
    expect(ok(ep.read(got)).count).toBe(N + 1);
    expect(got.subarray(0, N + 1)).toEqual(data);
  });

  it("with the piece cap reached, data nearer RCV.NXT evicts the highest piece (Linux's prune), and in-order data is never dropped", () => {
    const peer = new TcpPeer();
    const c = sackServer(peer);
    const ep = c.ep;
    const cap = ep.rcv.maxOooPieces();
    const data = new Uint8Array(4 * cap + 10).map((_, i) => (i * 13) & 0xff);
    // Pieces at offsets 4, 8, ..., 4*cap: the cap is reached.
    peer.link.onWrite = null;
    for (let k = 1; k <= cap; k++) {
      peer.link.inject(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
        seq: c.nxt + 4 * k, ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(4 * k, 4 * k + 1),
      }));
    }
    expect(ep.rcv.ooo.length).toBe(cap);
    const before = ep.proto.counters.ofoPruned;
    // Three bytes in order, then a piece at offset 6 (below most of the queue).
    peer.link.inject(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
      seq: c.nxt, ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(0, 3),
    }));
    peer.link.inject(buildPacket(peer.remote, peer.local, peer.peerPort, 80, {
      seq: c.nxt + 6, ack: c.ack, flags: ACK, window: 65535, payload: data.subarray(6, 7),
    }));
    expect(ep.rcv.ooo.length).toBe(cap);
    expect(ep.proto.counters.ofoPruned).toBe(before + 1);
    expect(ep.rcv.ooo.highestEnd).toBe((c.nxt + 4 * (cap - 1) + 1) >>> 0);
    // The in-order bytes are all there.
    const buf = new Uint8Array(16);
    const r = ok(ep.read(buf));
    expect(r.count).toBe(3);
    expect(buf.subarray(0, 3)).toEqual(data.subarray(0, 3));
  });
});

describe("the receive queue never grows past the buffer (RFC 9293 §3.10.7.4: text beyond the window is trimmed)", () => {
  it("without window scaling, in-order data beyond the offered window is cut at its right edge and not queued", () => {
    const peer = new TcpPeer();
    const c = sackServer(peer, { rcvBuf: 16384 }); // 32768 after doubling
    const ep = c.ep;
    const buf = ok(ep.getSockOpt("receiveBufferSize"));
    expect(buf).toBe(32768);
    const data = new Uint8Array(50_000).map((_, i) => i & 0xff);
    peer.sent();
    let acked = c.nxt;
    let win = 0;
    for (let off = 0; off < data.length; off += 1000) {
      peer.send({ seq: c.nxt + off, ack: c.ack, flags: ACK | PSH, window: 65535, payload: data.subarray(off, off + 1000) });
      for (const a of peer.sent()) {
        acked = a.ack;
        win = a.window;
      }
      expect(ok(ep.getSockOpt("receiveQueueSize"))).toBeLessThanOrEqual(buf);
    }
    // Exactly the buffer was taken; the rest (beyond the edge) was refused and the window is shut.
    expect(ok(ep.getSockOpt("receiveQueueSize"))).toBe(buf);
    expect(acked).toBe((c.nxt + buf) >>> 0);
    expect(win).toBe(0);
    expect(ep.rcv.rcvQDrop).toBe(0);
  });

  it("with window scaling, tiny segments to a reader that never reads cannot creep the window past buffer + slack (RFC 7323 §2.4, Appendix F)", () => {
    const peer = new TcpPeer({ tcp: { receiveBufferSize: 16384 } });
    const c = sackServer(peer, { wscale: 0 });
    const ep = c.ep;
    expect(ep.rcv.wndScale).toBe(7);
    const limit = 16384 + ep.rcv.slack();
    peer.sent();
    let off = 0;
    let peerEdge = (c.nxt + 16384) >>> 0; // unscaled window of the SYN-ACK, at most the buffer
    let sends = 0;
    // The peer sends 37-byte segments (never a multiple of 128) as far as the window it was told allows.
    for (; sends < 5000; sends++) {
      const room = (peerEdge - ((c.nxt + off) >>> 0)) | 0;
      if (room <= 0) break;
      const n = Math.min(37, room);
      peer.send({ seq: c.nxt + off, ack: c.ack, flags: ACK | PSH, window: 65535, payload: bytes(n, off) });
      off += n;
      for (const a of peer.sent()) peerEdge = (a.ack + a.window * 128) >>> 0;
      expect(ok(ep.getSockOpt("receiveQueueSize"))).toBeLessThanOrEqual(limit);
    }
    // The window closed after at most buffer + slack bytes.
    expect(sends).toBeLessThan(5000);
    expect(off).toBeLessThanOrEqual(limit);
    expect(off).toBeGreaterThanOrEqual(16384 - 128);
    expect(ep.receiveWindow).toBe(0);
    expect(ok(ep.getSockOpt("receiveBufferSize"))).toBe(16384);
  });

  it("SO_RCVBUF lowered under a window already offered: in-order data past the new buffer is cut and counted (Linux's TCPRcvQDrop)", () => {
    const peer = new TcpPeer();
    const c = sackServer(peer, { rcvBuf: 16384 });
    const ep = c.ep;
    peer.sent();
    expectNull(ep.setSockOpt("receiveBufferSize", 2048)); // 4096: below the 32768 offered
    peer.send({ seq: c.nxt, ack: c.ack, flags: ACK | PSH, window: 65535, payload: bytes(1400) });
    peer.send({ seq: c.nxt + 1400, ack: c.ack, flags: ACK | PSH, window: 65535, payload: bytes(1400, 1400) });
    peer.send({ seq: c.nxt + 2800, ack: c.ack, flags: ACK | PSH, window: 65535, payload: bytes(1400, 2800) });
    expect(ok(ep.getSockOpt("receiveQueueSize"))).toBe(4096);
    expect(ep.rcv.rcvQDrop).toBe(1);
    const acks = peer.sent();
    expect(acks[acks.length - 1]!.ack).toBe((c.nxt + 4096) >>> 0);
    const got = new Uint8Array(8192);
    expect(ok(ep.read(got)).count).toBe(4096);
    expect(got.subarray(0, 4096)).toEqual(bytes(4096));
  });
});

describe("receive-buffer auto-tuning (Linux tcp_moderate_rcvbuf = 1, tcp_rcv_space_adjust)", () => {
  const RTT_HALF = 25; // 50 ms round trip
  const TOTAL = 8 << 20;

  /**
   * Sends TOTAL bytes a -> b over a 50 ms RTT, 200 Mbit/s path (a bandwidth-delay product of
   * 1.25 MB, ten times the default buffer); returns virtual ms, the largest window b offered and
   * b's final SO_RCVBUF. (The bandwidth limit makes the path realistic: the segments arrive
   * spaced out and the receiver sends its usual ACK per two segments.)
   */
  function transfer(rcvBuf?: number, readerKeepsUp = true, tcp = {}) {
    const p = new TcpPair({
      faultsA: { delayMs: RTT_HALF, bandwidthBps: 200e6, queueBytes: 8 << 20 }, faultsB: { delayMs: RTT_HALF }, tcp,
    });
    const { client, server } = p.connectPair(80, (_cl, l) => {
      if (rcvBuf !== undefined) expectNull(l.setSockOpt("receiveBufferSize", rcvBuf));
    });
    const w = new Writer(client, TOTAL, new Pattern(5));
    const r = new Reader(server);
    let maxWin = 0;
    const start = p.clock.now();
    const each = () => {
      w.pump();
      if (readerKeepsUp) r.pump();
      if (server.receiveWindow > maxWin) maxWin = server.receiveWindow;
    };
    if (readerKeepsUp) {
      p.runUntil(() => r.received === TOTAL, 120_000, each);
      expect(r.hash.digest("hex")).toBe(w.hash.digest("hex"));
    } else {
      p.runUntil(() => p.clock.now() - start >= 5_000, 120_000, each);
    }
    const ms = p.clock.now() - start;
    const buf = ok(server.getSockOpt("receiveBufferSize"));
    const queued = ok(server.getSockOpt("receiveQueueSize"));
    const slack = server.rcv.slack();
    const rcvRtt = server.rcv.rcvRtt;
    p.close();
    return { ms, maxWin, buf, queued, slack, rcvRtt };
  }

  it("a reader that keeps up: the buffer and window grow past 131072 toward tcp_rmem[2], and the transfer is faster than with SO_RCVBUF fixed", () => {
    const auto = transfer();
    const fixed = transfer(65536); // 131072 after doubling, locked
    console.log(`8 MiB over a 50 ms RTT: auto-tuned ${auto.ms.toFixed(0)} ms (window up to ${auto.maxWin}, SO_RCVBUF ${auto.buf}); ` +
      `SO_RCVBUF=131072 ${fixed.ms.toFixed(0)} ms (window up to ${fixed.maxWin})`);
    expect(auto.buf).toBeGreaterThan(131072);
    expect(auto.buf).toBeLessThanOrEqual(6291456);
    expect(auto.maxWin).toBeGreaterThan(131072);
    expect(fixed.buf).toBe(131072);
    expect(fixed.maxWin).toBeLessThanOrEqual(131072);
    expect(auto.ms).toBeLessThan(fixed.ms / 2);
    // The receiver measured the path's round trip from the timestamps it got echoed (RFC 7323 §4).
    expect(auto.rcvRtt).toBeGreaterThanOrEqual(50);
  });

  it("a reader that does not read: the buffer stays at 131072 and the queue within buffer + slack", () => {
    const idle = transfer(undefined, false);
    expect(idle.buf).toBe(131072);
    expect(idle.maxWin).toBeLessThanOrEqual(131072);
    expect(idle.queued).toBeGreaterThan(131072 - 1500);
    expect(idle.queued).toBeLessThanOrEqual(131072 + idle.slack);
  });

  it("without timestamps, the time to receive a window's worth of data paces it (Linux's tcp_rcv_rtt_measure)", () => {
    const nots = transfer(undefined, true, { timestamps: false });
    expect(nots.buf).toBeGreaterThan(131072);
    expect(nots.maxWin).toBeGreaterThan(131072);
    expect(nots.rcvRtt).toBeGreaterThanOrEqual(50);
  });

  it("grows no further than maxAutoReceiveBuffer (tcp_rmem[2]), and not at all with moderateReceiveBuffer off", () => {
    const capped = transfer(undefined, true, { maxAutoReceiveBuffer: 300_000 });
    expect(capped.buf).toBe(300_000);
    const off = transfer(undefined, true, { moderateReceiveBuffer: false });
    expect(off.buf).toBe(131072);
    expect(off.maxWin).toBeLessThanOrEqual(131072);
  });
});
