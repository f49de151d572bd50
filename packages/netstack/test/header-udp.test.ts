import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checksum, finishUdpChecksum, pseudoHeaderChecksumAddr } from "../src/header/checksum.js";
import { ParseError } from "../src/header/parse.js";
import { UDPView, UDP_HEADER, encodeUdp, parseUdp } from "../src/header/udp.js";
import { Address, UDP_PROTOCOL } from "../src/tcpip/address.js";
import { assertProperty, probeArb, probeCheck, u16 } from "./header-property.js";

const arbDatagram = fc.tuple(u16, u16, u16, fc.uint8Array({ maxLength: 100 })).map(([s, d, c, payload]) => {
  const buf = new Uint8Array(8 + payload.length);
  encodeUdp(buf, 0, { srcPort: s, dstPort: d, length: buf.length, checksum: c });
  buf.set(payload, 8);
  return buf;
});

describe("UDPView / encodeUdp (RFC 768)", () => {
  it("round-trips random fields through encode → check → parse (seed 768)", () => {
    assertProperty(
      fc.property(u16, u16, u16, fc.nat({ max: 200 }), fc.nat({ max: 6 }), fc.nat({ max: 5 }), (s, d, c, n, at, extra) => {
        const buf = new Uint8Array(at + 8 + n + extra);
        expect(encodeUdp(buf, at, { srcPort: s, dstPort: d, length: 8 + n, checksum: c })).toBe(UDP_HEADER);
        const v = UDPView.check(buf, at, 8 + n + extra);
        if (v instanceof ParseError) throw new Error(v.reason);
        expect(parseUdp(v)).toEqual({ srcPort: s, dstPort: d, length: 8 + n, checksum: c });
        expect(v.payloadOffset).toBe(at + 8);
        expect(v.payloadLength).toBe(n); // from the length field, not the bytes available
        expect(v.payload().length).toBe(n);
      }),
      768,
      1000,
    );
  });

  it("check rejects fewer than 8 bytes, a length field below 8, and a length field beyond the bytes available", () => {
    const buf = new Uint8Array(20);
    encodeUdp(buf, 0, { srcPort: 1, dstPort: 2, length: 20 });
    expect(UDPView.check(buf)).toBeInstanceOf(UDPView);
    expect(UDPView.check(buf, 0, 7)).toBe(ParseError.TooShort);
    expect(UDPView.check(buf, 0, 19)).toBe(ParseError.BadLength);
    encodeUdp(buf, 0, { srcPort: 1, dstPort: 2, length: 7 });
    expect(UDPView.check(buf)).toBe(ParseError.BadLength);
  });

  it("verifies a computed checksum, treats 0 as 'no checksum', and detects corruption", () => {
    const src = Address.v4(10, 0, 0, 1);
    const dst = Address.v4(10, 0, 0, 2);
    const buf = new Uint8Array(13);
    encodeUdp(buf, 0, { srcPort: 53, dstPort: 5353, length: 13 });
    buf.set([1, 2, 3, 4, 5], 8);
    const pseudo = pseudoHeaderChecksumAddr(UDP_PROTOCOL, src, dst, 13);
    const v = UDPView.check(buf) as UDPView;
    expect(v.isChecksumValid(pseudo)).toBe(true); // checksum 0: none
    v.setChecksum(finishUdpChecksum(checksum(buf, 0, 13, pseudo)));
    expect(v.checksum).not.toBe(0);
    expect(v.isChecksumValid(pseudo)).toBe(true);
    buf[12] ^= 0x80;
    expect(v.isChecksumValid(pseudo)).toBe(false);
  });

  it("check never throws on arbitrary bytes and its accessors stay inside the checked range (seed 769)", () => {
    let views = 0;
    assertProperty(
      fc.property(probeArb(arbDatagram), (p) => {
        if (probeCheck(UDPView.check, p, (v) => [v.isChecksumValid(0x1111)])) views++;
      }),
      769,
      2000,
    );
    expect(views).toBeGreaterThan(200);
  });
});
