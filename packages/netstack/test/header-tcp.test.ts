import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checksum, finishChecksum, pseudoHeaderChecksum } from "../src/header/checksum.js";
import { ParseError } from "../src/header/parse.js";
import {
  TCP_ACK,
  TCP_MIN_HEADER,
  TCP_PSH,
  TCP_SYN,
  TCPView,
  encodeTcp,
  encodeTcpOptions,
  newTcpOptions,
  parseTcp,
  parseTcpOptions,
  tcpOptionsSize,
  type TcpFields,
  type TcpOptions,
  type TcpOptionsSpec,
} from "../src/header/tcp.js";
import { TCP_PROTOCOL } from "../src/tcpip/address.js";
import { assertProperty, hex, probeArb, probeCheck, u16, u32 } from "./header-property.js";

const arbFields: fc.Arbitrary<TcpFields> = fc.record({
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  flags: fc.nat({ max: 255 }),
  window: u16,
  urgent: u16,
  checksum: u16,
});

const arbSpec: fc.Arbitrary<TcpOptionsSpec> = fc.record({
  mss: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffff })),
  wscale: fc.integer({ min: -1, max: 14 }),
  sackPermitted: fc.boolean(),
  hasTimestamp: fc.boolean(),
  tsVal: u32,
  tsEcr: u32,
  sackBlocks: fc.array(u32, { maxLength: 8 }).map((a) => Uint32Array.from(a.length & 1 ? a.slice(1) : a)),
});

/** What a receiver should decode from `encodeTcpOptions(spec)`. */
function expectedOptions(spec: TcpOptionsSpec): Omit<TcpOptions, "sackBlocks"> & { sackBlocks: number[] } {
  const fixed =
    (spec.mss ? 4 : 0) + (spec.hasTimestamp ? 12 : spec.sackPermitted ? 4 : 0) + ((spec.wscale ?? -1) >= 0 ? 4 : 0);
  const asked = (spec.sackBlocks?.length ?? 0) >>> 1;
  const n = Math.min(asked, 4, Math.floor((40 - fixed - 4) / 8));
  return {
    mss: spec.mss ?? 0,
    wscale: spec.wscale ?? -1,
    sackPermitted: spec.sackPermitted ?? false,
    hasTimestamp: spec.hasTimestamp ?? false,
    tsVal: spec.hasTimestamp ? spec.tsVal! : 0,
    tsEcr: spec.hasTimestamp ? spec.tsEcr! : 0,
    sackBlockCount: n,
    sackBlocks: Array.from(spec.sackBlocks ?? []).slice(0, 2 * n),
  };
}

function decoded(o: TcpOptions) {
  return { ...o, sackBlocks: Array.from(o.sackBlocks.subarray(0, 2 * o.sackBlockCount)) };
}

/** Any valid segment: header, options written in place, payload. */
const arbSegment = fc
  .tuple(arbFields, arbSpec, fc.uint8Array({ maxLength: 64 }))
  .map(([f, spec, payload]) => {
    const buf = new Uint8Array(60 + payload.length);
    const optLen = encodeTcpOptions(buf, TCP_MIN_HEADER, spec);
    const hl = encodeTcp(buf, 0, f, optLen);
    buf.set(payload, hl);
    return buf.subarray(0, hl + payload.length);
  });

function opts(bytes: string): { ok: boolean; o: TcpOptions } {
  const b = hex(bytes);
  const o = newTcpOptions();
  const ok = parseTcpOptions(b, 0, b.length, o);
  return { ok, o };
}

