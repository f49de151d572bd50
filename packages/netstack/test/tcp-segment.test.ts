/**
 * Segment.parse reads the option layout of nearly every segment of a timestamped connection
 * (NOP, NOP, TS: RFC 7323 Appendix A) directly instead of walking the list. The record it leaves
 * must be exactly the one parseTcpOptions produces, for that layout and for everything near it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PacketBuffer } from "../src/buffer/packet.js";
import { newTcpOptions, parseTcpOptions, type TcpOptions } from "../src/header/tcp.js";
import { OutOptions, Segment, SegmentOk, buildSegment } from "../src/transport/tcp/segment.js";
import { checksum, pseudoHeaderChecksum } from "../src/header/checksum.js";
import { TCP_PROTOCOL } from "../src/tcpip/address.js";
import type { Route } from "../src/stack/registration.js";
import { assertProperty } from "./header-property.js";

/** A TCP header with `opts` as its options (padded to 32 bits with EOL) and a 3-byte payload. */
function segmentBytes(opts: Uint8Array): Uint8Array {
  const optLen = (opts.length + 3) & ~3;
  const b = new Uint8Array(20 + optLen + 3);
  b[0] = 0x30; b[1] = 0x39; // source port 12345
  b[2] = 0x00; b[3] = 0x50; // destination port 80
  b[4] = 0x89; b[5] = 0xab; b[6] = 0xcd; b[7] = 0xef; // sequence number above 2^31
  b[12] = ((20 + optLen) >>> 2) << 4;
  b[13] = 0x18; // PSH, ACK
  b[14] = 0xff; b[15] = 0xff;
  b.set(opts, 20);
  return b;
}

function parsed(b: Uint8Array, seg: Segment): TcpOptions {
  const pkt = PacketBuffer.inbound(b);
  pkt.checksumOffloaded = true; // the options are under test, not the checksum
  expect(seg.parse(pkt)).toBe(SegmentOk);
  return seg.options;
}

function reference(b: Uint8Array): TcpOptions {
  const o = newTcpOptions();
  const hl = (b[12]! >>> 4) * 4;
  parseTcpOptions(b, 20, hl - 20, o);
  return o;
}

function same(a: TcpOptions, b: TcpOptions): void {
  expect({ ...a, sackBlocks: a.sackBlocks.subarray(0, 2 * a.sackBlockCount) })
    .toEqual({ ...b, sackBlocks: b.sackBlocks.subarray(0, 2 * b.sackBlockCount) });
}

describe("Segment.parse options (RFC 9293 §3.1, RFC 7323 §3)", () => {
  it("reads NOP, NOP, TS as parseTcpOptions does, and clears what an earlier segment left in the record", () => {
    const seg = new Segment();
    // An earlier segment with every option, then the common layout: nothing of the first may remain.
    const full = segmentBytes(Uint8Array.of(2, 4, 5, 0xb4, 3, 3, 7, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2));
    same(parsed(full, seg), reference(full));
    expect(seg.options.mss).toBe(1460);
    const ts = segmentBytes(Uint8Array.of(1, 1, 8, 10, 0xf0, 0, 0, 1, 0x80, 0, 0, 2));
    const o = parsed(ts, seg);
    same(o, reference(ts));
    expect(o).toMatchObject({ hasTimestamp: true, tsVal: 0xf0000001, tsEcr: 0x80000002, mss: 0, wscale: -1, sackPermitted: false,
      sackBlockCount: 0 });
    expect(seg.seq).toBe(0x89abcdef);
    expect(seg.payloadLen).toBe(3);
  });

  it("agrees with parseTcpOptions on 12-byte option areas near the common layout (seed 7323)", () => {
    // Start from NOP, NOP, TS and change up to three bytes, often to option kinds and lengths.
    const byte = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 8, 10, 12), fc.integer({ min: 0, max: 255 }));
    const arb = fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.array(fc.tuple(fc.nat({ max: 11 }), byte), { maxLength: 3 }));
    const seg = new Segment();
    let fast = 0;
    assertProperty(
      fc.property(arb, ([ts, edits]) => {
        const opts = Uint8Array.of(1, 1, 8, 10, ...ts);
        for (const [i, v] of edits) opts[i] = v;
        if (opts[0] === 1 && opts[1] === 1 && opts[2] === 8 && opts[3] === 10) fast++;
        const b = segmentBytes(opts);
        same(parsed(b, seg), reference(b));
      }),
      7323,
      2000,
    );
    expect(fast).toBeGreaterThan(100);
  });
});

describe("buildSegment's checksum (RFC 9293 §3.1: over the pseudo-header, the header and the data)", () => {
  const SRC = Uint8Array.of(198, 18, 0, 1);
  const DST = Uint8Array.of(10, 200, 3, 4);
  /** The parts of a Route buildSegment uses. */
  const route = {
    maxHeaderLength: 20,
    txChecksumOffload: false,
    pseudoHeaderChecksum: (proto: number, len: number) => pseudoHeaderChecksum(proto, SRC, 0, DST, 0, 4, len),
  } as unknown as Route;

  it("verifies at a receiver, and is the same whether sequence numbers come as uint32 or int32 (seed 9293)", () => {
    const arb = fc.record({
      sport: fc.integer({ min: 0, max: 0xffff }), dport: fc.integer({ min: 0, max: 0xffff }),
      seq: fc.integer({ min: 0, max: 0xffffffff }), ack: fc.integer({ min: 0, max: 0xffffffff }),
      flags: fc.integer({ min: 0, max: 0xfff }), window: fc.integer({ min: 0, max: 0x1ffff }),
      mss: fc.constantFrom(0, 536, 1460, 0x1ffff), ts: fc.boolean(), tsVal: fc.integer({ min: 0, max: 0xffffffff }),
      sack: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 6 }),
      pieces: fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 4 }),
    });
    assertProperty(
      fc.property(arb, (f) => {
        const build = (rep: (x: number) => number): Uint8Array => {
          const o = new OutOptions();
          o.mss = f.mss;
          o.ts = f.ts;
          o.tsVal = f.tsVal;
          o.sackCount = f.sack.length >> 1;
          o.sack.set(f.sack.slice(0, 2 * o.sackCount));
          const pieces = f.pieces.filter((p) => p.length > 0).map((p) => p.slice());
          const len = pieces.reduce((n, p) => n + p.length, 0);
          const pkt = buildSegment(route, f.sport, f.dport, rep(f.seq), rep(f.ack), f.flags, f.window, o.length() > 0 ? o : null,
            pieces.length > 0 ? pieces : null, len);
          return pkt.toBytes();
        };
        const b = build((x) => x >>> 0);
        expect(build((x) => x | 0)).toEqual(b);
        expect(checksum(b, 0, b.length, pseudoHeaderChecksum(TCP_PROTOCOL, SRC, 0, DST, 0, 4, b.length))).toBe(0xffff);
        expect(((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0).toBe(f.seq);
      }),
      9293,
      1500,
    );
  });
});
