/**
 * Interop harness: the Linux kernel as the peer of a netstack-ts stack, over a TUN/TAP device,
 * inside a private network namespace.
 *
 * Safety rules this file enforces (see the link-tun issue):
 * - Every device and every kernel-side socket lives in a namespace created here, named
 *   `nst-<pid>-<n>` and ALWAYS deleted: in `finally` (withNetns), on process exit, on SIGINT /
 *   SIGTERM, and leftovers of dead test processes (their PID no longer exists) are swept at load.
 * - Only 198.18.0.0/24, fd00:198:18::/64 and loopback are used.
 * - Every spawned process gets a hard time limit and is ended by its PID only.
 *
 * The test process itself never enters a namespace: everything runs through `ip netns exec`.
 *
 * When the prerequisites are missing (not root, no /dev/net/tun, no `ip`, no python3, addon not
 * built) the interop tests are skipped with the reason printed, except in CI
 * (CI=true), where they fail saying what is missing.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// vitest is loaded only when running under it: scripts (test/fixtures/record.ts) use the
// namespace helpers outside vitest, where importing it throws.
const vt: typeof import("vitest") | null = process.env.VITEST ? await import("vitest") : null;

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const PEERS = join(REPO, "test", "interop", "peers");
export const CLI = join(REPO, "packages", "link-tun", "src", "cli.ts");
export const IN_CI = process.env.CI === "true";

/** Addresses used in every namespace: the kernel is .1, the stack .2. */
export const NET = {
  kernel4: "198.18.0.1",
  stack4: "198.18.0.2",
  kernel6: "fd00:198:18::1",
  stack6: "fd00:198:18::2",
  prefix4: 24,
  prefix6: 64,
} as const;

// ------------------------------------------------------------------------------ prerequisites

export interface Prereqs {
  ok: boolean;
  reason: string;
}

function haveCommand(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
  return r.status === 0;
}

/** Builds the addon when it is missing or older than its sources (fast no-op otherwise). */
function ensureAddon(): boolean {
  spawnSync(process.execPath, [join(REPO, "packages", "link-tun", "scripts", "build-addon.mjs"), "--quiet"], {
    stdio: "ignore", timeout: 300_000,
  });
  return existsSync(join(REPO, "packages", "link-tun", "build", "Release", "tun.node"));
}

let cachedPrereqs: Prereqs | null = null;

export function interopPrereqs(): Prereqs {
  if (cachedPrereqs) return cachedPrereqs;
  const missing: string[] = [];
  if (process.platform !== "linux") missing.push("Linux");
  else {
    if (process.getuid?.() !== 0) missing.push("root (CAP_NET_ADMIN to create namespaces and TUN devices)");
    if (!existsSync("/dev/net/tun")) missing.push("/dev/net/tun");
    if (!haveCommand("ip", ["-V"])) missing.push("the `ip` command (iproute2)");
    if (!haveCommand("python3", ["-c", "pass"])) missing.push("python3");
    if (!ensureAddon()) missing.push("the link-tun addon (node packages/link-tun/scripts/build-addon.mjs --force)");
  }
  cachedPrereqs = missing.length === 0
    ? { ok: true, reason: "" }
    : { ok: false, reason: `interop tests need ${missing.join(", ")}` };
  return cachedPrereqs;
}

/** True when the interop tests of this file should be skipped (never in CI). */
export function skipInterop(): boolean {
  const p = interopPrereqs();
  if (p.ok || IN_CI) return false;
  return true;
}

const warned = new Set<string>();

/**
 * `it` for interop tests: skipped with the reason printed when prerequisites are missing,
 * failing with the reason in CI.
 */
export function itInterop(name: string, fn: () => Promise<void>, timeoutMs = 120_000): void {
  const skip = skipInterop();
  if (skip) {
    const reason = interopPrereqs().reason;
    if (!warned.has(reason)) {
      warned.add(reason);
      console.warn(`[interop] skipping kernel interop tests: ${reason}`);
    }
  }
  if (!vt) throw new Error("itInterop is for vitest test files");
  vt.it.skipIf(skip)(name, async () => {
    const p = interopPrereqs();
    if (!p.ok) throw new Error(`${p.reason} (CI=true: interop tests must run, not skip)`);
    await fn();
  }, timeoutMs);
}

// ------------------------------------------------------------------------------ tshark

let tsharkState: { ok: boolean; reason: string } | null = null;

/**
 * tshark for the capture checks. Installed with apt-get when missing and we are root in CI (the
 * CI machine starts without it); quiet when already present.
 */
