import { describe, expect, it } from "vitest";
import { runFuzz } from "./harness.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 200_000);

describe("stack fuzzing", () => {
  it(`survives ${FRAMES} random and mutated frames with every frame accounted for (seed ${SEED})`, () => {
    const res = runFuzz({ frames: FRAMES, seed: SEED });
    if (res.failures.length > 0) {
      const f = res.failures[0]!;
      console.error(`fuzz finding at frame ${f.index} (seed ${f.seed}): ${f.reason}\n` +
        `replay: npm run fuzz -- --seed ${f.seed} --frames ${f.index + 1}\nframe (base64): ${f.frame}`);
    }
    expect(res.failures.map((f) => `${f.index}: ${f.reason.split("\n")[0]}`)).toEqual([]);
    expect(res.flowChecks).toBeGreaterThan(10);
    expect(res.counters.ip.packetsDelivered).toBeGreaterThan(FRAMES / 10);
    expect(res.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });
});
