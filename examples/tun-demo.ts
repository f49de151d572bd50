/**
 * The TUN demo (`npm run demo` as root): netstack-ts meets the Linux kernel.
 *
 * 1. Creates a private network namespace (`nsdemo-<pid>`), deleted at the end whatever happens.
 * 2. Starts the echo server inside it on a TUN device: the userspace stack is 198.18.0.2 and
 *    fd00:198:18::2, the kernel's side of the device 198.18.0.1 and fd00:198:18::1.
 * 3. From the kernel's own sockets in that namespace: pings the stack, sends UDP and TCP data and
 *    verifies the echoes, over IPv4 and over IPv6.
 * 4. Prints a short summary and the stack's counters, then deletes the namespace.
 *
 * Nothing leaves the namespace: only 198.18.0.0/24 and fd00:198:18::/64 are used, inside it.
 * The same file is the kernel-side client when started with `--client` (Node's dgram and net
 * sockets are the kernel's sockets).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const STACK = "198.18.0.2";
const KERNEL = "198.18.0.1";
const STACK6 = "fd00:198:18::2";
const KERNEL6 = "fd00:198:18::1";
const PORT = 7;

// ------------------------------------------------------------------ kernel-side client (--client)

async function udpEcho(text: string, host: string): Promise<string> {
  const s = createSocket(host.includes(":") ? "udp6" : "udp4");
  try {
    return await new Promise<string>((res, rej) => {
      const t = setTimeout(() => rej(new Error("no UDP echo within 3 s")), 3000);
      s.once("message", (m) => { clearTimeout(t); res(m.toString()); });
      s.once("error", rej);
      s.send(text, PORT, host);
    });
  } finally {
    s.close();
  }
}

async function tcpEcho(bytes: number, host: string): Promise<{ ok: boolean; ms: number }> {
  const data = randomBytes(bytes);
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const sock = connect({ host, port: PORT });
    const h = createHash("sha256");
    let got = 0;
    const t = setTimeout(() => { sock.destroy(); rej(new Error("TCP echo did not finish within 20 s")); }, 20_000);
    sock.on("connect", () => sock.end(data)); // write it all, then FIN
    sock.on("data", (d: Buffer) => { h.update(d); got += d.length; });
    sock.on("end", () => {
      clearTimeout(t);
      const ok = got === bytes && h.digest("hex") === createHash("sha256").update(data).digest("hex");
      res({ ok, ms: performance.now() - t0 });
    });
    sock.on("error", (e) => { clearTimeout(t); rej(e); });
  });
}

async function client(withTcp: boolean): Promise<void> {
  const out: Record<string, unknown[]> = { udp: [], tcp: [] };
  const texts = ["hello from the Linux kernel", "netstack-ts echoes you"];
  for (const host of [STACK, STACK6]) {
    for (const text of texts) out.udp!.push({ host, sent: text, echoed: await udpEcho(text, host) });
    if (withTcp) out.tcp!.push({ host, bytes: 1 << 20, ...(await tcpEcho(1 << 20, host)) });
  }
  console.log(JSON.stringify(out));
}

// ------------------------------------------------------------------ the demo

const PING_PY = `
import socket, struct, time, select, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in range(1, 4):
    body = bytes(range(56)); h = struct.pack("!BBHHH", 8, 0, 0, 77, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(h + body), 77, seq) + body
    t0 = time.perf_counter(); s.sendto(pkt, (sys.argv[1], 0)); rtt = None
    while select.select([s], [], [], 2)[0]:
        d = s.recv(2048); d = d[(d[0] & 15) * 4:]
        if d[0] == 0 and struct.unpack("!HH", d[4:8]) == (77, seq) and d[8:] == body:
            rtt = (time.perf_counter() - t0) * 1000; break
    print("reply seq=%d time=%.2f ms" % (seq, rtt) if rtt is not None else "no reply seq=%d" % seq, flush=True)
`;

const PING6_PY = `
import socket, struct, time, select, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)  # the kernel fills the checksum
for seq in range(1, 4):
    body = bytes(range(56)); pkt = struct.pack("!BBHHH", 128, 0, 0, 78, seq) + body
    t0 = time.perf_counter(); s.sendto(pkt, (sys.argv[1], 0)); rtt = None
    while select.select([s], [], [], 2)[0]:
        d = s.recv(2048)
        if d[0] == 129 and struct.unpack("!HH", d[4:8]) == (78, seq) and d[8:] == body:
            rtt = (time.perf_counter() - t0) * 1000; break
    print("reply seq=%d time=%.2f ms" % (seq, rtt) if rtt is not None else "no reply seq=%d" % seq, flush=True)
`;

function sh(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  return { ok: r.status === 0, out: r.stdout ?? "", err: r.stderr ?? "" };
}

async function demo(): Promise<number> {
  const ns = `nsdemo-${process.pid}`;
  let server: ChildProcess | null = null;
  let deleted = false;
  const cleanup = () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      try { process.kill(server.pid, "SIGKILL"); } catch { /* gone */ }
    }
    if (!deleted) {
      deleted = true;
      spawnSync("ip", ["netns", "del", ns], { stdio: "ignore", timeout: 10_000 });
    }
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => { cleanup(); process.exit(130); });

  const { optionalProtocols } = await import("../packages/link-tun/src/setup.js");
  const hasTcp = optionalProtocols().tcp !== null;
  console.log(`netstack-ts TUN demo: the userspace stack (${STACK}) behind a TUN device, the Linux kernel (${KERNEL}) on the other side,`);
  console.log(`inside a private network namespace (${ns}) that is deleted at the end.\n`);
  try {
    const add = sh("ip", ["netns", "add", ns]);
    if (!add.ok) throw new Error(`ip netns add failed: ${add.err.trim()}`);
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);

    server = spawn("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", join(REPO, "packages/link-tun/src/cli.ts"),
      "echo", "--tun", "demo0", "--addr", `${STACK}/24`, "--host-addr", `${KERNEL}/24`, "--addr6", `${STACK6}/64`,
      "--host-addr6", `${KERNEL6}/64`, "--port", String(PORT), "--stats"],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    server.stdout!.setEncoding("utf8").on("data", (d: string) => { out += d; });
    server.stderr!.setEncoding("utf8").on("data", (d: string) => { err += d; });
    const exited = new Promise<number | null>((res) => server!.on("close", (code) => res(code)));
    const readyLine = await new Promise<string>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`echo server did not start: ${err.trim()}`)), 30_000);
      const check = () => {
        const line = out.split("\n").find((l) => l.startsWith("READY"));
        if (line) { clearTimeout(t); res(line); }
      };
      server!.stdout!.on("data", check);
      server!.on("close", () => { clearTimeout(t); rej(new Error(`echo server exited: ${err.trim()}`)); });
    });
    console.log(`  server  ${readyLine.replace(/^READY /, "")}`);

    const replies: string[] = [];
    for (const [py, from, to, label] of [[PING_PY, KERNEL, STACK, "ping "], [PING6_PY, KERNEL6, STACK6, "ping6"]]) {
      const ping = sh("ip", ["netns", "exec", ns, "python3", "-c", py!, to!]);
      const lines = ping.out.trim().split("\n").filter(Boolean);
      replies.push(...(ping.ok ? lines : ["no reply"]));
      if (ping.ok) for (const l of lines) console.log(`  ${label}   ${from} -> ${to}  ${l}`);
      else console.log(`  ${label}   (failed: ${ping.err.trim().split("\n").pop()})`);
    }

    const c = sh("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", fileURLToPath(import.meta.url), "--client",
      hasTcp ? "--tcp" : "--no-tcp"]);
    if (!c.ok) throw new Error(`kernel-side client failed: ${c.err.trim()}`);
    const res = JSON.parse(c.out.trim().split("\n").pop()!) as {
      udp: { host: string; sent: string; echoed: string }[];
      tcp: { host: string; bytes: number; ok: boolean; ms: number }[];
    };
    const peer = (host: string) => (host.includes(":") ? `${KERNEL6} -> [${host}]:${PORT}` : `${KERNEL} -> ${host}:${PORT}`);
    let allOk = replies.length > 0 && replies.every((l) => l.startsWith("reply"));
    for (const u of res.udp) {
      const ok = u.sent === u.echoed;
      allOk &&= ok;
      console.log(`  udp     ${peer(u.host)}  sent ${JSON.stringify(u.sent)}, echoed ${JSON.stringify(u.echoed)}${ok ? "" : "  MISMATCH"}`);
    }
    for (const t of res.tcp) {
      allOk &&= t.ok;
      console.log(`  tcp     ${peer(t.host)}  echoed ${t.bytes} bytes in ${t.ms.toFixed(1)} ms, ` +
        `contents ${t.ok ? "verified (sha256)" : "DIFFER"}`);
    }
    if (!hasTcp) console.log("  tcp     (the stack has no TCP yet)");

    server.kill("SIGTERM");
    const code = await exited;
    const final = out.slice(out.indexOf("[stats final]"));
    console.log(`\nthe stack's counters (echo server exited with ${code}):`);
    console.log(final.replace("[stats final]\n", "").trimEnd());
    console.log(`\n${allOk ? "everything checked out" : "SOMETHING DID NOT CHECK OUT"}; deleting namespace ${ns}.`);
    return allOk && code === 0 ? 0 : 1;
  } finally {
    cleanup();
  }
}

if (process.argv.includes("--client")) {
  await client(process.argv.includes("--tcp"));
} else {
  process.exitCode = await demo();
}
