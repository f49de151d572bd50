/**
 * examples/tun-forward: a minimal userspace NAT / transparent proxy (tun2socks-style). A
 * netstack-ts stack in transparent mode sits on a TUN device; every TCP connection and every UDP
 * flow the kernel routes into the device — to whatever destination — is relayed to a real host
 * socket (node:net / node:dgram) toward that same destination, and the answers go back through
 * the stack, which speaks as the original destination.
 *
 *   ip netns add demo
 *   ip netns exec demo npx tsx examples/tun-forward/main.ts --bind 198.18.2.1 &
 *   ip -n demo route add 198.18.1.0/24 dev fwd0       # send that subnet through the forwarder
 *
 * The relay's own host sockets must not be routed back into the TUN: with `--bind ADDR` they
 * leave from ADDR, so a policy rule (`ip rule add from ADDR lookup 100`) can send them another
 * way (test/interop/tun-forward.test.ts builds exactly that between two namespaces).
 *
 * Runs only inside a network namespace created with `ip netns add` (it creates a TUN device and
 * configures the kernel's side of it). Prints a READY line when serving; exits on SIGINT/SIGTERM,
 * when a piped stdin closes, or after `--seconds`, printing the forwarders' and the stack's stats.
 */
import net from "node:net";
import dgram from "node:dgram";
import { spawnSync } from "node:child_process";
import { fstatSync } from "node:fs";
import { parseArgs } from "node:util";
import { createStack, type NetSocket, type TcpForwardRequest, type UdpForwardRequest } from "@netstack-ts/socket-api";

function fail(msg: string): never {
  console.error(`tun-forward: ${msg}`);
  process.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    strict: true,
    options: {
      tun: { type: "string", default: "fwd0" },
      address: { type: "string", default: "198.18.0.2/24" },
      "host-address": { type: "string", default: "198.18.0.1/24" },
      bind: { type: "string" },
      seconds: { type: "string", default: "120" },
      "connect-timeout": { type: "string", default: "10000" },
      "udp-idle": { type: "string", default: "30000" },
      "max-in-flight": { type: "string", default: "1024" },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (e) {
  fail(`${(e as Error).message.split("\n")[0]} (see --help)`);
}

if (values.help) {
  console.log(`usage: tun-forward [--tun NAME] [--address CIDR] [--host-address CIDR] [--bind ADDR]
                   [--seconds N] [--connect-timeout MS] [--udp-idle MS] [--max-in-flight N]
  --tun              TUN device to create (default fwd0)
  --address          the stack's address on the device (default 198.18.0.2/24)
  --host-address     the kernel's address on the device (default 198.18.0.1/24)
  --bind             local address of the relay's host sockets (for policy routing)
  --seconds          exit after this long (default 120)
  --connect-timeout  give up on an upstream TCP connect after this long (default 10000 ms)
  --udp-idle         close a UDP flow after this long without traffic (default 30000 ms)
  --max-in-flight    undecided TCP requests + half-open handshakes at most (default 1024)`);
  process.exit(0);
}

function positiveInt(name: string, max: number): number {
  const text = String(values[name]);
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) fail(`--${name} must be an integer from 1 to ${max}, got "${text}"`);
  return n;
}

function cidr(name: string): string {
  const text = String(values[name]);
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m || net.isIPv4(m[1]!) === false || Number(m[2]) > 32) fail(`--${name} must be an IPv4 address with a prefix (a.b.c.d/n), got "${text}"`);
  return text;
}

const tunName = String(values.tun);
if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tunName)) fail(`--tun must be an interface name (1-15 letters, digits, "_", ".", "-"), got "${tunName}"`);
const address = cidr("address");
const hostAddress = cidr("host-address");
const bind = values.bind === undefined ? undefined : String(values.bind);
if (bind !== undefined && !net.isIPv4(bind)) fail(`--bind must be an IPv4 address, got "${bind}"`);
const seconds = positiveInt("seconds", 86_400);
const connectTimeout = positiveInt("connect-timeout", 600_000);
const udpIdle = positiveInt("udp-idle", 3_600_000);
const maxInFlight = positiveInt("max-in-flight", 1 << 20);

// Safety: this program creates a TUN device and changes the kernel's side of it. It runs only
// inside a namespace made with `ip netns add` (what `ip netns identify` reports for our PID).
const ident = spawnSync("ip", ["netns", "identify", String(process.pid)], { encoding: "utf8", timeout: 5000 });
if (ident.status !== 0 || ident.stdout.trim() === "") {
  fail("run me inside a network namespace (ip netns add demo; ip netns exec demo npx tsx examples/tun-forward/main.ts)");
}

const stack = await createStack({ tun: tunName, address, hostAddress, transparent: true, name: tunName });
// Replies go back into the device whatever the client's address (the kernel routes them).
stack.stack.addRoute({ destination: "0.0.0.0/0", nic: 1 });

const counts = { tcpRelayed: 0, tcpRefused: 0, udpFlows: 0 };

// ---------------------------------------------------------------------------- TCP
// Connect upstream first; only then complete the client's handshake (so a refused or unreachable
// destination looks refused to the client, as it would without the relay).
const tcpFwd = stack.tcpForwarder((req: TcpForwardRequest) => {
  const dst = req.destination;
  const up = net.connect({ host: dst.address, port: dst.port, allowHalfOpen: true, ...(bind ? { localAddress: bind } : {}) });
  up.setTimeout(connectTimeout);
  const onEarly = () => {
    up.destroy();
    counts.tcpRefused++;
    if (req.pending) req.reject();
  };
  up.once("error", onEarly);
  up.once("timeout", onEarly);
  up.once("connect", () => {
    up.off("error", onEarly);
    up.off("timeout", onEarly);
    up.setTimeout(0);
    let down: NetSocket;
    try {
      down = req.accept({ allowHalfOpen: true });
    } catch {
      up.destroy(); // the request timed out meanwhile
      return;
    }
    counts.tcpRelayed++;
    const kill = () => {
      up.destroy();
      down.destroy();
    };
    up.on("error", kill);
    down.on("error", kill);
    // Bytes both ways; a FIN on one side becomes end() on the other (half-close preserved).
    down.pipe(up);
    up.pipe(down);
  });
}, { maxInFlight });

// ---------------------------------------------------------------------------- UDP
const udpFwd = stack.udpForwarder((req: UdpForwardRequest) => {
  const dst = req.destination;
  const flow = req.accept();
  counts.udpFlows++;
  const up = dgram.createSocket("udp4");
  up.on("error", () => flow.close());
  up.bind({ port: 0, ...(bind ? { address: bind } : {}) });
  up.on("message", (msg, rinfo) => {
    if (rinfo.address === dst.address && rinfo.port === dst.port) flow.send(msg);
  });
  flow.on("message", (msg: Buffer) => up.send(msg, dst.port, dst.address));
  flow.once("close", () => up.close());
}, { idleTimeoutMs: udpIdle });

console.log(`READY tun-forward on ${stack.name} (stack ${address}, kernel ${hostAddress}` +
  `${bind ? `, upstream from ${bind}` : ""})`);

let stopping = false;
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`stopping: ${why}`);
  console.log(JSON.stringify({ ...counts, tcp: tcpFwd?.stats, udp: udpFwd?.stats }));
  console.log(stack.formatStats());
  stack.close();
  process.exit(0);
}
process.once("SIGINT", () => stop("SIGINT"));
process.once("SIGTERM", () => stop("SIGTERM"));
const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) process.stdin.on("end", () => stop("stdin closed")).resume();
setTimeout(() => stop("time limit"), seconds * 1000).unref();
