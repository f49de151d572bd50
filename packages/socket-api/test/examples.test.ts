/**
 * The embedding examples, each run as a user would run it (`tsx examples/<name>/main.ts`):
 * two-stacks and web-streams in memory (no root), and http-over-tun with the Linux kernel as the
 * HTTP client (curl) inside a throwaway network namespace: the TUN device is created by the
 * example started through `ip netns exec`, addresses 198.18.0.1 (kernel) / 198.18.0.2 (stack);
 * the namespace is deleted in `finally` and by exit handlers, the child is ended by its PID.
 * Also checks NODE_DEBUG=netstack tracing from a real process.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { addonBuilt } from "@netstack-ts/link-tun";
import { Netns, skipReason } from "./netns.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");

/** Runs an example to completion (bounded), returning its exit status and output. */
function runExample(name: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "examples", name, "main.ts"), ...args], {
    cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("examples (in memory, no root)", () => {
  it("two-stacks: TCP and UDP6 between two stacks over an in-memory link", () => {
    const r = runExample("two-stacks");
    expect(r.stderr.replace(/.*nodedir.*\n?/g, "")).toBe("");
    expect(r.stdout).toContain('tcp: alice -> bob:7000 replied "HELLO OVER TCP"');
    expect(r.stdout).toContain('echoed "hello over udp6"');
    expect(r.stdout).toMatch(/^OK two-stacks tcp\+udp6$/m);
    expect(r.status).toBe(0);
  });

  it("web-streams: 2 MiB echoed through pipeTo and `for await`, sha256 intact, plus a UDP datagram", () => {
    const size = 2 << 20;
    const r = runExample("web-streams", [String(size)]);
    const body = new Uint8Array(size);
    for (let i = 0; i < size; i++) body[i] = (i * 7 + 3) & 0xff;
    const sha = createHash("sha256").update(body).digest("hex");
    expect(r.stdout).toContain(`OK web-streams ${size} bytes echoed, sha256 ${sha}`);
    expect(r.stdout).toContain('udp: "ping over udp" from 198.18.0.2:7');
    expect(r.status).toBe(0);
  });

  it("NODE_DEBUG=netstack traces each layer of each packet and the connection lifecycle (util.debuglog)", () => {
    const r = runExample("two-stacks", [], { NODE_DEBUG: "netstack" });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^NETSTACK \d+: stack alice up: 198\.18\.0\.1\/24/m);
    expect(r.stderr).toMatch(/NETSTACK \d+: link alice tx \d+B \| ip 198\.18\.0\.1 > 198\.18\.0\.2 ttl 64 proto 6 \| tcp \d+ > 7000 \[S\]/);
    expect(r.stderr).toMatch(/NETSTACK \d+: link bob rx \d+B \| ip6 fd00:198:18::1 > fd00:198:18::2 .*\| udp \d+ > 7001/);
    expect(r.stderr).toMatch(/NETSTACK \d+: conn bob open 198\.18\.0\.2:7000 <-> 198\.18\.0\.1:\d+ inbound/);
    expect(r.stderr).toMatch(/NETSTACK \d+: conn alice close .* read 14 written 14/);
    const quiet = runExample("two-stacks");
    expect(quiet.stderr).not.toContain("NETSTACK");
  });
});

/** Why the TUN example cannot run (null when it can); in CI a missing prerequisite fails instead. */
function tunSkip(): string | null {
  const base = skipReason(false);
  if (base) return base;
  let missing = !existsSync("/dev/net/tun") ? "/dev/net/tun is missing" : !addonBuilt() ? "the link-tun addon is not built" : null;
  if (!missing) missing = ensureCurl();
  if (missing && process.env.CI === "true") throw new Error(`http-over-tun example cannot run in CI: ${missing}`);
  if (missing) console.warn(`[socket-api] skipping the http-over-tun example test: ${missing}`);
  return missing;
}

/**
 * curl for the kernel-side client: present, or installed with apt-get when running as root in
 * CI (quietly, and not at all when already installed). Returns why it is unavailable, or null.
 */
function ensureCurl(): string | null {
  const has = () => spawnSync("curl", ["--version"], { stdio: "ignore", timeout: 10_000 }).status === 0;
  if (has()) return null;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (!root || process.env.CI !== "true") return "curl is missing (install it, e.g. apt-get install curl)";
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "ignore", timeout: 300_000, env });
  const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "curl"], { encoding: "utf8", timeout: 300_000, env });
  return has() ? null : `installing curl failed: ${r.stderr}`;
}

