import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BROADCAST_MAC,
  ETHERNET_HEADER,
  EthernetView,
  encodeEthernet,
  isBroadcastMac,
  isMulticastMac,
  macEquals,
  macToString,
  parseEthernet,
  parseMac,
} from "../src/header/ethernet.js";
import { ParseError } from "../src/header/parse.js";
import { arbMac, assertProperty, hex, probeArb, probeCheck, u16 } from "./header-property.js";

describe("EthernetView / encodeEthernet (Ethernet II)", () => {
  it("round-trips random headers through encode → check → parse (seed 894)", () => {
    assertProperty(
      fc.property(arbMac, arbMac, u16, fc.nat({ max: 7 }), fc.nat({ max: 60 }), (dst, src, type, at, payload) => {
        const buf = new Uint8Array(at + 14 + payload);
        expect(encodeEthernet(buf, at, { dst, src, type })).toBe(ETHERNET_HEADER);
        const v = EthernetView.check(buf, at);
        if (v instanceof ParseError) throw new Error(v.reason);
        const r = parseEthernet(v);
        expect({ dst: Array.from(r.dst), src: Array.from(r.src), type: r.type }).toEqual({ dst: Array.from(dst), src: Array.from(src), type });
        expect(v.dstOff).toBe(at);
        expect(v.srcOff).toBe(at + 6);
        expect(v.payloadOffset).toBe(at + 14);
        expect(v.payloadLength).toBe(payload);
        expect(v.isDstMulticast).toBe((dst[0]! & 1) === 1);
        // dst()/src() are copies: writing them does not touch the frame.
        r.dst[0] = r.dst[0]! ^ 0xff;
        expect(buf[at]).toBe(dst[0]);
      }),
      894,
      1000,
    );
  });

  it("check rejects fewer than 14 bytes", () => {
    expect(EthernetView.check(new Uint8Array(13))).toBe(ParseError.TooShort);
    expect(EthernetView.check(new Uint8Array(14))).toBeInstanceOf(EthernetView);
  });

  it("formats and parses MAC text; parseMac returns null for malformed text", () => {
    expect(macToString(hex("0a1b2c3d4e5f"))).toBe("0a:1b:2c:3d:4e:5f");
    expect(Array.from(parseMac("0A:1b:2C:3d:4E:5f")!)).toEqual(Array.from(hex("0a1b2c3d4e5f")));
    expect(Array.from(parseMac("0a-1b-2c-3d-4e-5f")!)).toEqual(Array.from(hex("0a1b2c3d4e5f")));
    for (const bad of ["", "0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5f:60", "0a:1b-2c:3d:4e:5f", "0g:1b:2c:3d:4e:5f", "a:1b:2c:3d:4e:5f"])
      expect(parseMac(bad)).toBeNull();
  });

  it("round-trips macToString → parseMac for any MAC (seed 895)", () => {
    assertProperty(
      fc.property(arbMac, (m) => {
        expect(Array.from(parseMac(macToString(m))!)).toEqual(Array.from(m));
      }),
      895,
      500,
    );
  });

  it("recognises group addresses by the I/G bit, and the broadcast address", () => {
    expect(isMulticastMac(hex("01005e000001"))).toBe(true);
    expect(isMulticastMac(hex("333300000001"))).toBe(true);
    expect(isMulticastMac(BROADCAST_MAC)).toBe(true);
    expect(isMulticastMac(hex("020000000001"))).toBe(false);
    expect(isBroadcastMac(BROADCAST_MAC)).toBe(true);
    expect(isBroadcastMac(hex("fffffffffffe"))).toBe(false);
    expect(macToString(BROADCAST_MAC)).toBe("ff:ff:ff:ff:ff:ff");
    expect(macEquals(hex("00aabbccddee00"), 1, hex("aabbccddee"), 0)).toBe(false);
    expect(macEquals(hex("00aabbccddeeff"), 1, hex("aabbccddeeff"), 0)).toBe(true);
  });

  it("check never throws on arbitrary bytes and its accessors stay inside the checked range (seed 896)", () => {
    const valid = fc.tuple(arbMac, arbMac, u16).map(([dst, src, type]) => {
      const b = new Uint8Array(20);
      encodeEthernet(b, 0, { dst, src, type });
      return b;
    });
    let views = 0;
    assertProperty(
      fc.property(probeArb(valid), (p) => {
        if (probeCheck(EthernetView.check, p)) views++;
      }),
      896,
      1500,
    );
    expect(views).toBeGreaterThan(200);
  });
});
