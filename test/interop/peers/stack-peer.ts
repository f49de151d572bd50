/**
 * The netstack-ts side of the interop tests that the echo CLI does not cover: a stack on a TUN
 * (or TAP) device that pings the kernel, connects to kernel servers, or serves in special ways.
 * Started inside a test namespace (`ip netns exec NS node --import tsx stack-peer.ts ...`);
 * prints "READY ..." once the device is up, then one JSON line with the result, and exits.
 * Every wait is bounded by --timeout seconds.
 *
 *   stack-peer.ts --tun NAME --addr CIDR --host-addr CIDR [--addr6 CIDR --host-addr6 CIDR]
 *                 [--tap] [--vnet-hdr | --no-vnet-hdr] [--timeout S] COMMAND ARGS...
 *
 * --vnet-hdr opens the TUN with virtio-net offloads (large segments both ways, GSO on send); the
 * default follows NETSTACK_INTEROP_VNET ("1": on; otherwise off), so the suite can run both ways.
 * connect-send's result carries `gso_packets`: super-segments the kernel cut up for us.
 *
 *   ping TO COUNT                 ICMP echo to the kernel; result: sent, received
 *   connect-send TO PORT BYTES    connect, send BYTES random bytes, half-close, read the reply to EOF
 *   connect-recv TO PORT          connect, read to EOF; result: count, sha256
 *   serve-echo PORT               the echo server (echo mode) until killed
 *   serve-sha PORT                accept one connection, read to EOF, reply "<sha256> <count>\n", close
 *   serve-close-unread PORT       accept one connection, wait for data, close without reading it
 */
import { createHash, randomBytes } from "node:crypto";
import {
  Address, Err, EventErr, EventHup, EventIn, EventOut, ICMPV4_PROTOCOL, ICMPV6_PROTOCOL, IPV4_PROTOCOL, IPV6_PROTOCOL, ShutdownWrite,
  TCP_PROTOCOL, WaiterQueue, isError, type Endpoint, type Stack,
} from "@netstack-ts/netstack";
import { EchoServer, TapEndpoint, TunEndpoint, interfaceMac, waitKernelAddress6 } from "@netstack-ts/link-tun";
import { buildLinkStack } from "../../../packages/link-tun/src/setup.js";

const argv = process.argv.slice(2);
const flags = new Map<string, string>();
let tap = false;
let vnetHdr = process.env.NETSTACK_INTEROP_VNET === "1";
while (argv.length > 0 && argv[0]!.startsWith("--")) {
  const f = argv.shift()!;
  if (f === "--tap") tap = true;
  else if (f === "--vnet-hdr" || f === "--no-vnet-hdr") vnetHdr = f === "--vnet-hdr";
  else flags.set(f.slice(2), argv.shift()!);
}
const [cmd, ...rest] = argv;
const timeoutMs = Number(flags.get("timeout") ?? "60") * 1000;
const deadline = setTimeout(() => {
  console.log(JSON.stringify({ error: "stack-peer timed out" }));
  process.exit(3);
}, timeoutMs);

function fail(msg: string): never {
  console.log(JSON.stringify({ error: msg }));
  process.exit(1);
}

const host = { address: flags.get("host-addr"), address6: flags.get("host-addr6"), noDad: true };
const name = flags.get("tun") ?? "nst0";
const device = tap ? TapEndpoint.open({ name, host }) : TunEndpoint.open({ name, host, vnetHdr });
const { stack, hasTcp } = buildLinkStack({
  link: device, addr: flags.get("addr")!, addr6: flags.get("addr6"), l2: tap, nicName: name,
});
if (host.address6 && !(await waitKernelAddress6(name, host.address6, 5000))) fail(`kernel address ${host.address6} stayed tentative`);
const extra = tap ? ` mac ${hex(device.linkAddress)} kernel-mac ${hex(interfaceMac(name))}` : "";
console.log(`READY stack-peer on ${name}${extra} tcp=${hasTcp}`);

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

function done(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
  clearTimeout(deadline);
  stack.close();
  process.exit(0);
}