const skipTun = tunSkip();

function waitReady(child: ChildProcess, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const t = setTimeout(() => reject(new Error(`example not ready in ${ms} ms: ${err}`)), ms);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("READY"));
      if (line) {
        clearTimeout(t);
        resolve(line);
      }
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`example exited (${code}): ${err}`));
    });
  });
}

describe("examples/http-over-tun (kernel curl in a throwaway namespace)", () => {
  it.skipIf(skipTun !== null).each([
    ["TUN", ["--tun", "nsex0"], 10 << 20],
    ["TAP (ARP answered by the stack)", ["--tap", "nsexp0"], 1 << 20],
  ] as const)("serves a body over a %s device to the kernel's curl; its sha256 matches", async (_kind, dev, size) => {
    const ns = Netns.create("httptun");
    const dir = mkdtempSync(join(tmpdir(), "http-over-tun-"));
    let child: ChildProcess | null = null;
    try {
      child = spawn("ip", ["netns", "exec", ns.name, process.execPath, "--import", "tsx",
        join(root, "examples", "http-over-tun", "main.ts"), ...dev, "--size", String(size), "--seconds", "90"], {
        cwd: root, stdio: ["pipe", "pipe", "pipe"],
      });
      const ready = await waitReady(child, 30_000);
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i++) body[i] = (i * 31 + 7) & 0xff;
      const want = createHash("sha256").update(body).digest("hex");
      expect(ready).toContain(`sha256 ${want}`);
      const file = join(dir, "big");
      // Only 198.18.0.2 inside the namespace; bounded by curl's own --max-time.
      ns.exec("curl", ["-sS", "--max-time", "60", "-o", file, "http://198.18.0.2:8080/big"], 70_000);
      const got = readFileSync(file);
      expect(got.length).toBe(size);
      expect(createHash("sha256").update(got).digest("hex")).toBe(want);
      expect(ns.exec("curl", ["-sS", "--max-time", "10", "http://198.18.0.2:8080/"], 15_000)).toBe("hello from a userspace TCP/IP stack\n");
      // Closing stdin stops the example, which prints its stats on the way out.
      const exited = new Promise<string>((resolve) => {
        let out = "";
        child!.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        child!.once("exit", () => resolve(out));
      });
      child.stdin!.end();
      const tail = await exited;
      expect(tail).toMatch(/TCP:\n(?:.*\n)*\s+2 passiveConnectionOpenings/);
      if (dev[0] === "--tap") expect(tail).toMatch(/ARP:\n(?:.*\n)*\s+[1-9]\d* requestsReceived/);
    } finally {
      if (child && child.exitCode === null && child.pid) {
        child.stdin?.end();
        await new Promise((r) => setTimeout(r, 300));
        if (child.exitCode === null) child.kill("SIGTERM");
      }
      ns.delete();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  it.skipIf(skipTun !== null)("`netstack echo --stats` prints the counters with formatStackStats on exit", async () => {
    const ns = Netns.create("echostats");
    let child: ChildProcess | null = null;
    try {
      child = spawn("ip", ["netns", "exec", ns.name, process.execPath, "--import", "tsx",
        join(root, "packages", "link-tun", "src", "cli.ts"), "echo", "--tun", "nsst0", "--addr", "198.18.0.2/24",
        "--host-addr", "198.18.0.1/24", "--port", "7", "--stats"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      await waitReady(child, 30_000);
      // One TCP echo from the kernel's side (inside the namespace only).
      const reply = ns.exec(process.execPath, ["-e", `
        const s = require("node:net").connect(7, "198.18.0.2", () => s.end("abc"));
        let got = ""; s.on("data", (d) => (got += d)); s.on("end", () => process.stdout.write(got));
        setTimeout(() => process.exit(3), 10000).unref();`], 15_000);
      expect(reply).toBe("abc");
      const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
      expect(out).toContain("[stats final]");
      expect(out).toMatch(/\[counters\]\nStack:|\[counters\]\nIP:/);
      expect(out).toMatch(/TCP:\n(?:.*\n)*\s+1 passiveConnectionOpenings\n/);
      expect(out).toMatch(/NIC 1 nsst0: mtu \d+ up/);
    } finally {
      if (child && child.exitCode === null && child.pid) child.kill("SIGTERM");
      ns.delete();
    }
  }, 60_000);
});
