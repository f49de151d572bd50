/**
 * The `netstack` command's argument handling and its one-line errors that need no device:
 * bad flags print the usage and exit 2; a missing addon is one line saying how to build it.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: REPO, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const GOOD = ["--tun", "nst0", "--addr", "198.18.0.2/24", "--port", "7"];

describe("netstack CLI arguments", () => {
  it.each([
    [["echo", "--addr", "198.18.0.2/24", "--port", "7"], /missing --tun/],
    [["echo", "--tun", "nst0", "--port", "7"], /missing --addr/],
    [["echo", "--tun", "nst0", "--addr", "198.18.0.2/24"], /missing --port/],
    [["echo", ...GOOD.slice(0, 4), "--port", "70000"], /invalid --port 70000/],
    [["echo", ...GOOD, "--mode", "mirror"], /invalid --mode mirror/],
    [["echo", "--tun", "nst0", "--addr", "198.18.0.300/24", "--port", "7"], /invalid --addr/],
    [["echo", "--tun", "nst0", "--addr", "fd00::2/64", "--port", "7"], /invalid --addr/],
    [["echo", ...GOOD, "--host-addr6", "198.18.0.1/24"], /invalid --host-addr6/],
    [["echo", ...GOOD, "--bogus"], /Unknown option '--bogus'/],
    [["echo", ...GOOD, "--mtu", "10"], /invalid --mtu/],
    [["echo", ...GOOD, "--vnet-hdr", "--no-vnet-hdr"], /--vnet-hdr and --no-vnet-hdr contradict/],
    [["serve", ...GOOD], /unknown command "serve"/],
    [[], /missing command/],
  ])("%j prints the usage and exits 2", (args, why) => {
    const r = cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why as RegExp);
    expect(r.stderr).toContain("usage: netstack echo --tun NAME --addr CIDR");
  });

  it("--help prints the usage and exits 0", () => {
    const r = cli(["echo", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr + r.stdout).toContain("usage: netstack echo");
  });

  it("without the addon: one line saying it is not built and how to build it, exit 1", () => {
    const r = cli(["echo", ...GOOD], { NETSTACK_TUN_ADDON: "/nonexistent/tun.node" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      "netstack: link-tun addon not built: run `node packages/link-tun/scripts/build-addon.mjs --force` (needs python3, make and a C compiler)",
    ]);
  });
});