/** Resolves when one of `mask` is ready on `ep`. */
function ready(ep: Endpoint, wq: WaiterQueue, mask: number): Promise<number> {
  const now = ep.readiness(mask);
  if (now) return Promise.resolve(now);
  return new Promise((res) => {
    const entry = {
      callback: () => {
        const r = ep.readiness(mask);
        if (r) {
          wq.unregister(entry);
          res(r);
        }
      },
    };
    wq.register(entry, mask);
  });
}

function newEp(stack: Stack, proto: number, to: Address): [Endpoint, WaiterQueue] {
  const wq = new WaiterQueue();
  const ep = stack.newEndpoint(proto, to.isV6 ? IPV6_PROTOCOL : IPV4_PROTOCOL, wq);
  if (isError(ep)) fail(`newEndpoint: ${ep.message}`);
  return [ep, wq];
}

async function ping(to: Address, count: number): Promise<void> {
  // ICMP echo (RFC 792) over IPv4, ICMPv6 echo (RFC 4443 §4.1) over IPv6.
  const [ep, wq] = newEp(stack, to.isV6 ? ICMPV6_PROTOCOL : ICMPV4_PROTOCOL, to);
  const request = to.isV6 ? 128 : 8;
  const reply = to.isV6 ? 129 : 0;
  let received = 0;
  const buf = new Uint8Array(2048);
  for (let seq = 1; seq <= count; seq++) {
    const msg = new Uint8Array(8 + 56);
    msg[0] = request;
    msg[6] = seq >> 8;
    msg[7] = seq & 0xff;
    for (let i = 8; i < msg.length; i++) msg[i] = (seq + i) & 0xff;
    const w = ep.write(msg, { to: { addr: to, port: 0 } });
    if (isError(w)) fail(`ping write: ${w.message}`);
    const got = await Promise.race([ready(ep, wq, EventIn), new Promise((r) => setTimeout(() => r(0), 2000))]);
    if (!got) continue;
    const r = ep.read(buf, { needRemoteAddr: true });
    if (isError(r)) continue;
    // The ping endpoint hands back the ICMP message: an echo reply with our sequence and data.
    const ok = buf[0] === reply && buf[7] === (seq & 0xff) && r.count === msg.length &&
      buf.subarray(8, r.count).every((b, i) => b === msg[8 + i]);
    if (ok && r.from?.addr?.equals(to)) received++;
  }
  ep.close();
  done({ sent: count, received });
}

async function connect(to: Address, port: number): Promise<[Endpoint, WaiterQueue]> {
  if (!hasTcp) fail("this stack has no TCP");
  const [ep, wq] = newEp(stack, TCP_PROTOCOL, to);
  const c = ep.connect({ addr: to, port });
  if (c !== null && c !== Err.ConnectStarted) fail(`connect: ${c.code}`);
  await ready(ep, wq, EventOut | EventErr | EventHup);
  const err = ep.getSockOpt("error");
  if (err !== null && isError(err) && err !== Err.UnknownProtocolOption) fail(`connect: ${err.code}`);
  return [ep, wq];
}

/** Reads to EOF (or error); returns count, sha256, and the error code if any. */
async function readAll(ep: Endpoint, wq: WaiterQueue, keep = false): Promise<{ count: number; sha: string; error: string | null; text: string }> {
  const h = createHash("sha256");
  const buf = new Uint8Array(256 * 1024);
  let count = 0;
  let text = "";
  for (;;) {
    const r = ep.read(buf);
    if (isError(r)) {
      if (r === Err.WouldBlock) {
        await ready(ep, wq, EventIn | EventErr | EventHup);
        continue;
      }
      if (r === Err.ClosedForReceive) return { count, sha: h.digest("hex"), error: null, text };
      return { count, sha: h.digest("hex"), error: r.code, text };
    }
    const chunk = buf.subarray(0, r.count);
    h.update(chunk);
    if (keep) text += Buffer.from(chunk).toString("latin1");
    count += r.count;
  }
}

async function writeAll(ep: Endpoint, wq: WaiterQueue, data: Uint8Array): Promise<string | null> {
  let off = 0;
  while (off < data.length) {
    const w = ep.write(data.subarray(off, Math.min(data.length, off + 1024 * 1024)));
    if (isError(w)) {
      if (w === Err.WouldBlock) {
        await ready(ep, wq, EventOut | EventErr | EventHup);
        continue;
      }
      return w.code;
    }
    off += w;
  }
  return null;
}

