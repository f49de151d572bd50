import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checksum,
  checksumViews,
  combineChecksum,
  finishChecksum,
  finishUdpChecksum,
  pseudoHeaderChecksum,
  pseudoHeaderChecksumAddr,
  updateChecksum16,
  updateChecksum32,
} from "../src/header/checksum.js";
import { Address } from "../src/tcpip/address.js";
import { assertProperty, hex } from "./header-property.js";

/** The textbook definition: big-endian byte pairs, odd byte zero-padded, end-around carry. */
function referenceSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) {
    s += (b[off + i]! << 8) + (i + 1 < len ? b[off + i + 1]! : 0);
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  }
  return s;
}

/** Random bytes placed at a random offset inside a larger buffer that is itself a view at a random byteOffset. */
const arbRange = fc
  .record({
    // Half short (bytewise path), half 250..3000 bytes (aligned-word path with odd head/tail).
    data: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 250, maxLength: 3000 })),
    bufShift: fc.nat({ max: 7 }),
    pre: fc.nat({ max: 9 }),
    post: fc.nat({ max: 5 }),
  })
  .map(({ data, bufShift, pre, post }) => {
    const backing = new Uint8Array(bufShift + pre + data.length + post).fill(0x5a);
    const b = backing.subarray(bufShift);
    b.set(data, pre);
    return { b, off: pre, len: data.length };
  });

describe("checksum (RFC 1071)", () => {
  it("sums RFC 1071 §3's example bytes 00 01 f2 03 f4 f5 f6 f7 to 0xddf2", () => {
    expect(checksum(hex("0001 f203 f4f5 f6f7"), 0, 8)).toBe(0xddf2);
    // The same at an odd offset, and with the initial-sum argument splitting the data.
    const shifted = hex("ff 0001 f203 f4f5 f6f7");
    expect(checksum(shifted, 1, 8)).toBe(0xddf2);
    expect(checksum(shifted, 5, 4, checksum(shifted, 1, 4))).toBe(0xddf2);
  });

  it("computes the header checksum b861 of a real IPv4 header (RFC 791 §3.1)", () => {
    const h = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
    expect(finishChecksum(checksum(h, 0, 20))).toBe(0xb861);
    h[10] = 0xb8;
    h[11] = 0x61;
    expect(checksum(h, 0, 20)).toBe(0xffff); // a receiver's check: all ones
  });

  it("pads an odd trailing byte with a zero on the right (RFC 1071 §4.1)", () => {
    expect(checksum(hex("12"), 0, 1)).toBe(0x1200);
    expect(checksum(hex("1234 56"), 0, 3)).toBe(0x1234 + 0x5600);
  });

  it("returns the folded initial sum for an empty range, and 0 for no data at all", () => {
    expect(checksum(new Uint8Array(4), 2, 0)).toBe(0);
    expect(checksum(new Uint8Array(0), 0, 0, 0x1234)).toBe(0x1234);
    expect(checksum(new Uint8Array(0), 0, 0, 0x12345)).toBe(0x2346);
  });

  it("gives 0xffff, not 0, for non-zero data summing to ones'-complement zero, at every alignment and length", () => {
    const ff = new Uint8Array(5000).fill(0xff);
    for (let off = 0; off < 8; off++) {
      for (const len of [2, 4, 255, 256, 257, 258, 1024, 4000, 4003]) {
        expect(checksum(ff, off, len)).toBe(referenceSum(ff, off, len));
      }
    }
  });

  it("matches the byte-pair reference on random data at random offsets and lengths (seed 1071)", () => {
    assertProperty(
      fc.property(arbRange, ({ b, off, len }) => {
        expect(checksum(b, off, len)).toBe(referenceSum(b, off, len));
      }),
      1071,
      1000,
    );
  });

  it("matches the reference on buffers longer than one fold chunk (64 KiB and 200 KiB)", () => {
    for (const n of [65536, 200_003]) {
      const b = new Uint8Array(n);
      let x = 12345;
      for (let i = 0; i < n; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        b[i] = n === 65536 ? 0xff - (x & 1) : x >>> 24;
      }
      expect(checksum(b, 0, n)).toBe(referenceSum(b, 0, n));
      expect(checksum(b, 3, n - 7)).toBe(referenceSum(b, 3, n - 7));
    }
  });

  it("continues from an initial sum exactly like a ones'-complement addition (seed 1072)", () => {
    assertProperty(
      fc.property(arbRange, fc.integer({ min: 0, max: 0xffff }), ({ b, off, len }, init) => {
        const direct = checksum(b, off, len, init);
        const combined = combineChecksum(init, checksum(b, off, len));
        // Equal as ones'-complement values; both are 0 only when everything is 0.
        expect(direct).toBe(combined);
      }),
      1072,
      500,
    );
  });

  it("checksumViews over any split equals checksum over the whole, odd pieces included (RFC 1071 §2(B), seed 1073)", () => {
    assertProperty(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ minLength: 300, maxLength: 2000 })),
        fc.array(fc.nat(), { maxLength: 8 }),
        (data, cuts) => {
        const points = [...new Set(cuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1))))].sort((a, b) => a - b);
        const pieces: Uint8Array[] = [];
        let prev = 0;
        for (const p of points) {
          pieces.push(data.subarray(prev, p));
          prev = p;
        }
        pieces.push(data.subarray(prev));
        expect(checksumViews(pieces)).toBe(checksum(data, 0, data.length));
        expect(checksumViews(pieces, 0x4321)).toBe(checksum(data, 0, data.length, 0x4321));
        },
      ),
      1073,
      1000,
    );
  });

  it("finishChecksum inverts; finishUdpChecksum sends a computed 0 as 0xffff (RFC 768)", () => {
    expect(finishChecksum(0x1234)).toBe(0xedcb);
    expect(finishChecksum(0xffff)).toBe(0);
    expect(finishUdpChecksum(0xffff)).toBe(0xffff);
    expect(finishUdpChecksum(0x1234)).toBe(0xedcb);
  });
});

