/**
 * `npm run fuzz -- --frames N --seed S` runs the stack fuzzer and prints frames/s and findings;
 * findings are saved under fuzz-failures/ with the command that replays them.
 * `npm run fuzz -- --replay FILE` re-runs a saved finding.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { replayFrame, runFuzz } from "./harness.js";

const USAGE = "usage: npm run fuzz -- [--frames N] [--seed S] [--ethernet] | --replay FILE";

function parse(argv: string[]): { frames: number; seed: number; replay: string | null; ethernet: boolean } {
  const out = { frames: 1_000_000, seed: 1, replay: null as string | null, ethernet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if (a === "--frames" && v && /^\d+$/.test(v)) { out.frames = Number(v); i++; }
    else if (a === "--seed" && v && /^\d+$/.test(v)) { out.seed = Number(v); i++; }
    else if (a === "--replay" && v) { out.replay = v; i++; }
    else if (a === "--ethernet") out.ethernet = true;
    else {
      console.error(`fuzz: bad argument ${JSON.stringify(a)}\n${USAGE}`);
      process.exit(2);
    }
  }
  return out;
}

const args = parse(process.argv.slice(2));
if (args.replay) {
  const saved = JSON.parse(readFileSync(args.replay, "utf8")) as { seed: number; ethernet?: boolean; index: number; frame: string; reason: string };
  console.log(`replaying ${args.replay}: ${saved.reason}`);
  const ethernet = saved.ethernet ?? false;
  const one = replayFrame(Buffer.from(saved.frame, "base64"), ethernet);
  if (one.error) console.log(`single-frame replay throws: ${(one.error as Error).stack ?? String(one.error)}`);
  else console.log("single-frame replay: no exception; re-running the seed to the failing frame");
  const res = runFuzz({ frames: saved.index + 1, seed: saved.seed, ethernet });
  console.log(res.failures.length ? `reproduced: ${res.failures[0]!.reason}` : "not reproduced");
  process.exit(res.failures.length ? 1 : 0);
}

console.log(`fuzzing: ${args.frames} frames, seed ${args.seed}${args.ethernet ? ", Ethernet victim" : ""}`);
const res = runFuzz({ frames: args.frames, seed: args.seed, ethernet: args.ethernet, progress: (n) => console.log(`  ${n} frames`) });
console.log(`${res.frames} frames in ${res.seconds.toFixed(1)} s (${Math.round(res.frames / res.seconds)} frames/s), ` +
  `flow checks ${res.flowChecks}, max heap growth ${(res.heapGrowth / 1048576).toFixed(1)} MiB`);
const c = res.counters;
console.log(`victim: ip received ${c.ip.packetsReceived}, delivered ${c.ip.packetsDelivered}, malformed ${c.ip.malformedPacketsReceived}, ` +
  `checksum errors ${c.ip.checksumErrors}, tcp invalid ${c.tcp.invalidSegmentsReceived}, udp malformed ${c.udp.malformedPacketsReceived}`);
if (res.failures.length === 0) {
  console.log("no findings");
  process.exit(0);
}
mkdirSync("fuzz-failures", { recursive: true });
for (const f of res.failures) {
  const file = join("fuzz-failures", `seed${f.seed}${f.ethernet ? "-eth" : ""}-frame${f.index}.json`);
  writeFileSync(file, JSON.stringify(f, null, 2));
  console.log(`FINDING at frame ${f.index}: ${f.reason.split("\n")[0]}\n  saved ${file}; replay: npm run fuzz -- --replay ${file}`);
}
process.exit(1);
