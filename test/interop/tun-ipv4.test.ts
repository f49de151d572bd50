/**
 * The TUN link and the echo server against the Linux kernel, IPv4, without TCP: ping both ways,
 * UDP echo, ICMP port unreachable, fragment reassembly, clean shutdown, and the CLI's errors.
 * Each scenario runs in a namespace created and deleted here (see netns.ts).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { CLI, NET, Netns, PEERS, interopPrereqs, itInterop, skipInterop, withNetns, type Proc } from "./netns.js";

const STACK_PEER = join(PEERS, "stack-peer.ts");
const HOST4 = `${NET.kernel4}/${NET.prefix4}`;
const ADDR4 = `${NET.stack4}/${NET.prefix4}`;

describe("TUN echo server vs the Linux kernel (IPv4)", () => {
  let ns: Netns | null = null;
  let server: Proc | null = null;

  beforeAll(async () => {
    if (skipInterop() || !interopPrereqs().ok) return;
    ns = Netns.create();
    server = await ns.echoServer({ tun: "nst0", port: 7, mode: "echo" });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await ns?.delete();
  });

  itInterop("the kernel configured its side of the TUN device from --host-addr (no ip commands)", async () => {
    const addr = ns!.ip("-4", "addr", "show", "dev", "nst0");
    expect(addr).toContain(`inet ${HOST4}`);
    expect(ns!.ip("link", "show", "nst0")).toMatch(/[<,]UP[,>]/);
    expect(ns!.ip("-4", "route", "show", "dev", "nst0")).toContain("198.18.0.0/24");
  });

  itInterop("answers the kernel's ping with matching echo replies (RFC 792)", async () => {
    const r = await ns!.kernel(["ping", NET.stack4, "--count", 5, "--size", 56]);
    expect(r).toMatchObject({ sent: 5, received: 5 });
  });

  itInterop("echoes the kernel's UDP datagrams back to their sender (RFC 768)", async () => {
    const r = await ns!.kernel(["udp-echo", NET.stack4, 7, "--count", 20, "--size", 1000]);
    expect(r).toMatchObject({ sent: 20, echoed: 20 });
  });

  itInterop("a datagram to a closed UDP port gives the kernel socket ECONNREFUSED (ICMP port unreachable, RFC 1122 §4.1.3.1)",
    async () => {
      const r = await ns!.kernel(["udp-refused", NET.stack4, 9]);
      expect(r.error).toBe("ECONNREFUSED");
    });

  itInterop("reassembles the kernel's fragmented 20,000-byte UDP datagram and fragments its echo (RFC 791 §3.2)",
    async () => {
      const r = await ns!.kernel(["udp-echo", NET.stack4, 7, "--count", 3, "--size", 20000]);
      expect(r).toMatchObject({ sent: 3, echoed: 3 });
    });

  itInterop("a second process opening the same TUN device gets one clear 'busy' line, exit 1", async () => {
    const r = await ns!.run(process.execPath, ["--import", "tsx", CLI, "echo", "--tun", "nst0", "--addr", ADDR4, "--port", "8"],
      30_000);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/TUN device "nst0" is busy/);
  });

  itInterop("SIGTERM closes the server and exits 0", async () => {
    const r = await server!.stop();
    server = null;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("SIGTERM");
    // The device was not persistent: closing the fd removed it.
    expect(() => ns!.ip("link", "show", "nst0")).toThrow();
  });
});

describe("TUN link: the stack as the initiator (IPv4)", () => {
  itInterop("the stack pings the kernel and gets every reply", async () => {
    await withNetns(async (ns) => {
      const p = ns.node(STACK_PEER, ["--tun", "nst1", "--addr", ADDR4, "--host-addr", HOST4, "--timeout", "30",
        "ping", NET.kernel4, "4"], 60_000, "stack-peer ping");
      const r = await p.exited;
      expect(r.stdout).toMatch(/^READY/m);
      const res = JSON.parse(r.stdout.trim().split("\n").pop()!);
      expect(res).toEqual({ sent: 4, received: 4 });
    });
  });
});

describe("TUN link lifecycle", () => {
  const LIFECYCLE = join(PEERS, "lifecycle.ts");

  itInterop("closing the link stops the poller and closes the fd: the process exits by itself", async () => {
    await withNetns(async (ns) => {
      const r = await ns.run(process.execPath, ["--import", "tsx", LIFECYCLE, "close", "nst4"], 20_000);
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ closed: true });
      expect(() => ns.ip("link", "show", "nst4")).toThrow(); // a non-persistent device goes with its fd
    });
  });

  itInterop("an unref'd open device does not keep the process alive", async () => {
    await withNetns(async (ns) => {
      const r = await ns.run(process.execPath, ["--import", "tsx", LIFECYCLE, "unref", "nst5"], 20_000);
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ open: true });
    });
  });

  itInterop("closing the link from inside a delivered batch is safe, and the process still exits by itself", async () => {
    await withNetns(async (ns) => {
      const r = await ns.run(process.execPath, ["--import", "tsx", LIFECYCLE, "close-in-batch", "nst8"], 20_000);
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(0);
      const res = JSON.parse(r.stdout.trim().split("\n")[0]!);
      expect(res.closed).toBe(true);
      expect(res.seen).toBeGreaterThanOrEqual(1);
    });
  });

  itInterop("IFF_MULTI_QUEUE: two queues attach to one device", async () => {
    await withNetns(async (ns) => {
      const r = await ns.run(process.execPath, ["--import", "tsx", LIFECYCLE, "multiqueue", "nst6"], 20_000);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ a: "nst6", b: "nst6", distinctFds: true });
    });
  });

  itInterop("the echo server reports a deleted device in one line and exits 1", async () => {
    await withNetns(async (ns) => {
      const server = await ns.echoServer({ tun: "nst7" });
      ns.ip("link", "del", "nst7");
      const r = await server.exited;
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('netstack: TUN device "nst7" went away or became unusable (EBADF); the link stopped reading');
    });
  });
});

describe("TUN link: errors are one clear line", () => {
  itInterop("an invalid interface name", async () => {
    await withNetns(async (ns) => {
      const r = await ns.run(process.execPath, ["--import", "tsx", CLI, "echo", "--tun", "bad/name", "--addr", ADDR4,
        "--port", "7"], 30_000);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/invalid interface name "bad\/name"/);
    });
  });

  itInterop("without CAP_NET_ADMIN: permission denied, needs root or CAP_NET_ADMIN", async () => {
    await withNetns(async (ns) => {
      // Root without CAP_NET_ADMIN in its bounding set: files stay readable, TUNSETIFF is refused.
      const r = await ns.run("setpriv", ["--bounding-set", "-net_admin", "--inh-caps", "-net_admin", process.execPath,
        "--import", "tsx", CLI, "echo", "--tun", "nst2", "--addr", ADDR4, "--port", "7"], 30_000);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/permission denied.*needs root or CAP_NET_ADMIN/);
    });
  });

  itInterop("without /dev/net/tun: says the TUN/TAP driver is missing", async () => {
    await withNetns(async (ns) => {
      // A private mount namespace hides /dev/net under an empty tmpfs for this one process.
      const script = `mount -t tmpfs tmpfs /dev/net && exec "$0" --import tsx "$1" echo --tun nst3 --addr ${ADDR4} --port 7`;
      const r = await ns.run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, process.execPath, CLI],
        30_000);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/no \/dev\/net\/tun/);
    });
  });

  itInterop("namespaces are deleted after use, failures included", async () => {
    let name = "";
    await expect(withNetns(async (ns) => {
      name = ns.name;
      throw new Error("scenario failed");
    })).rejects.toThrow("scenario failed");
    const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
    expect(name).not.toBe("");
    expect(list.split("\n").some((l) => l.split(" ")[0] === name)).toBe(false);
  });
});
