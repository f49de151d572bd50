import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ARPView, ARP_REPLY, ARP_REQUEST, ARP_SIZE, encodeArp, parseArp, type ArpFields } from "../src/header/arp.js";
import { ParseError } from "../src/header/parse.js";
import { Address } from "../src/tcpip/address.js";
import { arbIPv4, arbMac, assertProperty, hex, probeArb, probeCheck, u16 } from "./header-property.js";

const arbArp: fc.Arbitrary<ArpFields> = fc.record({ op: u16, sha: arbMac, spa: arbIPv4, tha: arbMac, tpa: arbIPv4 });
const plain = (f: ArpFields) => ({
  op: f.op,
  sha: Array.from(f.sha),
  spa: f.spa.toString(),
  tha: Array.from(f.tha),
  tpa: f.tpa.toString(),
});

describe("ARPView / encodeArp (RFC 826, Ethernet/IPv4)", () => {
  it("round-trips random packets through encode → check → parse (seed 826)", () => {
    assertProperty(
      fc.property(arbArp, fc.nat({ max: 7 }), fc.nat({ max: 18 }), (f, at, pad) => {
        const buf = new Uint8Array(at + ARP_SIZE + pad);
        expect(encodeArp(buf, at, f)).toBe(ARP_SIZE);
        const v = ARPView.check(buf, at);
        if (v instanceof ParseError) throw new Error(v.reason);
        expect(plain(parseArp(v))).toEqual(plain(f));
        expect([v.shaOff, v.spaOff, v.thaOff, v.tpaOff]).toEqual([at + 8, at + 14, at + 18, at + 24]);
        expect(v.spaKey).toBe(f.spa.key);
        expect(v.tpaKey).toBe(f.tpa.key);
      }),
      826,
      1000,
    );
  });

  it("decodes a captured who-has request (RFC 826 packet layout)", () => {
    // who-has 10.0.0.2 tell 10.0.0.1, from 02:00:00:00:00:01
    const b = hex("0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002");
    const v = ARPView.check(b) as ARPView;
    expect(v.op).toBe(ARP_REQUEST);
    expect(v.spa().toString()).toBe("10.0.0.1");
    expect(v.tpa().toString()).toBe("10.0.0.2");
    expect(Array.from(v.sha())).toEqual([2, 0, 0, 0, 0, 1]);
    expect(Array.from(v.tha())).toEqual([0, 0, 0, 0, 0, 0]);
    const re = new Uint8Array(28);
    encodeArp(re, 0, { op: ARP_REQUEST, sha: v.sha(), spa: Address.v4(10, 0, 0, 1), tha: new Uint8Array(6), tpa: Address.v4(10, 0, 0, 2) });
    expect(Array.from(re)).toEqual(Array.from(b));
    expect(ARP_REPLY).toBe(2);
  });

  it("check rejects short input and any hardware/protocol type or length other than Ethernet/IPv4", () => {
    const good = hex("0001 0800 06 04 0002 020000000001 0a000001 020000000002 0a000002");
    expect(ARPView.check(good)).toBeInstanceOf(ARPView);
    expect(ARPView.check(good.subarray(0, 27))).toBe(ParseError.TooShort);
    for (const [i, v] of [
      [1, 6], // htype 6 (IEEE 802)
      [2, 0x86], // ptype 0x86dd
      [4, 8], // hlen 8
      [5, 16], // plen 16
    ] as const) {
      const b = good.slice();
      b[i] = v;
      expect(ARPView.check(b)).toBe(ParseError.Unsupported);
    }
  });

  it("check never throws on arbitrary bytes and its accessors stay inside the checked range (seed 827)", () => {
    const valid = arbArp.map((f) => {
      const b = new Uint8Array(ARP_SIZE);
      encodeArp(b, 0, f);
      return b;
    });
    let views = 0;
    assertProperty(
      fc.property(probeArb(valid), (p) => {
        if (probeCheck(ARPView.check, p)) views++;
      }),
      827,
      1500,
    );
    expect(views).toBeGreaterThan(200);
  });
});
