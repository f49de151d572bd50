import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checksum, updateChecksum16 } from "../src/header/checksum.js";
import {
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_CHECK_BAD_LENGTH,
  IPV4_CHECK_BAD_VERSION,
  IPV4_CHECK_TOO_SHORT,
  IPv4View,
  checkIPv4Header,
  encodeIPv4,
  encodeIPv4Basic,
  findIPv4OptionError,
  parseIPv4,
  validateIPv4Options,
  type IPv4Fields,
} from "../src/header/ipv4.js";
import { ParseError } from "../src/header/parse.js";
import { Address } from "../src/tcpip/address.js";
import { arbIPv4, assertProperty, hex, probeArb, probeCheck, u16 } from "./header-property.js";

/** Options made of well-formed pieces: NOPs, record route, timestamp, router alert, unknown kinds. */
const arbOptionBytes = fc
  .array(
    fc.oneof(
      fc.constant([1]),
      fc.nat({ max: 4 }).map((n) => [7, 3 + 4 * n, 4, ...new Array<number>(4 * n).fill(9)]),
      fc.nat({ max: 3 }).map((n) => [68, 4 + 4 * n, 5, 0, ...new Array<number>(4 * n).fill(1)]),
      fc.constant([148, 4, 0, 0]),
      fc.uint8Array({ maxLength: 6 }).map((d) => [0x9e, 2 + d.length, ...d]),
    ),
    { maxLength: 6 },
  )
  .map((parts) => Uint8Array.from(parts.flat()))
  .filter((b) => b.length <= 40);

const arbFields = fc
  .record({
    tos: fc.nat({ max: 255 }),
    payloadLength: fc.nat({ max: 80 }),
    id: u16,
    flags: fc.nat({ max: 7 }),
    fragmentOffset: fc.nat({ max: 0x1fff }).map((x) => x * 8),
    ttl: fc.nat({ max: 255 }),
    protocol: fc.nat({ max: 255 }),
    src: arbIPv4,
    dst: arbIPv4,
    options: arbOptionBytes,
  })
  .map(({ payloadLength, options, ...rest }) => {
    const hl = 20 + ((options.length + 3) & ~3);
    const f: IPv4Fields = { ...rest, totalLength: hl + payloadLength };
    if (options.length > 0) f.options = options;
    return f;
  });

const arbPacket = arbFields.map((f) => {
  const buf = new Uint8Array(f.totalLength);
  encodeIPv4(buf, 0, f);
  return buf;
});

function header(f: Partial<IPv4Fields> = {}): Uint8Array {
  const full: IPv4Fields = {
    tos: 0,
    totalLength: 28,
    id: 1,
    flags: IPV4_FLAG_DF,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 17,
    src: Address.v4(10, 0, 0, 1),
    dst: Address.v4(10, 0, 0, 2),
    ...f,
  };
  const buf = new Uint8Array(Math.max(full.totalLength, 60));
  encodeIPv4(buf, 0, full);
  return buf.subarray(0, full.totalLength);
}

