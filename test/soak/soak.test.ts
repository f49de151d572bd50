/**
 * The soak over TUN: the Linux kernel and the stack exchange SOAK_BYTES each way (64 MiB in
 * `npm test`; `npm run soak` sets 1 GiB) in a throwaway namespace, with 2% loss, reordering and
 * duplication on the stack's link in both directions; sha256-verified, the heap sampled every
 * second after GC and checked for a growth trend; the counters are printed at the end.
 */
import { describe, expect } from "vitest";
import { itInterop } from "../interop/netns.js";
import { runSoak, type SoakResult } from "./run-soak.js";

const MiB = 1024 * 1024;
const BYTES = Number(process.env.SOAK_BYTES ?? 64 * MiB);
/** Seconds the transfer may take: 100 s for the 64 MiB run, scaled up for longer ones (at >= 1 MiB/s each way). */
const TIMEOUT_SEC = Math.max(100, Math.ceil(BYTES / MiB));

function report(res: SoakResult): void {
  const k = res.kernel;
  const t = res.trend;
  const p = res.peer as Record<string, unknown>;
  console.log([
    `soak: ${(BYTES / MiB).toFixed(0)} MiB each way: ${String(k.received)} bytes echoed in ${String(k.seconds)} s ` +
      `(${String(k.mib_s)} MiB/s each way), sha256 ${k.sha_sent === k.sha_received ? "matches" : "DIFFERS"}`,
    `heap: ${t.samples} samples after GC, min ${(t.minHeap / MiB).toFixed(1)} MiB, max ${(t.maxHeap / MiB).toFixed(1)} MiB, ` +
      `slope ${(t.slopePerSec / 1024).toFixed(1)} KiB/s, late growth ${(t.lateGrowth / MiB).toFixed(1)} MiB`,
    `fault out: ${JSON.stringify(p.faultOut)}`,
    `fault in:  ${JSON.stringify(p.faultIn)}`,
    `tcp: ${JSON.stringify(p.tcp)}`,
    `ip: ${JSON.stringify(p.ip)}`,
    `echo: ${JSON.stringify(p.echo)}`,
    res.ok ? "soak passed" : `soak FAILED: ${res.problems.join("; ")}`,
  ].join("\n"));
}

describe(`soak over TUN (${(BYTES / MiB).toFixed(0)} MiB each way, 2% loss + reordering + duplication both ways)`, () => {
  itInterop("every byte echoes intact, the heap shows no growth trend, and the counters show the damage was repaired", async () => {
    const res = await runSoak({ bytes: BYTES, timeoutSec: TIMEOUT_SEC });
    report(res);
    const p = res.peer as Record<string, Record<string, number>>;
    expect(res.problems).toEqual([]);
    expect(res.kernel.received).toBe(BYTES);
    expect(res.kernel.sha_received).toBe(res.kernel.sha_sent);
    // The faults really happened, and TCP repaired them.
    expect(p.faultOut!.lost).toBeGreaterThan(0);
    expect(p.faultIn!.lost).toBeGreaterThan(0);
    expect(p.faultIn!.duplicated + p.faultOut!.duplicated).toBeGreaterThan(0);
    expect(p.tcp!.retransmits).toBeGreaterThan(0);
  }, (TIMEOUT_SEC + 120) * 1000);
});
