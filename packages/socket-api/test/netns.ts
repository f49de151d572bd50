/**
 * Throwaway network namespaces for tests that use the Linux kernel as a peer. Safety rules:
 * a unique name with the PID in it; only loopback (and what the test adds inside) is configured;
 * the namespace is ALWAYS deleted — by the caller's finally, and by exit/signal handlers as a
 * backstop. Nothing here touches the root namespace's interfaces or routes.
 */
import { execFileSync, spawnSync } from "node:child_process";

const live = new Set<string>();
let handlersInstalled = false;

function deleteQuietly(name: string): void {
  try {
    execFileSync("ip", ["netns", "del", name], { stdio: "ignore", timeout: 10_000 });
  } catch {
    // already gone
  }
  live.delete(name);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const n of [...live]) deleteQuietly(n);
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      for (const n of [...live]) deleteQuietly(n);
      process.exit(130);
    });
  }
}

function has(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
  return r.status === 0;
}

/**
 * Why kernel-peer tests cannot run here (null when they can): not root, no `ip`, no python3,
 * or namespaces not permitted.
 */
export function netnsUnavailable(needPython = true): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not running as root (needs ip netns)";
  if (!has("ip", ["-V"])) return "the `ip` command (iproute2) is missing";
  if (needPython && !has("python3", ["--version"])) return "python3 is missing";
  return null;
}

/**
 * In CI (CI=true) a missing prerequisite is a failure, never a skip. Returns the skip reason to
 * use with `it.skipIf`, after printing it.
 */
export function skipReason(needPython = true): string | null {
  const why = netnsUnavailable(needPython);
  if (why && process.env.CI === "true") {
    throw new Error(`kernel differential tests cannot run in CI: ${why}`);
  }
  if (why) console.warn(`[socket-api] skipping Linux-kernel tests: ${why}`);
  return why;
}

export class Netns {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates `nsapi-<tag>-<pid>-<n>` with loopback up. */
  static create(tag: string): Netns {
    installHandlers();
    const name = `nsapi-${tag}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
    execFileSync("ip", ["netns", "add", name], { stdio: "pipe", timeout: 10_000 });
    live.add(name);
    try {
      execFileSync("ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"], { stdio: "pipe", timeout: 10_000 });
    } catch (e) {
      deleteQuietly(name);
      throw e;
    }
    return new Netns(name);
  }

  /** Runs a command inside the namespace (bounded by `timeoutMs`), returning stdout. */
  exec(cmd: string, args: string[], timeoutMs = 60_000, input?: string): string {
    const r = spawnSync("ip", ["netns", "exec", this.name, cmd, ...args], {
      encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, ...(input !== undefined ? { input } : {}),
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  delete(): void {
    deleteQuietly(this.name);
  }
}
