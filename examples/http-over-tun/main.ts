/**
 * examples/http-over-tun: node:http served by a netstack-ts stack on a TUN device; the kernel's
 * side of the device is the client (curl, a browser, ...).
 *
 *   ip netns add demo && ip netns exec demo npx tsx examples/http-over-tun/main.ts
 *   ip netns exec demo curl -s http://198.18.0.2:8080/big | sha256sum
 *
 * Run it inside a network namespace you created (as above): it creates the TUN device and
 * gives the kernel's side 198.18.0.1/24. GET /big answers `--size` bytes (default 10 MiB) of a
 * fixed pattern and prints its sha256 at start; any other path answers a greeting. Prints a
 * READY line when serving; exits on SIGINT/SIGTERM, when a piped stdin closes, or after `--seconds`
 * (default 120), printing the stack's stats. `--tap NAME` uses a TAP device instead (Ethernet
 * frames; the stack answers the kernel's ARP).
 */
import http from "node:http";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { fstatSync, readlinkSync } from "node:fs";
import { parseArgs } from "node:util";
import { createStack } from "@netstack-ts/socket-api";

const { values } = parseArgs({
  options: {
    tun: { type: "string", default: "nsdemo0" },
    tap: { type: "string" },
    size: { type: "string", default: String(10 << 20) },
    port: { type: "string", default: "8080" },
    seconds: { type: "string", default: "120" },
    "root-netns": { type: "boolean", default: false },
  },
});
// Safety: this example creates a TUN device and configures the kernel's side of it. It runs only
// where it can tell it is inside a network namespace other than the initial one, and fails
// closed when it cannot tell (unless --root-netns says changing this namespace is intended).
if (!values["root-netns"] && !insideNamedNetns()) {
  console.error("http-over-tun: run me inside a network namespace (ip netns add demo; ip netns exec demo ...), " +
    "or pass --root-netns to change this namespace's interfaces");
  process.exit(2);
}

const size = Number(values.size);
const body = Buffer.alloc(size);
for (let i = 0; i < size; i++) body[i] = (i * 31 + 7) & 0xff;

// The embedding itself: one call for the stack, one for HTTP on it.
const link = values.tap !== undefined ? { tap: values.tap } : { tun: values.tun! };
const net = await createStack({ ...link, address: "198.18.0.2/24", hostAddress: "198.18.0.1/24" });
const app = http.createServer((req, res) => {
  if (req.url === "/big") res.writeHead(200, { "content-length": size }).end(body);
  else res.end("hello from a userspace TCP/IP stack\n");
});
await net.serve(app, { port: Number(values.port) });

console.log(`READY http-over-tun on http://198.18.0.2:${values.port}/big via ${net.name} ` +
  `(${size} bytes, sha256 ${createHash("sha256").update(body).digest("hex")})`);

let stopping = false;
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`stopping: ${why}`);
  console.log(net.formatStats());
  app.close();
  net.close();
  process.exit(0);
}
process.once("SIGINT", () => stop("SIGINT"));
process.once("SIGTERM", () => stop("SIGTERM"));
// A parent that started us with a pipe on stdin stops us by closing it.
const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) process.stdin.on("end", () => stop("stdin closed")).resume();
setTimeout(() => stop("time limit"), Number(values.seconds) * 1000).unref();

/**
 * True when this process runs in a namespace created with `ip netns add` (what `ip netns
 * identify` reports), or when /proc shows a network namespace different from PID 1's. False
 * whenever neither can be established.
 */
function insideNamedNetns(): boolean {
  const r = spawnSync("ip", ["netns", "identify", String(process.pid)], { encoding: "utf8", timeout: 5000 });
  if (r.status === 0 && r.stdout.trim() !== "") return true;
  try {
    return readlinkSync("/proc/self/ns/net") !== readlinkSync("/proc/1/ns/net");
  } catch {
    return false;
  }
}