describe("TCPView / encodeTcp (RFC 9293 §3.1)", () => {
  it("round-trips random header fields, options and payload through encode → check → parse (seed 9293)", () => {
    assertProperty(
      fc.property(arbFields, arbSpec, fc.uint8Array({ maxLength: 100 }), fc.nat({ max: 9 }), (f, spec, payload, at) => {
        const buf = new Uint8Array(at + 60 + payload.length + 3);
        const optLen = encodeTcpOptions(buf, at + TCP_MIN_HEADER, spec);
        expect(optLen).toBe(tcpOptionsSize(spec));
        expect(optLen % 4).toBe(0);
        expect(optLen).toBeLessThanOrEqual(40);
        const hl = encodeTcp(buf, at, f, optLen);
        expect(hl).toBe(20 + optLen);
        buf.set(payload, at + hl);
        const v = TCPView.check(buf, at, hl + payload.length);
        if (v instanceof ParseError) throw new Error(v.reason);
        const r = parseTcp(v);
        expect(r).toMatchObject({
          srcPort: f.srcPort,
          dstPort: f.dstPort,
          seq: f.seq,
          ack: f.ack,
          flags: f.flags,
          window: f.window,
          urgent: f.urgent,
          checksum: f.checksum,
          dataOffset: hl,
          payloadLength: payload.length,
          optionsValid: true,
        });
        expect(decoded(r.options)).toEqual(expectedOptions(spec));
        expect(v.optionsOffset).toBe(at + 20);
        expect(v.optionsLength).toBe(optLen);
        expect(v.payloadOffset).toBe(at + hl);
        expect(Array.from(v.payload())).toEqual(Array.from(payload));
      }),
      9293,
      1000,
    );
  });

  it("copies raw option bytes from fields.options, padding them with EOL to a 4-byte multiple", () => {
    const buf = new Uint8Array(60).fill(0xee);
    const hl = encodeTcp(buf, 0, { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_SYN, window: 5, options: hex("020405b4 010303") });
    expect(hl).toBe(28);
    expect(Array.from(buf.subarray(20, 28))).toEqual([2, 4, 5, 0xb4, 1, 3, 3, 0]);
    const v = TCPView.check(buf, 0, hl) as TCPView;
    const o = newTcpOptions();
    expect(v.parseOptions(o)).toBe(true);
    expect(o.mss).toBe(1460);
    expect(o.wscale).toBe(0);
  });

  it("rejects option lengths that are not a 4-byte multiple or exceed 40 bytes (programmer errors throw)", () => {
    const buf = new Uint8Array(80);
    const f = { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: 0, window: 5 };
    expect(() => encodeTcp(buf, 0, f, 6)).toThrow(RangeError);
    expect(() => encodeTcp(buf, 0, f, 44)).toThrow(RangeError);
    expect(() => encodeTcp(buf, 0, { ...f, options: new Uint8Array(41) })).toThrow(RangeError);
  });

  it("check rejects fewer than 20 bytes, a data offset below 5 words, and a data offset past the segment", () => {
    const buf = new Uint8Array(40);
    encodeTcp(buf, 0, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_ACK, window: 0 });
    expect(TCPView.check(buf, 0, 20)).toBeInstanceOf(TCPView);
    expect(TCPView.check(buf, 0, 19)).toBe(ParseError.TooShort);
    buf[12] = 4 << 4;
    expect(TCPView.check(buf, 0, 40)).toBe(ParseError.BadLength);
    buf[12] = 11 << 4; // 44 bytes of header
    expect(TCPView.check(buf, 0, 40)).toBe(ParseError.BadLength);
    buf[12] = 10 << 4;
    expect(TCPView.check(buf, 0, 40)).toBeInstanceOf(TCPView);
    expect(TCPView.check(buf, 30, 20)).toBe(ParseError.BadLength); // range past the buffer
    expect(TCPView.check(buf, -1, 20)).toBe(ParseError.BadLength);
  });

  it("reads seq/ack as unsigned 32-bit and exposes every control bit", () => {
    const buf = new Uint8Array(20);
    encodeTcp(buf, 0, { srcPort: 0xffff, dstPort: 0x8000, seq: 0xffffffff, ack: 0x80000000, flags: 0xff, window: 0xffff });
    const v = TCPView.check(buf) as TCPView;
    expect(v.seq).toBe(0xffffffff);
    expect(v.ack).toBe(0x80000000);
    expect(v.flags).toBe(0xff);
    expect(v.srcPort).toBe(0xffff);
  });

  it("verifies a checksum computed over pseudo-header, header and payload; setChecksum writes in place", () => {
    const src = hex("0a000001");
    const dst = hex("0a000002");
    const buf = new Uint8Array(25);
    encodeTcp(buf, 0, { srcPort: 1234, dstPort: 80, seq: 1, ack: 2, flags: TCP_ACK | TCP_PSH, window: 100 });
    buf.set(hex("68656c6c6f"), 20);
    const pseudo = pseudoHeaderChecksum(TCP_PROTOCOL, src, 0, dst, 0, 4, 25);
    const v = TCPView.check(buf) as TCPView;
    v.setChecksum(finishChecksum(checksum(buf, 0, 25, pseudo)));
    expect(v.isChecksumValid(pseudo)).toBe(true);
    buf[24] ^= 1;
    expect(v.isChecksumValid(pseudo)).toBe(false);
  });

  it("check never throws on arbitrary bytes and its accessors stay inside the checked range (seed 9294)", () => {
    let views = 0;
    const out = newTcpOptions();
    assertProperty(
      fc.property(probeArb(arbSegment), (p) => {
        const ok = probeCheck(TCPView.check, p, (v) => [v.isChecksumValid(0x1234), v.parseOptions(out), decoded(out).sackBlocks]);
        if (ok) views++;
      }),
      9294,
      2000,
    );
    expect(views).toBeGreaterThan(200); // the property exercised real views, not only errors
  });
});

