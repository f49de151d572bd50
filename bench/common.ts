/**
 * Shared benchmark plumbing: medians over runs, a verified byte pattern, result rows and the
 * table/JSON output. Benchmarks measure; nothing here asserts a speed.
 */
import { randomFillSync } from "node:crypto";

/** A 1 MiB random block: stream offset n carries PATTERN[n % PATTERN.length]. */
export const PATTERN = randomFillSync(new Uint8Array(1 << 20));
export const PATTERN_MASK = PATTERN.length - 1;

/** Fills `dst` with the pattern starting at stream offset `at`. */
export function fillPattern(dst: Uint8Array, at: number): void {
  let o = 0;
  while (o < dst.length) {
    const p = (at + o) & PATTERN_MASK;
    const n = Math.min(dst.length - o, PATTERN.length - p);
    dst.set(PATTERN.subarray(p, p + n), o);
    o += n;
  }
}

/** True when `src` equals the pattern at stream offset `at`. */
export function checkPattern(src: Uint8Array, at: number): boolean {
  let o = 0;
  while (o < src.length) {
    const p = (at + o) & PATTERN_MASK;
    const n = Math.min(src.length - o, PATTERN.length - p);
    if (Buffer.compare(src.subarray(o, o + n), PATTERN.subarray(p, p + n)) !== 0) return false;
    o += n;
  }
  return true;
}

export interface Measurement {
  /** The figure (Gbit/s, round trips/s, ...). */
  value: number;
  /** CPU seconds (user + system) the run used. */
  cpuSeconds: number;
  /** Bytes (or operations) verified. */
  verified: number;
  extra?: Record<string, number>;
}

export interface Row {
  name: string;
  unit: string;
  value: number;
  reference: string;
  referenceValue: number;
  ratio: number;
  cpuPerGiB?: number;
  /** The reference's CPU s/GiB (process CPU of the reference's server/process; the kernel's softirq work is not in it). */
  referenceCpuPerGiB?: number;
  runs: number[];
  extra?: Record<string, number>;
  referenceExtra?: Record<string, number>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `runs` times and returns every measurement. */
export async function repeat(runs: number, fn: () => Promise<Measurement>): Promise<Measurement[]> {
  const out: Measurement[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
}

export function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function printTable(rows: Row[]): void {
  const lines = [
    ["benchmark", "netstack-ts", "reference", "ratio", "CPU s/GiB"],
    ...rows.map((r) => [
      r.name,
      `${fmt(r.value)} ${r.unit}`,
      `${r.reference}: ${fmt(r.referenceValue)} ${r.unit}`,
      r.ratio.toFixed(2) + "×",
      r.cpuPerGiB === undefined ? "" : r.cpuPerGiB.toFixed(2),
    ]),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, j) => c.padEnd(widths[j]!)).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
