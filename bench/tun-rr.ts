/**
 * Row 4b alone, for quick iterations: the 64-byte TUN ping-pong against netstack-ts (virtio-net
 * offloads on, as in row 4b) and, unless --no-ref, against the kernel over veth, in the same
 * namespaces and with the same client as `npm run bench -- --only tun` (bench/tun.ts), which is
 * unchanged by this script.
 *
 *   npx tsx bench/tun-rr.ts [--rounds N] [--runs N] [--warmup N] [--no-ref] [--no-vnet] [--prof DIR]
 *     [--heap-sample FILE] [--perf] [--before sink,download,echo [--before-bytes N]]
 *
 * Per run it prints round trips/s, median and p99 latency, and from the server (started with
 * --gc-stats, see bench/tun/server.ts): CPU µs, JavaScript heap bytes allocated and scavenges per
 * round trip. `--warmup N` runs N uncounted round trips first (the suite's row 4b has no warm-up
 * of its own, but runs after the bulk tests on the same server). `--prof DIR` writes the server's
 * .cpuprofile into DIR (summarize with `npx tsx bench/profile.ts summary FILE`); `--perf` counts
 * the server's context switches per round trip (perf stat); `--heap-sample
 * FILE` writes a sampling heap profile of the first counted run (every allocation, collected ones
 * included) to FILE. `--before` runs those bulk tests first (64 MiB each unless --before-bytes), as
 * the suite does before row 4b.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { median } from "./common.js";
import { tunKernel } from "./tun.js";
import { KERNEL, REPO, STACK, tunPrereqs, withNamespaces, type BenchNetns, type BenchProc } from "./tun/netns.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string" }, runs: { type: "string" }, warmup: { type: "string" }, "no-ref": { type: "boolean" },
    "no-vnet": { type: "boolean" }, prof: { type: "string" }, "heap-sample": { type: "string" }, perf: { type: "boolean" },
    before: { type: "string" }, "before-bytes": { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 20_000);
const runs = Number(values.runs ?? 3);
const warmup = Number(values.warmup ?? 0);
const PEER = join(REPO, "bench", "tun", "peer.py");
const SERVER = join(REPO, "bench", "tun", "server.ts");

const why = tunPrereqs();
if (why) {
  console.error(`tun-rr: ${why}`);
  process.exit(1);
}

interface RrRun {
  rate: number;
  medianUs: number;
  p99Us: number;
  cpuUsPerRt: number;
  allocBytesPerRt: number;
  scavengesPer1k: number;
  markCompacts: number;
  gcPauseMs: number;
  userUsPerRt: number;
  systemUsPerRt: number;
}

/** Asks the server for a GCSTATS snapshot (SIGUSR2) and waits for the new line. */
async function gcSnapshot(server: BenchProc): Promise<Record<string, number>> {
  const count = () => server.stderr.split("\n").filter((l) => l.startsWith("GCSTATS ")).length;
  const before = count();
  server.kill("SIGUSR2");
  const t0 = Date.now();
  while (count() === before) {
    if (!server.running || Date.now() - t0 > 10_000) throw new Error(`tun-rr: no GCSTATS from the server: ${server.stderr.slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const line = server.stderr.split("\n").filter((l) => l.startsWith("GCSTATS ")).pop()!;
  return JSON.parse(line.slice("GCSTATS ".length)) as Record<string, number>;
}

/**
 * `--perf`: counts the server's context switches and CPU migrations with `perf stat` over one run
 * (software events: they work in a VM without hardware counters). Returns a function that stops
 * perf and resolves with the counts.
 */
function perfStat(pid: number): () => Promise<Record<string, number>> {
  const p = spawn("perf", ["stat", "-x", ",", "-e", "context-switches,cpu-migrations", "-p", String(pid)],
    { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr.setEncoding("utf8");
  p.stderr.on("data", (d: string) => { err += d; });
  const closed = new Promise<void>((res) => p.on("close", () => res()));
  return async () => {
    await new Promise((r) => setTimeout(r, 50));
    p.kill("SIGINT");
    await closed;
    const out: Record<string, number> = {};
    for (const line of err.split("\n")) {
      const f = line.split(",");
      if (f.length > 2 && f[0] && !Number.isNaN(Number(f[0]))) out[f[2]!] = Number(f[0]);
    }
    return out;
  };
}

async function rr(ns: BenchNetns, n: number): Promise<Record<string, unknown>> {
  const p = ns.spawn("python3", [PEER, "rr", STACK, "--rounds", String(n), "--timeout", "60"], 75_000, "peer.py rr");
  const r = await p.json();
  if (r.verified !== true) throw new Error(`tun-rr: not verified: ${JSON.stringify(r)}`);
  return r;
}

const mine: RrRun[] = [];
await withNamespaces(1, async ([ns]) => {
  const dev = "nsbt0";
  const prof = values.prof ? ["--cpu-prof", `--cpu-prof-dir=${values.prof}`, "--cpu-prof-interval=100"] : [];
  const server = ns!.spawn(process.execPath, [...prof, "--import", "tsx", SERVER, "--tun", dev, "--addr", `${STACK}/24`,
    "--host-addr", `${KERNEL}/24`, "--mtu", "1500", "--gc-stats",
    ...(values["heap-sample"] ? ["--heap-sample", values["heap-sample"]] : []), ...(values["no-vnet"] ? [] : ["--vnet"])], 600_000, "tun server");
  await server.waitLine(/^READY/, 30_000);
  ns!.ip("link", "set", dev, "txqueuelen", "1000");
  try {
    // --before sink,download,echo: the bulk tests row 4b follows in the suite, on the same server.
    for (const t of values.before ? values.before.split(",") : []) {
      const bytes = String(Number(values["before-bytes"] ?? 64 << 20));
      const p = ns!.spawn("python3", [PEER, t, STACK, "--bytes", bytes, "--timeout", "60"], 75_000, `peer.py ${t}`);
      const r = await p.json();
      if (r.verified !== true) throw new Error(`tun-rr: ${t} not verified: ${JSON.stringify(r)}`);
    }
    if (warmup > 0) await rr(ns!, warmup);
    for (let i = 0; i < runs; i++) {
      const perf = values.perf ? perfStat(server.child.pid!) : null;
      const a = await gcSnapshot(server);
      const r = await rr(ns!, rounds);
      if (perf) {
        const c = await perf();
        console.log(`         perf (server, per rt): ${Object.entries(c).map(([k, v]) => `${k} ${(v / rounds).toFixed(2)}`).join(", ")}`);
      }
      const b = await gcSnapshot(server);
      const run: RrRun = {
        rate: rounds / (r.seconds as number), medianUs: r.median_us as number, p99Us: r.p99_us as number,
        cpuUsPerRt: ((b.cpuSeconds! - a.cpuSeconds!) * 1e6) / rounds,
        allocBytesPerRt: (b.allocated! - a.allocated!) / rounds,
        scavengesPer1k: ((b.scavenges! - a.scavenges!) * 1000) / rounds,
        markCompacts: b.markCompacts! - a.markCompacts!,
        gcPauseMs: b.pauseMs! - a.pauseMs!,
        userUsPerRt: ((b.userSeconds! - a.userSeconds!) * 1e6) / rounds,
        systemUsPerRt: ((b.systemSeconds! - a.systemSeconds!) * 1e6) / rounds,
      };
      mine.push(run);
      const threads = Object.keys(b).filter((k) => k.startsWith("thread:")).map((k) => [k.slice(7), (b[k]! - (a[k] ?? 0)) * 1e6 / rounds] as const)
        .filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
      console.log(`         server CPU µs/rt: user ${((b.userSeconds! - a.userSeconds!) * 1e6 / rounds).toFixed(1)}, system ` +
        `${((b.systemSeconds! - a.systemSeconds!) * 1e6 / rounds).toFixed(1)}; by thread: ${threads}`);
      const f = (k: string) => Number(r[k]).toFixed(1);
      console.log(`         latency µs: p90 ${f("p90_us")}, p99.9 ${f("p999_us")}, max ${f("max_us")}, mean ${f("mean_us")}; ` +
        `${(Number(r.slow_share) * 100).toFixed(0)}% of the time in round trips over 4x the median`);
      console.log(`stack  run ${i + 1}: ${run.rate.toFixed(0)} rt/s, median ${run.medianUs.toFixed(1)} µs, p99 ${run.p99Us.toFixed(1)} µs; ` +
        `server ${run.cpuUsPerRt.toFixed(1)} CPU µs/rt, ${run.allocBytesPerRt.toFixed(0)} B allocated/rt, ` +
        `${run.scavengesPer1k.toFixed(2)} scavenges per 1k rt, ${run.markCompacts} mark-compacts, GC pause ${run.gcPauseMs.toFixed(1)} ms`);
    }
  } finally {
    server.kill("SIGTERM");
    await server.exited;
  }
  const stats = server.stderr.split("\n").find((l) => l.startsWith("STATS"));
  if (stats) {
    const s = JSON.parse(stats.slice(6)) as { link: Record<string, number> };
    console.log(`stack  link: rxBatches ${s.link.rxBatches}, rxPackets ${s.link.rxPackets}, txPackets ${s.link.txPackets}`);
  }
});

let refRate = NaN;
if (!values["no-ref"]) {
  const ref = await tunKernel({ bulkBytes: 1 << 20, rounds, runs, mtu: 1500 }, ["rr"]);
  ref.rr.forEach((m, i) => console.log(`kernel run ${i + 1}: ${m.value.toFixed(0)} rt/s, median ${m.extra!.medianUs!.toFixed(1)} µs, p99 ${m.extra!.p99Us!.toFixed(1)} µs`));
  refRate = median(ref.rr.map((m) => m.value));
}
const rate = median(mine.map((r) => r.rate));
console.log(`\nmedian of ${runs}: stack ${rate.toFixed(0)} rt/s (median ${median(mine.map((r) => r.medianUs)).toFixed(1)} µs, ` +
  `p99 ${median(mine.map((r) => r.p99Us)).toFixed(1)} µs), ${median(mine.map((r) => r.cpuUsPerRt)).toFixed(1)} CPU µs/rt, ` +
  `${median(mine.map((r) => r.allocBytesPerRt)).toFixed(0)} B/rt` +
  (Number.isNaN(refRate) ? "" : `; kernel ${refRate.toFixed(0)} rt/s; ratio ${(rate / refRate).toFixed(2)}x`));
// On a shared machine the least-disturbed run tells the stack's own cost best.
console.log(`least CPU over the runs: user ${Math.min(...mine.map((r) => r.userUsPerRt)).toFixed(1)} µs/rt, system ` +
  `${Math.min(...mine.map((r) => r.systemUsPerRt)).toFixed(1)} µs/rt; best rate ${Math.max(...mine.map((r) => r.rate)).toFixed(0)} rt/s`);