describe("TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018)", () => {
  it("writes Linux's SYN layout: MSS, SACK-permitted + TS, NOP + WS", () => {
    const buf = new Uint8Array(40);
    const n = encodeTcpOptions(buf, 0, { mss: 1460, sackPermitted: true, hasTimestamp: true, tsVal: 0x01020304, tsEcr: 0, wscale: 7 });
    expect(n).toBe(20);
    expect(Array.from(buf.subarray(0, n))).toEqual(Array.from(hex("020405b4 0402080a 01020304 00000000 01030307")));
  });

  it("writes NOP,NOP,TS and NOP,NOP,SACK blocks on an established connection", () => {
    const buf = new Uint8Array(40);
    const n = encodeTcpOptions(buf, 0, { hasTimestamp: true, tsVal: 5, tsEcr: 6, sackBlocks: Uint32Array.of(100, 200) });
    expect(Array.from(buf.subarray(0, n))).toEqual(
      Array.from(hex("0101080a 00000005 00000006 0101050a 00000064 000000c8")),
    );
  });

  it("leaves out SACK blocks that do not fit: 3 with timestamps, 4 without (RFC 2018 §3)", () => {
    const blocks = Uint32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(tcpOptionsSize({ hasTimestamp: true, sackBlocks: blocks })).toBe(12 + 4 + 24);
    expect(tcpOptionsSize({ sackBlocks: blocks })).toBe(4 + 32);
    expect(tcpOptionsSize({ sackBlocks: blocks, sackBlockCount: 2 })).toBe(4 + 16);
    const buf = new Uint8Array(40);
    const n = encodeTcpOptions(buf, 0, { hasTimestamp: true, sackBlocks: blocks });
    const o = newTcpOptions();
    expect(parseTcpOptions(buf, 0, n, o)).toBe(true);
    expect(o.sackBlockCount).toBe(3);
    expect(Array.from(o.sackBlocks.subarray(0, 6))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("round-trips random option sets (seed 7323)", () => {
    const o = newTcpOptions();
    assertProperty(
      fc.property(arbSpec, fc.nat({ max: 5 }), (spec, at) => {
        const buf = new Uint8Array(at + 40);
        const n = encodeTcpOptions(buf, at, spec);
        expect(n).toBe(tcpOptionsSize(spec));
        expect(parseTcpOptions(buf, at, n, o)).toBe(true);
        expect(decoded(o)).toEqual(expectedOptions(spec));
      }),
      7323,
      1000,
    );
  });

  it("skips unknown kinds by their length", () => {
    const { ok, o } = opts("fe06abcdabcd 1e03ff 020405b4 01");
    expect(ok).toBe(true);
    expect(o.mss).toBe(1460);
  });

  it("ignores a known kind carrying the wrong length, skipping it by that length", () => {
    const { ok, o } = opts("020305 0304070a 080a0000000100000002");
    expect(ok).toBe(true);
    expect(o.mss).toBe(0); // MSS with length 3: ignored
    expect(o.wscale).toBe(-1); // WS with length 4: ignored
    expect(o.hasTimestamp).toBe(true);
    expect(o.tsVal).toBe(1);
    expect(o.tsEcr).toBe(2);
  });

  it("reports malformed lengths (0, 1, past the end, missing length byte) as false, without throwing", () => {
    expect(opts("0200 020405b4").ok).toBe(false);
    expect(opts("0201 020405b4").ok).toBe(false);
    expect(opts("020505b4").ok).toBe(false);
    expect(opts("0101 08").ok).toBe(false);
    expect(opts("fe09 00000000").ok).toBe(false);
  });

  it("stops at EOL: nothing after it is decoded (RFC 9293 §3.1)", () => {
    const { ok, o } = opts("00 020405b4 0303ff");
    expect(ok).toBe(true);
    expect(o.mss).toBe(0);
    expect(o.wscale).toBe(-1);
    expect(opts("020405b4 00 fe00").ok).toBe(true); // garbage after EOL is not looked at
  });

  it("clamps a window scale above 14 to 14 (RFC 7323 §2.3)", () => {
    expect(opts("01030315").o.wscale).toBe(14);
    expect(opts("0103030e").o.wscale).toBe(14);
    expect(opts("01030300").o.wscale).toBe(0);
  });

  it("decodes SACK-permitted and 1..4 SACK blocks, rejecting block lengths that are not 2 + 8n", () => {
    expect(opts("0402").o.sackPermitted).toBe(true);
    const four = opts("0101 0522" + "00000001 00000002 00000003 00000004 00000005 00000006 fffffff0 ffffffff");
    expect(four.ok).toBe(true);
    expect(four.o.sackBlockCount).toBe(4);
    expect(Array.from(four.o.sackBlocks)).toEqual([1, 2, 3, 4, 5, 6, 0xfffffff0, 0xffffffff]);
    const bad = opts("050b 0000000100000002 ff");
    expect(bad.ok).toBe(true);
    expect(bad.o.sackBlockCount).toBe(0);
  });

  it("resets the reused record before each parse (no state leaks between segments)", () => {
    const o = newTcpOptions();
    parseTcpOptions(hex("020405b4 0402 080a0000000100000002 01030307"), 0, 20, o);
    expect(o.mss).toBe(1460);
    parseTcpOptions(hex("01010101"), 0, 4, o);
    expect(decoded(o)).toEqual({ mss: 0, wscale: -1, sackPermitted: false, hasTimestamp: false, tsVal: 0, tsEcr: 0, sackBlockCount: 0, sackBlocks: [] });
  });

  it("parseTcpOptions never throws on arbitrary bytes, offsets and lengths (seed 2018)", () => {
    const o = newTcpOptions();
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.integer({ min: -2, max: 64 }), fc.integer({ min: -2, max: 64 }), (b, off, len) => {
        const ok = parseTcpOptions(b, off, len, o);
        expect(typeof ok).toBe("boolean");
        for (const k of ["mss", "wscale", "tsVal", "tsEcr", "sackBlockCount"] as const) expect(Number.isInteger(o[k])).toBe(true);
        expect(o.wscale).toBeLessThanOrEqual(14);
        expect(o.sackBlockCount).toBeLessThanOrEqual(4);
      }),
      2018,
      2000,
    );
  });
});
