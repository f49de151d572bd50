/**
 * Differential tests: every scenario in diff/scenarios.ts runs on the Linux kernel (python3's
 * socket module inside a throwaway network namespace, loopback only) and on socket-api over two
 * in-memory stacks; each op's return value, bytes and errno must match.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe as suite, expect, it } from "vitest";
import { compile, describe, type CompiledScenario, type Result } from "./diff/dsl.js";
import { scenarios } from "./diff/scenarios.js";
import { runTs } from "./diff/ts-runner.js";
import { Netns, skipReason } from "./netns.js";

const here = dirname(fileURLToPath(import.meta.url));
const compiled = compile(scenarios);
const skip = skipReason();
let linux: Record<string, Result[]> = {};

suite("differential: socket-api vs the Linux kernel", () => {
  beforeAll(() => {
    if (skip) return;
    const dir = mkdtempSync(join(tmpdir(), "sockapi-diff-"));
    const file = join(dir, "scenarios.json");
    writeFileSync(file, JSON.stringify(compiled));
    const ns = Netns.create("diff");
    try {
      linux = JSON.parse(ns.exec("python3", [join(here, "diff", "linux_runner.py"), file], 120_000));
    } finally {
      ns.delete();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(() => {});

  it("has at least 40 scenarios", () => {
    expect(compiled.length).toBeGreaterThanOrEqual(40);
  });

  for (const scn of compiled) {
    const about = scenarios.find((s) => s.name === scn.name)!.about;
    const why = skip;
    // DIFF_STRICT=1 runs known divergences as plain comparisons (to see the diff).
    if (scn.known && !why && process.env.DIFF_STRICT !== "1") {
      it.fails(`${scn.name}: ${about} [known divergence: ${scn.known}]`, () => check(scn));
      continue;
    }
    it.skipIf(why !== null)(`${scn.name}: ${about}`, () => {
      if (why) return;
      check(scn);
    });
    // AF_INET6 scenarios run a second time on stacks with IPv6, where the socket uses the
    // (dual-stack) IPv6 endpoints instead of the v4-mapped fallback.
    const inet6 = scn.ops.some((o) => o.op === "socket" && o.family === 10);
    if (inet6 && !scn.known) {
      it.skipIf(why !== null)(`${scn.name} (stacks with IPv6): ${about}`, () => {
        if (why) return;
        check(scn, true);
      });
    }
  }
});

function check(scn: CompiledScenario, ipv6 = false): void {
  const want = linux[scn.name];
  expect(want, `Linux produced no result for ${scn.name}`).toBeDefined();
  const got = runTs(scn, { ipv6 });
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    const msg = `scenario ${scn.name}${ipv6 ? " (IPv6 stacks)" : ""}\n--- Linux\n${describe(want!, scn.ops)}\n` +
      `--- socket-api\n${describe(got, scn.ops)}`;
    expect(got, msg).toEqual(want);
  }
}