describe("IPv4View / encodeIPv4 (RFC 791 §3.1)", () => {
  it("round-trips random fields and options through encode → check → parse, with a valid header checksum (seed 791)", () => {
    assertProperty(
      fc.property(arbFields, fc.nat({ max: 7 }), fc.nat({ max: 5 }), (f, at, linkPad) => {
        const buf = new Uint8Array(at + f.totalLength + linkPad).fill(0xcc);
        const hl = encodeIPv4(buf, at, f);
        const v = IPv4View.check(buf, at, f.totalLength + linkPad);
        if (v instanceof ParseError) throw new Error(v.reason);
        expect(v.isChecksumValid()).toBe(true);
        const r = parseIPv4(v);
        const padded = f.options ? Uint8Array.from([...f.options, 0, 0, 0].slice(0, (f.options.length + 3) & ~3)) : undefined;
        expect({ ...r, src: r.src.toString(), dst: r.dst.toString(), options: r.options && Array.from(r.options) }).toEqual({
          ...f,
          src: f.src.toString(),
          dst: f.dst.toString(),
          options: padded && Array.from(padded),
        });
        expect(v.headerLength).toBe(hl);
        expect(v.payloadOffset).toBe(at + hl);
        expect(v.payloadLength).toBe(f.totalLength - hl);
        expect(v.srcOff).toBe(at + 12);
        expect(v.dstOff).toBe(at + 16);
        expect(v.srcKey).toBe(f.src.key);
        expect(v.dstKey).toBe(f.dst.key);
        expect(v.moreFragments).toBe((f.flags & IPV4_FLAG_MF) !== 0);
        expect(v.dontFragment).toBe((f.flags & IPV4_FLAG_DF) !== 0);
        expect(validateIPv4Options(buf, v.optionsOffset, v.optionsLength)).toBe(true);
      }),
      791,
      1000,
    );
  });

  it("encodeIPv4Basic writes the same bytes as encodeIPv4 for an option-less, unfragmented header (seed 7912)", () => {
    assertProperty(
      fc.property(
        fc.integer({ min: 0, max: 0xff }), u16, u16, fc.boolean(), fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xff }), arbIPv4, arbIPv4, fc.nat({ max: 7 }),
        (tos, totalLength, id, df, ttl, protocol, src, dst, at) => {
          const want = new Uint8Array(at + 20).fill(0xcc);
          encodeIPv4(want, at, { tos, totalLength, id, flags: df ? IPV4_FLAG_DF : 0, fragmentOffset: 0, ttl, protocol, src, dst });
          const got = new Uint8Array(at + 20).fill(0x33);
          expect(encodeIPv4Basic(got, at, tos, totalLength, id, df, ttl, protocol, src.bytes, dst.bytes)).toBe(20);
          expect(Array.from(got.subarray(at))).toEqual(Array.from(want.subarray(at)));
          expect(checksum(got, at, 20)).toBe(0xffff);
        },
      ),
      7912,
      2000,
    );
  });

  it("rejects a version other than 4", () => {
    const b = header();
    b[0] = 0x65;
    expect(IPv4View.check(b)).toBe(ParseError.BadVersion);
  });

  it("rejects IHL < 5 and a header longer than the bytes available", () => {
    const b = header();
    b[0] = 0x44;
    expect(IPv4View.check(b)).toBe(ParseError.BadLength);
    b[0] = 0x4f; // 60-byte header in a 28-byte packet
    expect(IPv4View.check(b)).toBe(ParseError.BadLength);
    expect(IPv4View.check(b.subarray(0, 19))).toBe(ParseError.TooShort);
  });

  it("rejects a total length beyond the buffer and one shorter than the header", () => {
    const b = header({ totalLength: 28 });
    expect(IPv4View.check(b, 0, 27)).toBe(ParseError.BadLength);
    b[2] = 0;
    b[3] = 19;
    expect(IPv4View.check(b)).toBe(ParseError.BadLength);
    const withOpts = header({ totalLength: 24, options: hex("01010101") });
    withOpts[3] = 20; // total length below the 24-byte header
    expect(IPv4View.check(withOpts)).toBe(ParseError.BadLength);
  });

  it("accepts link padding after totalLength and excludes it from the payload (RFC 1122 §3.2.1.1-2)", () => {
    const buf = new Uint8Array(60);
    encodeIPv4(buf, 0, { tos: 0, totalLength: 28, id: 0, flags: 0, fragmentOffset: 0, ttl: 1, protocol: 1, src: Address.ANY4, dst: Address.BROADCAST4 });
    const v = IPv4View.check(buf) as IPv4View;
    expect(v.totalLength).toBe(28);
    expect(v.payloadLength).toBe(8);
    expect(v.payload().length).toBe(8);
  });

  it("reports fragment offsets in bytes and the MF/DF flags (RFC 791 §3.2)", () => {
    const v = IPv4View.check(header({ flags: IPV4_FLAG_MF, fragmentOffset: 0x1fff * 8 })) as IPv4View;
    expect(v.fragmentOffset).toBe(65528);
    expect(v.moreFragments).toBe(true);
    expect(v.dontFragment).toBe(false);
    expect(v.isFragment).toBe(true);
    const w = IPv4View.check(header({ flags: IPV4_FLAG_DF })) as IPv4View;
    expect(w.isFragment).toBe(false);
    expect(() => header({ fragmentOffset: 12 })).toThrow(RangeError);
  });

  it("detects a corrupted header checksum; a TTL rewrite with an RFC 1624 update stays valid", () => {
    const b = header();
    const v = IPv4View.check(b) as IPv4View;
    expect(v.isChecksumValid()).toBe(true);
    const oldWord = (v.ttl << 8) | v.protocol;
    v.ttl = v.ttl - 1;
    expect(v.isChecksumValid()).toBe(false);
    v.checksum = updateChecksum16(v.checksum, oldWord, (v.ttl << 8) | v.protocol);
    expect(v.isChecksumValid()).toBe(true);
    b[15] ^= 0x10;
    expect(v.isChecksumValid()).toBe(false);
    v.fillChecksum();
    expect(v.isChecksumValid()).toBe(true);
    expect(checksum(b, 0, 20)).toBe(0xffff);
  });

  it("src()/dst() allocate Addresses equal to the bytes at srcOff/dstOff", () => {
    const b = header({ src: Address.v4(192, 168, 0, 1), dst: Address.v4(192, 168, 0, 199) });
    const v = IPv4View.check(b) as IPv4View;
    expect(v.src().toString()).toBe("192.168.0.1");
    expect(v.dst().toString()).toBe("192.168.0.199");
    expect(Address.v4(192, 168, 0, 199).equalsBytes(b, v.dstOff)).toBe(true);
  });

  it("check never throws on arbitrary bytes and its accessors stay inside the checked range (seed 792)", () => {
    let views = 0;
    assertProperty(
      fc.property(probeArb(arbPacket), (p) => {
        if (probeCheck(IPv4View.check, p, (v) => [validateIPv4Options(v.buf, v.optionsOffset, v.optionsLength) === true])) views++;
      }),
      792,
      2000,
    );
    expect(views).toBeGreaterThan(200);
  });
});