async function connectSend(to: Address, port: number, bytes: number): Promise<void> {
  const [ep, wq] = await connect(to, port);
  const data = randomBytes(bytes);
  const sha = createHash("sha256").update(data).digest("hex");
  const t0 = performance.now();
  const werr = await writeAll(ep, wq, data);
  if (werr) fail(`write: ${werr}`);
  ep.shutdown(ShutdownWrite);
  // Half-closed: the kernel's reply still arrives and is read to its EOF.
  const r = await readAll(ep, wq, true);
  const seconds = (performance.now() - t0) / 1000;
  ep.close();
  const gso = device instanceof TunEndpoint ? device.gsoPacketsSent : 0;
  done({ sent: bytes, sha_sent: sha, reply: r.text, error: r.error, seconds, mib_s: bytes / seconds / 1048576, gso_packets: gso });
}

async function connectRecv(to: Address, port: number): Promise<void> {
  const [ep, wq] = await connect(to, port);
  const r = await readAll(ep, wq);
  ep.close();
  done({ received: r.count, sha_received: r.sha, error: r.error });
}

async function listen(port: number, v6: boolean): Promise<[Endpoint, WaiterQueue]> {
  if (!hasTcp) fail("this stack has no TCP");
  const wq = new WaiterQueue();
  const l = stack.newEndpoint(TCP_PROTOCOL, v6 ? IPV6_PROTOCOL : IPV4_PROTOCOL, wq);
  if (isError(l)) fail(`newEndpoint: ${l.message}`);
  const b = l.bind({ port });
  if (b) fail(`bind: ${b.code}`);
  const e = l.listen(16);
  if (e) fail(`listen: ${e.code}`);
  console.log("LISTENING");
  for (;;) {
    const a = l.accept();
    if (!isError(a)) {
      l.close();
      return [a.endpoint, a.waiterQueue];
    }
    await ready(l, wq, EventIn);
  }
}

async function serveSha(port: number): Promise<void> {
  const [ep, wq] = await listen(port, flags.get("family") === "6");
  const r = await readAll(ep, wq);
  const werr = await writeAll(ep, wq, new TextEncoder().encode(`${r.sha} ${r.count}\n`));
  ep.shutdown(ShutdownWrite);
  ep.close();
  // Let the FIN and the reply leave (and be acknowledged) before the process exits.
  await new Promise((res) => setTimeout(res, 300));
  done({ received: r.count, sha_received: r.sha, error: r.error ?? werr });
}

async function serveCloseUnread(port: number): Promise<void> {
  const [ep, wq] = await listen(port, flags.get("family") === "6");
  await ready(ep, wq, EventIn);
  const unread = ep.getSockOpt("receiveQueueSize");
  // RFC 9293 §3.6 / RFC 2525 §2.17: closing with unread data resets the connection.
  ep.close();
  await new Promise((res) => setTimeout(res, 300));
  done({ closed: true, unread: isError(unread) ? -1 : unread });
}

function addr(s: string | undefined): Address {
  const a = s ? Address.parse(s) : null;
  if (!a) fail(`bad address ${s}`);
  return a;
}

try {
  switch (cmd) {
    case "ping":
      await ping(addr(rest[0]), Number(rest[1] ?? "3"));
      break;
    case "connect-send":
      await connectSend(addr(rest[0]), Number(rest[1]), Number(rest[2]));
      break;
    case "connect-recv":
      await connectRecv(addr(rest[0]), Number(rest[1]));
      break;
    case "serve-echo": {
      new EchoServer({ stack, port: Number(rest[0]), mode: "echo" }).start();
      console.log("LISTENING");
      break;
    }
    case "serve-sha":
      await serveSha(Number(rest[0]));
      break;
    case "serve-close-unread":
      await serveCloseUnread(Number(rest[0]));
      break;
    default:
      fail(`unknown command ${cmd}`);
  }
} catch (err) {
  fail(err instanceof Error ? `${err.message}` : String(err));
}
