/**
 * node:http on socket-api over a real TUN link, with the Linux kernel as the client: everything
 * happens inside a throwaway network namespace (the TUN device is created by a child process
 * started with `ip netns exec`, addresses 198.18.0.1 kernel / 198.18.0.2 stack). The namespace
 * is deleted in `finally` and by exit handlers; the child is ended by its PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { addonBuilt } from "@netstack-ts/link-tun";
import { Netns, skipReason } from "./netns.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");

function why(): string | null {
  const base = skipReason(false);
  if (base) return base;
  const missing = !existsSync("/dev/net/tun") ? "/dev/net/tun is missing"
    : !addonBuilt() ? "the link-tun addon is not built" : null;
  if (missing && process.env.CI === "true") throw new Error(`TUN http test cannot run in CI: ${missing}`);
  if (missing) console.warn(`[socket-api] skipping TUN http test: ${missing}`);
  return missing;
}
const skip = why();

function waitReady(child: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const t = setTimeout(() => reject(new Error(`server not ready in ${ms} ms: ${err}`)), ms);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("READY")) {
        clearTimeout(t);
        resolve();
      }
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`server exited (${code}): ${err}`));
    });
  });
}

describe("node:http over socket-api on a TUN link (kernel client in a namespace)", () => {
  it.skipIf(skip !== null)("serves GET and POST of 1 MiB to Node's http client running on the kernel's TCP", async () => {
    const ns = Netns.create("tun");
    let child: ChildProcess | null = null;
    try {
      child = spawn("ip", ["netns", "exec", ns.name, process.execPath, "--import", "tsx", join(here, "tun", "http-server.ts")], {
        cwd: root, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, TUN_NAME: "nsapi0" },
      });
      await waitReady(child, 30_000);
      const out = ns.exec(process.execPath, [join(here, "tun", "http-client.mjs")], 45_000);
      const r = JSON.parse(out) as {
        get: { status: number; n: number; sha: string };
        post: { status: number; reply: { n: number; sha: string }; sent: string };
      };
      const body = Buffer.alloc(1 << 20);
      for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
      expect(r.get).toEqual({ status: 200, n: body.length, sha: createHash("sha256").update(body).digest("hex") });
      expect(r.post.status).toBe(200);
      expect(r.post.reply).toEqual({ n: 1 << 20, sha: r.post.sent });
    } finally {
      if (child && child.exitCode === null && child.pid) {
        child.stdin?.end();
        await new Promise((r) => setTimeout(r, 200));
        if (child.exitCode === null) child.kill("SIGTERM");
      }
      ns.delete();
    }
  }, 120_000);
});