describe("pseudo-header sums", () => {
  it("IPv4: equals the sum of the explicit 12-byte pseudo-header (RFC 9293 §3.1, RFC 768) (seed 793)", () => {
    assertProperty(
      fc.property(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 255 }),
        fc.nat({ max: 0xffff }),
        (src, dst, proto, length) => {
          const ph = new Uint8Array(12);
          ph.set(src, 0);
          ph.set(dst, 4);
          ph[9] = proto;
          ph[10] = length >>> 8;
          ph[11] = length & 0xff;
          const want = checksum(ph, 0, 12);
          expect(pseudoHeaderChecksum(proto, src, 0, dst, 0, 4, length)).toBe(want);
          expect(pseudoHeaderChecksumAddr(proto, Address.fromBytes(src), Address.fromBytes(dst), length)).toBe(want);
          // Addresses read in place from one buffer (an IP header).
          const hdr = new Uint8Array(20);
          hdr.set(src, 12);
          hdr.set(dst, 16);
          expect(pseudoHeaderChecksum(proto, hdr, 12, hdr, 16, 4, length)).toBe(want);
        },
      ),
      793,
      500,
    );
  });

  it("IPv6: equals the sum of the explicit 40-byte pseudo-header with a 32-bit length (RFC 8200 §8.1) (seed 8200)", () => {
    assertProperty(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.nat({ max: 255 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (src, dst, proto, length) => {
          const ph = new Uint8Array(40);
          ph.set(src, 0);
          ph.set(dst, 16);
          new DataView(ph.buffer).setUint32(32, length);
          ph[39] = proto;
          const want = checksum(ph, 0, 40);
          expect(pseudoHeaderChecksum(proto, src, 0, dst, 0, 16, length)).toBe(want);
          expect(pseudoHeaderChecksumAddr(proto, Address.fromBytes(src), Address.fromBytes(dst), length)).toBe(want);
        },
      ),
      8200,
      500,
    );
  });
});

describe("incremental update (RFC 1624)", () => {
  // Data covered by a checksum always has a non-zero word somewhere (IP version, protocol...);
  // byte 0 is forced non-zero so full recomputation and eqn. 3 agree exactly (RFC 1624 §3).
  const arbCovered = fc
    .uint8Array({ minLength: 8, maxLength: 200 })
    .map((b) => {
      const even = b.subarray(0, b.length & ~1).slice();
      even[0] = even[0]! | 0x40;
      return even;
    });

  it("updateChecksum16 after a 16-bit word changes equals full recomputation (eqn. 3) (seed 1624)", () => {
    assertProperty(
      fc.property(arbCovered, fc.nat(), fc.nat({ max: 0xffff }), (data, pick, newWord) => {
        const ckOff = 2; // a checksum field at bytes 2-3, as in ICMP/IPv4-like layouts
        data[ckOff] = 0;
        data[ckOff + 1] = 0;
        const old = finishChecksum(checksum(data, 0, data.length));
        data[ckOff] = old >>> 8;
        data[ckOff + 1] = old & 0xff;
        let w = ((pick % (data.length >>> 1)) * 2) | 0;
        if (w === ckOff) w = 0; // never the checksum field itself
        const oldWord = (data[w]! << 8) | data[w + 1]!;
        data[w] = newWord >>> 8;
        data[w + 1] = newWord & 0xff;
        if (w === 0) data[0] = data[0]! | 0x40; // keep the data non-zero
        const actualNew = (data[w]! << 8) | data[w + 1]!;
        const incremental = updateChecksum16(old, oldWord, actualNew);
        data[ckOff] = 0;
        data[ckOff + 1] = 0;
        expect(incremental).toBe(finishChecksum(checksum(data, 0, data.length)));
      }),
      1624,
      1000,
    );
  });

  it("updateChecksum32 after a 32-bit field changes equals full recomputation (seed 1625)", () => {
    assertProperty(
      fc.property(arbCovered, fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (data, pick, newValue) => {
        if (data.length < 8) return;
        data[2] = 0;
        data[3] = 0;
        const old = finishChecksum(checksum(data, 0, data.length));
        const slots = (data.length - 4) >>> 1; // 32-bit fields at even offsets >= 4
        const at = 4 + 2 * (pick % Math.max(1, slots - 1));
        if (at + 4 > data.length) return;
        const dv = new DataView(data.buffer, data.byteOffset, data.length);
        const oldValue = dv.getUint32(at);
        dv.setUint32(at, newValue);
        expect(updateChecksum32(old, oldValue, newValue)).toBe(finishChecksum(checksum(data, 0, data.length)));
      }),
      1625,
      1000,
    );
  });

  it("decrementing an IPv4 TTL updates b861 like a recomputation (RFC 1624 §4 style)", () => {
    const h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    const oldWord = (h[8]! << 8) | h[9]!;
    h[8] = h[8]! - 1;
    const upd = updateChecksum16(0xb861, oldWord, (h[8]! << 8) | h[9]!);
    h[10] = 0;
    h[11] = 0;
    expect(upd).toBe(finishChecksum(checksum(h, 0, 20)));
    expect(upd).toBe(0xb961);
  });
});
