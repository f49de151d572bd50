/**
 * The long soak over TUN: inside a throwaway namespace, the Linux kernel sends N bytes of random
 * data over TCP to the stack's echo server and reads them back (N each way), while the stack's link
 * loses, reorders and duplicates 2% of the packets in both directions (test/soak/soak-peer.ts).
 * Every byte is verified by sha256, the stack's heap is sampled every second (after GC) and
 * checked for a growth trend, and the counters are returned.
 *
 * Used by test/soak/soak.test.ts: 64 MiB in `npm test`, 1 GiB under `npm run soak` (SOAK_BYTES).
 * Every wait is bounded; the namespace is always deleted.
 */
import { join } from "node:path";
import { NET, REPO, parseJsonLine, withNetns } from "../interop/netns.js";

export const SOAK_PEER = join(REPO, "test", "soak", "soak-peer.ts");

export interface SoakOptions {
  bytes: number;
  /** Seconds the transfer may take before it counts as failed. */
  timeoutSec: number;
  family?: 4 | 6;
  loss?: number;
  reorder?: number;
  duplicate?: number;
  seed?: number;
}

export interface HeapTrend {
  samples: number;
  /** Least-squares slope over the samples after the first quarter (bytes per second). */
  slopePerSec: number;
  /** Mean of the last third minus the mean of the middle third (bytes). */
  lateGrowth: number;
  maxHeap: number;
  minHeap: number;
}

export interface SoakResult {
  ok: boolean;
  problems: string[];
  kernel: Record<string, unknown>;
  peer: Record<string, unknown> & { heap: number[] };
  trend: HeapTrend;
}

/** Fits a line through the heap samples once warmed up (the first quarter is skipped). */
export function heapTrend(heap: readonly number[]): HeapTrend {
  const from = Math.floor(heap.length / 4);
  const xs = heap.slice(from);
  const n = xs.length;
  let slope = 0;
  if (n >= 2) {
    const mx = (n - 1) / 2;
    const my = xs.reduce((s, v) => s + v, 0) / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      num += (i - mx) * (xs[i]! - my);
      den += (i - mx) ** 2;
    }
    slope = num / den;
  }
  const third = Math.floor(heap.length / 3);
  const mean = (a: readonly number[]) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : 0);
  const lateGrowth = third >= 1 ? mean(heap.slice(2 * third)) - mean(heap.slice(third, 2 * third)) : 0;
  return {
    samples: heap.length, slopePerSec: slope, lateGrowth,
    maxHeap: heap.length ? Math.max(...heap) : 0, minHeap: heap.length ? Math.min(...heap) : 0,
  };
}

/** Bounds of the no-growth check: a slope under 256 KiB/s and under 32 MiB of late growth. */
export const HEAP_SLOPE_LIMIT = 256 * 1024;
export const HEAP_LATE_GROWTH_LIMIT = 32 * 1024 * 1024;

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const fam = o.family ?? 4;
  const v6 = fam === 6;
  return withNetns(async (ns) => {
    const args = [
      "--expose-gc", "--import", "tsx", SOAK_PEER, "--tun", "nsoak0",
      "--addr", `${NET.stack4}/${NET.prefix4}`, "--host-addr", `${NET.kernel4}/${NET.prefix4}`,
      ...(v6 ? ["--addr6", `${NET.stack6}/${NET.prefix6}`, "--host-addr6", `${NET.kernel6}/${NET.prefix6}`] : []),
      "--loss", String(o.loss ?? 0.02), "--reorder", String(o.reorder ?? 0.02), "--duplicate", String(o.duplicate ?? 0.02),
      "--seed", String(o.seed ?? 1), "--seconds", String(o.timeoutSec + 60),
    ];
    const peer = ns.spawn(process.execPath, args, (o.timeoutSec + 90) * 1000, "soak-peer");
    await peer.waitFor(/^READY/, 30_000);
    const kernel = await ns.kernel(["tcp-echo", v6 ? NET.stack6 : NET.stack4, 7, "--bytes", o.bytes], o.timeoutSec);
    const r = await peer.stop(10_000);
    const stats = parseJsonLine(r, "soak-peer") as SoakResult["peer"];
    const trend = heapTrend(stats.heap ?? []);
    const problems: string[] = [];
    if (kernel.error) problems.push(`kernel side: ${String(kernel.error)}`);
    if (kernel.received !== o.bytes) problems.push(`received ${String(kernel.received)} of ${o.bytes} bytes`);
    if (kernel.sha_sent !== kernel.sha_received) problems.push("sha256 of the echoed stream differs from what was sent");
    if (kernel.eof !== true) problems.push("no EOF from the stack");
    if (!stats.gcExposed) problems.push("the soak peer ran without --expose-gc (heap samples are not after GC)");
    if (trend.samples >= 8) {
      if (trend.slopePerSec > HEAP_SLOPE_LIMIT) problems.push(`heap grows ${(trend.slopePerSec / 1024).toFixed(0)} KiB/s`);
      if (trend.lateGrowth > HEAP_LATE_GROWTH_LIMIT) problems.push(`heap grew ${(trend.lateGrowth / 1048576).toFixed(1)} MiB late in the run`);
    }
    return { ok: problems.length === 0, problems, kernel, peer: stats, trend };
  });
}