export function ensureTshark(): { ok: boolean; reason: string } {
  if (tsharkState) return tsharkState;
  if (haveCommand("tshark", ["-v"])) return (tsharkState = { ok: true, reason: "" });
  if (IN_CI && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const upd = spawnSync("apt-get", ["update", "-qq"], { stdio: "ignore", env, timeout: 300_000 });
    const inst = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "tshark"],
      { stdio: "ignore", env, timeout: 600_000 });
    if (haveCommand("tshark", ["-v"])) return (tsharkState = { ok: true, reason: "" });
    return (tsharkState = { ok: false, reason: `apt-get install tshark failed (update ${upd.status}, install ${inst.status})` });
  }
  return (tsharkState = { ok: false, reason: "tshark is not installed (apt-get install tshark)" });
}

// ------------------------------------------------------------------------------ processes

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A process started inside a namespace; ended by its PID only. */
export class Proc {
  stdout = "";
  stderr = "";
  readonly exited: Promise<RunResult>;
  private timedOut = false;
  private readonly timer: NodeJS.Timeout;
  private done = false;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
    limitMs: number,
    private readonly onGone: (p: Proc) => void,
  ) {
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => { this.stdout += d; });
    child.stderr?.on("data", (d: string) => { this.stderr += d; });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.kill("SIGKILL");
    }, limitMs);
    this.exited = new Promise((res) => {
      child.on("close", (code, signal) => {
        this.done = true;
        clearTimeout(this.timer);
        this.onGone(this);
        res({ code, signal, stdout: this.stdout, stderr: this.stderr, timedOut: this.timedOut });
      });
      child.on("error", (err) => {
        this.stderr += `\nspawn error: ${err.message}`;
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Signals this process (by PID). */
  kill(sig: NodeJS.Signals = "SIGTERM"): void {
    if (this.done || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, sig);
    } catch {
      // already gone
    }
  }

  /** Resolves with the first stdout line matching `re`; rejects on exit or after `ms`. */
  waitFor(re: RegExp, ms = 20_000): Promise<string> {
    return new Promise((res, rej) => {
      const check = (): boolean => {
        for (const line of this.stdout.split("\n")) if (re.test(line)) {
          cleanup();
          res(line);
          return true;
        }
        return false;
      };
      const onData = () => { check(); };
      const t = setTimeout(() => {
        cleanup();
        rej(new Error(`${this.label}: no ${re} within ${ms} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      }, ms);
      const onExit = () => {
        if (check()) return;
        cleanup();
        rej(new Error(`${this.label} exited before ${re}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      };
      const cleanup = () => {
        clearTimeout(t);
        this.child.stdout?.off("data", onData);
        this.child.off("close", onExit);
      };
      this.child.stdout?.on("data", onData);
      this.child.on("close", onExit);
      if (!check() && this.done) onExit();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the result. */
  async stop(graceMs = 5000): Promise<RunResult> {
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), graceMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}

// ------------------------------------------------------------------------------ namespaces

const live = new Set<Netns>();
let counter = 0;
let hooked = false;

function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const ns of [...live]) ns.deleteSync();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      for (const ns of [...live]) ns.deleteSync();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

/** Deletes namespaces this harness left behind in earlier runs whose process no longer exists. */
function sweepStale(): void {
  let names: string[];
  try {
    names = readdirSync("/run/netns");
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^nst-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) spawnSync("ip", ["netns", "del", name], { stdio: "ignore", timeout: 10_000 });
  }
}

let swept = false;

export class Netns {
  readonly name: string;
  private readonly procs = new Set<Proc>();
  private deleted = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates `nst-<pid>-<n>` with loopback up. */
  static create(): Netns {
    if (!swept) {
      swept = true;
      sweepStale();
    }
    hookProcessExit();
    const name = `nst-${process.pid}-${++counter}`;
    const r = spawnSync("ip", ["netns", "add", name], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0) throw new Error(`ip netns add ${name} failed: ${r.stderr}`);
    const ns = new Netns(name);
    live.add(ns);
    ns.ip("link", "set", "lo", "up");
    return ns;
  }

  /** `ip -n NAME ...`, synchronously; throws on failure. */
  ip(...args: string[]): string {
    const r = spawnSync("ip", ["-n", this.name, ...args], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0) throw new Error(`ip -n ${this.name} ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Starts `cmd args` inside the namespace, killed after `limitMs` whatever happens. */
  spawn(cmd: string, args: string[], limitMs = 120_000, label = cmd): Proc {
    if (this.deleted) throw new Error(`namespace ${this.name} is deleted`);
    const child = spawn("ip", ["netns", "exec", this.name, cmd, ...args], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0" },
    });
    const p = new Proc(child, label, limitMs, (q) => this.procs.delete(q));
    this.procs.add(p);
    return p;
  }

  /** Runs to completion (bounded) and returns the output. */
  run(cmd: string, args: string[], limitMs = 60_000, label = cmd): Promise<RunResult> {
    return this.spawn(cmd, args, limitMs, label).exited;
  }

  /** Runs test/interop/peers/kernel.py inside the namespace and parses its JSON line. */
  async kernel(args: (string | number)[], limitSec = 30): Promise<Record<string, unknown>> {
    const r = await this.run("python3", [join(PEERS, "kernel.py"), ...args.map(String), "--timeout", String(limitSec)],
      (limitSec + 15) * 1000, `kernel.py ${args[0]}`);
    return parseJsonLine(r, `kernel.py ${args.join(" ")}`);
  }

  /** Starts kernel.py in the background (a kernel-side server); parse its result with `jsonOf`. */
  kernelBackground(args: (string | number)[], limitSec = 30): Proc {
    return this.spawn("python3", [join(PEERS, "kernel.py"), ...args.map(String), "--timeout", String(limitSec)],
      (limitSec + 15) * 1000, `kernel.py ${args[0]}`);
  }

  /** Starts a TypeScript program (through tsx) inside the namespace. */
  node(script: string, args: string[], limitMs = 120_000, label = script): Proc {
    return this.spawn(process.execPath, ["--import", "tsx", script, ...args], limitMs, label);
  }

  /** Starts the `netstack echo` CLI on TUN `tun` with the standard addresses; resolves when READY. */
  async echoServer(opts: { tun?: string; port?: number; mode?: string; pcap?: string; extra?: string[]; ipv6?: boolean } = {}):
    Promise<Proc> {
    const args = ["echo", "--tun", opts.tun ?? "nst0", "--addr", `${NET.stack4}/${NET.prefix4}`,
      "--host-addr", `${NET.kernel4}/${NET.prefix4}`, "--port", String(opts.port ?? 7), "--mode", opts.mode ?? "echo"];
    if (opts.ipv6) args.push("--addr6", `${NET.stack6}/${NET.prefix6}`, "--host-addr6", `${NET.kernel6}/${NET.prefix6}`);
    if (opts.pcap) args.push("--pcap", opts.pcap);
    if (opts.extra) args.push(...opts.extra);
    // The CLI uses virtio-net offloads by default; NETSTACK_INTEROP_VNET=0 runs the suite without.
    if (process.env.NETSTACK_INTEROP_VNET === "0" && !args.includes("--vnet-hdr")) args.push("--no-vnet-hdr");
    const p = this.node(CLI, args, 170_000, "netstack echo");
    await p.waitFor(/^READY/, 30_000);
    return p;
  }

  /** Kills what it started (by PID) and deletes the namespace. Idempotent. */
  async delete(): Promise<void> {
    if (this.deleted) return;
    const waits: Promise<RunResult>[] = [];
    for (const p of this.procs) {
      p.kill("SIGKILL");
      waits.push(p.exited);
    }
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
    this.deleteSync();
  }

  /** Synchronous variant for exit handlers. */
  deleteSync(): void {
    if (this.deleted) return;
    this.deleted = true;
    for (const p of this.procs) p.kill("SIGKILL");
    spawnSync("ip", ["netns", "del", this.name], { stdio: "ignore", timeout: 10_000 });
    live.delete(this);
  }
}

/** Creates a namespace, runs `fn`, and deletes the namespace whatever happens. */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T>): Promise<T> {
  const ns = Netns.create();
  try {
    return await fn(ns);
  } finally {
    await ns.delete();
  }
}

/** The last JSON object line of a process's stdout. */
export function parseJsonLine(r: RunResult, label: string): Record<string, unknown> {
  const lines = r.stdout.trim().split("\n").filter((l) => l.startsWith("{"));
  const last = lines[lines.length - 1];
  if (!last) {
    throw new Error(`${label}: no JSON result (exit ${r.code}${r.timedOut ? ", timed out" : ""})\n` +
      `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return JSON.parse(last) as Record<string, unknown>;
}

/** Namespaces this process currently owns (for the cleanup test). */
export function liveNamespaces(): string[] {
  return [...live].map((n) => n.name);
}
