/**
 * The benchmark suite on a tiny size: every row runs and verifies its bytes (each measurement
 * throws when the data received differs from the data sent). No timing is asserted here.
 * The TUN rows need root, /dev/net/tun, `ip` and python3: without them they are skipped with the
 * reason printed — except in CI (CI=true), where they fail saying what is missing.
 */
import { describe, expect, it } from "vitest";
import { TINY, runSuite, type RowGroup } from "../../bench/suite.js";
import { tunPrereqs } from "../../bench/tun/netns.js";
import { canPin } from "../../bench/tun.js";
import type { Row } from "../../bench/common.js";

const IN_CI = process.env.CI === "true";

function checkRows(rows: Row[], names: RegExp[]): void {
  expect(rows.map((r) => r.name)).toEqual(names.map((re) => expect.stringMatching(re)));
  for (const r of rows) {
    expect(r.runs.length).toBe(TINY.runs);
    expect(r.value).toBeGreaterThan(0);
    expect(r.referenceValue).toBeGreaterThan(0);
    expect(Number.isFinite(r.ratio)).toBe(true);
  }
}

async function group(g: RowGroup): Promise<Row[]> {
  return runSuite(TINY, [g]);
}

describe("benchmark suite, tiny size (each run verifies its data)", () => {
  it("rows 1 and 6: in-memory bulk at MTU 1500 and 65535 verify 1 MiB against node:net and report CPU s/GiB", async () => {
    const rows = await group("bulk");
    checkRows(rows, [/^1a /, /^1b /]);
    for (const r of rows) expect(r.cpuPerGiB).toBeGreaterThan(0);
  });

  it("row 2: in-memory 64-byte ping-pong completes every round trip, with latency percentiles", async () => {
    const rows = await group("pingpong");
    checkRows(rows, [/^2 /]);
    expect(rows[0]!.extra!.medianUs).toBeGreaterThan(0);
    expect(rows[0]!.extra!.p99Us).toBeGreaterThanOrEqual(rows[0]!.extra!.medianUs!);
  });

  it("row 5: scale establishes every connection, measures heap, and verifies 1/10/100 concurrent flows", async () => {
    const rows = await group("scale");
    checkRows(rows, [/^5a .*100 connections/, /^5b .* 1 active/, /^5b .* 10 active/, /^5b .* 100 active/]);
    expect(rows[0]!.extra!.heapBytesPerConnection).toBeGreaterThan(0);
  });

  const why = tunPrereqs();
  if (why && !IN_CI) console.warn(`[bench] skipping the TUN rows: ${why}`);
  it.skipIf(why !== null && !IN_CI)("rows 3, 4 and 6: TUN sink, download, echo (sha256) and ping-pong verify against the kernel over veth, in a private namespace", async () => {
    if (why) throw new Error(`${why} (CI=true: the TUN benchmark check must run, not skip)`);
    const rows = await group("tun");
    // The pinned ping-pong rows (4b') run where taskset and two CPUs exist (canPin).
    checkRows(rows, [/^3a /, /^3a' /, /^3b /, /^3b' /, /^4a /, /^4a' /, /^4b /,
      ...(canPin() ? [/^4b' .*separate CPUs/, /^4b' .*one CPU/] : [])]);
    expect(rows[6]!.extra!.p99Us).toBeGreaterThanOrEqual(rows[6]!.extra!.medianUs!);
  }, 180_000);
});