describe("checkIPv4Header: IPv4View.check without the view (the receive path's check)", () => {
  const answer = (r: IPv4View | ParseError): number =>
    r instanceof IPv4View ? r.headerLength : r === ParseError.TooShort ? IPV4_CHECK_TOO_SHORT
      : r === ParseError.BadVersion ? IPV4_CHECK_BAD_VERSION : r === ParseError.BadLength ? IPV4_CHECK_BAD_LENGTH : 0;

  /** RFC 791 §3.1 / RFC 1122 §3.2.1.1-2, written out independently of the code under test. */
  const reference = (b: Uint8Array, off: number, len: number): number => {
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > b.length) return IPV4_CHECK_BAD_LENGTH;
    if (len < 20) return IPV4_CHECK_TOO_SHORT;
    if (b[off]! >> 4 !== 4) return IPV4_CHECK_BAD_VERSION;
    const hl = (b[off]! & 15) * 4;
    const total = b[off + 2]! * 256 + b[off + 3]!;
    return hl < 20 || hl > len || total < hl || total > len ? IPV4_CHECK_BAD_LENGTH : hl;
  };

  it("gives the view's header length, or the code of the view's error, for any bytes, offset and length (seed 7913)", () => {
    // Half the cases put a well-formed header (then sometimes mangled) at the offset checked, so
    // both kinds of answer get exercised.
    const arbRandom = fc.tuple(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -2, max: 82 }), fc.integer({ min: -2, max: 82 }));
    const arbHeader = fc.tuple(fc.integer({ min: 5, max: 15 }), fc.integer({ min: 0, max: 90 }), fc.uint8Array({ minLength: 80, maxLength: 80 }),
      fc.nat({ max: 5 }), fc.nat({ max: 10 }), fc.integer({ min: -2, max: 3 })).map(([ihl, total, body, mangle, off, slack]) => {
      const b = body.slice();
      b[off] = mangle === 0 ? 0x60 | ihl : 0x40 | ihl;
      b[off + 2] = total >>> 8;
      b[off + 3] = mangle === 1 ? 0xff : total & 0xff;
      const len = mangle === 2 ? b.length - off : Math.max(0, Math.min(b.length - off, total + slack));
      return [b, off, len] as [Uint8Array, number, number];
    });
    let ok = 0;
    assertProperty(
      fc.property(fc.oneof(arbRandom, arbHeader), ([b, off, len]) => {
        const hl = checkIPv4Header(b, off, len);
        const want = answer(IPv4View.check(b, off, len));
        expect(want).not.toBe(0);
        expect(hl).toBe(want);
        expect(hl).toBe(reference(b, off, len));
        if (hl > 0) {
          ok++;
          expect(hl).toBe((b[off]! & 0x0f) * 4);
          expect(off + ((b[off + 2]! << 8) | b[off + 3]!)).toBeLessThanOrEqual(b.length);
        }
      }),
      7913,
      3000,
    );
    expect(ok).toBeGreaterThan(100);
  });
});

describe("IPv4 options validation (RFC 791 §3.1)", () => {
  const check = (s: string) => {
    const b = hex(s);
    return { ok: validateIPv4Options(b, 0, b.length), at: findIPv4OptionError(b, 0, b.length) };
  };

  it("accepts NOPs, EOL (ignoring what follows), and well-formed record route, timestamp, router alert and unknown options", () => {
    expect(check("").ok).toBe(true);
    expect(check("01010101").ok).toBe(true);
    expect(check("00ff0000").ok).toBe(true);
    expect(check("0707040000000000").ok).toBe(true);
    expect(check("4408050000000000").ok).toBe(true);
    expect(check("94040000").ok).toBe(true);
    expect(check("9e03ff01").ok).toBe(true);
  });

  it("rejects a length of 0 or 1, a length past the end, and a missing length byte, pointing at the bad byte", () => {
    expect(check("0100").ok).toBe(true);
    expect(check("01 9e00").ok).toBe(ParseError.BadOption);
    expect(check("01 9e00").at).toBe(2);
    expect(check("9e01").at).toBe(1);
    expect(check("9e05 0000").at).toBe(1);
    expect(check("0101 019e").at).toBe(3);
  });

  it("rejects record route with a pointer below 4, timestamp with a pointer below 5, and a router alert not 4 bytes long", () => {
    expect(check("0707030000000000").at).toBe(2);
    expect(check("070204").at).toBe(1);
    expect(check("4408040000000000").at).toBe(2);
    expect(check("94030001").at).toBe(1);
    expect(check("88050000 00").at).toBe(1); // stream identifier is exactly 4 bytes
  });

  it("never throws on arbitrary bytes, offsets and lengths (seed 7911)", () => {
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 44 }), fc.integer({ min: -2, max: 46 }), fc.integer({ min: -2, max: 46 }), (b, off, len) => {
        const at = findIPv4OptionError(b, off, len);
        expect(Number.isInteger(at)).toBe(true);
        const ok = validateIPv4Options(b, off, len);
        expect(ok === true || ok === ParseError.BadOption).toBe(true);
        expect(ok === true).toBe(at < 0);
      }),
      7911,
      1000,
    );
  });
});
