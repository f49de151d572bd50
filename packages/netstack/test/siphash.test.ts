import { describe, expect, it } from "vitest";
import { SipHash } from "../src/clock/siphash.js";

/** The paper's reference vectors: key 00..0f, message 00..(n-1); output bytes as printed (little-endian). */
const VECTORS: ReadonlyArray<[number, string]> = [
  [0, "310e0edd47db6f72"],
  [1, "fd67dc93c539f874"],
  [7, "37d1018bf50002ab"],
  [8, "6224939a79f5f593"],
  [15, "e545be4961ca29a1"],
  [16, "db9bc2577fcc2a3f"],
  [63, "724506eb4c328a95"],
];

function le64Hex(lo: number, hi: number): string {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, lo, true);
  new DataView(b.buffer).setUint32(4, hi, true);
  return Buffer.from(b).toString("hex");
}

describe("SipHash-2-4", () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const h = new SipHash(key);
  for (const [n, want] of VECTORS) {
    it(`matches the reference vector for a ${n}-byte message`, () => {
      const msg = Uint8Array.from({ length: n }, (_, i) => i);
      const lo = h.hash(msg);
      expect(le64Hex(lo, h.high)).toBe(want);
    });
  }

  it("hashes a sub-range exactly like the same bytes on their own", () => {
    const msg = Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff);
    for (let off = 0; off < 8; off++)
      for (const len of [0, 3, 8, 13, 24]) {
        const a = h.hash(msg, off, len);
        const ah = h.high;
        const b = h.hash(msg.slice(off, off + len));
        expect([a, ah]).toEqual([b, h.high]);
      }
  });

  it("depends on the key", () => {
    const other = new SipHash(Uint8Array.from({ length: 16 }, (_, i) => 15 - i));
    const msg = Uint8Array.of(1, 2, 3, 4);
    expect(other.hash(msg)).not.toBe(h.hash(msg));
  });
});
