/**
 * `npm run bench [-- --quick] [--only NAME]`: every benchmark row with its same-run reference,
 * as a table and as JSON (bench/results/latest.json). Each figure is the median of 3 runs, each
 * run verifies its bytes.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median, printTable, repeat, type Measurement, type Row } from "./common.js";
import { nodeNetBulk, nodeNetPingPong } from "./nodenet.js";
import { stackBulk, stackPingPong, tcpFactory } from "./inmem.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyIdx = args.indexOf("--only");
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined;
for (const a of args) {
  if (a.startsWith("--") && !["--quick", "--only"].includes(a)) {
    console.error(`bench: unknown flag ${a}\nusage: npm run bench [-- --quick] [--only bulk|pingpong]`);
    process.exit(2);
  }
}
const RUNS = quick ? 1 : 3;
const GiB = 1 << 30;
const BULK = quick ? 16 << 20 : GiB;
const PINGS = quick ? 2000 : 20000;

function summarize(name: string, unit: string, mine: Measurement[], ref: Measurement[], refName: string, bytes?: number): Row {
  const value = median(mine.map((m) => m.value));
  const referenceValue = median(ref.map((m) => m.value));
  const row: Row = { name, unit, value, reference: refName, referenceValue, ratio: value / referenceValue, runs: mine.map((m) => m.value) };
  if (bytes) row.cpuPerGiB = median(mine.map((m) => m.cpuSeconds)) / (bytes / GiB);
  const extra = mine[0]?.extra;
  if (extra) row.extra = Object.fromEntries(Object.keys(extra).map((k) => [k, median(mine.map((m) => m.extra![k]!))]));
  return row;
}

const rows: Row[] = [];
if (!tcpFactory) {
  console.error("bench: TCP is not available yet; nothing to measure");
  process.exit(1);
}
if (!only || only === "bulk") {
  const ref = await repeat(RUNS, () => nodeNetBulk(BULK));
  const a = await repeat(RUNS, () => stackBulk(BULK, 1500, false));
  rows.push(summarize("in-memory bulk TCP, MTU 1500, checksums", "Gbit/s", a, ref, "node:net loopback", BULK));
  const b = await repeat(RUNS, () => stackBulk(BULK, 65535, true));
  rows.push(summarize("in-memory bulk TCP, MTU 65535, offload", "Gbit/s", b, ref, "node:net loopback", BULK));
}
if (!only || only === "pingpong") {
  const ref = await repeat(RUNS, () => nodeNetPingPong(PINGS));
  const a = await repeat(RUNS, () => stackPingPong(PINGS));
  rows.push(summarize("in-memory 64 B ping-pong", "round trips/s", a, ref, "node:net loopback"));
}
printTable(rows);
for (const r of rows) if (r.extra) console.log(`  ${r.name}: ${Object.entries(r.extra).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}`);
const dir = join(process.cwd(), "bench", "results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "latest.json"), JSON.stringify({ date: new Date().toISOString(), quick, rows }, null, 2));
console.log(`\nwrote bench/results/latest.json`);
