/**
 * Private network namespaces for the TUN benchmarks (rows 3, 4 and the TUN part of 6).
 *
 * Safety rules (the project's network-safety rule): every device and every kernel socket lives in
 * a namespace created here, named `nsb-<pid>-<n>`, and ALWAYS deleted — in `finally` (withNamespaces),
 * on process exit, on SIGINT/SIGTERM; leftovers of dead bench processes are swept at first use.
 * Only 198.18.0.0/24 is used. Processes are started through `ip netns exec`, bounded in time, and
 * ended by their PID only. The root namespace's interfaces and routes are never touched: the veth
 * pair is created from inside the first namespace (`ip -n A link add ... peer ... netns B`) and
 * the TUN device by the server process, which runs inside its namespace.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const KERNEL = "198.18.0.1";
export const STACK = "198.18.0.2";

/** Why the TUN rows cannot run here, or null when they can. */
export function tunPrereqs(): string | null {
  const missing: string[] = [];
  if (process.platform !== "linux") return "the TUN rows need Linux";
  if (process.getuid?.() !== 0) missing.push("root");
  if (!existsSync("/dev/net/tun")) missing.push("/dev/net/tun");
  if (spawnSync("ip", ["-V"], { stdio: "ignore", timeout: 10_000 }).status !== 0) missing.push("`ip` (iproute2)");
  if (spawnSync("python3", ["-c", "pass"], { stdio: "ignore", timeout: 10_000 }).status !== 0) missing.push("python3");
  spawnSync(process.execPath, [join(REPO, "packages", "link-tun", "scripts", "build-addon.mjs"), "--quiet"],
    { stdio: "ignore", timeout: 300_000 });
  if (!existsSync(join(REPO, "packages", "link-tun", "build", "Release", "tun.node"))) missing.push("the link-tun addon");
  return missing.length ? `the TUN rows need ${missing.join(", ")}` : null;
}

/** A process inside a namespace, killed (by PID) after its time limit. */
export class BenchProc {
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;
  private done = false;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly child: ChildProcess, readonly label: string, limitMs: number) {
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => { this.stdout += d; });
    child.stderr?.on("data", (d: string) => { this.stderr += d; });
    this.timer = setTimeout(() => this.kill("SIGKILL"), limitMs);
    this.exited = new Promise((res) => {
      child.on("close", (code) => {
        this.done = true;
        clearTimeout(this.timer);
        res(code);
      });
      child.on("error", (e) => { this.stderr += `spawn error: ${e.message}\n`; });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  kill(sig: NodeJS.Signals = "SIGTERM"): void {
    if (this.done || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, sig);
    } catch {
      // gone already
    }
  }

  /** CPU seconds (user + system) this process has used so far, from /proc (`ip netns exec` execs). */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
    } catch {
      return NaN;
    }
  }

  /** Resolves with the first stdout line matching `re`; rejects when the process exits or after `ms`. */
  waitLine(re: RegExp, ms: number): Promise<string> {
    return new Promise((res, rej) => {
      const t0 = Date.now();
      const poll = () => {
        const line = this.stdout.split("\n").find((l) => re.test(l));
        if (line !== undefined) return res(line);
        if (this.done || Date.now() - t0 > ms)
          return rej(new Error(`${this.label}: no line matching ${re} (stdout ${this.stdout.slice(-500)} stderr ${this.stderr.slice(-1500)})`));
        setTimeout(poll, 20);
      };
      poll();
    });
  }

  /** The last JSON line of stdout after exit. */
  async json(): Promise<Record<string, unknown>> {
    await this.exited;
    const last = this.stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
    if (!last) throw new Error(`${this.label}: no JSON result\nstdout: ${this.stdout.slice(-500)}\nstderr: ${this.stderr.slice(-1500)}`);
    return JSON.parse(last) as Record<string, unknown>;
  }
}

const live = new Set<BenchNetns>();
let counter = 0;
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  sweepStale();
  process.on("exit", () => { for (const ns of [...live]) ns.deleteSync(); });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      for (const ns of [...live]) ns.deleteSync();
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
}

/** Deletes `nsb-<pid>-<n>` namespaces whose process is gone. */
function sweepStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync("/run/netns");
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^nsb-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      spawnSync("ip", ["netns", "del", name], { stdio: "ignore", timeout: 10_000 });
    }
  }
}

export class BenchNetns {
  private readonly procs = new Set<BenchProc>();
  private deleted = false;

  private constructor(readonly name: string) {}

  static create(): BenchNetns {
    hook();
    const name = `nsb-${process.pid}-${++counter}`;
    const r = spawnSync("ip", ["netns", "add", name], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    const ns = new BenchNetns(name);
    live.add(ns);
    ns.ip("link", "set", "lo", "up");
    return ns;
  }

  /** `ip -n NAME ...`; throws on failure. */
  ip(...args: string[]): string {
    const r = spawnSync("ip", ["-n", this.name, ...args], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0) throw new Error(`ip -n ${this.name} ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  }

  /** Starts `cmd` in the namespace; with `cpu`, pinned to that CPU (taskset execs, so the PID is cmd's). */
  spawn(cmd: string, args: string[], limitMs: number, label = cmd, cpu?: number): BenchProc {
    if (this.deleted) throw new Error(`namespace ${this.name} is deleted`);
    const pin = cpu === undefined ? [] : ["taskset", "-c", String(cpu)];
    const child = spawn("ip", ["netns", "exec", this.name, ...pin, cmd, ...args], {
      cwd: REPO, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" },
    });
    const p = new BenchProc(child, label, limitMs);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  async delete(): Promise<void> {
    if (this.deleted) return;
    const waits = [...this.procs].map((p) => { p.kill("SIGKILL"); return p.exited; });
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
    this.deleteSync();
  }

  deleteSync(): void {
    if (this.deleted) return;
    this.deleted = true;
    for (const p of this.procs) p.kill("SIGKILL");
    spawnSync("ip", ["netns", "del", this.name], { stdio: "ignore", timeout: 10_000 });
    live.delete(this);
  }
}

/** Runs `fn` with `n` fresh namespaces, deleting them all whatever happens. */
export async function withNamespaces<T>(n: number, fn: (ns: BenchNetns[]) => Promise<T>): Promise<T> {
  const list: BenchNetns[] = [];
  try {
    for (let i = 0; i < n; i++) list.push(BenchNetns.create());
    return await fn(list);
  } finally {
    for (const ns of list) await ns.delete();
  }
}
