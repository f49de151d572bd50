/**
 * `npm run bench [-- --quick] [--only bulk,pingpong,tun,scale]`: every benchmark row with its
 * same-run reference, as a table and as JSON (bench/results/latest.json). Each figure is the
 * median of 3 runs (1 with --quick); each run verifies its bytes. Row 6 (CPU s/GiB) is the
 * CPU column of rows 1 and 3.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { printTable, type Row } from "./common.js";
import { tcpFactory } from "./inmem.js";
import { FULL, GROUPS, QUICK, runSuite, type RowGroup } from "./suite.js";
import { tunPrereqs } from "./tun/netns.js";

const USAGE = "usage: npm run bench [-- --quick] [--only bulk,pingpong,tun,scale]";
const args = process.argv.slice(2);
const quick = args.includes("--quick");
let groups: RowGroup[] = GROUPS;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === "--quick") continue;
  if (a === "--only") {
    const list = (args[++i] ?? "").split(",") as RowGroup[];
    if (!list.length || list.some((g) => !GROUPS.includes(g))) {
      console.error(`bench: --only takes ${GROUPS.join(",")}\n${USAGE}`);
      process.exit(2);
    }
    groups = list;
    continue;
  }
  console.error(`bench: unknown argument ${a}\n${USAGE}`);
  process.exit(2);
}
if (!tcpFactory) {
  console.error("bench: TCP is not available yet; nothing to measure");
  process.exit(1);
}
if (groups.includes("tun")) {
  const why = tunPrereqs();
  if (why) {
    console.error(`bench: skipping the TUN rows: ${why}`);
    groups = groups.filter((g) => g !== "tun");
  }
}
// The stacks' timers do not keep Node alive (a stalled flow would let the process exit quietly
// mid-run): hold the loop open, and bound the whole run.
const LIMIT_S = 15 * 60;
const keepAlive = setInterval(() => {}, 1000);
const watchdog = setTimeout(() => {
  console.error(`bench: stopped after the ${LIMIT_S} s limit (a measurement did not finish)`);
  process.exit(1);
}, LIMIT_S * 1000);
const t0 = performance.now();
const rows: Row[] = await runSuite(quick ? QUICK : FULL, groups, (s) => console.error(`bench: ${s}`));
printTable(rows);
for (const r of rows) {
  const parts: string[] = [];
  if (r.extra) parts.push(Object.entries(r.extra).map(([k, v]) => `${k} ${v.toFixed(k.startsWith("vs") ? 2 : 1)}`).join(", "));
  if (r.referenceExtra) parts.push(`reference: ${Object.entries(r.referenceExtra).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}`);
  if (r.referenceCpuPerGiB !== undefined) parts.push(`reference CPU s/GiB ${r.referenceCpuPerGiB.toFixed(2)}`);
  if (parts.length) console.log(`  ${r.name}: ${parts.join("; ")}`);
}
const secs = (performance.now() - t0) / 1000;
const dir = join(process.cwd(), "bench", "results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "latest.json"), JSON.stringify({
  date: new Date().toISOString(), quick, seconds: secs, node: process.version, rows,
}, null, 2));
clearInterval(keepAlive);
clearTimeout(watchdog);
console.log(`\n${rows.length} rows in ${secs.toFixed(0)} s; wrote bench/results/latest.json`);
