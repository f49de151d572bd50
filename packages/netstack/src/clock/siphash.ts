/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed hash
 * for values an off-path attacker must not predict — initial sequence numbers (RFC 6528), SYN
 * cookies. It is far cheaper per call than a digest from node:crypto (no object, no native
 * call), which matters at one call per SYN.
 *
 * JavaScript has no 64-bit integer arithmetic without BigInt, so each 64-bit lane is kept as a
 * pair of 32-bit halves in local variables (registers once optimized: no array loads and stores
 * per operation). `hash` returns the low 32 bits of the 64-bit result; the high half is left in
 * `high`.
 */

function le32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

export class SipHash {
  private readonly k0h: number;
  private readonly k0l: number;
  private readonly k1h: number;
  private readonly k1l: number;
  /** High 32 bits of the last result. */
  high = 0;

  /** `key` is 16 bytes (k0 and k1, little-endian, as in the paper). */
  constructor(key: Uint8Array) {
    if (key.length < 16) throw new RangeError("SipHash key must be 16 bytes");
    this.k0l = le32(key, 0);
    this.k0h = le32(key, 4);
    this.k1l = le32(key, 8);
    this.k1h = le32(key, 12);
  }

  /** SipHash-2-4 of data[off, off+len): the low 32 bits (the high 32 are in `high`). */
  hash(data: Uint8Array, off = 0, len = data.length - off): number {
    // Lanes v0..v3 as (high, low) int32 halves. The initialisation constants spell
    // "somepseudorandomlygeneratedbytes".
    let v0h = this.k0h ^ 0x736f6d65;
    let v0l = this.k0l ^ 0x70736575;
    let v1h = this.k1h ^ 0x646f7261;
    let v1l = this.k1l ^ 0x6e646f6d;
    let v2h = this.k0h ^ 0x6c796765;
    let v2l = this.k0l ^ 0x6e657261;
    let v3h = this.k1h ^ 0x74656462;
    let v3l = this.k1l ^ 0x79746573;
    const end = off + len;
    const full = off + (len & ~7);
    let o = off;
    let t = 0;
    // Message blocks, then the last block: the remaining 0..7 bytes, little-endian, with len mod
    // 256 in the top byte. Each is compressed with 2 rounds; then 4 rounds finalize (after v2 ^= 0xff).
    let ml = 0;
    let mh = 0;
    let last = false;
    for (let fin = false; ;) {
      let rounds = 2;
      if (fin) {
        v2l ^= 0xff;
        rounds = 4;
      } else {
        if (o < full) {
          ml = le32(data, o);
          mh = le32(data, o + 4);
          o += 8;
        } else {
          ml = 0;
          mh = (len & 0xff) << 24;
          for (let i = 0; o + i < end; i++) {
            const byte = data[o + i]!;
            if (i < 4) ml |= byte << (8 * i);
            else mh |= byte << (8 * (i - 4));
          }
          last = true;
        }
        v3h ^= mh;
        v3l ^= ml;
      }
      for (let r = 0; r < rounds; r++) {
        // SipRound. a += b on 64 bits: add the low halves, carry into the high ones.
        t = (v0l + v1l) | 0; v0h = (v0h + v1h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0; v0l = t;
        t = (v1h << 13) | (v1l >>> 19); v1l = (v1l << 13) | (v1h >>> 19); v1h = t ^ v0h; v1l ^= v0l;
        t = v0h; v0h = v0l; v0l = t;
        t = (v2l + v3l) | 0; v2h = (v2h + v3h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0; v2l = t;
        t = (v3h << 16) | (v3l >>> 16); v3l = (v3l << 16) | (v3h >>> 16); v3h = t ^ v2h; v3l ^= v2l;
        t = (v0l + v3l) | 0; v0h = (v0h + v3h + ((t >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0; v0l = t;
        t = (v3h << 21) | (v3l >>> 11); v3l = (v3l << 21) | (v3h >>> 11); v3h = t ^ v0h; v3l ^= v0l;
        t = (v2l + v1l) | 0; v2h = (v2h + v1h + ((t >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0; v2l = t;
        t = (v1h << 17) | (v1l >>> 15); v1l = (v1l << 17) | (v1h >>> 15); v1h = t ^ v2h; v1l ^= v2l;
        t = v2h; v2h = v2l; v2l = t;
      }
      if (fin) break;
      v0h ^= mh;
      v0l ^= ml;
      fin = last;
    }
    this.high = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
    return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  }
}
