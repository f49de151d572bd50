/**
 * Profiling helpers: `node --cpu-prof --cpu-prof-dir=DIR --import tsx bench/profile.ts inmem [MTU] [MiB]`
 * runs one in-memory bulk transfer; `summary FILE.cpuprofile` prints the top self-time functions.
 */
import { readFileSync } from "node:fs";
import { stackBulk } from "./inmem.js";

const [cmd, a1, a2] = process.argv.slice(2);
if (cmd === "inmem") {
  const mtu = Number(a1 ?? 1500);
  const m = await stackBulk(Number(a2 ?? 256) << 20, mtu, mtu > 1500);
  console.log(`${m.value.toFixed(2)} Gbit/s, ${m.cpuSeconds.toFixed(2)} CPU s`);
} else if (cmd === "summary") {
  interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number }
  const prof = JSON.parse(readFileSync(a1!, "utf8")) as { nodes: Node[]; samples: number[] };
  const self = new Map<string, number>();
  let total = 0;
  for (const n of prof.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || "(anon)"} ${f.url.replace(/^.*\/(packages|bench|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + n.hitCount);
    total += n.hitCount;
  }
  const top = [...self.entries()].sort((x, y) => y[1] - x[1]).slice(0, Number(a2 ?? 30));
  for (const [k, v] of top) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
} else {
  console.error("usage: bench/profile.ts inmem [MTU] [MiB] | summary FILE [N]");
  process.exit(2);
}
