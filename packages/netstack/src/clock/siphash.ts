/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed hash
 * for values an off-path attacker must not predict — initial sequence numbers (RFC 6528), SYN
 * cookies. It is far cheaper per call than a digest from node:crypto (no object, no native
 * call), which matters at one call per SYN.
 *
 * JavaScript has no 64-bit integer arithmetic without BigInt, so each 64-bit lane is kept as a
 * pair of unsigned 32-bit halves in one scratch array. `hash` returns the low 32 bits of the
 * 64-bit result; the high half is left in `high`.
 */

/** v0..v3 as (high, low) pairs: [v0h, v0l, v1h, v1l, v2h, v2l, v3h, v3l]. */
const v = new Uint32Array(8);

/** a += b on 64-bit lanes (indices of the high halves). */
function add(a: number, b: number): void {
  const lo = v[a + 1]! + v[b + 1]!;
  v[a + 1] = lo;
  v[a] = v[a]! + v[b]! + (lo > 0xffffffff ? 1 : 0);
}

/** Rotate lane `a` left by n (0 < n < 32). */
function rotl(a: number, n: number): void {
  const h = v[a]!;
  const l = v[a + 1]!;
  v[a] = (h << n) | (l >>> (32 - n));
  v[a + 1] = (l << n) | (h >>> (32 - n));
}

/** Rotate lane `a` by 32: swap halves. */
function swap(a: number): void {
  const h = v[a]!;
  v[a] = v[a + 1]!;
  v[a + 1] = h;
}

/** a ^= b. */
function xor(a: number, b: number): void {
  v[a] = v[a]! ^ v[b]!;
  v[a + 1] = v[a + 1]! ^ v[b + 1]!;
}

const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

function sipRound(): void {
  add(V0, V1);
  rotl(V1, 13);
  xor(V1, V0);
  swap(V0);
  add(V2, V3);
  rotl(V3, 16);
  xor(V3, V2);
  add(V0, V3);
  rotl(V3, 21);
  xor(V3, V0);
  add(V2, V1);
  rotl(V1, 17);
  xor(V1, V2);
  swap(V2);
}

function compress(mh: number, ml: number): void {
  v[V3] = v[V3]! ^ mh;
  v[V3 + 1] = v[V3 + 1]! ^ ml;
  sipRound();
  sipRound();
  v[V0] = v[V0]! ^ mh;
  v[V0 + 1] = v[V0 + 1]! ^ ml;
}

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
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
    // The initialisation constants spell "somepseudorandomlygeneratedbytes".
    v[V0] = this.k0h ^ 0x736f6d65;
    v[V0 + 1] = this.k0l ^ 0x70736575;
    v[V1] = this.k1h ^ 0x646f7261;
    v[V1 + 1] = this.k1l ^ 0x6e646f6d;
    v[V2] = this.k0h ^ 0x6c796765;
    v[V2 + 1] = this.k0l ^ 0x6e657261;
    v[V3] = this.k1h ^ 0x74656462;
    v[V3 + 1] = this.k1l ^ 0x79746573;
    const end = off + len;
    const full = off + (len & ~7);
    let o = off;
    for (; o < full; o += 8) compress(le32(data, o + 4), le32(data, o));
    // Last block: the remaining 0..7 bytes, little-endian, with len mod 256 in the top byte.
    let lo = 0;
    let hi = (len & 0xff) << 24;
    for (let i = 0; o + i < end; i++) {
      const byte = data[o + i]!;
      if (i < 4) lo |= byte << (8 * i);
      else hi |= byte << (8 * (i - 4));
    }
    compress(hi >>> 0, lo >>> 0);
    v[V2 + 1] = v[V2 + 1]! ^ 0xff;
    sipRound();
    sipRound();
    sipRound();
    sipRound();
    this.high = (v[V0]! ^ v[V1]! ^ v[V2]! ^ v[V3]!) >>> 0;
    return (v[V0 + 1]! ^ v[V1 + 1]! ^ v[V2 + 1]! ^ v[V3 + 1]!) >>> 0;
  }
}
