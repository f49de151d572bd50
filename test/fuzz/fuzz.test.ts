import { describe, expect, it } from "vitest";
import { runFuzz } from "./harness.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 200_000);

describe("stack fuzzing", () => {
  it.each([
    { link: "bare IPv4/IPv6 link", ethernet: false, frames: FRAMES },
    { link: "Ethernet with ARP and NDP", ethernet: true, frames: Math.ceil(FRAMES / 2) },
  ])(`survives random and mutated frames on a $link with every frame accounted for (seed ${SEED})`, ({ ethernet, frames }) => {
    const res = runFuzz({ frames, seed: SEED, ethernet });
    if (res.failures.length > 0) {
      const f = res.failures[0]!;
      console.error(`fuzz finding at frame ${f.index} (seed ${f.seed}): ${f.reason}\n` +
        `replay: npm run fuzz -- --seed ${f.seed} --frames ${f.index + 1}${ethernet ? " --ethernet" : ""}\nframe (base64): ${f.frame}`);
    }
    expect(res.failures.map((f) => `${f.index}: ${f.reason.split("\n")[0]}`)).toEqual([]);
    expect(res.flowChecks).toBeGreaterThan(10);
    expect(res.counters.ip.packetsDelivered).toBeGreaterThan(frames / 10);
    expect(res.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });
});
