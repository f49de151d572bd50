import { describe, expect, it } from "vitest";
import { SeededRandom } from "../src/clock/random.js";

function take(r: SeededRandom, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.uint32());
  return out;
}

describe("SeededRandom", () => {
  it("gives the same sequence for the same seed (replays depend on it)", () => {
    expect(take(new SeededRandom(42), 1000)).toEqual(take(new SeededRandom(42), 1000));
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const fa = new Uint8Array(37);
    const fb = new Uint8Array(37);
    a.fill(fa);
    b.fill(fb);
    expect(fa).toEqual(fb);
    expect(a.float()).toBe(b.float());
  });

  it("keeps its output pinned across versions (xoshiro128** seeded by splitmix32)", () => {
    // Golden values: a change here silently changes every recorded seed's replay.
    expect(take(new SeededRandom(1), 4)).toEqual([2442144158, 3238099751, 3819917871, 2104621829]);
    expect(take(new SeededRandom(0), 4)).toEqual([3809008728, 1133695204, 53579671, 2891528803]);
    expect(take(new SeededRandom(0xdeadbeef), 4)).toEqual([2306529437, 2576298207, 1250671110, 2699168992]);
  });

  it("gives different sequences for different seeds", () => {
    const seqs = new Set<string>();
    for (let seed = 0; seed < 50; seed++) seqs.add(take(new SeededRandom(seed), 4).join(","));
    expect(seqs.size).toBe(50);
  });

  it("uint32() returns integers in [0, 2^32) and reaches both halves of the range", () => {
    const r = new SeededRandom(3);
    let high = 0;
    let bad = 0;
    for (let i = 0; i < 100_000; i++) {
      const v = r.uint32();
      if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) bad++;
      if (v >= 0x80000000) high++;
    }
    expect(bad).toBe(0);
    expect(high).toBeGreaterThan(49_000);
    expect(high).toBeLessThan(51_000);
  });

  it("float() returns values in [0, 1)", () => {
    const r = new SeededRandom(11);
    let min = 1;
    let max = 0;
    let bad = 0;
    for (let i = 0; i < 100_000; i++) {
      const f = r.float();
      if (!(f >= 0 && f < 1)) bad++;
      if (f < min) min = f;
      if (f > max) max = f;
    }
    expect(bad).toBe(0);
    expect(min).toBeLessThan(0.001);
    expect(max).toBeGreaterThan(0.999);
  });

  it("float() is roughly uniform (chi-square over 64 bins, generous bound)", () => {
    const bins = new Array<number>(64).fill(0);
    const n = 128_000;
    const r = new SeededRandom(2024);
    for (let i = 0; i < n; i++) bins[Math.floor(r.float() * 64)]!++;
    const expected = n / 64;
    let chi2 = 0;
    for (const b of bins) chi2 += ((b - expected) * (b - expected)) / expected;
    // 63 degrees of freedom: mean 63, sd ~11. Outside [20, 150] is far beyond chance.
    expect(chi2).toBeGreaterThan(20);
    expect(chi2).toBeLessThan(150);
  });

  it("fill() covers every byte, including a tail shorter than a word", () => {
    const r = new SeededRandom(5);
    const counts = new Array<number>(256).fill(0);
    for (let k = 0; k < 200; k++) {
      const buf = new Uint8Array(7);
      r.fill(buf);
      for (const x of buf) counts[x]!++;
    }
    // 1400 bytes over 256 values: every value appears and the tail bytes are not stuck at 0.
    const zeros = counts[0]!;
    expect(zeros).toBeLessThan(20);
    expect(counts.filter((c) => c > 0).length).toBeGreaterThan(240);
    const tails = new Set<number>();
    for (let k = 0; k < 50; k++) {
      const buf = new Uint8Array(5);
      r.fill(buf);
      tails.add(buf[4]!);
    }
    expect(tails.size).toBeGreaterThan(30);
  });
});
