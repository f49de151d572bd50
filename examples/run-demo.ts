/**
 * `npm run demo`: runs the TUN demo (examples/tun-demo.ts: the stack behind a TUN device, the
 * Linux kernel as its peer, inside a private network namespace) when this machine allows it, and
 * otherwise says why in one line and runs the in-memory demo (examples/demo.ts).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function whyNotTun(): string | null {
  if (process.platform !== "linux") return "TUN devices need Linux";
  if (process.getuid?.() !== 0) return "it needs root (to create a network namespace and a TUN device)";
  if (!existsSync("/dev/net/tun")) return "/dev/net/tun is missing";
  if (spawnSync("ip", ["-V"], { stdio: "ignore" }).status !== 0) return "the `ip` command (iproute2) is missing";
  const build = join(REPO, "packages", "link-tun", "scripts", "build-addon.mjs");
  spawnSync(process.execPath, [build, "--quiet"], { stdio: "inherit", timeout: 300_000 });
  if (!existsSync(join(REPO, "packages", "link-tun", "build", "Release", "tun.node")))
    return "the link-tun addon is not built (node packages/link-tun/scripts/build-addon.mjs --force)";
  return null;
}

const why = whyNotTun();
if (why === null) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO, "examples", "tun-demo.ts")], { stdio: "inherit", cwd: REPO });
  process.exitCode = r.status ?? 1;
} else {
  console.log(`[demo] not running the TUN demo: ${why}; running the in-memory demo instead.\n`);
  await import("./demo.js");
}
