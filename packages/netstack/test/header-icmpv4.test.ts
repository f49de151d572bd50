import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_FRAG_NEEDED,
  ICMPV4_PARAM_PROBLEM,
  ICMPV4_PORT_UNREACHABLE,
  ICMPV4_TIME_EXCEEDED,
  ICMPv4View,
  encodeIcmpv4,
  isIcmpv4Error,
  parseIcmpv4,
} from "../src/header/icmpv4.js";
import { ParseError } from "../src/header/parse.js";
import { assertProperty, hex, probeArb, probeCheck, u32 } from "./header-property.js";

const arbMessage = fc
  .record({ type: fc.nat({ max: 255 }), code: fc.nat({ max: 255 }), rest: u32, payload: fc.uint8Array({ maxLength: 100 }) });

describe("ICMPv4View / encodeIcmpv4 (RFC 792)", () => {
  it("round-trips random messages through encode → check → parse with a valid checksum (seed 792)", () => {
    assertProperty(
      fc.property(arbMessage, fc.nat({ max: 7 }), (f, at) => {
        const buf = new Uint8Array(at + 8 + f.payload.length);
        const n = encodeIcmpv4(buf, at, f);
        expect(n).toBe(8 + f.payload.length);
        const v = ICMPv4View.check(buf, at, n);
        if (v instanceof ParseError) throw new Error(v.reason);
        expect(v.isChecksumValid()).toBe(true);
        const r = parseIcmpv4(v);
        expect({ ...r, payload: Array.from(r.payload) }).toEqual({
          type: f.type,
          code: f.code,
          rest: f.rest,
          checksum: v.checksum,
          payload: Array.from(f.payload),
        });
        expect(v.ident).toBe(f.rest >>> 16);
        expect(v.sequence).toBe(f.rest & 0xffff);
        expect(v.payloadOffset).toBe(at + 8);
        expect(v.payloadLength).toBe(f.payload.length);
      }),
      792,
      1000,
    );
  });

  it("encodes an echo request whose checksum a receiver verifies, and detects corruption", () => {
    const buf = new Uint8Array(16);
    encodeIcmpv4(buf, 0, { type: ICMPV4_ECHO_REQUEST, code: 0, rest: (0x1234 << 16) | 7, payload: hex("6162636465666768") });
    const v = ICMPv4View.check(buf) as ICMPv4View;
    expect([v.type, v.code, v.ident, v.sequence]).toEqual([8, 0, 0x1234, 7]);
    expect(v.isChecksumValid()).toBe(true);
    buf[15] ^= 1;
    expect(v.isChecksumValid()).toBe(false);
  });

  it("reproduces the well-known checksum 0x4d5a of a Windows ping (id 1, seq 1, 32 bytes 'abc...ghi')", () => {
    // Checksum cross-checked with an independent Python byte-pair sum.
    const msg = hex("0800 4d5a 0001 0001 6162636465666768696a6b6c6d6e6f7071727374757677616263646566676869");
    const v = ICMPv4View.check(msg) as ICMPv4View;
    expect(v.isChecksumValid()).toBe(true);
    const re = new Uint8Array(msg.length);
    encodeIcmpv4(re, 0, { type: 8, code: 0, rest: 0x00010001, payload: msg.subarray(8) });
    expect(Array.from(re)).toEqual(Array.from(msg));
  });

  it("reads the next-hop MTU of 'fragmentation needed' (RFC 1191 §4) and the parameter-problem pointer", () => {
    const buf = new Uint8Array(36);
    encodeIcmpv4(buf, 0, { type: ICMPV4_DEST_UNREACHABLE, code: ICMPV4_FRAG_NEEDED, rest: 1400, payload: new Uint8Array(28) });
    expect((ICMPv4View.check(buf) as ICMPv4View).mtu).toBe(1400);
    encodeIcmpv4(buf, 0, { type: ICMPV4_PARAM_PROBLEM, code: 0, rest: 20 << 24 });
    expect((ICMPv4View.check(buf, 0, 8) as ICMPv4View).pointer).toBe(20);
  });

  it("check rejects fewer than 8 bytes", () => {
    expect(ICMPv4View.check(new Uint8Array(7))).toBe(ParseError.TooShort);
    expect(ICMPv4View.check(new Uint8Array(8))).toBeInstanceOf(ICMPv4View);
  });

  it("classifies error types vs queries (RFC 1122 §3.2.2: never answer an error with an error)", () => {
    expect(isIcmpv4Error(ICMPV4_DEST_UNREACHABLE)).toBe(true);
    expect(isIcmpv4Error(ICMPV4_TIME_EXCEEDED)).toBe(true);
    expect(isIcmpv4Error(ICMPV4_PARAM_PROBLEM)).toBe(true);
    expect(isIcmpv4Error(ICMPV4_ECHO_REQUEST)).toBe(false);
    expect(isIcmpv4Error(ICMPV4_ECHO_REPLY)).toBe(false);
    expect(ICMPV4_PORT_UNREACHABLE).toBe(3);
  });

  it("check never throws on arbitrary bytes and its accessors stay inside the checked range (seed 793)", () => {
    const valid = arbMessage.map((f) => {
      const buf = new Uint8Array(8 + f.payload.length);
      encodeIcmpv4(buf, 0, f);
      return buf;
    });
    let views = 0;
    assertProperty(
      fc.property(probeArb(valid), (p) => {
        if (probeCheck(ICMPv4View.check, p)) views++;
      }),
      793,
      2000,
    );
    expect(views).toBeGreaterThan(200);
  });
});
