import { randomFillSync } from "node:crypto";

/** Source of randomness for ISNs, ephemeral ports, IP IDs and fault injection. */
export interface RandomSource {
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Fills `buf` with random bytes. */
  fill(buf: Uint8Array): void;
}

/**
 * Deterministic generator (xoshiro128**) for tests and replays: the same seed gives the same
 * sequence on every machine.
 */
export class SeededRandom implements RandomSource {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 expands the seed into the four state words.
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  uint32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  float(): number {
    return this.uint32() / 4294967296;
  }

  fill(buf: Uint8Array): void {
    for (let i = 0; i < buf.length; i += 4) {
      let v = this.uint32();
      for (let j = 0; j < 4 && i + j < buf.length; j++, v >>>= 8) buf[i + j] = v & 255;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Cryptographically strong source for production (ISNs must be unpredictable, RFC 6528). */
export class CryptoRandom implements RandomSource {
  private readonly pool = new Uint32Array(256);
  private pos = 256;
  uint32(): number {
    if (this.pos >= this.pool.length) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    return this.pool[this.pos++]!;
  }
  float(): number {
    return this.uint32() / 4294967296;
  }
  fill(buf: Uint8Array): void {
    randomFillSync(buf);
  }
}
